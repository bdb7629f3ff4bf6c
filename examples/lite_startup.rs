//! What a lite preview pays before its first result: seconds and resident memory to create a
//! model (what `nstyle_model_create` does), switch it to `backbone=lite` and run a first step on
//! a small image, as a host's preview does. One process per measurement keeps the numbers apart.
//!
//! Usage: cargo run --release --example lite_startup [SIZE] (default 128)

use std::time::Instant;

use nstyle::engine::{self, Picture};

/// (VmRSS, VmHWM) of this process in MiB.
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A smooth synthetic picture (`seed` changes its colours), so no image files are needed.
fn picture(width: u32, height: u32, seed: f32) -> Picture {
    let mut rgb = Vec::with_capacity((3 * width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            rgb.extend_from_slice(&[
                (u * seed).fract(),
                (v + 0.3 * seed).fract(),
                (0.5 + 0.5 * (7.0 * u * seed + 5.0 * v).sin()).clamp(0.0, 1.0),
            ]);
        }
    }
    Picture::new(width, height, rgb, None).expect("a valid picture")
}

fn main() -> nstyle::Result<()> {
    let size: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SIZE is a number"))
        .unwrap_or(128);
    let report = |what: &str, started: Instant| {
        let (rss, peak) = memory_mib();
        println!(
            "{what:<14} {:>7.3} s   RSS {rss:>5} MiB   peak {peak:>5} MiB",
            started.elapsed().as_secs_f64()
        );
    };
    let (rss, peak) = memory_mib();
    println!(
        "{:<14} {:>9}   RSS {rss:>5} MiB   peak {peak:>5} MiB",
        "start", ""
    );

    let started = Instant::now();
    let mut transfer = engine::open(None, "cpu")?;
    report("model create", started);

    let started = Instant::now();
    let mut settings = transfer.settings().clone();
    settings.set_option("backbone", "lite")?;
    settings.set_option("size", &size.to_string())?;
    settings.set_option("iterations", "1")?;
    transfer.set_settings(settings)?;
    report("backbone=lite", started);

    let started = Instant::now();
    transfer.set_content(picture(size, size * 3 / 4, 1.0));
    transfer.add_style(picture(size, size, 3.7), 1.0)?;
    transfer.step(1)?;
    report("first step", started);
    Ok(())
}
