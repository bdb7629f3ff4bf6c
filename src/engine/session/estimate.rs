//! How long a run will take on this machine, before it starts: a short probe times the network
//! the run will use (its backbone, precision, device, threads and loss layers) at two small
//! sizes, and the plan the run would execute is priced with those rates, stage by stage and, in
//! a tiled stage, tile visit by tile visit with the margins each window carries.
//!
//! The probe's rates are kept per network, precision, device, threads and layer set for the life
//! of the process, so a host asking again while the user moves a slider gets its answer at once.
//!
//! Priced: every objective evaluation (forward and backward pass, losses) at its stage's or tile
//! window's pixels, the evaluations an iteration takes (L-BFGS spends more at each start: a
//! stage, or a tile visit), and the forward passes that build the targets (the content and each
//! style per stage; in a tiled stage the style's tiles once and the content's window per visit).
//! Not priced: resampling the images between stages (small against the network).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use once_cell::sync::Lazy;
use tch::{Device, Tensor};

use crate::engine::config::settings::{OptimizerKind, Settings};
use crate::engine::config::values::{LayerChoice, WeightedLayer};
use crate::engine::image::source::network_input;
use crate::engine::loss::style::Style;
use crate::engine::loss::{stage_layers, Inputs, StageKind};
use crate::engine::plan::schedule::{fit_long_side, Stage, MIN_SIDE};
use crate::engine::session::objective::{active_terms, Objective};
use crate::error::{Error, Result};

/// Square probe sizes. Two, because an evaluation costs a fixed part (dispatch, reductions, the
/// read-back) besides the part that grows with the pixels: at 64×48 px the fixed part is most of
/// it, so one small probe scaled by pixels would overstate a 512 px run about 1.5-fold. Small
/// enough that the probe takes about a second with VGG-19 on a 2-core CPU.
const PROBE_SIDES: [u32; 2] = [96, 192];
/// Timed rounds over the probe sizes, after one untimed pass of each. The fastest of each size
/// is kept: the rates are cached for the life of the process, and a burst of other work during
/// the probe must not stay in every later estimate.
const PROBE_ROUNDS: usize = 3;
/// Evaluations an L-BFGS start costs besides its iterations' own: the evaluation at the start
/// point, and the backtracking of the first iterations while the curvature pairs are few.
/// Measured on tubingen × starry night, 1024 px in 256 px tiles: 18 visits of 3 iterations took
/// 86 evaluations and 50 visits of 2 took 186 (1.7 more per visit than its iterations).
const LBFGS_START_EVALUATIONS: f64 = 1.7;
/// Evaluations per L-BFGS iteration besides its own once the pairs are built: the Armijo line
/// search accepts the first trial almost always (300 planned iterations over 2 or 3 scales took
/// 304 to 309 evaluations).
const LBFGS_BACKTRACKS: f64 = 0.02;

/// Seconds of a pass as a fixed part plus a part per pixel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub fixed: f64,
    pub per_pixel: f64,
}

impl Rate {
    pub fn seconds(&self, pixels: u64) -> f64 {
        self.fixed + self.per_pixel * pixels as f64
    }

    /// The line through two timings (`pixels`, `seconds`); if noise made it fall, the larger
    /// timing scaled by pixels alone (never a negative cost).
    pub fn through(small: (u64, f64), large: (u64, f64)) -> Rate {
        let per_pixel = (large.1 - small.1) / (large.0 - small.0) as f64;
        let fixed = large.1 - per_pixel * large.0 as f64;
        if per_pixel > 0.0 && fixed >= 0.0 {
            Rate { fixed, per_pixel }
        } else {
            Rate {
                fixed: 0.0,
                per_pixel: large.1 / large.0 as f64,
            }
        }
    }
}

/// What the probe measured for one layer set: an evaluation (forward, losses, backward) and a
/// forward pass alone (as the targets are built).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub evaluation: Rate,
    pub forward: Rate,
}

/// The probe's cache key: what an evaluation's cost depends on besides the pixels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ProbeKey {
    device: String,
    /// libtorch's intra-op threads when probed (the `threads` option, or its default).
    threads: i32,
    backbone: &'static str,
    precision: &'static str,
    content: Vec<usize>,
    style: Vec<usize>,
    /// The run's loss terms, each with what it adds to an evaluation's cost (styles with a
    /// region, a content mask…): the probe times that work, so a run with it is not priced at
    /// a plain run's rates.
    terms: Vec<String>,
}

static PROBED: Lazy<Mutex<HashMap<ProbeKey, Rates>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// An estimate of a run, and what it rests on.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Seconds the whole plan takes if every stage runs all its iterations: an upper bound when
    /// `stop_tolerance` ends scales early, as it usually does.
    pub seconds: f64,
    /// Objective evaluations the plan takes (with the same assumption).
    pub evaluations: f64,
    /// Seconds this call spent probing (0 when the rates were known already).
    pub probe_seconds: f64,
    /// The rates of whole-image stages and of tiled ones, where the plan has any.
    pub whole: Option<Rates>,
    pub tiled: Option<Rates>,
}

/// Prices `stages` (the plan as the run would execute it, tiles assigned) for the run's
/// `inputs` (network, settings, images, masks and temporal target), probing the network first
/// unless its rates are known.
pub fn estimate(inputs: &Inputs, stages: &[Stage]) -> Result<Estimate> {
    let (network, settings, styles) = (inputs.model, inputs.settings, inputs.styles);
    let started = Instant::now();
    let mut probed = false;
    let mut rates_for = |content_layers: Vec<WeightedLayer>, style_layers: Vec<WeightedLayer>| {
        let key = ProbeKey {
            device: format!("{:?}", network.device()),
            threads: tch::get_num_threads(),
            backbone: settings.backbone.name(),
            precision: network.precision().name(),
            content: content_layers.iter().map(|(l, _)| *l).collect(),
            style: style_layers.iter().map(|(l, _)| *l).collect(),
            terms: active_terms(inputs)
                .map(|term| format!("{} {}", term.name(), term.probe_key(inputs)))
                .collect(),
        };
        if let Some(rates) = PROBED.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(*rates);
        }
        probed = true;
        let rates = probe(inputs, &content_layers, &style_layers)?;
        PROBED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, rates);
        Ok::<Rates, Error>(rates)
    };
    let whole = if stages.iter().any(|s| s.tiling.is_none()) {
        Some(rates_for(
            settings.content_layers()?,
            settings.style_layers()?,
        )?)
    } else {
        None
    };
    let tiled = if stages.iter().any(|s| s.tiling.is_some()) {
        let (content_layers, style_layers) = stage_layers(settings, StageKind::Tiled)?;
        Some(rates_for(content_layers, style_layers)?)
    } else {
        None
    };
    let (mut seconds, mut evaluations) = (0.0, 0.0);
    for stage in stages {
        let (s, e) = match (stage.tiling, whole, tiled) {
            (None, Some(rates), _) => whole_stage(&rates, settings, styles, stage),
            (Some(_), _, Some(rates)) => tiled_stage(&rates, settings, styles, stage),
            _ => unreachable!("rates were probed for every kind of stage in the plan"),
        };
        seconds += s;
        evaluations += e;
    }
    Ok(Estimate {
        seconds,
        evaluations,
        probe_seconds: if probed {
            started.elapsed().as_secs_f64()
        } else {
            0.0
        },
        whole,
        tiled,
    })
}

/// `method=fast`'s one pass at `stage`'s size, priced by timing `picture` (the session's own
/// fast picture) at the probe sizes, the fastest of [`PROBE_ROUNDS`] each; kept per device and
/// threads for the life of the process.
pub fn estimate_fast(
    picture: impl Fn(u32, u32) -> Result<()>,
    device: Device,
    stage: Stage,
) -> Result<Estimate> {
    static FAST: Lazy<Mutex<HashMap<(String, i32), Rate>>> = Lazy::new(Default::default);
    let key = (format!("{device:?}"), tch::get_num_threads());
    let started = Instant::now();
    let known = FAST
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .copied();
    let (rate, probed) = match known {
        Some(rate) => (rate, false),
        None => {
            let mut fastest = [f64::INFINITY; 2];
            for side in PROBE_SIDES {
                picture(side, side)?; // untimed: kernels are picked on first use
            }
            for _ in 0..PROBE_ROUNDS {
                for (side, best) in PROBE_SIDES.iter().zip(&mut fastest) {
                    *best = best.min(seconds_of(|| picture(*side, *side))?);
                }
            }
            let pixels = |side: u32| side as u64 * side as u64;
            let rate = Rate::through(
                (pixels(PROBE_SIDES[0]), fastest[0]),
                (pixels(PROBE_SIDES[1]), fastest[1]),
            );
            FAST.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, rate);
            (rate, true)
        }
    };
    Ok(Estimate {
        seconds: rate.seconds(stage.width as u64 * stage.height as u64),
        evaluations: 1.0,
        probe_seconds: if probed {
            started.elapsed().as_secs_f64()
        } else {
            0.0
        },
        whole: None,
        tiled: None,
    })
}

/// Evaluations `iterations` take from one start of the optimiser.
fn evaluations(optimizer: OptimizerKind, iterations: u32) -> f64 {
    match optimizer {
        OptimizerKind::Lbfgs => {
            LBFGS_START_EVALUATIONS + iterations as f64 * (1.0 + LBFGS_BACKTRACKS)
        }
        OptimizerKind::Adam => iterations as f64,
    }
}

/// The long side a style is brought to for a stage of long side `long_side`.
pub fn style_long_side(long_side: u32, style_scale: f64) -> u32 {
    ((long_side as f64 * style_scale).round() as u32).max(MIN_SIDE)
}

/// Pixels of `style` as a stage of long side `long_side` sees it (as the targets resize it).
fn style_pixels(style: &Style, long_side: u32, style_scale: f64) -> (u32, u32) {
    let long_side = style_long_side(long_side, style_scale);
    let (w, h) = fit_long_side(style.image.width(), style.image.height(), long_side);
    (w.max(MIN_SIDE), h.max(MIN_SIDE))
}

fn active(styles: &[Style]) -> impl Iterator<Item = &Style> {
    styles.iter().filter(|s| s.blend > 0.0)
}

/// A whole-image stage: its targets (the content and every style, forward only), then its
/// iterations.
fn whole_stage(rates: &Rates, settings: &Settings, styles: &[Style], stage: &Stage) -> (f64, f64) {
    let pixels = stage.width as u64 * stage.height as u64;
    let long_side = stage.width.max(stage.height);
    let targets: f64 = rates.forward.seconds(pixels)
        + active(styles)
            .map(|style| {
                let (w, h) = style_pixels(style, long_side, settings.style_scale);
                rates.forward.seconds(w as u64 * h as u64)
            })
            .sum::<f64>();
    let evaluations = evaluations(settings.optimizer, stage.iterations);
    (
        targets + evaluations * rates.evaluation.seconds(pixels),
        evaluations,
    )
}

/// A tiled stage: the style Grams summed over tiles that partition each style, then every pass's
/// tile visits, each a forward pass of the content in its window and its iterations there.
fn tiled_stage(rates: &Rates, settings: &Settings, styles: &[Style], stage: &Stage) -> (f64, f64) {
    let tiling = stage.tiling.expect("a tiled stage");
    let layout = tiling.layout;
    let window_pixels = |tile: &crate::engine::plan::tiles::Tile| {
        tile.window.width as u64 * tile.window.height as u64
    };
    let long_side = stage.width.max(stage.height);
    let mut seconds: f64 = active(styles)
        .map(|style| {
            let (w, h) = style_pixels(style, long_side, settings.style_scale);
            layout
                .partition(w, h)
                .iter()
                .map(|tile| rates.forward.seconds(window_pixels(tile)))
                .sum::<f64>()
        })
        .sum();
    let per_visit = evaluations(settings.optimizer, tiling.per_visit);
    let mut total_evaluations = 0.0;
    for pass in 0..tiling.passes {
        for tile in layout.pass(stage.width, stage.height, pass) {
            let pixels = window_pixels(&tile);
            seconds += rates.forward.seconds(pixels) + per_visit * rates.evaluation.seconds(pixels);
            total_evaluations += per_visit;
        }
    }
    (seconds, total_evaluations)
}

/// Times evaluations and forward passes of `network` with these layers at [`PROBE_SIDES`], on
/// the run's own content and styles resized to the probe (a square; the cost is the pixels').
fn probe(
    inputs: &Inputs,
    content_layers: &[WeightedLayer],
    style_layers: &[WeightedLayer],
) -> Result<Rates> {
    let (network, settings, content) = (inputs.model, inputs.settings, inputs.content);
    let named = |layers: &[WeightedLayer]| {
        LayerChoice::Listed(
            layers
                .iter()
                .map(|&(l, w)| (settings.backbone.layer_name(l), w))
                .collect(),
        )
    };
    let probe_settings = Settings {
        content_layers: named(content_layers),
        style_layers: named(style_layers),
        // The style's size does not change an evaluation's cost; at the probe's it builds fast.
        style_scale: 1.0,
        ..settings.clone()
    };
    let mut union: Vec<usize> = content_layers
        .iter()
        .chain(style_layers)
        .map(|(l, _)| *l)
        .collect();
    union.sort();
    union.dedup();
    let device = network.device();
    let probe_inputs = Inputs {
        settings: &probe_settings,
        ..*inputs
    };
    let mut probes = Vec::new();
    for side in PROBE_SIDES {
        let stage = Stage {
            width: side,
            height: side,
            iterations: 1,
            tiling: None,
        };
        let targets = Objective::build(&probe_inputs, stage)?;
        let point = network_input(content, side, side, device)?;
        probes.push((side as u64 * side as u64, targets, point));
    }
    let evaluate = |(_, targets, point): &(u64, Objective, Tensor)| {
        // Read back as the optimiser reads it: on a GPU that waits for the evaluation's work.
        targets
            .evaluate(network, settings, point)?
            .read()
            .map(|_| ())
    };
    let features = |(_, _, point): &(u64, Objective, Tensor)| {
        let _no_grad = tch::no_grad_guard();
        let maps = network.features_at(point, &union, None)?;
        finish(device, &maps)
    };
    // One untimed pass of each (oneDNN picks its kernels for a new shape on first use), then
    // rounds that visit every size in turn, keeping each one's fastest: a burst of other work
    // then slows one round of all sizes rather than tilting the line through them.
    for probe in &probes {
        evaluate(probe)?;
        features(probe)?;
    }
    let mut fastest = vec![(f64::INFINITY, f64::INFINITY); probes.len()];
    for _ in 0..PROBE_ROUNDS {
        for (probe, best) in probes.iter().zip(&mut fastest) {
            best.0 = best.0.min(seconds_of(|| evaluate(probe))?);
            best.1 = best.1.min(seconds_of(|| features(probe))?);
        }
    }
    let timing = |i: usize, pick: fn(&(f64, f64)) -> f64| (probes[i].0, pick(&fastest[i]));
    Ok(Rates {
        evaluation: Rate::through(timing(0, |t| t.0), timing(1, |t| t.0)),
        forward: Rate::through(timing(0, |t| t.1), timing(1, |t| t.1)),
    })
}

/// Waits for queued device work on `maps` (an evaluation already reads its losses back).
fn finish(device: Device, maps: &[Tensor]) -> Result<()> {
    if device != Device::Cpu {
        for map in maps {
            map.f_sum(map.kind())?.f_double_value(&[])?;
        }
    }
    Ok(())
}

/// Seconds `pass` takes.
fn seconds_of(pass: impl FnOnce() -> Result<()>) -> Result<f64> {
    let started = Instant::now();
    pass()?;
    Ok(started.elapsed().as_secs_f64())
}

/// The estimate in words for a dialog: "about 40 s", "about 3 min", "about 2 h 10 min".
pub fn describe_seconds(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 1.0 {
        "under a second".into()
    } else if seconds < 90.0 {
        format!(
            "about {} s",
            round_to(seconds, if seconds < 20.0 { 1 } else { 5 })
        )
    } else if seconds < 90.0 * 60.0 {
        format!("about {} min", (seconds / 60.0).round() as u64)
    } else {
        let minutes = round_to(seconds / 60.0, 10);
        format!("about {} h {} min", minutes / 60, minutes % 60)
    }
}

/// An estimate as a dialog says it: "about 40 s on this machine", and when other programs kept
/// cores busy while it was measured, how many (the time holds only while they do).
pub fn describe_estimate(seconds: f64, others_load: f64, cores: i32) -> String {
    let when = describe_seconds(seconds);
    let busy = crate::engine::device::threads::busy_cores(others_load).min(cores.max(1));
    if busy == 0 {
        format!("{when} on this machine")
    } else {
        format!(
            "{when} on this machine while other programs keep {busy} of its {} cores busy",
            cores.max(1)
        )
    }
}

fn round_to(value: f64, step: u64) -> u64 {
    ((value / step as f64).round() as u64 * step).max(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_through_two_timings() {
        let rate = Rate::through((100, 0.2), (300, 0.4));
        assert!((rate.per_pixel - 0.001).abs() < 1e-12);
        assert!((rate.fixed - 0.1).abs() < 1e-12);
        assert!((rate.seconds(1000) - 1.1).abs() < 1e-9);
        // Noise that makes the larger probe faster falls back to pixels alone.
        let rate = Rate::through((100, 0.5), (300, 0.4));
        assert_eq!(rate.fixed, 0.0);
        assert!((rate.seconds(300) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn seconds_in_words() {
        assert_eq!(describe_seconds(0.3), "under a second");
        assert_eq!(describe_seconds(7.4), "about 7 s");
        assert_eq!(describe_seconds(42.0), "about 40 s");
        assert_eq!(describe_seconds(185.0), "about 3 min");
        assert_eq!(describe_seconds(7800.0), "about 2 h 10 min");
    }
}
