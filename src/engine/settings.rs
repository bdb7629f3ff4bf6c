//! Everything a caller can set about a run, with the defaults and the validation shared by the
//! CLI and the C ABI.

use crate::engine::options::{self, Effect, Value, OPTIONS};
use crate::engine::picture::Picture;
use crate::engine::precision::PrecisionChoice;
use crate::engine::schedule::ScaleCount;
use crate::engine::vgg::Layer;
use crate::error::{Error, Result};

/// Weights of the three loss terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

impl Default for LossWeights {
    /// The Lua neural-style's content and style weights (our losses are normalised the same way);
    /// the TV weight was chosen by looking at results (see the README).
    fn default() -> Self {
        LossWeights {
            content: 5.0,
            style: 100.0,
            tv: 0.01,
        }
    }
}

impl LossWeights {
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("content", self.content),
            ("style", self.style),
            ("tv", self.tv),
        ] {
            check_weight(&format!("{name} weight"), value)?;
        }
        Ok(())
    }
}

/// A weight must be finite and not negative.
pub fn check_weight(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::arg(format!(
            "{what} must be a finite number ≥ 0, not {value}"
        )))
    }
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

/// Where the optimisation starts.
#[derive(Clone, Debug, Default)]
pub enum Init {
    #[default]
    Content,
    Random,
    Image(Picture),
}

impl PartialEq for Init {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Init::Content, Init::Content) | (Init::Random, Init::Random) => true,
            (Init::Image(a), Init::Image(b)) => a.rgb() == b.rgb() && a.width() == b.width(),
            _ => false,
        }
    }
}

/// A layer with its weight inside its loss term.
pub type WeightedLayer = (Layer, f64);

/// Parses `relu4_2` or `relu1_1:1,relu2_1:0.5,…` (a missing weight is 1).
pub fn parse_layers(text: &str) -> Result<Vec<WeightedLayer>> {
    let mut layers = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, weight) = match item.split_once(':') {
            Some((name, weight)) => {
                let weight: f64 = weight
                    .trim()
                    .parse()
                    .map_err(|_| Error::arg(format!("bad layer weight in '{item}'")))?;
                (name, weight)
            }
            None => (item, 1.0),
        };
        check_weight(&format!("weight of layer {name}"), weight)?;
        layers.push((Layer::parse(name)?, weight));
    }
    if layers.is_empty() {
        return Err(Error::arg(format!("no layers in '{text}'")));
    }
    Ok(layers)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Longest side of the result, in pixels.
    pub size: u32,
    /// Iterations over all scales.
    pub iterations: u32,
    pub scales: ScaleCount,
    /// Re-inject the content's detail band when a finer scale starts.
    pub keep_detail: bool,
    pub optimizer: OptimizerKind,
    pub init: Init,
    pub seed: u64,
    /// Keep the content's colours: only luminance is stylised.
    pub preserve_colors: bool,
    /// Style image size relative to the working image (longest sides).
    pub style_scale: f64,
    pub content_layers: Vec<WeightedLayer>,
    pub style_layers: Vec<WeightedLayer>,
    pub weights: LossWeights,
    pub precision: PrecisionChoice,
    /// L-BFGS memory (pairs kept).
    pub lbfgs_history: usize,
    /// Adam step length in pixel units (0–255 scale).
    pub adam_learning_rate: f64,
    /// Memory budget in MiB; `None` = 80 % of the RAM available (CPU) or no limit (CUDA).
    pub max_memory_mb: Option<u64>,
}

impl Default for Settings {
    /// The defaults of the option table, parsed.
    fn default() -> Self {
        let mut settings = Settings {
            size: 0,
            iterations: 0,
            scales: ScaleCount::Auto,
            keep_detail: false,
            optimizer: OptimizerKind::Lbfgs,
            init: Init::Content,
            seed: 0,
            preserve_colors: false,
            style_scale: 0.0,
            content_layers: Vec::new(),
            style_layers: Vec::new(),
            weights: LossWeights {
                content: 0.0,
                style: 0.0,
                tv: 0.0,
            },
            precision: PrecisionChoice::Auto,
            lbfgs_history: 0,
            adam_learning_rate: 0.0,
            max_memory_mb: None,
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
        Ok(())
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
            ("iterations", Int(v)) => self.iterations = v as u32,
            ("scales", Word(_)) => self.scales = ScaleCount::Auto,
            ("scales", Int(v)) => self.scales = ScaleCount::Fixed(v as u32),
            ("keep_detail", Bool(v)) => self.keep_detail = v,
            ("content_weight", Float(v)) => self.weights.content = v,
            ("style_weight", Float(v)) => self.weights.style = v,
            ("tv_weight", Float(v)) => self.weights.tv = v,
            ("optimizer", Word(w)) => self.optimizer = OptimizerKind::parse(w).expect("table word"),
            ("init", Word("random")) => self.init = Init::Random,
            ("init", Word(_)) => self.init = Init::Content,
            ("seed", Int(v)) => self.seed = v,
            ("preserve_colors", Bool(v)) => self.preserve_colors = v,
            ("style_scale", Float(v)) => self.style_scale = v,
            ("content_layers", Layers(v)) => self.content_layers = v,
            ("style_layers", Layers(v)) => self.style_layers = v,
            ("precision", Word(w)) => {
                self.precision = PrecisionChoice::parse(w).expect("table word")
            }
            ("max_memory_mb", Word(_) | Int(0)) => self.max_memory_mb = None,
            ("max_memory_mb", Int(v)) => self.max_memory_mb = Some(v),
            ("lbfgs_history", Int(v)) => self.lbfgs_history = v as usize,
            ("learning_rate", Float(v)) => self.adam_learning_rate = v,
            (key, value) => unreachable!("option table row {key} has no field for {value:?}"),
        }
    }

    /// The value of a table option as text.
    fn option_text(&self, key: &str) -> String {
        let layers = |layers: &[WeightedLayer]| {
            layers
                .iter()
                .map(|(layer, weight)| format!("{}:{weight}", layer.name()))
                .collect::<Vec<_>>()
                .join(",")
        };
        match key {
            "size" => self.size.to_string(),
            "iterations" => self.iterations.to_string(),
            "scales" => match self.scales {
                ScaleCount::Auto => "auto".into(),
                ScaleCount::Fixed(n) => n.to_string(),
            },
            "keep_detail" => u8::from(self.keep_detail).to_string(),
            "content_weight" => self.weights.content.to_string(),
            "style_weight" => self.weights.style.to_string(),
            "tv_weight" => self.weights.tv.to_string(),
            "optimizer" => match self.optimizer {
                OptimizerKind::Lbfgs => "lbfgs".into(),
                OptimizerKind::Adam => "adam".into(),
            },
            "init" => match self.init {
                Init::Content => "content".into(),
                Init::Random => "random".into(),
                Init::Image(_) => "image".into(),
            },
            "seed" => self.seed.to_string(),
            "preserve_colors" => u8::from(self.preserve_colors).to_string(),
            "style_scale" => self.style_scale.to_string(),
            "content_layers" => layers(&self.content_layers),
            "style_layers" => layers(&self.style_layers),
            "precision" => self.precision.name().into(),
            "max_memory_mb" => self
                .max_memory_mb
                .map_or_else(|| "auto".into(), |mb| mb.to_string()),
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
    fn layer_lists_parse_with_and_without_weights() {
        let layers = parse_layers("relu1_1, relu4_2:0.5").unwrap();
        assert_eq!(layers, vec![(Layer::RELU1_1, 1.0), (Layer::RELU4_2, 0.5)]);
        assert!(parse_layers("relu9_1").is_err());
        assert!(parse_layers("relu1_1:-1").is_err());
        assert!(parse_layers("relu1_1:nan").is_err());
        assert!(parse_layers("").is_err());
    }

    #[test]
    fn weights_must_be_finite_and_non_negative() {
        assert!(LossWeights {
            content: f64::NAN,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(LossWeights {
            style: -1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(LossWeights {
            tv: f64::INFINITY,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(LossWeights::default().validate().is_ok());
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
        for (key, value) in [
            ("size", "0"),
            ("size", "big"),
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
