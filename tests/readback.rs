//! Device→host reads per unit of work (engine::device::readback counts each read of the loop), so
//! that the loop's synchronisations are a tested number without a GPU: today each L-BFGS iteration
//! reads once per evaluation (loss, its parts and the gradient's facts, batched) plus twice more
//! (the search direction's slope and the new pair's curvature); a stage or tile visit adds a read
//! per region layer (the region's area at that layer). The GPU loop (issue 27) lowers these; the
//! numbers here then go down with it.

mod common;

use common::ready_transfer;
use nstyle::engine::device::readback;
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{Mask, Settings};

/// (reads, evaluations) of each `step(1)` of a run.
fn per_iteration(settings: Settings, region: bool) -> Vec<(u64, u64)> {
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
        out.push((
            readback::count() - before,
            progress.evaluations - evaluations,
        ));
        evaluations = progress.evaluations;
        if progress.iteration >= progress.total {
            return out;
        }
    }
}

#[test]
fn a_whole_image_iteration_reads_once_per_evaluation_and_twice_more() {
    let settings = Settings {
        iterations: 8,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let steps = per_iteration(settings, false);
    eprintln!("(reads, evaluations) per iteration: {steps:?}");
    // Backtracking or the start point's evaluation add evaluations, each with its one read.
    for &(reads, evaluations) in &steps {
        assert_eq!(reads, evaluations + 2, "{steps:?}");
    }
}

#[test]
fn a_region_adds_one_read_per_style_layer_when_the_stage_starts() {
    let settings = Settings {
        iterations: 4,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let plain = per_iteration(settings.clone(), false);
    let masked = per_iteration(settings, true);
    eprintln!("plain {plain:?}, region {masked:?}");
    let extra = |i: usize| (masked[i].0 - masked[i].1) as i64 - (plain[i].0 - plain[i].1) as i64;
    // The targets are built in the first step: one area per style layer (five).
    assert_eq!(extra(0), 5, "plain {plain:?}, region {masked:?}");
    for i in 1..masked.len() {
        assert_eq!(extra(i), 0, "plain {plain:?}, region {masked:?}");
    }
}

#[test]
fn a_tile_visit_reads_as_a_whole_image_iteration_does() {
    let settings = Settings {
        size: 96,
        tile: Some(64),
        iterations: 6,
        scales: ScaleCount::Fixed(1),
        ..common::small_settings()
    };
    let steps = per_iteration(settings, false);
    eprintln!("(reads, evaluations) per tiled iteration: {steps:?}");
    // Without a region a visit's targets need no read: every iteration is as a whole image's.
    for &(reads, evaluations) in &steps {
        assert_eq!(reads, evaluations + 2, "{steps:?}");
    }
}
