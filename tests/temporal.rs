//! The temporal term (video) and the initial image: a target pulls the result where its weight
//! map is 1 and leaves it alone where it is 0; an initial image is where a run starts.

mod common;

use common::{content_picture, ready_transfer, small_settings};
use nstyle::engine::image::temporal::TemporalTarget;
use nstyle::engine::{Picture, Settings, SourceImage};

const WIDTH: u32 = 80;
const HEIGHT: u32 = 60;

fn magenta(width: u32, height: u32) -> Picture {
    let rgb = [1.0f32, 0.0, 1.0].repeat(width as usize * height as usize);
    Picture::new(width, height, rgb, None).unwrap()
}

/// Mean absolute difference (0..1) to magenta over the columns `from..to` (fractions of the
/// width) of a result.
fn distance_to_magenta(result: &Picture, from: f32, to: f32) -> f64 {
    let (w, h) = (result.width() as usize, result.height() as usize);
    let (x0, x1) = ((from * w as f32) as usize, (to * w as f32) as usize);
    let mut sum = 0.0;
    for y in 0..h {
        for x in x0..x1 {
            let p = &result.rgb()[3 * (y * w + x)..3 * (y * w + x) + 3];
            sum += ((1.0 - p[0]).abs() + p[1].abs() + (1.0 - p[2]).abs()) as f64 / 3.0;
        }
    }
    sum / (h * (x1 - x0)) as f64
}

/// One scale, and a temporal weight that puts the term on the scale of the content and style
/// terms (about 1e9 here).
fn settings() -> Settings {
    let mut settings = Settings {
        scales: nstyle::engine::plan::schedule::ScaleCount::Fixed(1),
        ..small_settings()
    };
    settings.set_option("temporal_weight", "1e6").unwrap();
    settings
}

fn run(target: Option<TemporalTarget>) -> Picture {
    run_with(
        Settings {
            iterations: 20,
            ..settings()
        },
        target,
    )
}

fn run_with(settings: Settings, target: Option<TemporalTarget>) -> Picture {
    let mut transfer = ready_transfer(settings);
    if let Some(target) = target {
        transfer.set_temporal(target);
    }
    transfer.step(u32::MAX).unwrap();
    let (w, h) = transfer.result_size().unwrap();
    transfer.result(w, h).unwrap()
}

/// A magenta target weighted 1 on the left half of the image, 0 on the right.
fn left_half_target() -> TemporalTarget {
    let mask: Vec<f32> = (0..HEIGHT)
        .flat_map(|_| (0..WIDTH).map(|x| if x < WIDTH / 2 { 1.0 } else { 0.0 }))
        .collect();
    TemporalTarget::new(SourceImage::from(magenta(WIDTH, HEIGHT)), Some(&mask)).unwrap()
}

#[test]
fn temporal_target_is_cut_to_the_tiles_of_a_tiled_stage() {
    let tiled = Settings {
        size: 72,
        tile: Some(64),
        iterations: 6,
        ..settings()
    };
    let plain = run_with(tiled.clone(), None);
    let pulled = run_with(tiled, Some(left_half_target()));
    let (plain_left, pulled_left) = (
        distance_to_magenta(&plain, 0.0, 0.4),
        distance_to_magenta(&pulled, 0.0, 0.4),
    );
    let (plain_right, pulled_right) = (
        distance_to_magenta(&plain, 0.7, 1.0),
        distance_to_magenta(&pulled, 0.7, 1.0),
    );
    eprintln!("tiled: left {plain_left:.3} -> {pulled_left:.3}; right {plain_right:.3} -> {pulled_right:.3}");
    assert!(pulled_left < 0.5 * plain_left);
    assert!(pulled_right > 0.8 * plain_right);
}

#[test]
fn temporal_target_pulls_where_weighted_and_not_where_zero() {
    // Both runs start from the photo. A magenta target weighted 1 on the left half, 0 on the
    // right, pulls the left half only.
    let plain = run(None);
    let pulled = run(Some(left_half_target()));

    let plain_left = distance_to_magenta(&plain, 0.0, 0.4);
    let pulled_left = distance_to_magenta(&pulled, 0.0, 0.4);
    let plain_right = distance_to_magenta(&plain, 0.7, 1.0);
    let pulled_right = distance_to_magenta(&pulled, 0.7, 1.0);
    eprintln!(
        "left (weight 1): {plain_left:.3} -> {pulled_left:.3}; \
         right (weight 0): {plain_right:.3} -> {pulled_right:.3}"
    );
    assert!(
        pulled_left < 0.3 * plain_left,
        "weighted pixels were not pulled to the target: {plain_left} -> {pulled_left}"
    );
    assert!(
        pulled_right > 0.8 * plain_right,
        "unweighted pixels moved to the target too: {plain_right} -> {pulled_right}"
    );
}

#[test]
fn temporal_term_is_reported_in_the_loss_and_cleared() {
    let target = TemporalTarget::new(SourceImage::from(magenta(40, 30)), None).unwrap();
    let mut transfer = ready_transfer(settings());
    transfer.set_temporal(target);
    let with = transfer.step(2).unwrap();
    assert!(with.losses.get("temporal") > 0.0, "{:?}", with.losses);
    transfer.clear_temporal();
    let without = transfer.step(2).unwrap();
    assert_eq!(without.losses.get("temporal"), 0.0);
    assert!(
        without
            .losses
            .terms
            .iter()
            .all(|(name, _)| *name != "temporal"),
        "a cleared temporal term is no longer reported: {:?}",
        without.losses
    );
}

#[test]
fn init_image_is_where_the_run_starts() {
    let mut transfer = ready_transfer(settings());
    transfer
        .set_init_image(&SourceImage::from(magenta(WIDTH, HEIGHT)))
        .unwrap();
    assert_eq!(transfer.settings().get_option("init").unwrap(), "image");
    // What get_option reads is accepted back and keeps the image; without one it is refused.
    let mut same = transfer.settings().clone();
    same.set_option("init", "image").unwrap();
    assert_eq!(&same, transfer.settings());
    assert!(Settings::default().set_option("init", "image").is_err());
    let (w, h) = transfer.result_size().unwrap();
    let start = transfer.result(w, h).unwrap();
    assert!(distance_to_magenta(&start, 0.0, 1.0) < 0.01);
    // Back to the content: the start is the photo again.
    let mut settings = transfer.settings().clone();
    settings.set_option("init", "content").unwrap();
    transfer.set_settings(settings).unwrap();
    let start = transfer.result(w, h).unwrap();
    let photo = content_picture(w, h);
    assert!(distance_to_magenta(&start, 0.0, 1.0) > 0.2);
    assert_eq!(start.width(), photo.width());
}
