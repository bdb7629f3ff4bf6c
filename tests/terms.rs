//! The loss terms as the objective lists them: every term by name, the total their sum, the
//! temporal weight an option like the others.

mod common;

use common::{content_picture, ready_transfer, small_settings, style_picture};
use nstyle::engine::features::backbone::Network;
use nstyle::engine::image::source::network_input;
use nstyle::engine::image::temporal::TemporalTarget;
use nstyle::engine::loss::style::Style;
use nstyle::engine::loss::{Inputs, LossParts};
use nstyle::engine::plan::schedule::Stage;
use nstyle::engine::session::objective::Objective;
use nstyle::engine::{self, Mask, Picture, Precision, PrecisionChoice, Settings, SourceImage};

fn all_terms_transfer(settings: Settings) -> nstyle::engine::Transfer {
    let mut transfer = ready_transfer(settings);
    let left = Mask::from_values(2, 1, vec![1.0, 0.0]).unwrap();
    transfer.set_content_mask(Some(left));
    let target = TemporalTarget::new(content_picture(40, 30).into(), None).unwrap();
    transfer.set_temporal(target);
    transfer
}

fn every_term() -> Settings {
    let mut settings = small_settings();
    settings.set_option("histogram_weight", "2").unwrap();
    settings.set_option("temporal_weight", "3").unwrap();
    settings
}

#[test]
fn the_total_is_the_sum_of_the_named_parts() {
    let mut transfer = all_terms_transfer(every_term());
    for _ in 0..3 {
        let progress = transfer.step(1).unwrap();
        let names: Vec<&str> = progress.losses.terms.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["content", "style", "tv", "temporal", "histogram"]);
        let sum: f64 = progress.losses.terms.iter().map(|(_, v)| v).sum();
        let total = progress.losses.total;
        assert!(
            (sum - total).abs() <= 1e-6 * total.abs(),
            "parts {:?} add up to {sum}, total {total}",
            progress.losses.terms
        );
        assert!(progress.losses.terms.iter().all(|(_, v)| *v > 0.0));
    }
}

/// The weighted parts of the objective of a one-stage run at a point away from the photo (the
/// style picture: every term is above 0 there).
fn parts_at_a_point(settings: &Settings) -> nstyle::engine::loss::LossParts {
    let model = engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32)).unwrap();
    let network: Network = &model;
    let content: SourceImage = content_picture(80, 60).into();
    let styles = [Style::new(style_picture(64, 64).into(), 1.0)];
    let magenta = Picture::new(40, 30, [1.0f32, 0.0, 1.0].repeat(40 * 30), None).unwrap();
    let temporal = TemporalTarget::new(magenta.into(), None).unwrap();
    let inputs = Inputs {
        model: network,
        settings,
        content: &content,
        styles: &styles,
        content_mask: None,
        temporal: Some(&temporal),
    };
    let stage = Stage {
        width: 80,
        height: 60,
        iterations: 1,
        tiling: None,
    };
    let elsewhere: SourceImage = style_picture(80, 60).into();
    let point = network_input(&elsewhere, 80, 60, tch::Device::Cpu).unwrap();
    Objective::build(&inputs, stage)
        .unwrap()
        .evaluate(network, settings, &point)
        .unwrap()
        .read()
        .unwrap()
        .parts
}

#[test]
fn each_weight_scales_its_own_part_and_the_strength_the_style_terms() {
    let at = |options: &[(&str, &str)]| {
        let mut settings = every_term();
        for (key, value) in options {
            settings.set_option(key, value).unwrap();
        }
        parts_at_a_point(&settings)
    };
    let base = at(&[]);
    let ratio = |a: &LossParts, name: &str| a.get(name) / base.get(name);
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * y.abs();
    // temporal_weight 3 → 6: that part doubles, the others stay.
    let temporal = at(&[("temporal_weight", "6")]);
    assert!(close(ratio(&temporal, "temporal"), 2.0), "{temporal:?}");
    for name in ["content", "style", "tv", "histogram"] {
        assert!(close(ratio(&temporal, name), 1.0), "{name}: {temporal:?}");
    }
    // The strength scales the style terms (Gram and histogram) by 1000^Δ and nothing else: the
    // temporal term is a pixel-space term.
    let strong = at(&[("strength", "0.9")]);
    let factor = 1000f64.powf(0.3);
    for name in ["style", "histogram"] {
        assert!(close(ratio(&strong, name), factor), "{name}: {strong:?}");
    }
    for name in ["content", "tv", "temporal"] {
        assert!(close(ratio(&strong, name), 1.0), "{name}: {strong:?}");
    }
}
