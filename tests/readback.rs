//! Device→host reads per unit of work (engine::readback counts every read of the loop), so that
//! the loop's synchronisations are a tested number without a GPU. Each L-BFGS trial is read back
//! in one transfer with everything the iteration decides on (the loss, its parts, the gradient's
//! facts, the search direction's slope, the step's curvature), and the start point of a stage or
//! tile visit is read with its first trial: an iteration reads once, plus once per backtracking
//! trial (the next trial's step is computed from that trial's loss). A stage or tile visit adds
//! a read per region layer (the region's area at that layer).

mod common;

use common::ready_transfer;
use nstyle::engine::readback;
use nstyle::engine::schedule::ScaleCount;
use nstyle::engine::{Mask, Settings};

/// What one `step(1)` of a run did.
#[derive(Clone, Copy)]
struct Step {
    reads: u64,
    evaluations: u64,
    /// The scale (stage) it ran in.
    scale: u32,
}

/// "reads/evaluations@scale", so that a failure's list of steps stays readable.
impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.reads, self.evaluations, self.scale)
    }
}

/// Each `step(1)` of a run, to its end.
fn steps(settings: Settings, region: bool) -> Vec<Step> {
    let mut transfer = ready_transfer(settings);
    if region {
        let left: Vec<f32> = (0..16).map(|i| f32::from(i % 4 < 2)).collect();
        transfer
            .set_style_region(0, Some(Mask::from_values(4, 4, left).unwrap()))
            .unwrap();
    }
    let mut out = Vec::new();
    let mut evaluations = 0;
    loop {
        let before = readback::count();
        let progress = transfer.step(1).unwrap();
        out.push(Step {
            reads: readback::count() - before,
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
    let steps = steps(settings, false);
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
    let steps = steps(settings, false);
    eprintln!("reads/evaluations@scale per iteration: {steps:?}");
    for scale in 0..2 {
        let stage: Vec<&Step> = steps.iter().filter(|s| s.scale == scale).collect();
        let reads: u64 = stage.iter().map(|s| s.reads).sum();
        let evaluations: u64 = stage.iter().map(|s| s.evaluations).sum();
        assert!(!stage.is_empty(), "{steps:?}");
        assert_eq!(reads, evaluations - 1, "scale {scale}: {steps:?}");
    }
}

#[test]
fn a_region_adds_one_read_per_style_layer_when_the_stage_starts() {
    let settings = Settings {
        iterations: 4,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let plain = steps(settings.clone(), false);
    let masked = steps(settings, true);
    eprintln!("plain {plain:?}, region {masked:?}");
    let extra = |i: usize| {
        let own = |s: &Step| s.reads as i64 - lbfgs_reads(s, i == 0) as i64;
        own(&masked[i]) - own(&plain[i])
    };
    // The targets are built in the first step: one area per style layer (five).
    assert_eq!(extra(0), 5, "plain {plain:?}, region {masked:?}");
    for i in 1..masked.len() {
        assert_eq!(extra(i), 0, "plain {plain:?}, region {masked:?}");
    }
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
    let steps = steps(settings, false);
    eprintln!("reads/evaluations@scale per tile iteration: {steps:?}");
    assert_eq!(steps.len() % per_visit, 0, "{steps:?}");
    // Without a region a visit's targets need no read: each visit reads as a stage does.
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(
            step.reads,
            lbfgs_reads(step, i % per_visit == 0),
            "{steps:?}"
        );
    }
    for visit in steps.chunks(per_visit) {
        let reads: u64 = visit.iter().map(|s| s.reads).sum();
        let evaluations: u64 = visit.iter().map(|s| s.evaluations).sum();
        assert_eq!(reads, evaluations - 1, "{steps:?}");
    }
}
