//! `method=fast` (the feed-forward network's picture as the whole run) and `init=fast` (the
//! optimiser starting from it), through the session as hosts drive it.

mod common;

use common::{content_picture, small_settings, style_picture};
use nstyle::engine::{self, Mask, Picture, Settings, Transfer};

fn fast_session(options: &[(&str, &str)]) -> Transfer {
    // A lazy session: the fast method must not need VGG-19.
    let mut transfer = engine::open(None, "cpu").unwrap();
    let mut settings = Settings {
        size: 96,
        ..small_settings()
    };
    settings.set_option("method", "fast").unwrap();
    for (key, value) in options {
        settings.set_option(key, value).unwrap();
    }
    transfer.set_settings(settings).unwrap();
    transfer.set_content(content_picture(96, 72));
    transfer.add_style(style_picture(64, 64), 1.0).unwrap();
    transfer
}

fn result(transfer: &mut Transfer) -> Picture {
    let (w, h) = transfer.result_size().unwrap();
    transfer.result(w, h).unwrap()
}

/// Mean absolute difference (0..1) between two pictures of one size, over columns `from..to`
/// (fractions of the width).
fn difference(a: &Picture, b: &Picture, from: f32, to: f32) -> f64 {
    let w = a.width() as usize;
    let (x0, x1) = ((from * w as f32) as usize, (to * w as f32) as usize);
    let mut sum = 0.0;
    let mut n = 0;
    for (i, (p, q)) in a.rgb().chunks(3).zip(b.rgb().chunks(3)).enumerate() {
        if (x0..x1).contains(&(i % w)) {
            sum += p
                .iter()
                .zip(q)
                .map(|(x, y)| (x - y).abs() as f64)
                .sum::<f64>()
                / 3.0;
            n += 1;
        }
    }
    sum / n as f64
}

#[test]
fn the_fast_method_is_one_step_to_done_and_paints() {
    let mut transfer = fast_session(&[]);
    let photo = result(&mut transfer); // before the step: the photo
    let progress = transfer.step(10).unwrap();
    assert_eq!((progress.iteration, progress.total), (1, 1));
    assert!(!transfer.vgg_loaded(), "the fast method loaded VGG-19");
    let painted = result(&mut transfer);
    let change = difference(&photo, &painted, 0.0, 1.0);
    assert!(
        change > 0.08,
        "the fast picture is hardly different from the photo: {change}"
    );
    // A second step does nothing.
    assert_eq!(transfer.step(1).unwrap().iteration, 1);
    assert_eq!(result(&mut transfer).rgb(), painted.rgb());
}

#[test]
fn strength_moves_from_the_photo_to_the_style() {
    let painted_at = |strength: &str| {
        let mut transfer = fast_session(&[("strength", strength)]);
        let photo = result(&mut transfer);
        transfer.step(1).unwrap();
        difference(&photo, &result(&mut transfer), 0.0, 1.0)
    };
    let (weak, default) = (painted_at("0.1"), painted_at("0.6"));
    assert!(weak < 0.8 * default, "strength 0.1: {weak}, 0.6: {default}");
}

#[test]
fn a_region_paints_only_where_it_is() {
    let mut transfer = fast_session(&[]);
    let photo = result(&mut transfer);
    let left: Vec<f32> = (0..8 * 8).map(|i| f32::from(i % 8 < 4)).collect();
    transfer
        .set_style_region(0, Some(Mask::from_values(8, 8, left).unwrap()))
        .unwrap();
    transfer.step(1).unwrap();
    let painted = result(&mut transfer);
    let (inside, outside) = (
        difference(&photo, &painted, 0.0, 0.4),
        difference(&photo, &painted, 0.6, 1.0),
    );
    assert!(outside < 0.2 * inside, "inside {inside}, outside {outside}");
}

#[test]
fn the_warm_start_begins_at_the_fast_picture() {
    let mut settings = small_settings();
    settings.set_option("init", "fast").unwrap();
    let mut warm = common::ready_transfer(settings);
    let mut cold = common::ready_transfer(small_settings());
    let (start, photo) = (result(&mut warm), result(&mut cold));
    assert!(difference(&start, &photo, 0.0, 1.0) > 0.05);
    let progress = warm.step(u32::MAX).unwrap();
    assert_eq!(progress.iteration, progress.total);
}

#[test]
fn the_fast_estimate_needs_no_vgg_and_is_positive() {
    let mut transfer = fast_session(&[]);
    let estimate = transfer.estimate().unwrap();
    assert!(
        estimate.seconds > 0.0 && estimate.seconds < 60.0,
        "{estimate:?}"
    );
    assert!(!transfer.vgg_loaded());
}
