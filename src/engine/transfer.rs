//! A style-transfer session: content, styles and settings in; `step` advances the optimisation
//! a few iterations at a time (so hosts can drive their own progress bars and cancel), `result`
//! gives the current image at any size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tch::{Device, Kind, Tensor};

use crate::engine::adam::Adam;
use crate::engine::lbfgs::Lbfgs;
use crate::engine::loss::{content_loss, gram, style_loss, total_variation};
use crate::engine::loss_parts::LossParts;
use crate::engine::memory;
use crate::engine::optim::{gradient_facts, Evaluation, Optimizer, StepOutcome};
use crate::engine::picture::Picture;
use crate::engine::schedule::{fit_long_side, plan, Stage, MIN_SIDE};
use crate::engine::settings::{check_weight, Init, OptimizerKind, Settings, WeightedLayer};
use crate::engine::source::SourceImage;
use crate::engine::vgg::{caffe_to_rgb, rgb_to_caffe, Layer, Vgg19};
use crate::error::{Error, Result};

/// Consecutive blow-ups the guard absorbs (halving the step each time) before giving up.
const MAX_RECOVERIES: u32 = 6;
/// Largest pixel change (0–255 scale) of an L-BFGS first iteration.
const LBFGS_FIRST_STEP: f64 = 1.0;
/// Image-sized fp32 tensors alive besides the L-BFGS pairs: image, last good, gradient, trial,
/// direction and a few temporaries.
const IMAGE_TENSORS: usize = 8;

/// Where a session stands, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Iterations done over all scales, and planned.
    pub iteration: u32,
    pub total: u32,
    /// Current scale (0-based) and how many there are.
    pub scale: u32,
    pub scales: u32,
    pub width: u32,
    pub height: u32,
    pub losses: LossParts,
    pub evaluations: u64,
    /// Times the divergence guard rolled back a blow-up.
    pub recoveries: u32,
}

/// The loss targets of one scale, computed once without autograd.
struct Targets {
    /// Union of the content and style layers, in network order (one forward pass serves all).
    layers: Vec<Layer>,
    content: Vec<(usize, f64, Tensor)>,
    style: Vec<(usize, f64, Tensor)>,
}

/// The optimisation in progress.
struct Run {
    plan: Vec<Stage>,
    stage: usize,
    done_in_stage: u32,
    done: u32,
    /// The image being optimised, in Caffe space, at the current stage's size.
    image: Tensor,
    last_good: Tensor,
    optimizer: Box<dyn Optimizer>,
    targets: Option<Targets>,
    losses: LossParts,
    recoveries: u32,
}

impl Run {
    fn total(&self) -> u32 {
        self.plan.iter().map(|s| s.iterations).sum()
    }
}

pub struct Transfer {
    model: Vgg19,
    settings: Settings,
    content: Option<SourceImage>,
    styles: Vec<(SourceImage, f64)>,
    run: Option<Run>,
    cancel: Arc<AtomicBool>,
    evaluations: u64,
    /// Test hook: evaluations with these numbers (1-based) return a NaN loss.
    poisoned: std::ops::Range<u64>,
}

impl Transfer {
    pub fn new(model: Vgg19) -> Self {
        Transfer {
            model,
            settings: Settings::default(),
            content: None,
            styles: Vec::new(),
            run: None,
            cancel: Arc::new(AtomicBool::new(false)),
            evaluations: 0,
            poisoned: 0..0,
        }
    }

    pub fn device(&self) -> Device {
        self.model.device()
    }

    /// The precision the network runs in (settled when the run is planned).
    pub fn precision(&self) -> crate::engine::Precision {
        self.model.precision()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The flag another thread sets to cancel a running `step`. A cancel is consumed by the step it
    /// stops; one that arrives while no step runs stops the next one at once.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Replaces the settings. Changes of size, iterations, scales, optimiser, init, seed or
    /// precision restart the optimisation; layer and style-scale changes rebuild the targets and
    /// go on from the current image; weights and preserve-colours apply from the next step.
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        settings.validate()?;
        if self.settings.needs_restart(&settings) {
            self.run = None;
        } else if self.settings.changes_targets(&settings) {
            self.invalidate_targets();
        }
        self.settings = settings;
        Ok(())
    }

    pub fn set_content(&mut self, content: impl Into<SourceImage>) {
        self.content = Some(content.into());
        self.run = None;
    }

    pub fn content(&self) -> Option<&SourceImage> {
        self.content.as_ref()
    }

    pub fn add_style(&mut self, style: impl Into<SourceImage>, blend_weight: f64) -> Result<()> {
        check_weight("style blend weight", blend_weight)?;
        self.styles.push((style.into(), blend_weight));
        self.invalidate_targets();
        Ok(())
    }

    pub fn clear_styles(&mut self) {
        self.styles.clear();
        self.invalidate_targets();
    }

    /// The host memory that copies of images may take: the `max_memory_mb` limit if set, else
    /// 80 % of the RAM available now (images live in host memory whatever the device).
    pub fn host_budget(&self) -> Option<u64> {
        memory::budget_bytes(self.settings.max_memory_mb, Device::Cpu)
    }

    /// The result's natural size: the content's aspect with `size` as the longest side, as the
    /// plan rounds it (the last stage).
    pub fn result_size(&self) -> Result<(u32, u32)> {
        let content = self
            .content
            .as_ref()
            .ok_or_else(|| Error::State("no content image set".into()))?;
        let stages = plan(
            content.width(),
            content.height(),
            self.settings.size,
            self.settings.scales,
            self.settings.iterations,
        );
        let last = stages.last().expect("a plan has a stage");
        Ok((last.width, last.height))
    }

    fn invalidate_targets(&mut self) {
        if let Some(run) = &mut self.run {
            run.targets = None;
            run.optimizer.reset();
        }
    }

    #[doc(hidden)]
    /// Makes evaluations `first..first + count` (1-based) return NaN, to test the divergence guard.
    pub fn poison_evaluations(&mut self, first: u64, count: u64) {
        self.poisoned = first..first + count;
    }

    /// Where the session stands (plans the run if needed, which costs no network pass).
    pub fn progress(&mut self) -> Result<Progress> {
        self.ensure_run()?;
        Ok(self.current_progress())
    }

    fn current_progress(&self) -> Progress {
        let Some(run) = &self.run else {
            return Progress::default();
        };
        let stage = run.plan[run.stage];
        Progress {
            iteration: run.done,
            total: run.total(),
            scale: run.stage as u32,
            scales: run.plan.len() as u32,
            width: stage.width,
            height: stage.height,
            losses: run.losses,
            evaluations: self.evaluations,
            recoveries: run.recoveries,
        }
    }

    /// Runs up to `iterations` more iterations. Returns at once when the plan is complete.
    pub fn step(&mut self, iterations: u32) -> Result<Progress> {
        if self.styles.is_empty() {
            return Err(Error::State("no style image set".into()));
        }
        if self.styles.iter().all(|(_, w)| *w == 0.0) {
            return Err(Error::arg("all style blend weights are zero"));
        }
        self.ensure_run()?;
        let mut left = iterations;
        let mut failures = 0;
        loop {
            let run = self.run.as_mut().expect("ensure_run made it");
            if left == 0 || run.done >= run.total() {
                break;
            }
            if self.cancel.swap(false, Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            if run.done_in_stage >= run.plan[run.stage].iterations {
                advance_stage(run)?;
            }
            if self.run.as_ref().expect("run").targets.is_none() {
                let targets = self.build_targets()?;
                self.run.as_mut().expect("run").targets = Some(targets);
            }
            match self.iterate()? {
                StepOutcome::Moved(losses) | StepOutcome::Stalled(losses) => {
                    let run = self.run.as_mut().expect("run");
                    run.last_good = run.image.copy();
                    run.losses = losses;
                    run.done += 1;
                    run.done_in_stage += 1;
                    left -= 1;
                    failures = 0;
                }
                StepOutcome::NonFinite => {
                    let run = self.run.as_mut().expect("run");
                    run.image = run.last_good.copy();
                    run.optimizer.reset();
                    run.recoveries += 1;
                    failures += 1;
                    if failures > MAX_RECOVERIES {
                        return Err(Error::Numeric(format!(
                            "the loss stayed non-finite after {MAX_RECOVERIES} roll-backs with ever smaller steps; \
                             the last good image is kept (try a smaller style weight)"
                        )));
                    }
                    run.optimizer.scale_steps(0.5);
                }
            }
        }
        Ok(self.current_progress())
    }

    fn iterate(&mut self) -> Result<StepOutcome> {
        let run = self.run.as_mut().expect("run");
        let targets = run.targets.as_ref().expect("targets built");
        let model = &self.model;
        let weights = self.settings.weights;
        let cancel = &self.cancel;
        let evaluations = &mut self.evaluations;
        let poisoned = self.poisoned.clone();
        let mut objective = |point: &Tensor| -> Result<Evaluation> {
            if cancel.swap(false, Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            *evaluations += 1;
            let mut evaluation = evaluate(model, targets, weights, point)?;
            if poisoned.contains(evaluations) {
                evaluation.parts.total = f64::NAN;
            }
            Ok(evaluation)
        };
        run.optimizer.iterate(&mut run.image, &mut objective)
    }

    /// Plans the run and makes the initial image if there is no run yet.
    fn ensure_run(&mut self) -> Result<()> {
        if self.run.is_some() {
            return Ok(());
        }
        let content = self
            .content
            .as_ref()
            .ok_or_else(|| Error::State("no content image set".into()))?;
        let settings = &self.settings;
        let stages = plan(
            content.width(),
            content.height(),
            settings.size,
            settings.scales,
            settings.iterations,
        );
        let last = stages.last().expect("a plan has a stage");
        if last.width.min(last.height) < MIN_SIDE {
            return Err(Error::arg(format!(
                "at size {} the image would be {}×{}: VGG-19 needs at least {MIN_SIDE} px on the short side; \
                 use a larger size",
                settings.size, last.width, last.height
            )));
        }
        self.check_memory(last)?;
        let first = stages[0];
        let device = self.model.device();
        let image = match &settings.init {
            Init::Content => rgb_to_caffe(
                &content
                    .picture_at(first.width, first.height)?
                    .to_tensor(device),
            ),
            Init::Image(picture) => {
                rgb_to_caffe(&picture.resized(first.width, first.height).to_tensor(device))
            }
            Init::Random => {
                random_image(first.width, first.height, settings.seed).to_device(device)
            }
        };
        let optimizer: Box<dyn Optimizer> = match settings.optimizer {
            OptimizerKind::Lbfgs => Box::new(Lbfgs::new(settings.lbfgs_history, LBFGS_FIRST_STEP)),
            OptimizerKind::Adam => Box::new(Adam::new(settings.adam_learning_rate)),
        };
        self.model
            .set_precision(settings.precision.resolve(device))?;
        self.run = Some(Run {
            plan: stages,
            stage: 0,
            done_in_stage: 0,
            done: 0,
            last_good: image.copy(),
            image,
            optimizer,
            targets: None,
            losses: LossParts::default(),
            recoveries: 0,
        });
        Ok(())
    }

    fn check_memory(&self, stage: &Stage) -> Result<()> {
        let deepest = self.deepest_layer();
        let history = match self.settings.optimizer {
            OptimizerKind::Lbfgs => 2 * self.settings.lbfgs_history,
            OptimizerKind::Adam => 2,
        };
        let precision = self.settings.precision.resolve(self.model.device());
        let weights = self.model.compute_weight_bytes();
        let needed = memory::estimate_bytes(
            stage.width,
            stage.height,
            deepest,
            precision,
            IMAGE_TENSORS + history,
            weights,
        );
        let budget = memory::budget_bytes(self.settings.max_memory_mb, self.model.device());
        memory::check(needed, budget, self.settings.size, weights)
    }

    fn deepest_layer(&self) -> Layer {
        let layers = self
            .settings
            .content_layers
            .iter()
            .chain(&self.settings.style_layers);
        layers
            .map(|(l, _)| *l)
            .max()
            .expect("settings validated: layers not empty")
    }

    /// Content features and blended style Gram matrices at the current stage's size.
    fn build_targets(&self) -> Result<Targets> {
        let _no_grad = tch::no_grad_guard();
        let run = self.run.as_ref().expect("run");
        let stage = run.plan[run.stage];
        let device = self.model.device();
        let settings = &self.settings;
        let mut layers: Vec<Layer> = settings
            .content_layers
            .iter()
            .chain(&settings.style_layers)
            .map(|(l, _)| *l)
            .collect();
        layers.sort();
        layers.dedup();
        let slot = |layer: Layer| layers.iter().position(|l| *l == layer).expect("in union");

        let content = self.content.as_ref().expect("run exists only with content");
        let content_input = rgb_to_caffe(
            &content
                .picture_at(stage.width, stage.height)?
                .to_tensor(device),
        );
        let content_layers: Vec<Layer> = settings.content_layers.iter().map(|(l, _)| *l).collect();
        let content_features = self.model.features(&content_input, &content_layers)?;
        let content_targets = settings
            .content_layers
            .iter()
            .zip(content_features)
            .map(|((layer, weight), features)| (slot(*layer), *weight, features))
            .collect();

        let style_layers: Vec<Layer> = settings.style_layers.iter().map(|(l, _)| *l).collect();
        let blend_total: f64 = self.styles.iter().map(|(_, w)| w).sum();
        let mut grams: Vec<Option<Tensor>> = style_layers.iter().map(|_| None).collect();
        let long_side =
            ((stage.width.max(stage.height) as f64 * settings.style_scale).round() as u32).max(16);
        for (style, blend) in self.styles.iter().filter(|(_, w)| *w > 0.0) {
            let (w, h) = fit_long_side(style.width(), style.height(), long_side);
            let input = rgb_to_caffe(&style.picture_at(w.max(16), h.max(16))?.to_tensor(device));
            let features = self.model.features(&input, &style_layers)?;
            for (sum, f) in grams.iter_mut().zip(features) {
                let weighted = gram(&f) * (blend / blend_total);
                *sum = Some(match sum.take() {
                    Some(s) => s + weighted,
                    None => weighted,
                });
            }
        }
        let style_targets = weighted_targets(&settings.style_layers, grams, &slot);
        Ok(Targets {
            layers,
            content: content_targets,
            style: style_targets,
        })
    }

    /// The current image at `width`×`height`, with the content's alpha (resampled) and, if asked,
    /// the content's colours. Before any step this is the initial image.
    pub fn result(&mut self, width: u32, height: u32) -> Result<Picture> {
        if width == 0 || height == 0 {
            return Err(Error::arg(format!(
                "result size {width}×{height} has a zero side"
            )));
        }
        self.ensure_run()?;
        let run = self.run.as_ref().expect("ensure_run made it");
        let content = self.content.as_ref().expect("run exists only with content");
        let (_, _, _, working_width) = run.image.size4()?;
        memory::check_host(
            result_bytes(width, height, working_width as u32, content.width()),
            self.host_budget(),
            &format!("a {width}×{height} result"),
        )?;
        let _no_grad = tch::no_grad_guard();
        let mut picture = Picture::from_tensor(&caffe_to_rgb(&run.image))?;
        if self.settings.preserve_colors {
            let colors = content.picture_at(picture.width(), picture.height())?;
            picture = picture.with_colors_of(&colors);
        }
        let mut picture = picture.resized(width, height);
        picture.high_bit_depth = content.high_bit_depth;
        picture.with_alpha(content.alpha_at(width, height)?)
    }
}

/// Host memory a result at `width`×`height` takes while it is made: float RGB and alpha at that
/// size, plus the resampler's four-channel float intermediates (source width × target height)
/// for the image and for the alpha plane.
fn result_bytes(width: u32, height: u32, working_width: u32, content_width: u32) -> u64 {
    let (width, height) = (width as u64, height as u64);
    let alpha_source_width = (content_width as u64).min(4 * width + 4);
    16 * width * height + 16 * height * (working_width as u64 + alpha_source_width)
}

fn weighted_targets(
    layers: &[WeightedLayer],
    grams: Vec<Option<Tensor>>,
    slot: &dyn Fn(Layer) -> usize,
) -> Vec<(usize, f64, Tensor)> {
    layers
        .iter()
        .zip(grams)
        .map(|((layer, weight), gram)| {
            (
                slot(*layer),
                *weight,
                gram.expect("a style with weight > 0 exists"),
            )
        })
        .collect()
}

/// Upsamples the result of the current stage to start the next one, with a fresh optimiser.
fn advance_stage(run: &mut Run) -> Result<()> {
    run.stage += 1;
    run.done_in_stage = 0;
    let next = run.plan[run.stage];
    let _no_grad = tch::no_grad_guard();
    run.image = run.image.f_upsample_bicubic2d(
        [next.height as i64, next.width as i64],
        false,
        None,
        None,
    )?;
    run.last_good = run.image.copy();
    run.targets = None;
    run.optimizer.reset();
    Ok(())
}

/// Loss and image gradient at `point` (Caffe space). One forward and one backward pass.
fn evaluate(
    model: &Vgg19,
    targets: &Targets,
    weights: crate::engine::settings::LossWeights,
    point: &Tensor,
) -> Result<Evaluation> {
    let image = point.detach().set_requires_grad(true);
    let features = model.features(&image, &targets.layers)?;
    let zero = || Tensor::zeros([], (Kind::Float, point.device()));
    let mut content = zero();
    if weights.content > 0.0 {
        for (slot, weight, target) in &targets.content {
            content += content_loss(&features[*slot], target) * *weight;
        }
    }
    let mut style = zero();
    if weights.style > 0.0 {
        for (slot, weight, target) in &targets.style {
            style += style_loss(&features[*slot], target) * *weight;
        }
    }
    let tv = if weights.tv > 0.0 {
        total_variation(&image)
    } else {
        zero()
    };
    let (content, style, tv) = (
        content * weights.content,
        style * weights.style,
        tv * weights.tv,
    );
    let total = &content + &style + &tv;
    let grad = if total.requires_grad() {
        total.f_backward()?;
        image.grad()
    } else {
        point.zeros_like()
    };
    // One transfer for everything the host needs to decide on (a GPU synchronises once).
    let [finite, max_abs] = gradient_facts(&grad);
    let scalars = [&total, &content, &style, &tv]
        .map(|t| t.to_kind(Kind::Double))
        .into_iter()
        .chain([finite, max_abs]);
    let read = Tensor::stack(&scalars.collect::<Vec<_>>(), 0).f_to_device(Device::Cpu)?;
    let values = Vec::<f64>::try_from(read)?;
    Ok(Evaluation {
        parts: LossParts {
            total: values[0],
            content: values[1],
            style: values[2],
            tv: values[3],
        },
        grad,
        grad_finite: values[4] != 0.0,
        grad_max_abs: values[5],
    })
}

/// Near-grey noise in Caffe space from our own seeded generator, so that a seed gives the same
/// start on every machine and no global RNG state is shared between sessions.
fn random_image(width: u32, height: u32, seed: u64) -> Tensor {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let count = 3 * width as usize * height as usize;
    // Uniform noise of ±32 levels around the mean colour: enough to break symmetry.
    let values: Vec<f32> = (0..count).map(|_| ((next() - 0.5) * 64.0) as f32).collect();
    Tensor::from_slice(&values).view([1, 3, height as i64, width as i64])
}
