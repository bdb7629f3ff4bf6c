//! Device→host reads per unit of work (engine::device::readback counts every read of the loop), so
//! that the loop's synchronisations are a tested number without a GPU. Each L-BFGS trial is read
//! back in one transfer with everything the iteration decides on (the loss, its parts, the
//! gradient's facts, the search direction's slope, the step's curvature), and the start point of a
//! stage or tile visit is read with its first trial: an iteration reads once, plus once per
//! backtracking trial (the next trial's step is computed from that trial's loss). Masks add one
//! read where their targets are built: a region's areas at every style layer, once per stage (or
//! per tile visit, cut to the tile); a style's source mask, once per style and stage (summed over
//! the tiles of the style image in a tiled stage).
//!
//! Uploads are counted too (on a GPU they are queued from page-locked memory without waiting, but
//! each is still a transfer): an iteration makes none (the Caffe mean Lite0 converts from stays on
//! the device), a tile visit one (its blending ramps).

mod common;

use common::ready_transfer;
use nstyle::engine::device::readback;
use nstyle::engine::features::backbone::Backbone;
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{Mask, Settings};

/// What one `step(1)` of a run did.
#[derive(Clone, Copy)]
struct Step {
    reads: u64,
    /// Host→device uploads (engine::device::readback::upload).
    uploads: u64,
    evaluations: u64,
    /// The scale (stage) it ran in.
    scale: u32,
}

/// "reads/evaluations@scale" (and "+N up" with uploads), so that a failure's list of steps stays
/// readable.
impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.reads, self.evaluations, self.scale)?;
        if self.uploads > 0 {
            write!(f, "+{} up", self.uploads)?;
        }
        Ok(())
    }
}

/// The masks a run may have: a region for its style, a mask over its style image.
#[derive(Clone, Copy, PartialEq)]
enum Masks {
    None,
    Region,
    StyleSource,
}

/// Each `step(1)` of a run, to its end.
fn steps(settings: Settings, masks: Masks) -> Vec<Step> {
    let mut transfer = ready_transfer(settings);
    let left: Vec<f32> = (0..16).map(|i| f32::from(i % 4 < 2)).collect();
    let left = Mask::from_values(4, 4, left).unwrap();
    match masks {
        Masks::None => {}
        Masks::Region => transfer.set_style_region(0, Some(left)).unwrap(),
        Masks::StyleSource => transfer.set_style_source_mask(0, Some(left)).unwrap(),
    }
    let mut out = Vec::new();
    let mut evaluations = 0;
    loop {
        let (reads, uploads) = (readback::reads(), readback::uploads());
        let progress = transfer.step(1).unwrap();
        out.push(Step {
            reads: readback::reads() - reads,
            uploads: readback::uploads() - uploads,
            evaluations: progress.evaluations - evaluations,
            scale: progress.scale,
        });
        evaluations = progress.evaluations;
        if progress.iteration >= progress.total {
            return out;
        }
    }
}

/// The reads an L-BFGS iteration makes: one per evaluation, except that an iteration from an
/// unevaluated start (`starts`) reads the start with its first trial.
fn lbfgs_reads(step: &Step, starts: bool) -> u64 {
    step.evaluations - u64::from(starts)
}

#[test]
fn a_whole_image_iteration_reads_once_and_once_more_per_backtrack() {
    let settings = Settings {
        iterations: 8,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let steps = steps(settings, Masks::None);
    eprintln!("reads/evaluations@scale per iteration: {steps:?}");
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step.reads, lbfgs_reads(step, i == 0), "{steps:?}");
    }
    // The first iteration evaluates the start and its first trial: one read for both.
    assert_eq!(steps[0].reads, 1, "{steps:?}");
    // Backtracking is rare: most iterations read exactly once.
    let once = steps.iter().filter(|s| s.reads == 1).count();
    assert!(2 * once > steps.len(), "{steps:?}");
}

#[test]
fn a_stage_reads_once_per_evaluation_less_its_start() {
    let settings = Settings {
        size: 96,
        iterations: 9,
        scales: ScaleCount::Fixed(2),
        ..common::small_settings()
    };
    let steps = steps(settings, Masks::None);
    eprintln!("reads/evaluations@scale per iteration: {steps:?}");
    for scale in 0..2 {
        let stage: Vec<&Step> = steps.iter().filter(|s| s.scale == scale).collect();
        let reads: u64 = stage.iter().map(|s| s.reads).sum();
        let evaluations: u64 = stage.iter().map(|s| s.evaluations).sum();
        assert!(!stage.is_empty(), "{steps:?}");
        assert_eq!(reads, evaluations - 1, "scale {scale}: {steps:?}");
    }
}

/// The reads of each step of a run with `masks` beyond those of its L-BFGS iterations.
fn mask_reads(settings: Settings, masks: Masks, starts: impl Fn(usize) -> bool) -> Vec<u64> {
    let steps = steps(settings, masks);
    eprintln!("reads/evaluations@scale per iteration: {steps:?}");
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| step.reads - lbfgs_reads(step, starts(i)))
        .collect()
}

#[test]
fn a_region_adds_one_read_when_the_stage_starts() {
    let settings = Settings {
        iterations: 4,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    // The targets are built in the first step: the region's area at every style layer, read
    // together.
    let extra = mask_reads(settings, Masks::Region, |i| i == 0);
    assert_eq!(extra, [1, 0, 0, 0]);
}

#[test]
fn a_style_source_mask_adds_one_read_when_the_stage_starts() {
    let settings = Settings {
        iterations: 3,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    // The style's guided Grams: the mask's area at every style layer, read together.
    let extra = mask_reads(settings, Masks::StyleSource, |i| i == 0);
    assert_eq!(extra, [1, 0, 0]);
}

#[test]
fn a_tile_visit_reads_as_a_whole_image_stage_does() {
    let settings = Settings {
        size: 96,
        tile: Some(64),
        iterations: 6,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    // 6 iterations: two passes of visits of 3 iterations each (tiles::tile_stage).
    let per_visit = 3;
    let steps = steps(settings, Masks::None);
    eprintln!("reads/evaluations@scale per tile iteration: {steps:?}");
    assert_eq!(steps.len() % per_visit, 0, "{steps:?}");
    // Without a region a visit's targets need no read: each visit reads as a stage does.
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(
            step.reads,
            lbfgs_reads(step, i.is_multiple_of(per_visit)),
            "{steps:?}"
        );
    }
    for visit in steps.chunks(per_visit) {
        let reads: u64 = visit.iter().map(|s| s.reads).sum();
        let evaluations: u64 = visit.iter().map(|s| s.evaluations).sum();
        assert_eq!(reads, evaluations - 1, "{steps:?}");
    }
}

#[test]
fn a_region_adds_one_read_per_tile_visit_and_a_style_source_mask_one_per_tiled_stage() {
    let settings = Settings {
        size: 96,
        tile: Some(64),
        iterations: 4,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    // 4 iterations: two passes of visits of 2 iterations each (tiles::tile_stage).
    let per_visit = 2;
    let visit_starts = |i: usize| i.is_multiple_of(per_visit);
    // Each visit cuts the region to its tile: its area at every style layer, read together.
    let region = mask_reads(settings.clone(), Masks::Region, visit_starts);
    for (i, &extra) in region.iter().enumerate() {
        assert_eq!(extra, u64::from(visit_starts(i)), "{region:?}");
    }
    // The style's Grams are summed over the tiles of its image when the stage starts: the mask's
    // areas in all of them, at every style layer, read together.
    let source = mask_reads(settings, Masks::StyleSource, visit_starts);
    assert_eq!(source[0], 1, "{source:?}");
    assert!(source[1..].iter().all(|&extra| extra == 0), "{source:?}");
}

#[test]
fn an_iteration_uploads_nothing_with_either_backbone() {
    for backbone in [Backbone::Vgg19, Backbone::Lite] {
        let settings = Settings {
            iterations: 4,
            scales: ScaleCount::Fixed(1),
            backbone,
            ..common::small_settings()
        };
        let steps = steps(settings, Masks::None);
        eprintln!("{backbone:?}: {steps:?}");
        // The first step uploads the stage's images (content, style) for its targets.
        assert!(steps[1..].iter().all(|s| s.uploads == 0), "{steps:?}");
    }
}

#[test]
fn a_tile_visit_uploads_its_blending_ramps_once() {
    let settings = Settings {
        size: 96,
        tile: Some(64),
        iterations: 4,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let per_visit = 2;
    let steps = steps(settings, Masks::None);
    eprintln!("{steps:?}");
    // The first step builds the stage's targets too.
    for (i, step) in steps.iter().enumerate().skip(1) {
        let expected = u64::from(i.is_multiple_of(per_visit));
        assert_eq!(step.uploads, expected, "{steps:?}");
    }
}
