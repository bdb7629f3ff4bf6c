//! The optimisation in progress: the multi-scale plan, where it stands, the image, the optimiser
//! and the current stage's targets. The run owns its stages: moving to the next one (memory
//! check, upsampled image, new targets, fresh optimiser) is prepared completely before anything
//! changes, so a failure there leaves the run at the end of the stage it was in, usable.

use std::sync::atomic::{AtomicBool, Ordering};

use tch::Tensor;

use crate::engine::config::settings::{LossWeights, Settings, STOP_WINDOW};
use crate::engine::image::source::network_input;
pub use crate::engine::loss::Inputs;
use crate::engine::loss::LossParts;
use crate::engine::optim::{Optimizer, StepOutcome, UnreadEvaluation};
use crate::engine::plan::schedule::Stage;
use crate::engine::plan::tiles::{Tile, Tiling};
use crate::engine::session::objective::{Objective, TiledObjective};
use crate::error::{Error, Result};

/// Consecutive blow-ups the guard absorbs (halving the step each time) before giving up.
const MAX_RECOVERIES: u32 = 6;

impl Inputs<'_> {
    fn targets(&self, stage: Stage) -> Result<Objective> {
        Objective::build(self, stage)
    }

    fn tiled_targets(
        &self,
        stage: Stage,
        tiling: &Tiling,
        cancel: &AtomicBool,
    ) -> Result<TiledObjective> {
        let cancelled = || cancel.swap(false, Ordering::SeqCst);
        TiledObjective::build(self, stage, &tiling.layout, &cancelled)
    }
}

/// Where a tiled stage stands: its shared targets, the pass and the tile being visited.
struct TiledState {
    /// None until built (and after the settings or styles change them).
    shared: Option<TiledObjective>,
    pass: u32,
    /// This pass's tiles and the index of the one visited now (or next).
    tiles: Vec<Tile>,
    next: usize,
    visit: Option<Visit>,
    /// Sum of the final losses of this pass's visits, and the previous pass's mean (early stop).
    pass_loss: f64,
    last_pass_mean: Option<f64>,
}

impl TiledState {
    fn new(shared: Option<TiledObjective>) -> TiledState {
        TiledState {
            shared,
            pass: 0,
            tiles: Vec::new(),
            next: 0,
            visit: None,
            pass_loss: 0.0,
            last_pass_mean: None,
        }
    }
}

/// One tile being optimised: its pixels as the visit found them, as they are now, after the last
/// good iteration, its blending weights and targets, and the iterations it has left.
struct Visit {
    tile: Tile,
    weights: Tensor,
    start: Tensor,
    crop: Tensor,
    last_good: Tensor,
    targets: Option<Objective>,
    left: u32,
    losses: LossParts,
}

/// Checks that a stage fits the memory budget before it is entered.
pub type MemoryCheck<'a> = dyn Fn(&Stage) -> Result<()> + 'a;

/// Test hooks (integration tests only, behind the `test-hooks` feature): evaluations with these
/// numbers (1-based, counted over the session) report a NaN loss; the evaluation numbered
/// `cancel_during` raises the cancel flag as it ends, as a cancel from another thread arriving
/// during it would.
#[derive(Clone, Default)]
pub struct Poison {
    #[cfg(feature = "test-hooks")]
    pub evaluations: std::ops::Range<u64>,
    #[cfg(feature = "test-hooks")]
    pub cancel_during: Option<u64>,
}

impl Poison {
    fn applies_to(&self, _evaluation: u64) -> bool {
        #[cfg(feature = "test-hooks")]
        return self.evaluations.contains(&_evaluation);
        #[cfg(not(feature = "test-hooks"))]
        false
    }

    fn cancel_during(&self, _evaluation: u64, _cancel: &AtomicBool) {
        #[cfg(feature = "test-hooks")]
        if self.cancel_during == Some(_evaluation) {
            _cancel.store(true, Ordering::SeqCst);
        }
    }
}

pub struct Run {
    plan: Vec<Stage>,
    stage: usize,
    done_in_stage: u32,
    done: u32,
    /// The image being optimised, in Caffe space, at the current stage's size.
    image: Tensor,
    /// The image after the last good iteration: what the divergence guard rolls back to (a
    /// tiled stage keeps one per tile visit instead, not a copy of the whole image).
    last_good: Option<Tensor>,
    optimizer: Box<dyn Optimizer>,
    /// None until built for the current stage (and after the settings or styles change them).
    targets: Option<Objective>,
    losses: LossParts,
    recoveries: u32,
    /// Total losses of this stage's iterations so far, under `trend_weights` and the strength
    /// (for early stopping).
    trend: Vec<f64>,
    trend_weights: Option<(LossWeights, f64)>,
    /// The state of a tiled stage (None in a whole-image stage).
    tiled: Option<TiledState>,
}

impl Run {
    /// A run at the start of its first stage, from `image` (Caffe space, that stage's size).
    pub fn new(plan: Vec<Stage>, image: Tensor, optimizer: Box<dyn Optimizer>) -> Result<Run> {
        let tiled = plan[0].tiling.map(|_| TiledState::new(None));
        Ok(Run {
            plan,
            stage: 0,
            done_in_stage: 0,
            done: 0,
            last_good: match tiled {
                Some(_) => None,
                None => Some(duplicate(&image)?),
            },
            tiled,
            image,
            optimizer,
            targets: None,
            losses: LossParts::default(),
            recoveries: 0,
            trend: Vec::new(),
            trend_weights: None,
        })
    }

    pub fn plan(&self) -> &[Stage] {
        &self.plan
    }

    pub fn stage_index(&self) -> usize {
        self.stage
    }

    pub fn stage(&self) -> Stage {
        self.plan[self.stage]
    }

    pub fn done(&self) -> u32 {
        self.done
    }

    pub fn total(&self) -> u32 {
        self.plan.iter().map(|s| s.iterations).sum()
    }

    pub fn losses(&self) -> &LossParts {
        &self.losses
    }

    pub fn recoveries(&self) -> u32 {
        self.recoveries
    }

    pub fn image(&self) -> &Tensor {
        &self.image
    }

    /// Ends the run with `image` as its picture (Caffe space, the last stage's size): what
    /// `method=fast` does in its one step.
    pub fn complete_with(&mut self, image: Tensor) {
        self.stage = self.plan.len() - 1;
        self.done = self.total();
        self.done_in_stage = self.stage().iterations;
        self.image = image;
        self.last_good = None;
    }

    /// The targets must be rebuilt (layers, style scale or styles changed); the image stays.
    pub fn invalidate_targets(&mut self) {
        self.targets = None;
        if let Some(tiled) = &mut self.tiled {
            tiled.shared = None;
            if let Some(visit) = &mut tiled.visit {
                visit.targets = None;
            }
        }
        self.optimizer.reset();
        self.trend.clear();
    }

    /// Runs up to `iterations` iterations, entering the next stages as the plan says. Stops early
    /// (with an error) on cancel, on a failure to enter a stage or build targets (the run stays
    /// where it was), or when the divergence guard gives up (the last good image is kept).
    pub fn advance(
        &mut self,
        inputs: &Inputs,
        iterations: u32,
        cancel: &AtomicBool,
        fits: &MemoryCheck,
        evaluations: &mut u64,
        poison: &Poison,
    ) -> Result<()> {
        let mut left = iterations;
        let mut failures = 0;
        while left > 0 && self.done < self.total() {
            if cancel.swap(false, Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            if self.done_in_stage >= self.stage().iterations {
                self.enter_next_stage(inputs, fits, cancel)?;
            }
            let outcome = match self.stage().tiling {
                None => {
                    if self.targets.is_none() {
                        self.targets = Some(inputs.targets(self.stage())?);
                    }
                    self.iterate(inputs, cancel, evaluations, poison)?
                }
                Some(tiling) => self.iterate_tile(inputs, &tiling, cancel, evaluations, poison)?,
            };
            match outcome {
                StepOutcome::Moved(losses) | StepOutcome::Stalled(losses) => {
                    let total = losses.total;
                    self.done += 1;
                    self.done_in_stage += 1;
                    left -= 1;
                    failures = 0;
                    let converged = match self.stage().tiling {
                        None => {
                            self.last_good = Some(duplicate(&self.image)?);
                            self.converged(inputs.settings, total)
                        }
                        Some(_) => self.tile_step_done(inputs.settings, &losses)?,
                    };
                    self.losses = losses;
                    if converged {
                        // The rest of this stage's iterations would buy little: count them as
                        // done (progress jumps forward, never back) and go on to the next stage.
                        let rest = self.stage().iterations - self.done_in_stage;
                        self.done += rest;
                        self.done_in_stage += rest;
                    }
                }
                StepOutcome::NonFinite => {
                    self.roll_back()?;
                    self.optimizer.reset();
                    self.recoveries += 1;
                    failures += 1;
                    if failures > MAX_RECOVERIES {
                        return Err(Error::Numeric(format!(
                            "the loss stayed non-finite after {MAX_RECOVERIES} roll-backs with ever smaller steps; \
                             the last good image is kept (try a smaller style weight)"
                        )));
                    }
                    self.optimizer.scale_steps(0.5);
                }
            }
        }
        Ok(())
    }

    /// Puts back the last good image (of the tile, in a tiled stage).
    fn roll_back(&mut self) -> Result<()> {
        match self.tiled.as_mut().and_then(|t| t.visit.as_mut()) {
            Some(visit) => visit.crop = duplicate(&visit.last_good)?,
            None => {
                if let Some(good) = &self.last_good {
                    self.image = duplicate(good)?;
                }
            }
        }
        Ok(())
    }

    /// After a good tile iteration: blends the tile's change into the image (so that the image
    /// is always the current result, and a cancel loses nothing), ends the visit when its
    /// iterations are done and the pass when its tiles are. True when a pass's mean tile loss
    /// fell by less than `stop_tolerance` from the previous pass's (the stage may end early).
    fn tile_step_done(&mut self, settings: &Settings, losses: &LossParts) -> Result<bool> {
        let tiled = self.tiled.as_mut().expect("a tiled stage has its state");
        let visit = tiled.visit.as_mut().expect("a tile step has a visit");
        {
            let _no_grad = tch::no_grad_guard();
            visit.last_good = duplicate(&visit.crop)?;
            let blended = visit
                .crop
                .f_sub(&visit.start)?
                .f_mul(&visit.weights)?
                .f_add(&visit.start)?;
            visit.tile.window.of(&self.image)?.f_copy_(&blended)?;
        }
        visit.losses = losses.clone();
        visit.left -= 1;
        if visit.left > 0 {
            return Ok(false);
        }
        tiled.pass_loss += visit.losses.total;
        tiled.visit = None;
        tiled.next += 1;
        if tiled.next < tiled.tiles.len() {
            return Ok(false);
        }
        let mean = tiled.pass_loss / tiled.tiles.len().max(1) as f64;
        let converged = settings.stop_tolerance > 0.0
            && tiled
                .last_pass_mean
                .is_some_and(|before| before - mean <= settings.stop_tolerance * before.abs());
        tiled.pass += 1;
        tiled.tiles.clear();
        tiled.next = 0;
        tiled.pass_loss = 0.0;
        tiled.last_pass_mean = Some(mean);
        Ok(converged)
    }

    /// One iteration on the tile being visited (starting the visit, and building the stage's
    /// shared targets, when needed).
    fn iterate_tile(
        &mut self,
        inputs: &Inputs,
        tiling: &Tiling,
        cancel: &AtomicBool,
        evaluations: &mut u64,
        poison: &Poison,
    ) -> Result<StepOutcome> {
        let stage = self.stage();
        let tiled = self.tiled.as_mut().expect("a tiled stage has its state");
        if tiled.shared.is_none() {
            tiled.shared = Some(inputs.tiled_targets(stage, tiling, cancel)?);
        }
        let shared = tiled.shared.as_ref().expect("built above");
        if tiled.visit.is_none() {
            if tiled.tiles.is_empty() {
                tiled.tiles = tiling.layout.pass(stage.width, stage.height, tiled.pass);
            }
            let tile = *tiled
                .tiles
                .get(tiled.next)
                .ok_or_else(|| Error::Internal("a tiled stage ran past its last tile".into()))?;
            let _no_grad = tch::no_grad_guard();
            let crop = duplicate(&tile.window.of(&self.image)?)?;
            tiled.visit = Some(Visit {
                tile,
                weights: tiling.layout.weights(&tile, self.image.device())?,
                start: duplicate(&crop)?,
                last_good: duplicate(&crop)?,
                crop,
                targets: None,
                left: tiling.per_visit,
                losses: LossParts::default(),
            });
            // L-BFGS's curvature pairs belong to the last tile's pixels.
            self.optimizer.reset();
        }
        let visit = tiled.visit.as_mut().expect("started above");
        if visit.targets.is_none() {
            visit.targets = Some(shared.for_tile(inputs.model, visit.tile)?);
        }
        let targets = visit.targets.as_ref().expect("built above");
        let mut objective = |point: &Tensor| {
            counted_evaluation(targets, inputs, point, cancel, evaluations, poison)
        };
        self.optimizer.iterate(&mut visit.crop, &mut objective)
    }

    /// Records the loss of an iteration; true when the stage's loss fell by less than
    /// `stop_tolerance` (relative) over the last [`STOP_WINDOW`] iterations. Changed weights make
    /// losses incomparable, so the record starts again then.
    fn converged(&mut self, settings: &Settings, loss: f64) -> bool {
        let weights = (settings.weights.clone(), settings.strength);
        if self.trend_weights.as_ref() != Some(&weights) {
            self.trend.clear();
            self.trend_weights = Some(weights);
        }
        self.trend.push(loss);
        let window = STOP_WINDOW as usize;
        if settings.stop_tolerance <= 0.0 || self.trend.len() <= window {
            return false;
        }
        let before = self.trend[self.trend.len() - 1 - window];
        (before - loss) <= settings.stop_tolerance * before.abs()
    }

    /// Moves to the next stage: everything it needs is made first, then it is committed at once.
    fn enter_next_stage(
        &mut self,
        inputs: &Inputs,
        fits: &MemoryCheck,
        cancel: &AtomicBool,
    ) -> Result<()> {
        let next = self.plan[self.stage + 1];
        fits(&next)?;
        let image = {
            let _no_grad = tch::no_grad_guard();
            let upsample = |t: &Tensor| {
                t.f_upsample_bicubic2d([next.height as i64, next.width as i64], false, None, None)
            };
            let image = upsample(&self.image)?;
            if inputs.settings.keep_detail {
                // Upsampling cannot make the photo's detail at the finer scale; the smaller
                // scales settled the structure without it. Add the content's own band: the photo
                // at the new size minus its copy at the old size brought up again.
                let device = self.image.device();
                let here = self.stage();
                let fine = network_input(inputs.content, next.width, next.height, device)?;
                let coarse = network_input(inputs.content, here.width, here.height, device)?;
                image.f_add(&fine.f_sub(&upsample(&coarse)?)?)?
            } else {
                image
            }
        };
        let (last_good, targets, tiled) = match &next.tiling {
            None => (Some(duplicate(&image)?), Some(inputs.targets(next)?), None),
            Some(tiling) => {
                let shared = inputs.tiled_targets(next, tiling, cancel)?;
                (None, None, Some(TiledState::new(Some(shared))))
            }
        };
        self.stage += 1;
        self.done_in_stage = 0;
        self.image = image;
        self.last_good = last_good;
        self.targets = targets;
        self.tiled = tiled;
        self.optimizer.reset();
        self.trend.clear();
        Ok(())
    }

    fn iterate(
        &mut self,
        inputs: &Inputs,
        cancel: &AtomicBool,
        evaluations: &mut u64,
        poison: &Poison,
    ) -> Result<StepOutcome> {
        let targets = self.targets.as_ref().expect("built before iterating");
        let mut objective = |point: &Tensor| {
            counted_evaluation(targets, inputs, point, cancel, evaluations, poison)
        };
        self.optimizer.iterate(&mut self.image, &mut objective)
    }
}

/// One evaluation for the optimiser: a pending cancel ends it first; it is counted, and the test
/// hooks in `poison` act on it.
fn counted_evaluation(
    targets: &Objective,
    inputs: &Inputs,
    point: &Tensor,
    cancel: &AtomicBool,
    evaluations: &mut u64,
    poison: &Poison,
) -> Result<UnreadEvaluation> {
    if cancel.swap(false, Ordering::SeqCst) {
        return Err(Error::Cancelled);
    }
    *evaluations += 1;
    let mut evaluation = targets.evaluate(inputs.model, inputs.settings, point)?;
    if poison.applies_to(*evaluations) {
        evaluation.poison_loss();
    }
    poison.cancel_during(*evaluations, cancel);
    Ok(evaluation)
}

/// A copy of `tensor` in new storage (an error, not a panic, when the device is out of memory).
fn duplicate(tensor: &Tensor) -> Result<Tensor> {
    let mut copy = tensor.f_empty_like()?;
    copy.f_copy_(tensor)?;
    Ok(copy)
}
