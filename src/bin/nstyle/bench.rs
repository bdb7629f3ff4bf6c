//! `nstyle bench`: seconds per objective evaluation at a given size, and peak memory, on
//! synthetic images (so it needs no files and measures only the engine).

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use nstyle::engine::plan::schedule::ScaleCount;
use nstyle::engine::{Picture, Settings};
use nstyle::Result;

use crate::ModelArgs;

#[derive(Args)]
pub struct BenchArgs {
    /// Longest side; the image is 4:3.
    #[arg(long, default_value_t = 512)]
    size: u32,
    /// Timed iterations (after one untimed warm-up).
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// fp32, bf16, fp16 or auto.
    #[arg(long, default_value = "auto")]
    precision: String,
    /// Feature network: vgg19 or lite.
    #[arg(long, default_value = "vgg19")]
    backbone: String,
    #[command(flatten)]
    model: ModelArgs,
}

/// A smooth synthetic photo-like image and a stripy "style", 4:3.
fn synthetic(width: u32, height: u32, stripes: bool) -> Picture {
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            if stripes {
                let s = (u * 40.0 + v * 25.0).sin() * 0.5 + 0.5;
                rgb.extend_from_slice(&[s, 0.3 + 0.4 * v, 1.0 - s]);
            } else {
                rgb.extend_from_slice(&[u, v, 0.5 + 0.5 * (u * 9.0).sin() * (v * 7.0).cos()]);
            }
        }
    }
    Picture::new(width, height, rgb, None).expect("valid size")
}

pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    let precision = nstyle::engine::PrecisionChoice::parse(&args.precision)?;
    let mut transfer = args.model.open()?;
    let (width, height) = (args.size, args.size * 3 / 4);
    transfer.set_settings(Settings {
        size: args.size,
        iterations: args.iterations + 1,
        scales: ScaleCount::Fixed(1),
        precision,
        backbone: nstyle::engine::features::backbone::Backbone::parse(&args.backbone)?,
        // Every timed iteration runs: no early end.
        stop_tolerance: 0.0,
        ..Settings::default()
    })?;
    transfer.set_content(synthetic(width, height, false));
    transfer.add_style(synthetic(width, height, true), 1.0)?;

    // The warm-up builds the targets and lets oneDNN pick its kernels.
    transfer.step(1)?;
    let before = transfer.progress()?.evaluations;
    let started = Instant::now();
    let progress = transfer.step(args.iterations)?;
    let seconds = started.elapsed().as_secs_f64();
    let evaluations = progress.evaluations - before;
    println!("device            {:?}", transfer.device());
    println!("backbone          {}", transfer.settings().backbone.name());
    println!("precision         {}", transfer.precision().name());
    if let Some(probe) = nstyle::engine::device::precision::cpu_bf16_probe().filter(|_| {
        precision == nstyle::engine::PrecisionChoice::Auto && transfer.device() == tch::Device::Cpu
    }) {
        println!(
            "bf16 probe        fp32 {:.1} ms, bf16 {:.1} ms per conv step: {}",
            probe.fp32_ms,
            probe.bf16_ms,
            if probe.bf16_wins() {
                "bf16 is faster here"
            } else {
                "fp32 kept"
            }
        );
    }
    println!("image             {width}×{height}");
    println!("iterations        {}", args.iterations);
    println!("evaluations       {evaluations}");
    println!(
        "s/evaluation      {:.3}",
        seconds / evaluations.max(1) as f64
    );
    println!(
        "s/iteration       {:.3}",
        seconds / args.iterations.max(1) as f64
    );
    match peak_rss_mib() {
        Some(mib) => println!("peak memory       {mib} MiB (process RSS)"),
        None => println!("peak memory       unknown"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory so far (VmHWM), in MiB.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
