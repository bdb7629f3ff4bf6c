//! The engine end to end on tiny synthetic images, on the CPU.

mod common;

use std::sync::atomic::Ordering;

use common::{content_picture, ready_transfer, small_settings, style_picture};
use nstyle::engine::metrics::{ssim_luminance, style_distance};
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{self, Init, OptimizerKind, Picture, Precision, PrecisionChoice, Settings};
use nstyle::Error;

fn fp32_model() -> nstyle::engine::Vgg19 {
    engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32)).unwrap()
}

#[test]
fn loss_and_style_distance_fall() {
    let mut transfer = ready_transfer(Settings {
        iterations: 20,
        scales: ScaleCount::Fixed(1),
        ..small_settings()
    });
    let before = transfer.result(64, 48).unwrap();
    let first = transfer.step(1).unwrap();
    let last = transfer.step(100).unwrap();
    assert_eq!(last.iteration, 20);
    assert!(
        last.losses.total < 0.5 * first.losses.total,
        "{first:?} → {last:?}"
    );
    let after = transfer.result(64, 48).unwrap();
    let model = fp32_model();
    let style = style_picture(64, 64);
    let (d_before, d_after) = (
        style_distance(&model, &before, &style).unwrap(),
        style_distance(&model, &after, &style).unwrap(),
    );
    assert!(
        d_after < 0.8 * d_before,
        "style distance {d_before} → {d_after}"
    );
}

#[test]
fn adam_also_lowers_the_loss() {
    let settings = Settings {
        iterations: 15,
        scales: ScaleCount::Fixed(1),
        optimizer: OptimizerKind::Adam,
        ..small_settings()
    };
    let mut transfer = ready_transfer(settings);
    let first = transfer.step(1).unwrap();
    let last = transfer.step(100).unwrap();
    assert!(
        last.losses.total < first.losses.total,
        "{first:?} → {last:?}"
    );
}

#[test]
fn same_seed_gives_identical_pixels() {
    let settings = Settings {
        iterations: 4,
        init: Init::Random,
        seed: 42,
        ..small_settings()
    };
    let run = || {
        let mut transfer = ready_transfer(settings.clone());
        transfer.step(100).unwrap();
        transfer.result(80, 60).unwrap().rgb().to_vec()
    };
    let (a, b) = (run(), run());
    assert!(a == b, "two runs with seed 42 differ");
    let mut other = ready_transfer(Settings {
        seed: 43,
        ..settings.clone()
    });
    other.step(100).unwrap();
    assert!(
        other.result(80, 60).unwrap().rgb() != a.as_slice(),
        "seed has no effect"
    );
}

#[test]
fn multi_scale_ends_at_the_requested_size() {
    let mut transfer = ready_transfer(Settings {
        size: 96,
        iterations: 6,
        scales: ScaleCount::Fixed(2),
        ..small_settings()
    });
    let start = transfer.progress().unwrap();
    assert_eq!((start.scales, start.width, start.height), (2, 48, 36));
    let end = transfer.step(100).unwrap();
    assert_eq!(
        (end.scale, end.width, end.height, end.iteration, end.total),
        (1, 96, 72, 6, 6)
    );
    // Done means done: more steps change nothing.
    let again = transfer.step(5).unwrap();
    assert_eq!(again.iteration, 6);
    let result = transfer.result(96, 72).unwrap();
    assert_eq!((result.width(), result.height()), (96, 72));
}

#[test]
fn divergence_guard_recovers_from_an_injected_blow_up() {
    let mut transfer = ready_transfer(Settings {
        iterations: 8,
        scales: ScaleCount::Fixed(1),
        ..small_settings()
    });
    transfer.step(2).unwrap();
    // Every evaluation of the next 12 (more than one line search holds) is NaN.
    let at = transfer.progress().unwrap().evaluations + 1;
    transfer.poison_evaluations(at, 12);
    let end = transfer.step(100).unwrap();
    assert_eq!(end.iteration, 8);
    assert!(end.recoveries >= 1, "{end:?}");
    assert!(end.losses.total.is_finite());
    assert!(transfer
        .result(64, 48)
        .unwrap()
        .rgb()
        .iter()
        .all(|v| v.is_finite()));
}

#[test]
fn divergence_that_never_ends_is_a_numeric_error_keeping_the_last_good_image() {
    let mut transfer = ready_transfer(Settings {
        iterations: 8,
        scales: ScaleCount::Fixed(1),
        ..small_settings()
    });
    transfer.step(2).unwrap();
    let good = transfer.result(64, 48).unwrap();
    let at = transfer.progress().unwrap().evaluations + 1;
    transfer.poison_evaluations(at, u64::MAX / 2);
    let err = transfer.step(100).unwrap_err();
    assert!(matches!(err, Error::Numeric(_)), "{err:?}");
    assert_eq!(transfer.result(64, 48).unwrap().rgb(), good.rgb());
}

#[test]
fn cancel_stops_a_step_and_the_session_stays_usable() {
    let mut transfer = ready_transfer(small_settings());
    transfer.step(1).unwrap();
    let image = transfer.result(64, 48).unwrap();
    // A cancel arriving during the next step's first evaluation stops that step within the
    // iteration it interrupts (the one that evaluation belonged to may still complete).
    let at = transfer.progress().unwrap().evaluations + 1;
    transfer.cancel_during_evaluation(at);
    assert!(matches!(transfer.step(3), Err(Error::Cancelled)));
    let stopped = transfer.progress().unwrap().iteration;
    assert!(stopped == 1 || stopped == 2, "stopped at {stopped}");
    if stopped == 1 {
        assert_eq!(
            transfer.result(64, 48).unwrap().rgb(),
            image.rgb(),
            "cancel changed the image"
        );
    }
    // A cancel made while no step runs is forgotten when the next step starts.
    transfer.cancel_flag().store(true, Ordering::SeqCst);
    assert_eq!(transfer.step(2).unwrap().iteration, stopped + 2);
}

#[test]
fn alpha_comes_from_the_content_and_preserve_colors_keeps_its_chroma() {
    let mut transfer = ready_transfer(Settings {
        iterations: 3,
        preserve_colors: true,
        ..small_settings()
    });
    let content = content_picture(80, 60);
    let alpha: Vec<f32> = (0..80 * 60).map(|i| (i % 80) as f32 / 79.0).collect();
    transfer.set_content(content.clone().with_alpha(Some(alpha.clone())).unwrap());
    transfer.step(3).unwrap();
    let result = transfer.result(80, 60).unwrap();
    assert_eq!(result.alpha().unwrap(), alpha.as_slice());
    // With preserved colours the result's chroma (I, Q of YIQ) is the content's.
    let chroma = |p: &[f32]| {
        (
            0.596 * p[0] - 0.274 * p[1] - 0.322 * p[2],
            0.211 * p[0] - 0.523 * p[1] + 0.312 * p[2],
        )
    };
    // (Mean, not maximum: where the stylised luminance and the content's chroma fall outside the
    // RGB gamut the result is clamped.)
    let mut total = 0f32;
    for (ours, theirs) in result.rgb().chunks(3).zip(content.rgb().chunks(3)) {
        let ((i1, q1), (i2, q2)) = (chroma(ours), chroma(theirs));
        total += (i1 - i2).abs() + (q1 - q2).abs();
    }
    let mean = total / (2 * 80 * 60) as f32;
    assert!(mean < 0.01, "chroma differs by {mean} on average");
    // Without preserved colours it does not.
    let mut free = ready_transfer(Settings {
        iterations: 3,
        ..small_settings()
    });
    free.step(3).unwrap();
    let styled = free.result(80, 60).unwrap();
    let total: f32 = styled
        .rgb()
        .chunks(3)
        .zip(content.rgb().chunks(3))
        .map(|(a, b)| {
            let ((i1, q1), (i2, q2)) = (chroma(a), chroma(b));
            (i1 - i2).abs() + (q1 - q2).abs()
        })
        .sum();
    assert!(
        total / (2 * 80 * 60) as f32 > mean,
        "preserve_colors made no difference"
    );
}

#[test]
fn several_styles_blend_and_weights_are_validated() {
    let mut transfer = ready_transfer(small_settings());
    transfer.add_style(content_picture(50, 50), 0.5).unwrap();
    assert!(transfer.add_style(style_picture(8, 8), f64::NAN).is_err());
    assert!(transfer.add_style(style_picture(8, 8), -1.0).is_err());
    transfer.step(2).unwrap();
    let mut bad = small_settings();
    assert!(matches!(
        bad.weights.set("style", f64::NAN),
        Err(Error::Argument(_))
    ));
    assert!(matches!(
        bad.set_option("style_weight", "nan"),
        Err(Error::Argument(_))
    ));
}

#[test]
fn step_without_images_is_a_state_error() {
    let mut transfer = common::cpu_transfer();
    assert!(matches!(transfer.step(1), Err(Error::State(_))));
    transfer.add_style(style_picture(32, 32), 1.0).unwrap();
    assert!(matches!(transfer.step(1), Err(Error::State(_))));
}

#[test]
fn a_size_over_the_memory_budget_is_refused_with_a_size_that_fits() {
    let mut transfer = ready_transfer(Settings {
        size: 4096,
        max_memory_mb: Some(256),
        ..small_settings()
    });
    let err = transfer.step(1).unwrap_err();
    assert!(matches!(err, Error::Memory(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("256 MiB") && text.contains("would fit"),
        "{text}"
    );
}

#[test]
fn reduced_precision_still_takes_one_evaluation_per_iteration() {
    // bf16 losses are noisy: the first L-BFGS step must be large enough to measure, or the line
    // search rejects every step (this once cost 8 evaluations per iteration).
    let settings = Settings {
        iterations: 6,
        scales: ScaleCount::Fixed(1),
        precision: PrecisionChoice::Fixed(Precision::Bf16),
        ..small_settings()
    };
    let mut transfer = ready_transfer(settings);
    let first = transfer.step(1).unwrap();
    let last = transfer.step(5).unwrap();
    assert!(
        last.evaluations <= 12,
        "{} evaluations for 6 iterations",
        last.evaluations
    );
    assert!(
        last.losses.total < first.losses.total,
        "{first:?} → {last:?}"
    );
}

#[test]
fn a_huge_style_weight_stays_finite() {
    // The seed article's 1e6 style weight sends its plain L-BFGS to NaN within 20 evaluations;
    // with the normalised losses and the line search it is just a strong style.
    let mut settings = Settings {
        iterations: 20,
        scales: ScaleCount::Fixed(1),
        ..small_settings()
    };
    settings.weights.set("style", 1e6).unwrap();
    let mut transfer = ready_transfer(settings);
    let first = transfer.step(1).unwrap();
    let end = transfer.step(100).unwrap();
    assert!(
        end.losses.total.is_finite() && end.losses.total < first.losses.total,
        "{first:?} → {end:?}"
    );
    assert_eq!(end.recoveries, 0);
}

#[test]
fn an_image_too_thin_for_vgg_is_an_argument_error() {
    let mut transfer = ready_transfer(Settings {
        size: 48,
        ..small_settings()
    });
    transfer.set_content(content_picture(48, 15));
    let err = transfer.step(1).unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err:?}");
    assert!(err.to_string().contains("at least 16 px"), "{err}");
}

#[test]
fn a_stage_that_cannot_be_entered_leaves_the_run_where_it_was() {
    let settings = Settings {
        iterations: 6,
        scales: ScaleCount::Fixed(2),
        ..small_settings()
    };
    let first_stage = nstyle::engine::plan::schedule::plan(80, 60, 64, ScaleCount::Fixed(2), 6)[0];
    let mut transfer = ready_transfer(settings);
    transfer.step(first_stage.iterations).unwrap();
    let before = transfer.progress().unwrap();
    assert_eq!(
        (before.scale, before.iteration),
        (0, first_stage.iterations)
    );
    let image = transfer.result(64, 48).unwrap();

    // The budget shrinks (it applies live): the next stage no longer fits and is not entered.
    let mut tight = transfer.settings().clone();
    tight.max_memory_mb = Some(1);
    transfer.set_settings(tight.clone()).unwrap();
    let err = transfer.step(1).unwrap_err();
    assert!(matches!(err, Error::Memory(_)), "{err:?}");
    assert_eq!(transfer.progress().unwrap(), before);
    assert_eq!(transfer.result(64, 48).unwrap().rgb(), image.rgb());

    // With the budget back the run goes on into the next stage.
    tight.max_memory_mb = None;
    transfer.set_settings(tight).unwrap();
    let after = transfer.step(1).unwrap();
    assert_eq!(
        (after.scale, after.iteration),
        (1, first_stage.iterations + 1)
    );
}

#[test]
fn keep_detail_brings_the_photos_fine_detail_into_the_finer_scale() {
    // A photo with fine detail (a 2-pixel checker over a gradient) that the coarse scale cannot
    // hold: starting the fine scale with the photo's own detail band keeps more of it.
    let photo = {
        let (w, h) = (96u32, 72u32);
        let mut rgb = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let check = if (x / 2 + y / 2) % 2 == 0 {
                    0.25
                } else {
                    -0.25
                };
                let base = 0.5 + 0.2 * (x as f32 / w as f32);
                rgb.extend_from_slice(&[base + check, base - check * 0.5, 0.5 + check]);
            }
        }
        Picture::new(w, h, rgb.iter().map(|v| v.clamp(0.0, 1.0)).collect(), None).unwrap()
    };
    let run = |keep_detail: bool| {
        let mut transfer = common::cpu_transfer();
        transfer
            .set_settings(Settings {
                size: 96,
                iterations: 6,
                scales: ScaleCount::Fixed(2),
                keep_detail,
                ..small_settings()
            })
            .unwrap();
        transfer.set_content(photo.clone());
        transfer.add_style(style_picture(64, 64), 1.0).unwrap();
        transfer.step(6).unwrap();
        ssim_luminance(&transfer.result(96, 72).unwrap(), &photo)
    };
    let (with, without) = (run(true), run(false));
    eprintln!("SSIM to the photo: keep_detail {with:.3}, without {without:.3}");
    assert!(
        with > without + 0.05,
        "SSIM with detail {with:.3}, without {without:.3}"
    );
}

#[test]
fn a_scale_whose_loss_stops_falling_ends_early_and_progress_still_reaches_the_total() {
    let settings = Settings {
        iterations: 200,
        scales: ScaleCount::Fixed(2),
        // Any decrease under 100 % over the window counts as converged: the earliest stop.
        stop_tolerance: 1.0,
        ..small_settings()
    };
    let mut transfer = ready_transfer(settings.clone());
    let mut seen = Vec::new();
    loop {
        let progress = transfer.step(5).unwrap();
        seen.push(progress.iteration);
        if progress.iteration >= progress.total {
            break;
        }
        assert!(seen.len() < 100, "never finished: {seen:?}");
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "went back: {seen:?}");
    let evaluations = transfer.progress().unwrap().evaluations;
    // Each of the two scales stops after its window (+1) of iterations, far below 200.
    assert!(evaluations < 60, "{evaluations} evaluations");

    let mut full = ready_transfer(Settings {
        stop_tolerance: 0.0,
        iterations: 30,
        ..settings
    });
    let progress = full.step(1000).unwrap();
    assert_eq!(progress.iteration, 30);
    assert!(progress.evaluations >= 30, "{progress:?}");
}

#[test]
fn strength_moves_the_result_from_the_photo_to_the_style() {
    let run = |strength: f64| {
        let mut transfer = ready_transfer(Settings {
            iterations: 30,
            scales: ScaleCount::Fixed(1),
            stop_tolerance: 0.0,
            strength,
            ..small_settings()
        });
        transfer.step(100).unwrap();
        transfer.result(64, 48).unwrap()
    };
    let (gentle, strong) = (run(0.1), run(0.9));
    let model = fp32_model();
    let photo = content_picture(64, 48);
    let style = style_picture(64, 64);
    let score = |p: &Picture| nstyle::engine::metrics::evaluate(&model, p, &photo, &style).unwrap();
    let (gentle, strong) = (score(&gentle), score(&strong));
    // The photo's features (content distance) stay closer with a gentle strength, the style's
    // statistics with a strong one.
    assert!(
        gentle.content_distance < strong.content_distance,
        "{gentle:?} vs {strong:?}"
    );
    assert!(
        strong.style_distance < gentle.style_distance,
        "{gentle:?} vs {strong:?}"
    );
}

#[test]
fn the_lite_backbone_runs_with_its_own_layers_and_refuses_vgg_names() {
    let mut transfer = ready_transfer(Settings {
        iterations: 15,
        scales: ScaleCount::Fixed(1),
        ..small_settings()
    });
    let mut settings = transfer.settings().clone();
    settings.set_option("backbone", "lite").unwrap();
    transfer.set_settings(settings.clone()).unwrap();
    let first = transfer.step(1).unwrap();
    let last = transfer.step(100).unwrap();
    assert_eq!(last.iteration, 15);
    assert!(
        last.losses.total < first.losses.total,
        "{first:?} → {last:?}"
    );
    assert!(last.losses.get("style") > 0.0 && last.losses.get("content") > 0.0);

    // VGG-19 layer names mean nothing to Lite0: refused, naming the backbone; nothing changes.
    let err = settings
        .clone()
        .set_option("content_layers", "relu4_2")
        .unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err:?}");
    assert!(err.to_string().contains("lite"), "{err}");
    settings
        .set_option("style_layers", "block1,block5:2")
        .unwrap();
    assert_eq!(
        settings.get_option("style_layers").unwrap(),
        "block1:1,block5:2"
    );
    // Switching back to VGG-19 with Lite0 layer names listed is refused too.
    assert!(settings.clone().set_option("backbone", "vgg19").is_err());
    settings.set_option("style_layers", "auto").unwrap();
    settings.set_option("backbone", "vgg19").unwrap();
}

#[test]
fn threads_sets_libtorchs_threads_on_the_steps_thread_and_0_restores_the_default() {
    // This thread has not computed yet: it reports libtorch's default (no test sets another
    // one on its own thread before computing).
    let default = tch::get_num_threads();
    let other = default + 1;
    let mut transfer = ready_transfer(Settings {
        iterations: 4,
        ..small_settings()
    });
    let mut settings = transfer.settings().clone();
    settings.set_option("threads", &other.to_string()).unwrap();
    transfer.set_settings(settings.clone()).unwrap();
    let first = transfer.step(1).unwrap();
    assert_eq!(tch::get_num_threads(), other);
    // Live: the run goes on where it was.
    settings.set_option("threads", "0").unwrap();
    transfer.set_settings(settings.clone()).unwrap();
    let second = transfer.step(1).unwrap();
    assert_eq!(second.iteration, first.iteration + 1);
    assert_eq!(tch::get_num_threads(), default);
    assert!(settings.set_option("threads", "-1").is_err());
    assert_eq!(settings.get_option("threads").unwrap(), "0");
}
