//! Everything a caller can set about a run, with the defaults and the validation shared by the
//! CLI and the C ABI.

use crate::engine::config::options::{self, Effect, Value, OPTIONS};
use crate::engine::config::values::{check_weight, LayerChoice, WeightedLayer};
use crate::engine::device::precision::PrecisionChoice;
use crate::engine::features::backbone::Backbone;
use crate::engine::image::picture::Picture;
use crate::engine::plan::schedule::{self, ScaleCount};
use crate::error::{Error, Result};

/// The weight of each loss term, by the term's name: the option-table rows `<name>_weight`
/// (`content_weight`, `style_weight`, `tv_weight`, …), in the table's order.
#[derive(Clone, Debug, PartialEq)]
pub struct LossWeights(Vec<(&'static str, f64)>);

impl Default for LossWeights {
    /// The defaults of the option table: the Lua neural-style's content and style weights (our
    /// losses are normalised the same way); the TV weight was chosen by looking at results.
    fn default() -> Self {
        let mut weights = LossWeights(Vec::new());
        for row in OPTIONS {
            if let (Some(term), Ok(Value::Float(value))) = (
                row.key.strip_suffix(WEIGHT_SUFFIX),
                row.domain.parse(row.key, row.default),
            ) {
                weights.0.push((term, value));
            }
        }
        weights
    }
}

/// Option keys ending so are loss-term weights.
const WEIGHT_SUFFIX: &str = "_weight";

impl LossWeights {
    /// The weight of term `name` (0 for a term the table has no weight for).
    pub fn get(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(term, _)| *term == name)
            .map_or(0.0, |(_, weight)| *weight)
    }

    /// Sets the weight of a term the table has a row for (an argument error otherwise).
    pub fn set(&mut self, name: &str, weight: f64) -> Result<()> {
        check_weight(&format!("{name}{WEIGHT_SUFFIX}"), weight)?;
        match self.0.iter_mut().find(|(term, _)| *term == name) {
            Some((_, slot)) => {
                *slot = weight;
                Ok(())
            }
            None => Err(Error::arg(format!("there is no loss term '{name}'"))),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.0.iter().copied()
    }

    pub fn validate(&self) -> Result<()> {
        for (name, value) in self.iter() {
            check_weight(&format!("{name}{WEIGHT_SUFFIX}"), value)?;
        }
        Ok(())
    }
}

/// Which of a run's gains scale a loss term's weight ([`Settings::term_weight`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gain {
    /// The weight as set (pixel-space terms: TV, temporal).
    None,
    /// The backbone's content gain.
    Content,
    /// The backbone's style gain and the strength.
    Style,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OptimizerKind {
    #[default]
    Lbfgs,
    Adam,
}

impl OptimizerKind {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "lbfgs" => Ok(OptimizerKind::Lbfgs),
            "adam" => Ok(OptimizerKind::Adam),
            other => Err(Error::arg(format!(
                "unknown optimizer '{other}' (expected lbfgs or adam)"
            ))),
        }
    }
}

/// How the picture is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// The Gatys optimisation.
    #[default]
    Optimize,
    /// One pass of the feed-forward network ([`crate::engine::session::instant`]).
    Fast,
}

/// Where the optimisation starts.
#[derive(Clone, Debug, Default)]
pub enum Init {
    #[default]
    Content,
    Random,
    /// The fast method's picture.
    Fast,
    Image(Picture),
}

impl PartialEq for Init {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Init::Content, Init::Content)
            | (Init::Random, Init::Random)
            | (Init::Fast, Init::Fast) => true,
            (Init::Image(a), Init::Image(b)) => a.rgb() == b.rgb() && a.width() == b.width(),
            _ => false,
        }
    }
}

fn layer_error(key: &str, backbone: Backbone, error: Error) -> Error {
    match error {
        Error::Argument(why) => Error::arg(format!(
            "option {key}: {why} (backbone {}; 'auto' picks its own layers)",
            backbone.name()
        )),
        other => other,
    }
}

/// Ratio of the style weight at strength 1 to that at strength 0.
const STRENGTH_RANGE: f64 = 1000.0;

/// Iterations over which a scale's loss decrease is measured for early stopping.
pub const STOP_WINDOW: u32 = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Longest side of the result, in pixels; 0 is the content's own.
    pub size: u32,
    /// Long side of the tiles of a tiled stage; `None` tiles only stages over the memory budget.
    pub tile: Option<u32>,
    /// Iterations over all scales.
    pub iterations: u32,
    pub scales: ScaleCount,
    /// Re-inject the content's detail band when a finer scale starts.
    pub keep_detail: bool,
    pub method: Method,
    pub optimizer: OptimizerKind,
    pub init: Init,
    pub seed: u64,
    /// Keep the content's colours: only luminance is stylised.
    pub preserve_colors: bool,
    /// Style image size relative to the working image (longest sides).
    pub style_scale: f64,
    /// Content weight inside the content mask over the weight outside it.
    pub content_mask_gain: f64,
    /// Gaussian blur of the region and content masks, in percent of the image's long side.
    pub mask_softness: f64,
    /// The feature network.
    pub backbone: Backbone,
    pub content_layers: LayerChoice,
    pub style_layers: LayerChoice,
    pub weights: LossWeights,
    /// 0..1: moves the balance from the photo (0) to the style (1); see [`Settings::term_weight`].
    pub strength: f64,
    /// Relative loss decrease over [`STOP_WINDOW`] iterations under which a scale ends early.
    pub stop_tolerance: f64,
    pub precision: PrecisionChoice,
    /// L-BFGS memory (pairs kept).
    pub lbfgs_history: usize,
    /// Adam step length in pixel units (0–255 scale).
    pub adam_learning_rate: f64,
    /// Memory budget in MiB; `None` = 80 % of the RAM available (CPU) or no limit (CUDA).
    pub max_memory_mb: Option<u64>,
    /// libtorch intra-op threads of each step; 0 = libtorch's default.
    pub threads: u32,
}

impl Default for Settings {
    /// The defaults of the option table, parsed.
    fn default() -> Self {
        let mut settings = Settings {
            size: 0,
            tile: None,
            iterations: 0,
            scales: ScaleCount::Auto,
            keep_detail: false,
            method: Method::Optimize,
            optimizer: OptimizerKind::Lbfgs,
            init: Init::Content,
            seed: 0,
            preserve_colors: false,
            style_scale: 0.0,
            content_mask_gain: 0.0,
            mask_softness: 0.0,
            backbone: Backbone::Vgg19,
            content_layers: LayerChoice::Auto,
            style_layers: LayerChoice::Auto,
            weights: LossWeights::default(),
            strength: 0.0,
            stop_tolerance: 0.0,
            precision: PrecisionChoice::Auto,
            lbfgs_history: 0,
            adam_learning_rate: 0.0,
            max_memory_mb: None,
            threads: 0,
        };
        for row in OPTIONS {
            let value = row.domain.parse(row.key, row.default);
            settings.apply(row.key, value.expect("table defaults parse (tested)"));
        }
        settings
    }
}

impl Settings {
    /// Checks every value against its row of the option table, as `set_option` does (settings
    /// built in code, like the CLI's, meet the same ranges and messages).
    pub fn validate(&self) -> Result<()> {
        for row in OPTIONS {
            if row.key == "init" && matches!(self.init, Init::Image(_)) {
                continue; // an image to start from, set by the CLI, is no option value
            }
            row.domain.parse(row.key, &self.option_text(row.key))?;
        }
        // Layer names are checked against the backbone they are for.
        self.content_layers()?;
        self.style_layers()?;
        Ok(())
    }

    /// The long side of the result for a content of `width`×`height`: `size`, or for `size` 0
    /// the content's own long side within the option's range, raised (within it) until the
    /// short side reaches the smallest a stage may have (a thin selection is worked on larger
    /// than it is rather than refused). Hosts pass 0 for "the layer's own size" and leave the
    /// rule here.
    pub fn long_side(&self, width: u32, height: u32) -> u32 {
        if self.size != 0 {
            return self.size;
        }
        let (smallest, largest) = size_range();
        let mut long = width.max(height).clamp(smallest, largest);
        while long < largest && {
            let (w, h) = schedule::fit_long_side(width, height, long);
            w.min(h) < schedule::MIN_SIDE
        } {
            long += 1;
        }
        long
    }

    /// The weight a loss term runs with, every gain applied here and only here: the expert
    /// weight, the style terms' scaled by the strength (×1 at 0.5 and a factor of 1000 over the
    /// whole range, ×0.03 … ×32, so that equal steps of the knob look like equal steps from photo
    /// to painting), and feature terms by the backbone's gains, so that one strength looks alike
    /// on either network.
    pub fn term_weight(&self, name: &str, gain: Gain) -> f64 {
        let weight = self.weights.get(name);
        let (content_gain, style_gain) = self.backbone.loss_gains();
        match gain {
            Gain::None => weight,
            Gain::Content => weight * content_gain,
            Gain::Style => weight * style_gain * STRENGTH_RANGE.powf(self.strength - 0.5),
        }
    }

    /// The content layers as indices of the backbone, with their weights.
    pub fn content_layers(&self) -> Result<Vec<WeightedLayer>> {
        self.content_layers
            .resolve(self.backbone, self.backbone.default_content_layers())
            .map_err(|e| layer_error("content_layers", self.backbone, e))
    }

    /// The style layers as indices of the backbone, with their weights.
    pub fn style_layers(&self) -> Result<Vec<WeightedLayer>> {
        self.style_layers
            .resolve(self.backbone, self.backbone.default_style_layers())
            .map_err(|e| layer_error("style_layers", self.backbone, e))
    }

    /// The deepest layer any loss uses (the forward pass stops there).
    pub fn deepest_layer(&self) -> Result<usize> {
        let layers = self
            .content_layers()?
            .into_iter()
            .chain(self.style_layers()?);
        Ok(layers
            .map(|(layer, _)| layer)
            .max()
            .expect("layer lists are never empty"))
    }

    /// True when going from `self` to `next` means starting the optimisation again.
    pub fn needs_restart(&self, next: &Settings) -> bool {
        // An init image is not an option value (`init` reads "image"): compare it directly.
        self.init != next.init || self.differs_in(next, Effect::Restart)
    }

    /// True when going from `self` to `next` changes the loss targets (not the image).
    pub fn changes_targets(&self, next: &Settings) -> bool {
        self.differs_in(next, Effect::Retarget)
    }

    fn differs_in(&self, next: &Settings, effect: Effect) -> bool {
        OPTIONS
            .iter()
            .filter(|row| row.effect == effect)
            .any(|row| self.option_text(row.key) != next.option_text(row.key))
    }

    /// Sets one option by name, as the C ABI and other string interfaces pass them; the keys,
    /// values and defaults are the option table's. A bad key or value changes nothing.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let row = options::find(key)?;
        if row.key == "init" && value == "image" && matches!(self.init, Init::Image(_)) {
            // What get_option reads while an init image is set: accepted back, changing nothing
            // (a host saving and restoring every option keeps its image). Only
            // nstyle_set_init_image sets one.
            return Ok(());
        }
        let value = row.domain.parse(row.key, value)?;
        let mut next = self.clone();
        next.apply(row.key, value);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The current value of an option as text that `set_option` accepts.
    pub fn get_option(&self, key: &str) -> Result<String> {
        Ok(self.option_text(options::find(key)?.key))
    }

    /// Stores a value parsed by the row of `key` (a table key).
    fn apply(&mut self, key: &str, value: Value) {
        use Value::*;
        match (key, value) {
            ("size", Int(v)) => self.size = v as u32,
            ("size", Word(_)) => self.size = 0,
            ("tile", Word(_)) => self.tile = None,
            ("tile", Int(v)) => self.tile = Some(v as u32),
            ("iterations", Int(v)) => self.iterations = v as u32,
            ("scales", Word(_)) => self.scales = ScaleCount::Auto,
            ("scales", Int(v)) => self.scales = ScaleCount::Fixed(v as u32),
            ("keep_detail", Bool(v)) => self.keep_detail = v,
            (key, Float(v)) if key.ends_with(WEIGHT_SUFFIX) => {
                let term = key.strip_suffix(WEIGHT_SUFFIX).expect("checked");
                self.weights.set(term, v).expect("a table weight row")
            }
            ("strength", Float(v)) => self.strength = v,
            ("stop_tolerance", Float(v)) => self.stop_tolerance = v,
            ("optimizer", Word(w)) => self.optimizer = OptimizerKind::parse(w).expect("table word"),
            ("method", Word("fast")) => self.method = Method::Fast,
            ("method", Word(_)) => self.method = Method::Optimize,
            ("init", Word("random")) => self.init = Init::Random,
            ("init", Word("fast")) => self.init = Init::Fast,
            ("init", Word(_)) => self.init = Init::Content,
            ("seed", Int(v)) => self.seed = v,
            ("preserve_colors", Bool(v)) => self.preserve_colors = v,
            ("style_scale", Float(v)) => self.style_scale = v,
            ("content_mask_gain", Float(v)) => self.content_mask_gain = v,
            ("mask_softness", Float(v)) => self.mask_softness = v,
            ("backbone", Word(w)) => self.backbone = Backbone::parse(w).expect("table word"),
            ("content_layers", Layers(v)) => self.content_layers = v,
            ("style_layers", Layers(v)) => self.style_layers = v,
            ("precision", Word(w)) => {
                self.precision = PrecisionChoice::parse(w).expect("table word")
            }
            ("max_memory_mb", Word(_) | Int(0)) => self.max_memory_mb = None,
            ("max_memory_mb", Int(v)) => self.max_memory_mb = Some(v),
            ("threads", Int(v)) => self.threads = v as u32,
            ("lbfgs_history", Int(v)) => self.lbfgs_history = v as usize,
            ("learning_rate", Float(v)) => self.adam_learning_rate = v,
            (key, value) => unreachable!("option table row {key} has no field for {value:?}"),
        }
    }

    /// The value of a table option as text.
    fn option_text(&self, key: &str) -> String {
        match key {
            "size" => self.size.to_string(),
            "tile" => self
                .tile
                .map_or_else(|| "auto".into(), |tile| tile.to_string()),
            "iterations" => self.iterations.to_string(),
            "scales" => match self.scales {
                ScaleCount::Auto => "auto".into(),
                ScaleCount::Fixed(n) => n.to_string(),
            },
            "keep_detail" => u8::from(self.keep_detail).to_string(),
            key if key.ends_with(WEIGHT_SUFFIX) => self
                .weights
                .get(key.strip_suffix(WEIGHT_SUFFIX).expect("checked"))
                .to_string(),
            "strength" => self.strength.to_string(),
            "stop_tolerance" => self.stop_tolerance.to_string(),
            "optimizer" => match self.optimizer {
                OptimizerKind::Lbfgs => "lbfgs".into(),
                OptimizerKind::Adam => "adam".into(),
            },
            "method" => match self.method {
                Method::Optimize => "optimize".into(),
                Method::Fast => "fast".into(),
            },
            "init" => match self.init {
                Init::Content => "content".into(),
                Init::Random => "random".into(),
                Init::Fast => "fast".into(),
                Init::Image(_) => "image".into(),
            },
            "seed" => self.seed.to_string(),
            "preserve_colors" => u8::from(self.preserve_colors).to_string(),
            "style_scale" => self.style_scale.to_string(),
            "content_mask_gain" => self.content_mask_gain.to_string(),
            "mask_softness" => self.mask_softness.to_string(),
            "backbone" => self.backbone.name().into(),
            "content_layers" => self.content_layers.text(),
            "style_layers" => self.style_layers.text(),
            "precision" => self.precision.name().into(),
            "max_memory_mb" => self
                .max_memory_mb
                .map_or_else(|| "auto".into(), |mb| mb.to_string()),
            "threads" => self.threads.to_string(),
            "lbfgs_history" => self.lbfgs_history.to_string(),
            "learning_rate" => self.adam_learning_rate.to_string(),
            other => unreachable!("{other} is not in the option table"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_zero_is_the_contents_own_within_the_range_and_never_too_thin() {
        let own = Settings {
            size: 0,
            ..Settings::default()
        };
        assert_eq!(own.long_side(4000, 3000), 4000);
        // 8×6 at the smallest size, 16, would be 16×12: raised until it is 16 high.
        assert_eq!(own.long_side(8, 6), 21);
        assert_eq!(
            own.long_side(40_000, 30_000),
            16_384,
            "capped at the largest"
        );
        // 300×10 at its own size would be 10 px high: raised until a stage is 16 px high.
        let long = own.long_side(300, 10);
        let (_, h) = schedule::fit_long_side(300, 10, long);
        assert!(h >= 16 && long < 500, "{long} gives {h}");
        let explicit = Settings {
            size: 333,
            ..Settings::default()
        };
        assert_eq!(explicit.long_side(4000, 3000), 333);
    }

    #[test]
    fn weights_must_be_finite_and_non_negative() {
        let mut weights = LossWeights::default();
        assert!(weights.set("content", f64::NAN).is_err());
        assert!(weights.set("style", -1.0).is_err());
        assert!(weights.set("tv", f64::INFINITY).is_err());
        assert!(weights.set("nope", 1.0).is_err());
        assert_eq!(
            weights,
            LossWeights::default(),
            "a refused weight changes nothing"
        );
        assert!(weights.validate().is_ok());
        assert_eq!(
            (
                weights.get("content"),
                weights.get("style"),
                weights.get("tv")
            ),
            (5.0, 100.0, 0.01)
        );
    }
}

#[cfg(test)]
mod option_tests {
    use super::*;

    #[test]
    fn options_parse_and_reject_bad_values() {
        let mut s = Settings::default();
        s.set_option("size", "256").unwrap();
        s.set_option("scales", "auto").unwrap();
        s.set_option("preserve_colors", "1").unwrap();
        s.set_option("style_layers", "relu1_1:2,relu3_1").unwrap();
        s.set_option("max_memory_mb", "900").unwrap();
        assert_eq!(
            (s.size, s.preserve_colors, s.max_memory_mb),
            (256, true, Some(900))
        );
        s.set_option("size", "full").unwrap();
        assert_eq!((s.size, s.get_option("size").unwrap().as_str()), (0, "0"));
        s.set_option("tile", "256").unwrap();
        assert_eq!(
            (s.tile, s.get_option("tile").unwrap().as_str()),
            (Some(256), "256")
        );
        s.set_option("tile", "auto").unwrap();
        assert_eq!(s.tile, None);
        for (key, value) in [
            ("size", "8"),
            ("size", "big"),
            ("tile", "32"),
            ("style_scale", "nan"),
            ("init", "noise"),
            ("nope", "1"),
        ] {
            assert!(
                matches!(
                    Settings::default().set_option(key, value),
                    Err(Error::Argument(_))
                ),
                "{key}={value}"
            );
        }
    }
}

/// The `size` option's range in pixels, from the option table.
fn size_range() -> (u32, u32) {
    match options::find("size").map(|row| &row.domain) {
        Ok(options::Domain::Int { min, max, .. }) => (*min as u32, *max as u32),
        _ => (schedule::MIN_SIDE, u32::MAX),
    }
}
