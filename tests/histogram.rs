//! The histogram style term (Risser et al. 2017), added through the loss-term trait: off by
//! default, reported by name when on, and it moves the result's colours to the style's.

mod common;

use common::{content_picture, ready_transfer, small_settings, style_picture};
use nstyle::engine::{Picture, Settings};

/// The 1-D Wasserstein distance between the luminance distributions of two pictures (sorted
/// samples at matching quantiles, mean absolute difference, 0..1).
fn luminance_distance(a: &Picture, b: &Picture) -> f64 {
    let sorted = |p: &Picture| {
        let mut values: Vec<f32> = p
            .rgb()
            .chunks(3)
            .map(|c| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
            .collect();
        values.sort_by(f32::total_cmp);
        values
    };
    let (a, b) = (sorted(a), sorted(b));
    let n = 256;
    (0..n)
        .map(|i| {
            let q = (i as f64 + 0.5) / n as f64;
            let at = |v: &[f32]| v[((q * v.len() as f64) as usize).min(v.len() - 1)] as f64;
            (at(&a) - at(&b)).abs()
        })
        .sum::<f64>()
        / n as f64
}

fn run(settings: Settings) -> (Picture, nstyle::engine::Progress) {
    let mut transfer = ready_transfer(settings);
    let progress = transfer.step(u32::MAX).unwrap();
    let (w, h) = transfer.result_size().unwrap();
    (transfer.result(w, h).unwrap(), progress)
}

fn with(options: &[(&str, &str)]) -> Settings {
    let mut settings = Settings {
        iterations: 30,
        ..small_settings()
    };
    for (key, value) in options {
        settings.set_option(key, value).unwrap();
    }
    settings
}

#[test]
fn off_by_default_and_reported_when_on() {
    assert_eq!(
        Settings::default().get_option("histogram_weight").unwrap(),
        "0"
    );
    let (_, plain) = run(with(&[("iterations", "2")]));
    let names: Vec<&str> = plain.losses.terms.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["content", "style", "tv"]);
    let (_, on) = run(with(&[("iterations", "2"), ("histogram_weight", "1")]));
    assert!(on.losses.get("histogram") > 0.0, "{:?}", on.losses);
}

#[test]
fn the_histogram_term_alone_moves_the_colours_towards_the_style() {
    // Gram matrices off: only the histogram term takes anything from the style.
    let base = [("style_weight", "0"), ("content_weight", "0.01")];
    let (photo_like, _) = run(with(&base));
    let (matched, _) = run(with(&[base[0], base[1], ("histogram_weight", "1")]));
    let style = style_picture(64, 64);
    let (before, after) = (
        luminance_distance(&photo_like, &style),
        luminance_distance(&matched, &style),
    );
    eprintln!("luminance distance to the style: {before:.4} → {after:.4}");
    assert!(after < 0.7 * before, "{before} → {after}");
    // And the photo is still there: the result is closer to it than the style is.
    let photo = content_picture(matched.width(), matched.height());
    assert!(luminance_distance(&matched, &photo) < luminance_distance(&style, &photo));
}

#[test]
fn a_tiled_stage_takes_the_term_too() {
    let (result, progress) = run(with(&[
        ("histogram_weight", "1"),
        ("tile", "64"),
        ("iterations", "6"),
    ]));
    assert!(progress.losses.get("histogram").is_finite());
    assert!(
        progress.losses.get("histogram") > 0.0,
        "{:?}",
        progress.losses
    );
    assert!(result.rgb().iter().all(|v| v.is_finite()));
}
