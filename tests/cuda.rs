//! The engine on CUDA. Every test here needs a CUDA device, so each is `#[ignore]`d: on a machine
//! without one, `cargo test` lists them as ignored (visible, never counted as passed). On a GPU
//! machine run them with `--ignored` (scripts/gpu-check.sh does); there a missing device is a
//! failure, not a skip.
//!
//! Tolerances, and why:
//! - CPU vs CUDA in fp32, the same image measured: 1 % relative. cuDNN runs fp32 convolutions in
//!   TF32 by default (10-bit mantissa products), and the sums run in a different order.
//! - bf16 vs fp32 on CUDA: bf16's style distance at most 8 % above fp32's, SSIM within 0.02. At
//!   128 px and 150 iterations the same fp32 run repeated gives style distances up to 3 % apart
//!   (cuDNN picks its algorithms anew each process, TF32 rounds differently, L-BFGS amplifies
//!   it; bf16 runs up to 5.5 %): three runs on an H200 gave fp32 0.1863 / 0.1842 / 0.1895 and
//!   bf16 0.1880 / 0.1946 / 0.1845. The 2 % target is measured where it was set, at
//!   512 px, by scripts/gpu-check.sh (bf16 against fp32: -0.5 % on 2026-12-04); this test
//!   catches a bf16 path that loses the style.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{content_picture, style_picture};
use nstyle::engine::metrics::{evaluate, ssim_luminance, style_distance};
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{self, Precision, PrecisionChoice, Settings, Transfer};
use nstyle::Error;

/// Loads the CUDA half of libtorch before anything runs on the CPU: a process whose first model
/// is `cpu` keeps CUDA off (src/cuda_loader.rs, `note_cpu_device`). Every test calls it first.
fn cuda_first() {
    let status = nstyle::cuda_loader::ensure();
    assert!(
        status.usable(),
        "CUDA cannot be used: {:?}",
        status.unusable
    );
}

fn session(device: &str, precision: Precision, settings: Settings) -> Transfer {
    let model = engine::load_model(None, device, PrecisionChoice::Fixed(precision))
        .unwrap_or_else(|e| panic!("{device}: {e}"));
    let mut transfer = Transfer::new(model);
    transfer
        .set_settings(Settings {
            precision: PrecisionChoice::Fixed(precision),
            ..settings
        })
        .unwrap();
    transfer.set_content(content_picture(128, 96));
    transfer.add_style(style_picture(96, 96), 1.0).unwrap();
    transfer
}

fn settings(iterations: u32) -> Settings {
    Settings {
        size: 128,
        iterations,
        scales: ScaleCount::Fixed(1),
        ..Settings::default()
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// The network measures one image alike on both devices: style distance per layer and content
/// distance of a fixed picture against fixed targets (forward passes) within 1 %. Trajectories
/// are not compared: L-BFGS amplifies the TF32 rounding of cuDNN's convolutions from step to
/// step (on an H200 the content loss was 1.7 % apart after one iteration and 11 % after two).
#[test]
#[ignore = "needs CUDA: run with --ignored on a GPU machine (scripts/gpu-check.sh)"]
fn cpu_and_cuda_measure_an_image_alike_in_fp32() {
    cuda_first();
    let load = |device| {
        engine::load_model(None, device, PrecisionChoice::Fixed(Precision::Fp32))
            .unwrap_or_else(|e| panic!("{device}: {e}"))
    };
    let (image, content, style) = (
        content_picture(128, 96),
        style_picture(128, 96),
        style_picture(96, 96),
    );
    let cpu = evaluate(&load("cpu"), &image, &content, &style).unwrap();
    let cuda = evaluate(&load("cuda"), &image, &content, &style).unwrap();
    println!("cpu {cpu:?}\ncuda {cuda:?}");
    let pairs = cpu
        .style_distance_by_layer
        .iter()
        .zip(&cuda.style_distance_by_layer)
        .map(|(&a, &b)| ("style distance at a layer", a, b))
        .chain([(
            "content distance",
            cpu.content_distance,
            cuda.content_distance,
        )]);
    for (name, a, b) in pairs {
        assert!(relative(a, b) < 0.01, "{name}: cpu {a} vs cuda {b}");
    }
}

#[test]
#[ignore = "needs CUDA: run with --ignored on a GPU machine (scripts/gpu-check.sh)"]
fn bf16_keeps_the_fp32_quality_on_cuda() {
    cuda_first();
    let run = |precision| {
        let mut transfer = session("cuda", precision, settings(150));
        transfer.step(150).unwrap();
        transfer.result(128, 96).unwrap()
    };
    let (full, half) = (run(Precision::Fp32), run(Precision::Bf16));
    let scorer = engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32)).unwrap();
    let style = style_picture(96, 96);
    let content = content_picture(128, 96);
    let (d_full, d_half) = (
        style_distance(&scorer, &full, &style).unwrap(),
        style_distance(&scorer, &half, &style).unwrap(),
    );
    let (s_full, s_half) = (
        ssim_luminance(&full, &content),
        ssim_luminance(&half, &content),
    );
    println!("fp32: style {d_full:.4} ssim {s_full:.4}; bf16: style {d_half:.4} ssim {s_half:.4}");
    assert!(
        d_half <= 1.08 * d_full,
        "style distance fp32 {d_full} vs bf16 {d_half}"
    );
    assert!((s_full - s_half).abs() < 0.02, "ssim {s_full} vs {s_half}");
}

#[test]
#[ignore = "needs CUDA: run with --ignored on a GPU machine (scripts/gpu-check.sh)"]
fn cancel_from_another_thread_stops_a_cuda_step() {
    cuda_first();
    let mut transfer = session("cuda", Precision::Bf16, settings(100_000));
    transfer.step(1).unwrap();
    let cancel = transfer.cancel_flag();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.store(true, Ordering::SeqCst);
    });
    let err = transfer.step(100_000).unwrap_err();
    canceller.join().unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    let before = transfer.progress().unwrap().iteration;
    assert!(before > 1 && before < 100_000);
    assert_eq!(transfer.step(2).unwrap().iteration, before + 2);
}

#[test]
#[ignore = "needs CUDA: run with --ignored on a GPU machine (scripts/gpu-check.sh)"]
fn the_divergence_guard_recovers_on_cuda() {
    cuda_first();
    let mut transfer = session("cuda", Precision::Bf16, settings(10));
    transfer.step(2).unwrap();
    let at = transfer.progress().unwrap().evaluations + 1;
    transfer.poison_evaluations(at, 12);
    let end = transfer.step(100).unwrap();
    assert_eq!(end.iteration, 10);
    assert!(end.recoveries >= 1, "{end:?}");
    assert!(end.losses.total.is_finite());
    assert!(transfer
        .result(128, 96)
        .unwrap()
        .rgb()
        .iter()
        .all(|v| v.is_finite()));
}
