//! Helpers shared by the integration tests: synthetic images (the tests must run without
//! ../shared) and a CPU fp32 session on the default weights.
#![allow(dead_code)]

use nstyle::engine::{self, Picture, Precision, PrecisionChoice, Settings, Transfer};

/// A smooth "photo": gradients and a soft disc.
pub fn content_picture(width: u32, height: u32) -> Picture {
    let mut rgb = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            let disc = if (u - 0.5).powi(2) + (v - 0.5).powi(2) < 0.06 {
                0.5
            } else {
                0.0
            };
            rgb.extend_from_slice(&[
                0.2 + 0.6 * u,
                0.3 + 0.5 * v + disc * 0.5,
                0.5 + disc * 0.4 - 0.3 * u,
            ]);
        }
    }
    Picture::new(width, height, rgb, None).unwrap()
}

/// A high-contrast "painting": diagonal coloured stripes with dots.
pub fn style_picture(width: u32, height: u32) -> Picture {
    let mut rgb = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let stripe = ((x + 2 * y) / 4) % 3;
            let dot = (x % 8 < 3) && (y % 8 < 3);
            let colour = match (stripe, dot) {
                (_, true) => [1.0, 0.9, 0.1],
                (0, _) => [0.05, 0.1, 0.6],
                (1, _) => [0.9, 0.8, 0.3],
                _ => [0.1, 0.4, 0.8],
            };
            rgb.extend_from_slice(&colour);
        }
    }
    Picture::new(width, height, rgb, None).unwrap()
}

/// A CPU session in fp32 (deterministic and precise), with small defaults for tests.
pub fn cpu_transfer() -> Transfer {
    let model = engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32))
        .expect("weights load (run `make setup` first)");
    let mut transfer = Transfer::new(model);
    transfer.set_settings(small_settings()).unwrap();
    transfer
}

pub fn small_settings() -> Settings {
    Settings {
        size: 64,
        iterations: 10,
        precision: PrecisionChoice::Fixed(Precision::Fp32),
        // Tests count iterations and evaluations: no early end unless a test asks for one.
        stop_tolerance: 0.0,
        ..Settings::default()
    }
}

/// A session with the synthetic content and style set.
pub fn ready_transfer(settings: Settings) -> Transfer {
    let mut transfer = cpu_transfer();
    transfer.set_settings(settings).unwrap();
    transfer.set_content(content_picture(80, 60));
    transfer.add_style(style_picture(64, 64), 1.0).unwrap();
    transfer
}
