//! Everything a caller can set about a run, with the defaults and the validation shared by the
//! CLI and the C ABI.

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
    fn default() -> Self {
        Settings {
            size: 512,
            iterations: 500,
            scales: ScaleCount::Auto,
            optimizer: OptimizerKind::Lbfgs,
            init: Init::Content,
            seed: 0,
            preserve_colors: false,
            style_scale: 1.0,
            content_layers: vec![(Layer::RELU4_2, 1.0)],
            style_layers: [
                Layer::RELU1_1,
                Layer::RELU2_1,
                Layer::RELU3_1,
                Layer::RELU4_1,
                Layer::RELU5_1,
            ]
            .into_iter()
            .map(|l| (l, 1.0))
            .collect(),
            weights: LossWeights::default(),
            precision: PrecisionChoice::Auto,
            lbfgs_history: 100,
            adam_learning_rate: 2.0,
            max_memory_mb: None,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<()> {
        if self.size < 16 || self.size > 16_384 {
            return Err(Error::arg(format!(
                "size must be between 16 and 16384 pixels, not {}",
                self.size
            )));
        }
        if self.iterations == 0 {
            return Err(Error::arg("iterations must be at least 1"));
        }
        if !(self.style_scale.is_finite() && (0.05..=8.0).contains(&self.style_scale)) {
            return Err(Error::arg(format!(
                "style scale must be between 0.05 and 8, not {}",
                self.style_scale
            )));
        }
        if self.content_layers.is_empty() || self.style_layers.is_empty() {
            return Err(Error::arg("content and style layers must not be empty"));
        }
        if !(self.adam_learning_rate.is_finite() && self.adam_learning_rate > 0.0) {
            return Err(Error::arg(
                "the Adam learning rate must be a finite number > 0",
            ));
        }
        if self.lbfgs_history == 0 {
            return Err(Error::arg("the L-BFGS history must hold at least 1 pair"));
        }
        self.weights.validate()
    }

    /// True when going from `self` to `next` means starting the optimisation again.
    pub fn needs_restart(&self, next: &Settings) -> bool {
        self.size != next.size
            || self.iterations != next.iterations
            || self.scales != next.scales
            || self.optimizer != next.optimizer
            || self.init != next.init
            || self.seed != next.seed
            || self.precision != next.precision
            || self.lbfgs_history != next.lbfgs_history
            || self.adam_learning_rate != next.adam_learning_rate
    }

    /// True when going from `self` to `next` changes the loss targets (not the image).
    pub fn changes_targets(&self, next: &Settings) -> bool {
        self.style_scale != next.style_scale
            || self.content_layers != next.content_layers
            || self.style_layers != next.style_layers
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

impl Settings {
    /// Sets one option by name, as the C ABI and other string interfaces pass them. The keys,
    /// values and defaults are documented on `nstyle_set_option` in the C header.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let value = value.trim();
        let number = |what: &str| -> Result<f64> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Error::arg(format!("option {what}: '{value}' is not a finite number"))
                })
        };
        let whole = |what: &str, low: u64, high: u64| -> Result<u64> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| (low..=high).contains(v))
                .ok_or_else(|| {
                    Error::arg(format!(
                        "option {what}: '{value}' is not a whole number in {low}..={high}"
                    ))
                })
        };
        match key {
            "size" => self.size = whole(key, 16, 16_384)? as u32,
            "iterations" => self.iterations = whole(key, 1, 1_000_000)? as u32,
            "scales" => self.scales = ScaleCount::parse(value)?,
            "optimizer" => self.optimizer = OptimizerKind::parse(value)?,
            "init" => {
                self.init = match value {
                    "content" => Init::Content,
                    "random" => Init::Random,
                    other => {
                        return Err(Error::arg(format!(
                            "option init: '{other}' (expected content or random)"
                        )))
                    }
                }
            }
            "seed" => self.seed = whole(key, 0, u64::MAX)?,
            "preserve_colors" => {
                self.preserve_colors = match value {
                    "0" => false,
                    "1" => true,
                    other => {
                        return Err(Error::arg(format!(
                            "option preserve_colors: '{other}' (expected 0 or 1)"
                        )))
                    }
                }
            }
            "style_scale" => self.style_scale = number(key)?,
            "content_layers" => self.content_layers = parse_layers(value)?,
            "style_layers" => self.style_layers = parse_layers(value)?,
            "precision" => self.precision = PrecisionChoice::parse(value)?,
            "max_memory_mb" => {
                self.max_memory_mb = match value {
                    "auto" | "0" => None,
                    _ => Some(whole(key, 1, u64::MAX / (1 << 20))?),
                }
            }
            "lbfgs_history" => self.lbfgs_history = whole(key, 1, 1000)? as usize,
            "learning_rate" => self.adam_learning_rate = number(key)?,
            _ => return Err(Error::arg(format!("unknown option '{key}'"))),
        }
        self.validate()
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
