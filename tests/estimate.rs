//! The run-time estimate (issue 10): positive, growing with the work the plan holds, priced per
//! tile in tiled stages, cached, and refused clearly where a run would be. No timing is asserted
//! beyond that (the machine's load is not the test's).

mod common;

use common::{content_picture, cpu_transfer, small_settings, style_picture};
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{Settings, Transfer};
use nstyle::Error;

fn session(settings: Settings) -> Transfer {
    let mut transfer = cpu_transfer();
    transfer.set_settings(settings).unwrap();
    transfer.set_content(content_picture(128, 96));
    transfer.add_style(style_picture(64, 64), 1.0).unwrap();
    transfer
}

fn seconds(settings: Settings) -> f64 {
    session(settings).estimate().unwrap().seconds
}

#[test]
fn before_the_content_and_the_style_the_estimate_is_a_state_error() {
    let mut transfer = cpu_transfer();
    let err = transfer.estimate().unwrap_err();
    assert!(
        matches!(&err, Error::State(m) if m.contains("content")),
        "{err:?}"
    );
    transfer.set_content(content_picture(80, 60));
    let err = transfer.estimate().unwrap_err();
    assert!(
        matches!(&err, Error::State(m) if m.contains("style")),
        "{err:?}"
    );
}

/// The tests' settings on one thread: the probe's rates are kept per thread count, and with
/// `threads=0` the count follows the load of other programs, so two estimates made moments
/// apart on a busy machine could be priced with different rates.
fn pinned_settings() -> Settings {
    Settings {
        threads: 1,
        ..small_settings()
    }
}

#[test]
fn the_estimate_grows_with_size_and_iterations_and_is_cached() {
    let base = Settings {
        size: 64,
        iterations: 10,
        ..pinned_settings()
    };
    let mut transfer = session(base.clone());
    let first = transfer.estimate().unwrap();
    assert!(
        first.seconds > 0.0 && first.seconds.is_finite(),
        "{first:?}"
    );
    // The probe ran once for this network and layer set; asking again costs no probe.
    let again = transfer.estimate().unwrap();
    assert_eq!(again.probe_seconds, 0.0);
    assert_eq!(again.seconds, first.seconds);

    let larger = seconds(Settings {
        size: 128,
        ..base.clone()
    });
    let longer = seconds(Settings {
        iterations: 40,
        ..base.clone()
    });
    assert!(larger > first.seconds, "{larger} vs {}", first.seconds);
    assert!(longer > first.seconds, "{longer} vs {}", first.seconds);
    // Four times the iterations: more than twice the evaluations priced. (Seconds are not
    // compared by a factor: how the probe splits a fixed part from a per-pixel part depends on
    // the machine's load, and the targets' forward passes are priced in both plans alike.)
    let evaluations = |iterations| {
        session(Settings {
            size: 128,
            iterations,
            ..base.clone()
        })
        .estimate()
        .unwrap()
        .evaluations
    };
    let (few, many) = (evaluations(10), evaluations(40));
    assert!(many > 2.0 * few, "{many} vs {few} evaluations");
}

#[test]
fn tiled_stages_are_priced_per_tile_and_counted_in_evaluations() {
    let settings = |tile: Option<u32>| Settings {
        size: 128,
        iterations: 10,
        scales: ScaleCount::Fixed(1),
        tile,
        ..pinned_settings()
    };
    let whole = session(settings(None)).estimate().unwrap();
    let tiled = session(settings(Some(64))).estimate().unwrap();
    assert!(whole.tiled.is_none() && whole.whole.is_some());
    assert!(tiled.whole.is_none(), "one scale, all of it tiled");
    let rates = tiled.tiled.expect("a tiled stage has its own rates");
    // A tiled evaluation stops at relu3_1: cheaper per pixel than one down to relu5_1.
    assert!(rates.evaluation.per_pixel > 0.0);
    // Tiles repeat the margins and each visit restarts L-BFGS: more evaluations than whole.
    assert!(tiled.evaluations > whole.evaluations, "{tiled:?} {whole:?}");
    assert!(tiled.seconds > 0.0);
    let larger = session(Settings {
        size: 256,
        ..settings(Some(64))
    })
    .estimate()
    .unwrap();
    assert!(larger.seconds > tiled.seconds && larger.evaluations > tiled.evaluations);
}

#[test]
fn the_estimate_refuses_what_the_run_would_refuse_and_changes_nothing() {
    let mut transfer = session(Settings {
        size: 16,
        ..pinned_settings()
    });
    // 16 px on the long side of a 4:3 content is 12 px on the short one: under the minimum.
    let err = transfer.estimate().unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err:?}");
    let mut transfer = session(Settings {
        size: 96,
        max_memory_mb: Some(1),
        ..pinned_settings()
    });
    let err = transfer.estimate().unwrap_err();
    assert!(matches!(err, Error::Memory(_)), "{err:?}");
    // Estimating neither starts nor moves the run.
    let mut transfer = session(pinned_settings());
    transfer.estimate().unwrap();
    let p = transfer.step(2).unwrap();
    assert_eq!(p.iteration, 2);
}

#[test]
fn regions_a_content_mask_and_a_temporal_term_are_probed_with_the_run() {
    // Each adds work to an evaluation (guided Gram matrices, a weighted content term, the
    // temporal term): a run with them is timed by its own probe, not priced at a plain run's
    // cached rates.
    let settings = Settings {
        size: 72,
        iterations: 10,
        ..pinned_settings()
    };
    let mut transfer = session(settings);
    transfer.estimate().unwrap();
    assert_eq!(transfer.estimate().unwrap().probe_seconds, 0.0, "cached");
    let left = nstyle::engine::Mask::from_values(2, 1, vec![1.0, 0.0]).unwrap();
    transfer.set_style_region(0, Some(left.clone())).unwrap();
    assert!(
        transfer.estimate().unwrap().probe_seconds > 0.0,
        "regions probed"
    );
    transfer.set_content_mask(Some(left));
    assert!(
        transfer.estimate().unwrap().probe_seconds > 0.0,
        "content mask probed"
    );
    let target =
        nstyle::engine::image::temporal::TemporalTarget::new(content_picture(128, 96).into(), None)
            .unwrap();
    transfer.set_temporal(target);
    let with_all = transfer.estimate().unwrap();
    assert!(with_all.probe_seconds > 0.0, "temporal term probed");
    assert!(with_all.seconds > 0.0 && with_all.seconds.is_finite());
    assert_eq!(
        transfer.estimate().unwrap().probe_seconds,
        0.0,
        "and cached"
    );
}
