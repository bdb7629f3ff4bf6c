//! The progressive multi-scale plan: optimise a small image first, upsample the result to start
//! the next scale, and spend most iterations where they are cheap (a 4× smaller side is 16× fewer
//! pixels per evaluation). A stage too large to optimise whole is cut into passes of tile visits
//! ([`tile_stage`]; the tiles' geometry is [`crate::engine::plan::tiles`]).

use crate::engine::plan::tiles::{Layout, Tiling};
use crate::error::{Error, Result};

/// How many scales to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScaleCount {
    /// From about a quarter of the final size (never below [`MIN_AUTO_SIDE`]) up to it.
    #[default]
    Auto,
    Fixed(u32),
}

/// The auto plan does not start below this long side: VGG's deep layers see too little of the
/// image under it.
pub const MIN_AUTO_SIDE: u32 = 64;
/// No stage is ever smaller than this on its short side: relu5_1 sits behind four 2×2 poolings.
pub const MIN_SIDE: u32 = 16;
/// Each earlier scale gets this many times the iterations of the next one, for results up to
/// [`SMALL_RESULT_SIDE`]. Measured against 1.5 (300 iterations, 256 px, the_scream): SSIM 0.405 /
/// style 0.228 at 77 full-size evaluations' cost, against 0.399 / 0.228 at 99: the coarse
/// iterations are nearly free and buy as much.
const ITERATION_RATIO: f64 = 2.0;
/// The ratio for larger results: every scale then costs about the same (a scale has 4× the pixels
/// of the one before). Their last scale starts from a picture settled at 256 px or more, and its
/// iterations buy little: at 512 px (the_scream, 300 iterations) 45 → 22 final iterations moved
/// SSIM / style from 0.519 / 0.251 to 0.533 / 0.248, while the coarse scale's buy style (300 of
/// them at 128 px: 0.517 / 0.224). With 4 (229/57/14): the_scream 0.529 / 0.244, starry_night
/// 0.416 / 0.190 (against 0.402 / 0.163 with 2) at 43 full-size evaluations' cost instead of 77.
/// At 256 px the last scale is where the painting's strokes form: 4 there cost the_scream style
/// (0.201 → 0.230), so small results keep 2.
const LARGE_RESULT_ITERATION_RATIO: f64 = 4.0;
/// Results up to this long side split their iterations by [`ITERATION_RATIO`].
pub const SMALL_RESULT_SIDE: u32 = 256;

/// Iterations a tile gets per visit at most: enough for L-BFGS (which starts afresh on each tile)
/// to build up its curvature pairs; more passes with fewer iterations each move the grid more.
const VISIT_ITERATIONS: u32 = 10;

impl ScaleCount {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "auto" => Ok(ScaleCount::Auto),
            other => match other.parse::<u32>() {
                Ok(n) if (1..=8).contains(&n) => Ok(ScaleCount::Fixed(n)),
                _ => Err(Error::arg(format!(
                    "scales must be 'auto' or a number from 1 to 8, not '{other}'"
                ))),
            },
        }
    }
}

/// One scale of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    pub width: u32,
    pub height: u32,
    /// Iterations of the whole image, or for a tiled stage, tile iterations over all its passes.
    pub iterations: u32,
    /// How the stage is cut into tiles, when it is (see [`crate::engine::plan::tiles`]).
    pub tiling: Option<Tiling>,
}

/// Size of an image with the given aspect whose longest side is `long_side`.
pub fn fit_long_side(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let scale = long_side as f64 / width.max(height) as f64;
    let w = ((width as f64 * scale).round() as u32).max(1);
    let h = ((height as f64 * scale).round() as u32).max(1);
    (w, h)
}

/// Plans the stages for a content image of `width`×`height` whose result has `size` as its longest
/// side, with `iterations` in all. Stages go from small to `size`, each side doubling.
pub fn plan(width: u32, height: u32, size: u32, scales: ScaleCount, iterations: u32) -> Vec<Stage> {
    let wanted = match scales {
        ScaleCount::Fixed(n) => n,
        ScaleCount::Auto => {
            // A quarter. An eighth (64/128/256/512 at 512 px) cost a quarter as much for the same
            // SSIM and style distance on tubingen, but lost the demo astronaut's face to a swirl:
            // at 64 px a face is a few pixels and the style settles over it for good.
            let start = (size / 4).max(MIN_AUTO_SIDE);
            let doublings = if start >= size {
                0
            } else {
                (size as f64 / start as f64).log2().round() as u32
            };
            doublings + 1
        }
    };
    // Drop scales whose short side would fall under MIN_SIDE, and never plan a stage that gets no
    // iteration.
    let short_ratio = width.min(height) as f64 / width.max(height) as f64;
    let mut count = wanted.clamp(1, iterations.max(1));
    while count > 1 && (size as f64 / 2f64.powi(count as i32 - 1) * short_ratio) < MIN_SIDE as f64 {
        count -= 1;
    }
    let ratio = if size > SMALL_RESULT_SIDE {
        LARGE_RESULT_ITERATION_RATIO
    } else {
        ITERATION_RATIO
    };
    let shares: Vec<f64> = (0..count)
        .map(|i| ratio.powi((count - 1 - i) as i32))
        .collect();
    let split = split_iterations(iterations, &shares);
    (0..count)
        .map(|i| {
            let long_side = ((size as f64) / 2f64.powi((count - 1 - i) as i32)).round() as u32;
            let (w, h) = fit_long_side(width, height, long_side.max(1));
            Stage {
                width: w,
                height: h,
                iterations: split[i as usize],
                tiling: None,
            }
        })
        .collect()
}

/// `stage` cut into tiles of `layout`. Its `iterations` (whole-image iterations in the plan)
/// become passes of that many iterations per pixel, at most [`VISIT_ITERATIONS`] per visit and
/// at least two passes (so the grid moves once); the stage then counts tile iterations, so that
/// progress moves with every tile step.
pub fn tile_stage(stage: Stage, layout: Layout) -> Result<Stage> {
    let wanted = stage.iterations.max(1);
    let passes = wanted.div_ceil(VISIT_ITERATIONS).max(2);
    let per_visit = ((wanted as f64 / passes as f64).round() as u32).max(1);
    let visits = layout.visits(stage.width, stage.height, passes);
    let iterations = u32::try_from(visits * per_visit as u64).map_err(|_| {
        Error::arg(format!(
            "a {}×{} stage in tiles of {} px would take {visits} tile visits: use larger tiles \
             or fewer iterations",
            stage.width, stage.height, layout.tile
        ))
    })?;
    Ok(Stage {
        iterations,
        tiling: Some(Tiling {
            layout,
            passes,
            per_visit,
        }),
        ..stage
    })
}

/// Splits `total` in proportion to `shares`, exactly (largest remainders), each part at least 1
/// when total allows.
fn split_iterations(total: u32, shares: &[f64]) -> Vec<u32> {
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / sum * total as f64).collect();
    let mut parts: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = total - parts.iter().sum::<u32>();
    for &i in order.iter().cycle().take(shares.len() * 2) {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    // Borrow from the largest part for any stage that ended with nothing.
    for i in 0..parts.len() {
        if parts[i] == 0 {
            let largest = (0..parts.len())
                .max_by_key(|&j| parts[j])
                .expect("non-empty");
            if parts[largest] > 1 {
                parts[largest] -= 1;
                parts[i] = 1;
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_plan_for_512_goes_from_a_quarter_up() {
        let stages = plan(1024, 768, 512, ScaleCount::Auto, 300);
        let sides: Vec<(u32, u32)> = stages.iter().map(|s| (s.width, s.height)).collect();
        assert_eq!(sides, vec![(128, 96), (256, 192), (512, 384)]);
        assert_eq!(stages.iter().map(|s| s.iterations).sum::<u32>(), 300);
        assert!(stages.windows(2).all(|w| w[0].iterations > w[1].iterations));
    }

    #[test]
    fn larger_results_give_each_scale_about_the_same_cost() {
        let iterations = |size| -> Vec<u32> {
            plan(1024, 768, size, ScaleCount::Auto, 300)
                .iter()
                .map(|s| s.iterations)
                .collect()
        };
        assert_eq!(iterations(256), vec![171, 86, 43]);
        assert_eq!(iterations(512), vec![229, 57, 14]);
    }

    #[test]
    fn small_sizes_use_fewer_scales() {
        assert_eq!(plan(100, 100, 64, ScaleCount::Auto, 10).len(), 1);
        assert_eq!(plan(100, 100, 128, ScaleCount::Auto, 10).len(), 2);
        // A very flat image cannot be halved below the minimum side.
        assert_eq!(plan(1000, 100, 128, ScaleCount::Fixed(4), 10).len(), 1);
    }

    #[test]
    fn last_stage_is_the_requested_size() {
        for size in [17, 64, 100, 128, 333, 512, 1000] {
            let stages = plan(640, 480, size, ScaleCount::Auto, 50);
            let last = stages.last().unwrap();
            assert_eq!(last.width.max(last.height), size);
        }
    }

    #[test]
    fn every_stage_gets_an_iteration() {
        let stages = plan(512, 512, 512, ScaleCount::Fixed(3), 3);
        assert!(stages.iter().all(|s| s.iterations == 1), "{stages:?}");
        let stages = plan(512, 512, 512, ScaleCount::Fixed(3), 2);
        assert_eq!(stages.len(), 2);
    }

    #[test]
    fn parse_scales() {
        assert_eq!(ScaleCount::parse("auto").unwrap(), ScaleCount::Auto);
        assert_eq!(ScaleCount::parse("3").unwrap(), ScaleCount::Fixed(3));
        assert!(ScaleCount::parse("0").is_err());
        assert!(ScaleCount::parse("x").is_err());
    }
}
