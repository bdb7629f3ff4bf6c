//! A style-transfer session: content, styles and settings in; `step` advances the optimisation
//! a few iterations at a time (so hosts can drive their own progress bars and cancel), `result`
//! gives the current image at any size. The optimisation itself is a [`Run`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use tch::{Device, Tensor};

use crate::engine::config::settings::{Init, Method, OptimizerKind, Settings};
use crate::engine::config::values::check_weight;
use crate::engine::device::threads::ThreadGovernor;
use crate::engine::fast::{self as fastnet, FastNet};
use crate::engine::features::backbone::{Backbone, Network};
use crate::engine::features::network::Networks;
use crate::engine::features::vgg::{caffe_to_rgb, rgb_to_caffe, Vgg19};
use crate::engine::image::mask::Mask;
use crate::engine::image::picture::Picture;
use crate::engine::image::source::{network_input, SourceImage};
use crate::engine::image::temporal::TemporalTarget;
use crate::engine::loss::style::Style;
use crate::engine::loss::LossParts;
use crate::engine::optim::adam::Adam;
use crate::engine::optim::lbfgs::Lbfgs;
use crate::engine::optim::Optimizer;
use crate::engine::plan::memory;
use crate::engine::plan::schedule::{self, plan, Stage, MIN_SIDE};
use crate::engine::plan::tiles::{Layout, Tiling};
use crate::engine::session::estimate;
use crate::engine::session::instant::{self, FastInputs};
use crate::engine::session::run::{Inputs, Poison, Run};
use crate::error::{Error, Result};

/// Host memory `method=fast` takes per pixel of its picture: 1233 MiB peak at 2048×1536 on the
/// CPU with libtorch's ~340 MiB included (docs/engineering.md), about 290 bytes a pixel; kept
/// above that for the copies around the network.
const FAST_BYTES_PER_PIXEL: u64 = 400;
/// Largest pixel change (0–255 scale) of an L-BFGS first iteration.
const LBFGS_FIRST_STEP: f64 = 1.0;
/// Image-sized fp32 tensors alive besides the L-BFGS pairs: image, last good, gradient, trial,
/// direction and a few temporaries.
const IMAGE_TENSORS: usize = 8;
/// Whole-image fp32 tensors of a tiled stage: the image, the content at the stage's size, and
/// on entering it the upsampled image with the detail band's two copies (or the style image at
/// the stage's scale while its Grams are summed).
const TILED_IMAGE_TENSORS: u64 = 5;
/// The largest tile `tile=auto` picks: larger tiles overlap relatively less but hold memory for
/// nothing once the margins are small against them.
const AUTO_TILE_MAX: u32 = 1024;
/// On the CPU with the default budget (80 % of the RAM available), `tile=auto` also tiles a stage
/// whose whole evaluation would need more than this, in tiles whose evaluation needs at most
/// this: the host editor shares that RAM with the user's images. An explicit `max_memory_mb` is
/// the host's own word and is taken as it is. Measured: a 4000×3000 result ran its 2000×1500
/// stage whole at 8.8 GiB resident (ps); with the cap its peak was 4126 MiB (README).
const AUTO_WHOLE_STAGE_MAX_BYTES: u64 = 4 << 30;

/// Where a session stands, for progress bars.
#[derive(Clone, Debug, Default, PartialEq)]
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

/// A session's settings and inputs, without its networks or its run: what a preview copies from
/// a host's set-up model ([`Transfer::setup`], [`Transfer::use_setup`]).
#[derive(Clone)]
pub struct Setup {
    pub settings: Settings,
    pub content: Option<SourceImage>,
    pub styles: Vec<Style>,
    pub content_mask: Option<Mask>,
    pub temporal: Option<TemporalTarget>,
}

pub struct Transfer {
    networks: Networks,
    settings: Settings,
    content: Option<SourceImage>,
    styles: Vec<Style>,
    /// Where the content term weighs more (or less): `content_mask_gain` inside.
    content_mask: Option<Mask>,
    temporal: Option<TemporalTarget>,
    /// The size of the picture the content is a reduced copy of, when it is one (a preview's
    /// estimate of the full run): plans, and so the estimate and the result's size, are made for
    /// it.
    stands_for: Option<(u32, u32)>,
    run: Option<Run>,
    /// The feed-forward network of `method=fast` and `init=fast`, loaded when first needed.
    fast: Option<FastNet>,
    /// The threads of `threads=0`: the cores other programs leave free.
    governor: ThreadGovernor,
    cancel: Arc<AtomicBool>,
    evaluations: u64,
    poison: Poison,
}

impl Transfer {
    /// A session around a loaded VGG-19.
    pub fn new(model: Vgg19) -> Self {
        Transfer::with_networks(Networks::new(model))
    }

    /// A session on `device` that reads the VGG-19 weights at `vgg_weights` only when a run
    /// needs VGG-19 (never, if its backbone is lite).
    pub fn lazy(vgg_weights: PathBuf, device: Device) -> Self {
        Transfer::with_networks(Networks::lazy(vgg_weights, device))
    }

    fn with_networks(networks: Networks) -> Self {
        Transfer {
            networks,
            settings: Settings::default(),
            content: None,
            styles: Vec::new(),
            content_mask: None,
            temporal: None,
            stands_for: None,
            run: None,
            fast: None,
            governor: ThreadGovernor::new(default_threads()),
            cancel: Arc::new(AtomicBool::new(false)),
            evaluations: 0,
            poison: Poison::default(),
        }
    }

    pub fn device(&self) -> Device {
        self.networks.device()
    }

    /// Whether this session has read the VGG-19 weights.
    pub fn vgg_loaded(&self) -> bool {
        self.networks.vgg_loaded()
    }

    /// The precision the network runs in (settled when the run is planned).
    pub fn precision(&self) -> crate::engine::Precision {
        self.network()
            .map_or(crate::engine::Precision::Fp32, |n| n.precision())
    }

    /// The network of the current backbone (loaded by `set_settings`).
    fn network(&self) -> Result<Network<'_>> {
        self.networks.get(self.settings.backbone)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The flag another thread sets to cancel a running `step`. A cancel stops the step that is
    /// running; each step starts with the flag lowered, so a cancel that came while no step ran
    /// does not stop the next one.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Replaces the settings; what a change does to a run in progress is its option's effect in
    /// the option table (restart, rebuild the targets, or apply from the next step).
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        settings.validate()?;
        if settings.backbone != Backbone::Vgg19 {
            // Load Lite0 now, so that a missing weights file is this call's error (VGG-19's file
            // was checked when the session was opened and is read when a run first needs it:
            // settings change one option at a time, and a host on its way to backbone=lite must
            // not load VGG-19 on the way).
            self.networks
                .prepare(settings.backbone, settings.precision)?;
        }
        if settings.method == Method::Fast || settings.init == Init::Fast {
            // Load the fast network now, so that a missing or damaged weights file is this
            // call's error (naming the file) and the optimiser methods stay usable.
            self.prepare_fast(&settings)?;
        }
        if self.settings.needs_restart(&settings) {
            self.run = None;
        } else if self.settings.changes_targets(&settings) {
            self.invalidate_targets();
        }
        self.settings = settings;
        Ok(())
    }

    fn prepare_fast(&mut self, settings: &Settings) -> Result<()> {
        let device = self.device();
        let precision = fastnet::resolve_precision(settings.precision, device);
        match &mut self.fast {
            Some(net) => net.set_precision(precision),
            None => {
                let path = fastnet::resolve_path(None)?;
                self.fast = Some(FastNet::load_with_precision(&path, device, precision)?);
                Ok(())
            }
        }
    }

    /// The fast method's picture (RGB in 0..1, [1, 3, H, W]) at `width`×`height`.
    fn fast_picture(&self, width: u32, height: u32) -> Result<Tensor> {
        let net = self
            .fast
            .as_ref()
            .ok_or_else(|| Error::State("the fast network is not loaded".into()))?;
        let content = self
            .content
            .as_ref()
            .ok_or_else(|| Error::State("no content image set".into()))?;
        instant::fast_picture(
            &FastInputs {
                net,
                settings: &self.settings,
                content,
                styles: &self.styles,
                content_mask: self.content_mask.as_ref(),
            },
            width,
            height,
        )
    }

    /// A copy of the settings and inputs (not the networks, the run or its progress).
    pub fn setup(&self) -> Setup {
        Setup {
            settings: self.settings.clone(),
            content: self.content.clone(),
            styles: self.styles.clone(),
            content_mask: self.content_mask.clone(),
            temporal: self.temporal.clone(),
        }
    }

    /// Takes `setup`'s settings (checked as [`Transfer::set_settings`] checks them: on an error
    /// nothing changes) and inputs, and starts over.
    pub fn use_setup(&mut self, setup: Setup) -> Result<()> {
        self.set_settings(setup.settings)?;
        self.content = setup.content;
        self.styles = setup.styles;
        self.content_mask = setup.content_mask;
        self.temporal = setup.temporal;
        self.run = None;
        Ok(())
    }

    /// Says that the content is a reduced copy of a `width`×`height` picture (None: it is the
    /// picture): plans, the estimate and the result's size are then those of the full picture.
    pub fn set_stands_for(&mut self, size: Option<(u32, u32)>) {
        if self.stands_for != size {
            self.stands_for = size;
            self.run = None;
        }
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
        self.styles.push(Style::new(style.into(), blend_weight));
        self.invalidate_targets();
        Ok(())
    }

    /// Sets (Some) or clears (None) the region of style `index` (0-based, in the order added):
    /// where on the content it paints. Rebuilds the targets and keeps the image.
    pub fn set_style_region(&mut self, index: usize, region: Option<Mask>) -> Result<()> {
        self.style_mut(index)?.region = region;
        self.invalidate_targets();
        Ok(())
    }

    /// Sets (Some) or clears (None) the mask over style `index`'s own image: which part of the
    /// painting its style is taken from. Rebuilds the targets and keeps the image.
    pub fn set_style_source_mask(&mut self, index: usize, mask: Option<Mask>) -> Result<()> {
        self.style_mut(index)?.source_mask = mask;
        self.invalidate_targets();
        Ok(())
    }

    /// Sets (Some) or clears (None) the content mask: where the photo holds more
    /// (`content_mask_gain` times the content weight inside). Rebuilds the targets and keeps
    /// the image.
    pub fn set_content_mask(&mut self, mask: Option<Mask>) {
        self.content_mask = mask;
        self.invalidate_targets();
    }

    /// An argument error unless style `index` exists (checked before a mask is copied).
    pub fn check_style_index(&self, index: usize) -> Result<()> {
        let count = self.styles.len();
        if index < count {
            return Ok(());
        }
        Err(Error::arg(format!(
            "there is no style {index} (styles are numbered from 0 in the order added; {count} \
             added)"
        )))
    }

    /// How many styles were added.
    pub fn style_count(&self) -> usize {
        self.styles.len()
    }

    /// Replaces style `index`'s image, keeping its blend weight and masks. Rebuilds the targets
    /// and keeps the image.
    pub fn replace_style_image(&mut self, index: usize, image: SourceImage) -> Result<()> {
        self.style_mut(index)?.image = image;
        self.invalidate_targets();
        Ok(())
    }

    /// Removes style `index` (the later ones move down by one). Rebuilds the targets and keeps
    /// the image.
    pub fn remove_style(&mut self, index: usize) -> Result<()> {
        self.check_style_index(index)?;
        self.styles.remove(index);
        self.invalidate_targets();
        Ok(())
    }

    fn style_mut(&mut self, index: usize) -> Result<&mut Style> {
        self.check_style_index(index)?;
        Ok(&mut self.styles[index])
    }

    pub fn clear_styles(&mut self) {
        self.styles.clear();
        self.invalidate_targets();
    }

    /// Pulls the result towards `target` where its weights are high (video: the previous
    /// stylised frame warped by optical flow; see [`crate::engine::image::temporal`]); the term's
    /// weight is the option `temporal_weight`. Replaces any earlier target; the image being
    /// optimised is kept, its targets are rebuilt.
    pub fn set_temporal(&mut self, target: TemporalTarget) {
        self.temporal = Some(target);
        self.invalidate_targets();
    }

    /// Removes the temporal target (a plain run again); the image is kept.
    pub fn clear_temporal(&mut self) {
        if self.temporal.take().is_some() {
            self.invalidate_targets();
        }
    }

    pub fn temporal(&self) -> Option<&TemporalTarget> {
        self.temporal.as_ref()
    }

    /// Starts the optimisation from `image` (resampled to each first stage; option `init` then
    /// reads `image`). Restarts the run.
    pub fn set_init_image(&mut self, image: &SourceImage) -> Result<()> {
        let picture = image.picture_at(image.width(), image.height())?;
        let mut settings = self.settings.clone();
        settings.init = Init::Image(picture);
        self.set_settings(settings)?;
        // An equal image compares equal and would not restart: a new start is what was asked.
        self.run = None;
        Ok(())
    }

    /// Starts from the content again instead of an init image (option `init` reads `content`);
    /// restarts the run if there was one. Harmless without an init image.
    pub fn clear_init_image(&mut self) -> Result<()> {
        if matches!(self.settings.init, Init::Image(_)) {
            let mut settings = self.settings.clone();
            settings.init = Init::Content;
            self.set_settings(settings)?;
        }
        Ok(())
    }

    /// The host memory that copies of images may take: the `max_memory_mb` limit if set, else
    /// 80 % of the RAM available now (images live in host memory whatever the device).
    pub fn host_budget(&self) -> Option<u64> {
        memory::budget_bytes(self.settings.max_memory_mb, Device::Cpu)
    }

    /// The result's natural size: the content's aspect with `size` as the longest side, as the
    /// plan rounds it (the last stage).
    pub fn result_size(&self) -> Result<(u32, u32)> {
        let last = *self.plan()?.last().expect("a plan has a stage");
        Ok((last.width, last.height))
    }

    /// The longest side a style image is used at for the current content and settings (the
    /// result's long side times `style_scale`): a host need not read style images larger.
    pub fn style_side(&self) -> Result<u32> {
        let (width, height) = self.result_size()?;
        Ok(estimate::style_long_side(
            width.max(height),
            self.settings.style_scale,
        ))
    }

    fn plan(&self) -> Result<Vec<Stage>> {
        let content = self
            .content
            .as_ref()
            .ok_or_else(|| Error::State("no content image set".into()))?;
        let (width, height) = self
            .stands_for
            .unwrap_or((content.width(), content.height()));
        Ok(plan(
            width,
            height,
            self.settings.long_side(width, height),
            self.settings.scales,
            self.settings.iterations,
        ))
    }

    /// `stages` with the tiles they will be optimised in (loads the backbone if needed).
    fn tiled_plan(&mut self, stages: Vec<Stage>) -> Result<Vec<Stage>> {
        let settings = &self.settings;
        self.networks
            .prepare(settings.backbone, settings.precision)?;
        let network = self.network()?;
        stages
            .into_iter()
            .map(|stage| assign_tiles(network, settings, stage))
            .collect()
    }

    /// The stages of the plan, tiled where they will be, each with the memory it is estimated to
    /// need (what the memory budget is checked against).
    pub fn stage_memory(&mut self) -> Result<Vec<(Stage, u64)>> {
        let stages = self.plan()?;
        let stages = self.tiled_plan(stages)?;
        let network = self.network()?;
        stages
            .into_iter()
            .map(|stage| Ok((stage, stage_bytes(network, &self.settings, &stage)?.0)))
            .collect()
    }

    fn invalidate_targets(&mut self) {
        if let Some(run) = &mut self.run {
            run.invalidate_targets();
        }
    }

    /// Makes evaluations `first..first + count` (1-based) report a NaN loss, to test the
    /// divergence guard. Compiled only with the `test-hooks` feature (the integration tests').
    #[cfg(feature = "test-hooks")]
    pub fn poison_evaluations(&mut self, first: u64, count: u64) {
        self.poison.evaluations = first..first.saturating_add(count);
    }

    /// Raises the cancel flag at the end of evaluation `evaluation` (1-based, over the session),
    /// as a cancel from another thread during it would. Compiled only with `test-hooks`.
    #[cfg(feature = "test-hooks")]
    pub fn cancel_during_evaluation(&mut self, evaluation: u64) {
        self.poison.cancel_during = Some(evaluation);
    }

    /// The threads of the next step: the `threads` option when set; libtorch's default when the
    /// user set OMP_NUM_THREADS; otherwise the cores other programs leave free
    /// ([`crate::engine::device::threads`]). The user's settings always win.
    fn apply_threads(&mut self) {
        let wanted = if self.settings.threads != 0 {
            self.settings.threads as i32
        } else if std::env::var_os("OMP_NUM_THREADS").is_some() {
            default_threads()
        } else {
            self.governor.threads()
        };
        set_threads(wanted);
    }

    /// [`Transfer::estimate`] as a dialog says it ([`estimate::describe_estimate`]): the time,
    /// and whether other programs kept cores busy while it was measured.
    pub fn estimate_text(&mut self) -> Result<String> {
        // A probe (a second or so) is itself a window on the others' load; a cached estimate
        // takes milliseconds, and then the last thread decision's window speaks.
        let window = crate::engine::device::threads::LoadWindow::start();
        let started = std::time::Instant::now();
        let seconds = self.estimate()?.seconds;
        if started.elapsed() >= crate::engine::device::threads::MIN_WINDOW {
            if let Some(others) = window.others() {
                self.governor.others = others;
            }
        }
        Ok(estimate::describe_estimate(
            seconds,
            self.governor.others,
            default_threads(),
        ))
    }

    /// The load of other programs at the last thread decision, in cores (0 until decided).
    pub fn others_load(&self) -> f64 {
        self.governor.others
    }

    /// The loss terms of the last iteration (none before the first).
    pub fn last_losses(&self) -> LossParts {
        self.run
            .as_ref()
            .map(|run| run.losses().clone())
            .unwrap_or_default()
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
        let stage = run.stage();
        Progress {
            iteration: run.done(),
            total: run.total(),
            scale: run.stage_index() as u32,
            scales: run.plan().len() as u32,
            width: stage.width,
            height: stage.height,
            losses: run.losses().clone(),
            evaluations: self.evaluations,
            recoveries: run.recoveries(),
        }
    }

    /// A step needs a style with a weight.
    fn check_styles(&self) -> Result<()> {
        if self.styles.is_empty() {
            return Err(Error::State("no style image set".into()));
        }
        if self.styles.iter().all(|s| s.blend == 0.0) {
            return Err(Error::arg("all style blend weights are zero"));
        }
        Ok(())
    }

    /// How long the run the current content, styles and settings describe takes on this
    /// machine, from the start (see [`estimate`]): the plan as the run would execute it, priced
    /// with the rates of a short probe of the network (about a second the first time for each
    /// backbone, precision and layer set; then cached). An upper bound when `stop_tolerance` ends
    /// scales early. The same errors as the run's first step for a plan it would refuse (no
    /// content or style, too small, over the memory budget).
    pub fn estimate(&mut self) -> Result<estimate::Estimate> {
        // The probe times the network with the threads the run's steps will have.
        self.apply_threads();
        if self.content.is_none() {
            return Err(Error::State("no content image set".into()));
        }
        self.check_styles()?;
        if self.settings.method == Method::Fast {
            let stage = self.fast_plan()?;
            return estimate::estimate_fast(
                |width, height| self.fast_picture(width, height).map(|_| ()),
                self.device(),
                stage,
            );
        }
        let stages = self.checked_plan()?;
        let inputs = Inputs {
            model: self.network()?,
            settings: &self.settings,
            content: self.content.as_ref().expect("checked above"),
            styles: &self.styles,
            content_mask: self.content_mask.as_ref(),
            temporal: self.temporal.as_ref(),
        };
        estimate::estimate(&inputs, &stages)
    }

    /// Runs up to `iterations` more iterations. Returns at once when the plan is complete.
    pub fn step(&mut self, iterations: u32) -> Result<Progress> {
        self.cancel
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.apply_threads();
        self.check_styles()?;
        self.ensure_run()?;
        if self.settings.method == Method::Fast {
            return self.fast_step(iterations);
        }
        let network = self.networks.get(self.settings.backbone)?;
        let settings = &self.settings;
        let fits = |stage: &Stage| check_memory(network, settings, stage);
        let inputs = Inputs {
            model: network,
            settings: &self.settings,
            content: self
                .content
                .as_ref()
                .expect("a run exists only with a content"),
            styles: &self.styles,
            content_mask: self.content_mask.as_ref(),
            temporal: self.temporal.as_ref(),
        };
        let run = self.run.as_mut().expect("ensure_run made it");
        let outcome = run.advance(
            &inputs,
            iterations,
            &self.cancel,
            &fits,
            &mut self.evaluations,
            &self.poison,
        );
        outcome.map(|()| self.current_progress())
    }

    /// `method=fast`: the whole picture is the one iteration of its plan.
    fn fast_step(&mut self, iterations: u32) -> Result<Progress> {
        let run = self.run.as_ref().expect("ensure_run made it");
        if iterations > 0 && run.done() < run.total() {
            if self.cancel.swap(false, std::sync::atomic::Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            let stage = run.stage();
            let image = rgb_to_caffe(&self.fast_picture(stage.width, stage.height)?)?;
            self.evaluations += 1;
            self.run
                .as_mut()
                .expect("ensure_run made it")
                .complete_with(image);
        }
        Ok(self.current_progress())
    }

    /// The one stage of `method=fast`: the plan's last stage (the result's size), untiled, one
    /// iteration; refused when too small for the network, or over the memory budget.
    fn fast_plan(&self) -> Result<Stage> {
        let last = *self.plan()?.last().expect("a plan has a stage");
        if last.width.min(last.height) < MIN_SIDE {
            return Err(Error::arg(format!(
                "at size {} the image would be {}×{}: the fast method needs at least {MIN_SIDE} \
                 px on the short side; use a larger size",
                last.width.max(last.height),
                last.width,
                last.height
            )));
        }
        let pixels = last.width as u64 * last.height as u64;
        memory::check(
            pixels * FAST_BYTES_PER_PIXEL,
            memory::budget_bytes(self.settings.max_memory_mb, self.device()),
            last.width.max(last.height),
            0,
        )?;
        Ok(Stage {
            iterations: 1,
            tiling: None,
            ..last
        })
    }

    /// The plan the run executes, tiled where it will be, refused as the run would refuse it:
    /// too small a result, or a last stage over the memory budget.
    fn checked_plan(&mut self) -> Result<Vec<Stage>> {
        let stages = self.plan()?;
        let last = *stages.last().expect("a plan has a stage");
        if last.width.min(last.height) < MIN_SIDE {
            return Err(Error::arg(format!(
                "at size {} the image would be {}×{}: {} needs at least {MIN_SIDE} px on the short \
                 side; use a larger size",
                last.width.max(last.height),
                last.width,
                last.height,
                self.settings.backbone.display_name()
            )));
        }
        let stages = self.tiled_plan(stages)?;
        let last = *stages.last().expect("a plan has a stage");
        check_memory(self.network()?, &self.settings, &last)?;
        Ok(stages)
    }

    /// Plans the run and makes the initial image if there is no run yet.
    fn ensure_run(&mut self) -> Result<()> {
        if self.run.is_some() {
            return Ok(());
        }
        if self.settings.method == Method::Fast {
            let stage = self.fast_plan()?;
            let content = self.content.as_ref().expect("planned above");
            // Before its one step the picture is the photo, as any run's initial image.
            let image = network_input(content, stage.width, stage.height, self.device())?;
            let idle: Box<dyn Optimizer> = Box::new(Adam::new(1.0));
            self.run = Some(Run::new(vec![stage], image, idle)?);
            return Ok(());
        }
        let stages = self.checked_plan()?;
        let settings = &self.settings;
        let first = stages[0];
        let device = self.device();
        let content = self.content.as_ref().expect("planned above");
        let image = match &settings.init {
            Init::Fast => {
                // The network's picture at the result's size, brought down to the first stage.
                let last = *stages.last().expect("a plan has a stage");
                let picture = self.fast_picture(last.width, last.height)?;
                let small = if (first.width, first.height) == (last.width, last.height) {
                    picture
                } else {
                    picture.f_internal_upsample_bilinear2d_aa(
                        [first.height as i64, first.width as i64],
                        false,
                        None,
                        None,
                    )?
                };
                rgb_to_caffe(&small)?
            }
            Init::Content => network_input(content, first.width, first.height, device)?,
            Init::Image(picture) => rgb_to_caffe(
                &picture
                    .resized(first.width, first.height)
                    .to_tensor(device)?,
            )?,
            Init::Random => crate::engine::device::readback::upload(
                &random_image(first.width, first.height, settings.seed)?,
                device,
            )?,
        };
        let optimizer: Box<dyn Optimizer> = match settings.optimizer {
            OptimizerKind::Lbfgs => Box::new(Lbfgs::new(settings.lbfgs_history, LBFGS_FIRST_STEP)),
            OptimizerKind::Adam => Box::new(Adam::new(settings.adam_learning_rate)),
        };
        self.run = Some(Run::new(stages, image, optimizer)?);
        Ok(())
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
        let (_, _, _, working_width) = run.image().size4()?;
        memory::check_host(
            result_bytes(width, height, working_width as u32, content.width()),
            self.host_budget(),
            &format!("a {width}×{height} result"),
        )?;
        let _no_grad = tch::no_grad_guard();
        let mut picture = Picture::from_tensor(&caffe_to_rgb(run.image())?)?;
        if self.settings.preserve_colors {
            let colors = content.picture_at(picture.width(), picture.height())?;
            picture = picture.with_colors_of(&colors);
        }
        let mut picture = picture.resized(width, height);
        picture.high_bit_depth = content.high_bit_depth;
        picture.with_alpha(content.alpha_at(width, height)?)
    }
}

/// libtorch's intra-op thread count before any was set (one per physical core, or
/// OMP_NUM_THREADS): the most `threads=0` uses.
static DEFAULT_THREADS: OnceLock<i32> = OnceLock::new();

fn default_threads() -> i32 {
    *DEFAULT_THREADS.get_or_init(tch::get_num_threads)
}

/// Sets libtorch's intra-op threads for the calling thread. The count is libtorch's
/// process-wide setting, but OpenMP keeps it per thread once a thread has computed, so it is set
/// again on each step's thread, and only when it differs (setting it resizes libtorch's thread
/// pools).
fn set_threads(wanted: i32) {
    if tch::get_num_threads() != wanted {
        tch::set_num_threads(wanted);
    }
}

/// Refuses a stage whose evaluation would not fit the memory budget (checked when the run is
/// planned, for its largest stage, and again on entering each stage: the budget may change).
/// A tiled stage needs one tile's evaluation and a few copies of the whole image.
fn check_memory(network: Network, settings: &Settings, stage: &Stage) -> Result<()> {
    let (needed, fixed) = stage_bytes(network, settings, stage)?;
    let budget = memory::budget_bytes(settings.max_memory_mb, network.device());
    memory::check(needed, budget, stage.width.max(stage.height), fixed)
}

/// What `stage` needs, and the part of it that does not grow with the image (the weights, and
/// in a tiled stage the tile's evaluation).
fn stage_bytes(network: Network, settings: &Settings, stage: &Stage) -> Result<(u64, u64)> {
    let history = match settings.optimizer {
        OptimizerKind::Lbfgs => 2 * settings.lbfgs_history,
        OptimizerKind::Adam => 2,
    };
    let weights = network.compute_weight_bytes();
    Ok(match &stage.tiling {
        None => {
            let activations = network.backbone().activation_elements(
                stage.width,
                stage.height,
                settings.deepest_layer()?,
            );
            let needed = memory::estimate_bytes(
                stage.width,
                stage.height,
                activations,
                network.precision(),
                IMAGE_TENSORS + history,
                weights,
            );
            (needed, weights)
        }
        Some(tiling) => {
            // The largest window (slivers merged into a neighbour add a few pixels).
            let side = tiling.layout.tile + tiling.layout.align;
            let deepest = network.backbone().tile_deepest();
            let activations = network.backbone().activation_elements(side, side, deepest);
            let tile = memory::estimate_bytes(
                side,
                side,
                activations,
                network.precision(),
                IMAGE_TENSORS + history,
                0,
            );
            let image = stage.width as u64 * stage.height as u64 * 3 * 4 * TILED_IMAGE_TENSORS;
            (tile + image + weights, tile + weights)
        }
    })
}

/// Cuts `stage` into tiles when the settings ask for tiles smaller than it, or (tile=auto) when
/// it does not fit the memory budget whole: then the largest tile up to [`AUTO_TILE_MAX`] that
/// fits, or if none does, the stage stays whole and the memory check refuses it.
fn assign_tiles(network: Network, settings: &Settings, stage: Stage) -> Result<Stage> {
    let long_side = stage.width.max(stage.height);
    let tile = match settings.tile {
        Some(tile) if long_side > tile => tile,
        Some(_) => return Ok(stage),
        None => {
            // The cap holds the tile's own evaluation in a tiled stage: its image copies grow
            // with the image whatever the tile.
            let capped = network.device() == tch::Device::Cpu && settings.max_memory_mb.is_none();
            let fits = |trial: &Stage| -> bool {
                check_memory(network, settings, trial).is_ok()
                    && (!capped
                        || stage_bytes(network, settings, trial).is_ok_and(|(needed, fixed)| {
                            let held = if trial.tiling.is_some() {
                                fixed
                            } else {
                                needed
                            };
                            held <= AUTO_WHOLE_STAGE_MAX_BYTES
                        }))
            };
            if fits(&stage) {
                return Ok(stage);
            }
            // Only the layout matters to the estimate: try sizes before counting any tiles.
            let fitting = (1..=AUTO_TILE_MAX / 64)
                .rev()
                .map(|n| n * 64)
                .find(|&tile| {
                    Layout::new(tile, network.backbone()).is_ok_and(|layout| {
                        let tiling = Tiling {
                            layout,
                            passes: 1,
                            per_visit: 1,
                        };
                        fits(&Stage {
                            tiling: Some(tiling),
                            ..stage
                        })
                    })
                });
            match fitting {
                Some(tile) => tile,
                None => return Ok(stage),
            }
        }
    };
    schedule::tile_stage(stage, Layout::new(tile, network.backbone())?)
}

/// Host memory a result at `width`×`height` takes while it is made: float RGB and alpha at that
/// size, plus the resampler's four-channel float intermediates (source width × target height)
/// for the image and for the alpha plane.
fn result_bytes(width: u32, height: u32, working_width: u32, content_width: u32) -> u64 {
    let (width, height) = (width as u64, height as u64);
    let alpha_source_width = (content_width as u64).min(4 * width + 4);
    16 * width * height + 16 * height * (working_width as u64 + alpha_source_width)
}

/// Near-grey noise in Caffe space from our own seeded generator, so that a seed gives the same
/// start on every machine and no global RNG state is shared between sessions.
fn random_image(width: u32, height: u32, seed: u64) -> Result<Tensor> {
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
    Ok(Tensor::f_from_slice(&values)?.f_view([1, 3, height as i64, width as i64])?)
}
