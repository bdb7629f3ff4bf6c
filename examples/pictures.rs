//! Writes the pictures of a fixed set of CPU runs (fp32, one thread) as raw RGB8 files, so that a
//! refactoring of the engine can be checked bit for bit against the build before it:
//!
//!   cargo run --release --example pictures -- CONTENT STYLE OUT_DIR
//!   cmp before/default.rgb after/default.rgb   # and each other file
//!
//! The runs: the default settings; two styles with a region each and a content mask; a temporal
//! target; a tiled stage with a region; and Adam. Each is small (96 px) and short.

use std::path::{Path, PathBuf};

use nstyle::engine::image::temporal::TemporalTarget;
use nstyle::engine::{self, Mask, Picture, Precision, PrecisionChoice, Settings, Transfer};
use nstyle::imageio;

fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut settings = Settings::default();
    for (key, value) in [
        ("size", "96"),
        ("iterations", "24"),
        ("precision", "fp32"),
        ("threads", "1"),
    ]
    .iter()
    .chain(extra)
    {
        settings.set_option(key, value).expect("a valid option");
    }
    settings
}

/// A mask over the left `share` of a `width`×`height` image.
fn left(width: u32, height: u32, share: f32) -> Mask {
    let values = (0..height)
        .flat_map(|_| (0..width).map(move |x| f32::from((x as f32) < share * width as f32)))
        .collect();
    Mask::from_values(width, height, values).expect("a valid mask")
}

fn run(name: &str, content: &Picture, style: &Picture, out: &Path) -> nstyle::Result<()> {
    let model = engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32))?;
    let mut transfer = Transfer::new(model);
    transfer.set_content(content.clone());
    transfer.add_style(style.clone(), 1.0)?;
    match name {
        "default" => transfer.set_settings(settings(&[]))?,
        "masked" => {
            transfer.set_settings(settings(&[("mask_softness", "2")]))?;
            transfer.add_style(content.clone(), 1.0)?;
            transfer.set_style_region(0, Some(left(32, 24, 0.5)))?;
            transfer.set_content_mask(Some(left(32, 24, 0.25)));
        }
        "temporal" => {
            transfer.set_settings(settings(&[("temporal_weight", "2")]))?;
            let weights: Vec<f32> = (0..content.width() * content.height())
                .map(|i| (i % 7) as f32 / 6.0)
                .collect();
            let target = TemporalTarget::new(
                style.resized(content.width(), content.height()).into(),
                Some(&weights),
            )?;
            transfer.set_temporal(target);
        }
        "tiled" => {
            transfer.set_settings(settings(&[("tile", "64"), ("scales", "2")]))?;
            transfer.set_style_region(0, Some(left(32, 24, 0.6)))?;
        }
        "adam" => transfer.set_settings(settings(&[("optimizer", "adam")]))?,
        other => panic!("unknown run {other}"),
    }
    let mut progress = transfer.step(u32::MAX)?;
    while progress.iteration < progress.total {
        progress = transfer.step(u32::MAX)?;
    }
    let (width, height) = transfer.result_size()?;
    let picture = transfer.result(width, height)?;
    let bytes: Vec<u8> = picture
        .rgb()
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    std::fs::write(out.join(format!("{name}.rgb")), &bytes)
        .map_err(|e| nstyle::Error::Io(e.to_string()))?;
    println!(
        "{name}: {width}×{height}, {} evaluations, loss {:.6}",
        progress.evaluations, progress.losses.total
    );
    Ok(())
}

fn main() -> nstyle::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [content, style, out] = &args[..] else {
        eprintln!("usage: pictures CONTENT STYLE OUT_DIR");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).map_err(|e| nstyle::Error::Io(e.to_string()))?;
    let content = imageio::load(Path::new(content))?;
    let style = imageio::load(Path::new(style))?;
    for name in ["default", "masked", "temporal", "tiled", "adam"] {
        run(name, &content, &style, &out)?;
    }
    Ok(())
}
