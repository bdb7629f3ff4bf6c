//! The option table: every setting a caller can change by name, one row each, with its type,
//! range, default, unit, one-line doc and what changing it does to a run in progress.
//!
//! Everything else is driven by it: [`Settings::default`] parses the defaults, `set_option`
//! parses and range-checks through the row's [`Domain`], `Settings::validate` re-checks the
//! current values the same way, restart/retarget decisions compare the rows' values, the C ABI
//! answers `nstyle_option_info` from it (hosts read defaults and ranges from the library instead
//! of restating them), and a test keeps the header's option docs equal to [`render_docs`].
//! Adding an option is one row here and one arm in `Settings::apply`/`Settings::option_text`.

use crate::engine::config::values::{parse_layers, LayerChoice};
use crate::error::{Error, Result};
use crate::text::shortened;

/// What changing an option does to a run in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The optimisation starts again from the initial image.
    Restart = 0,
    /// The current image is kept; the loss targets are rebuilt before the next iteration.
    Retarget = 1,
    /// Applies from the next iteration; nothing is rebuilt.
    Live = 2,
}

impl Effect {
    pub fn name(self) -> &'static str {
        match self {
            Effect::Restart => "restarts the run",
            Effect::Retarget => "rebuilds the targets, keeps the image",
            Effect::Live => "applies from the next step",
        }
    }
}

/// The values an option accepts.
#[derive(Clone, Copy, Debug)]
pub enum Domain {
    /// Whole numbers in `min..=max`, or one of `words` (e.g. `auto`).
    Int {
        min: u64,
        max: u64,
        words: &'static [&'static str],
    },
    /// Finite numbers in `min..=max` (`min` itself excluded when `min_exclusive`).
    Float {
        min: f64,
        max: f64,
        min_exclusive: bool,
    },
    /// Exactly one of the words.
    Choice(&'static [&'static str]),
    /// `0` or `1`.
    Bool,
    /// `auto` (the backbone's own) or layers with optional weights: `relu4_2` or
    /// `relu1_1:1,relu2_1:0.5`.
    Layers,
}

/// A parsed option value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Word(&'static str),
    Float(f64),
    Bool(bool),
    Layers(LayerChoice),
}

/// One row of the table.
#[derive(Debug)]
pub struct OptionSpec {
    pub key: &'static str,
    pub domain: Domain,
    /// The default, as text that `domain` parses.
    pub default: &'static str,
    /// Unit of numeric values ("" when none).
    pub unit: &'static str,
    pub doc: &'static str,
    pub effect: Effect,
}

/// Every option, in the order hosts show them.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "size",
        domain: Domain::Int {
            min: 16,
            max: 16_384,
            words: &["0", "full"],
        },
        default: "512",
        unit: "px",
        doc: "longest side of the working image and result; 0 (or full) is the content's own \
              size, within this range and raised for a very thin content (stages that do not \
              fit the memory budget are optimised in tiles)",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "tile",
        domain: Domain::Int {
            min: 64,
            max: 16_384,
            words: &["auto"],
        },
        default: "auto",
        unit: "px",
        doc: "long side of the overlapping tiles a large stage is optimised in (with layers down \
              to relu3_1, or block2 on lite, style statistics of the whole style image); auto tiles only a stage \
              that does not fit the memory budget, a number tiles every stage longer than it",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "iterations",
        domain: Domain::Int {
            min: 1,
            max: 1_000_000,
            words: &[],
        },
        default: "300",
        unit: "",
        doc: "iterations over all scales, at most: a scale may end early (stop_tolerance)",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "scales",
        domain: Domain::Int {
            min: 1,
            max: 8,
            words: &["auto"],
        },
        default: "auto",
        unit: "",
        doc: "number of scales; auto starts from about a quarter of size",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "keep_detail",
        domain: Domain::Bool,
        default: "1",
        unit: "",
        doc:
            "each finer scale starts with the photo's own detail at that scale (a sharper subject)",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "strength",
        domain: Domain::Float {
            min: 0.0,
            max: 1.0,
            min_exclusive: false,
        },
        default: "0.6",
        unit: "",
        doc: "how strongly the style paints over the photo: 0 keeps the photo nearly as it is, \
              1 paints it over; scales style_weight by 1000^(strength - 0.5)",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "stop_tolerance",
        domain: Domain::Float {
            min: 0.0,
            max: 1.0,
            min_exclusive: false,
        },
        default: "0.005",
        unit: "",
        doc: "a scale ends early once its loss falls by less than this fraction over 10 \
              iterations (iterations is then a cap); 0 runs every iteration",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "content_weight",
        domain: Domain::Float {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
        default: "5",
        unit: "",
        doc: "weight of the content loss (detail kept from the photo)",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "style_weight",
        domain: Domain::Float {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
        default: "100",
        unit: "",
        doc: "weight of the style loss (texture taken from the style)",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "tv_weight",
        domain: Domain::Float {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
        default: "0.01",
        unit: "",
        doc: "weight of the total-variation smoothing",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "temporal_weight",
        domain: Domain::Float {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
        default: "1",
        unit: "",
        doc: "weight of the temporal term (video: how strongly the result keeps to the previous \
              frame warped by optical flow); no effect without a temporal target",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "histogram_weight",
        domain: Domain::Float {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
        default: "0",
        unit: "",
        doc: "weight of the histogram style loss (Risser et al. 2017: each channel's distribution \
              of the style's activations at relu1_1 and relu4_1 matched, besides the Gram \
              matrices); 0 turns it off (it costs about a second evaluation at relu1_1)",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "method",
        domain: Domain::Choice(&["optimize", "fast"]),
        default: "optimize",
        unit: "",
        doc: "optimize: the Gatys optimisation (iterations, scales and the loss options apply); \
              fast: one pass of a feed-forward network (Ghiasi et al. 2017) for any style, in a \
              fraction of a second, further from the style (strength, several styles, regions \
              and the content mask apply)",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "optimizer",
        domain: Domain::Choice(&["lbfgs", "adam"]),
        default: "lbfgs",
        unit: "",
        doc: "L-BFGS (fewer iterations) or Adam",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "init",
        domain: Domain::Choice(&["content", "random", "fast"]),
        default: "content",
        unit: "",
        doc: "start from the content image, from seeded noise, or from the fast method's picture \
              (a warm start)",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "seed",
        domain: Domain::Int {
            min: 0,
            max: u64::MAX,
            words: &[],
        },
        default: "0",
        unit: "",
        doc: "seeds init=random; CPU runs are bit-identical per seed",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "preserve_colors",
        domain: Domain::Bool,
        default: "0",
        unit: "",
        doc: "1 keeps the content's colours (only luminance is stylised)",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "style_scale",
        domain: Domain::Float {
            min: 0.05,
            max: 8.0,
            min_exclusive: false,
        },
        default: "1",
        unit: "×",
        doc: "style image size relative to the working image",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "content_mask_gain",
        domain: Domain::Float {
            min: 0.0,
            max: 1000.0,
            min_exclusive: false,
        },
        default: "10",
        unit: "×",
        doc: "content weight inside the content mask as a multiple of the weight outside it: \
              above 1 keeps more of the photo there, below 1 lets the style take more; no \
              effect without a content mask",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "mask_softness",
        domain: Domain::Float {
            min: 0.0,
            max: 25.0,
            min_exclusive: false,
        },
        default: "0",
        unit: "%",
        doc: "blurs the edges of the style regions and of the content mask (Gaussian, this \
              percentage of the image's long side) so that styles fade into each other; 0 \
              keeps the masks as given",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "backbone",
        domain: Domain::Choice(&["vgg19", "lite"]),
        default: "vgg19",
        unit: "",
        doc: "feature network: vgg19 (the original method) or lite (EfficientNet-Lite0, many \
              times faster per iteration; for previews and slow machines: it takes less of the \
              style, the less the larger the image)",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "content_layers",
        domain: Domain::Layers,
        default: "auto",
        unit: "",
        doc: "layers of the content loss; auto is relu4_2 on vgg19, block7 on lite",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "style_layers",
        domain: Domain::Layers,
        default: "auto",
        unit: "",
        doc: "layers of the style loss, weight 1 each unless given; auto is relu1_1,relu2_1,\
              relu3_1,relu4_1,relu5_1 on vgg19 and block0,block2,block4,block7,block10 on lite",
        effect: Effect::Retarget,
    },
    OptionSpec {
        key: "precision",
        domain: Domain::Choice(&["auto", "fp32", "bf16", "fp16"]),
        default: "auto",
        unit: "",
        doc: "network precision; auto is bf16 on CUDA and on CPUs with native bf16, else fp32",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "max_memory_mb",
        domain: Domain::Int {
            min: 0,
            max: u64::MAX >> 20,
            words: &["auto"],
        },
        default: "auto",
        unit: "MiB",
        doc: "memory budget; auto or 0 is 80 % of available RAM on CPU, none on CUDA",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "threads",
        domain: Domain::Int {
            min: 0,
            max: 1024,
            words: &[],
        },
        default: "0",
        unit: "",
        doc: "CPU threads of each step (libtorch's intra-op threads); 0 is libtorch's default \
              (one per physical core, or OMP_NUM_THREADS). libtorch's setting is process-wide \
              (tch::set_num_threads): each step sets its model's value on the thread it runs \
              on, and a thread computing for the first time takes the last value set. 1 suits \
              previews and busy machines, where OpenMP threads waiting for each other cost \
              more than they gain",
        effect: Effect::Live,
    },
    OptionSpec {
        key: "lbfgs_history",
        domain: Domain::Int {
            min: 1,
            max: 1000,
            words: &[],
        },
        default: "100",
        unit: "pairs",
        doc: "curvature pairs L-BFGS keeps",
        effect: Effect::Restart,
    },
    OptionSpec {
        key: "learning_rate",
        domain: Domain::Float {
            min: 0.0,
            max: 1000.0,
            min_exclusive: true,
        },
        default: "2",
        unit: "levels",
        doc: "Adam step in pixel levels on a 0-255 scale",
        effect: Effect::Restart,
    },
];

/// The row of `key`, or an argument error naming it (quoted at most 64 characters).
pub fn find(key: &str) -> Result<&'static OptionSpec> {
    OPTIONS
        .iter()
        .find(|row| row.key == key)
        .ok_or_else(|| Error::arg(format!("unknown option '{}'", shortened(key, 64))))
}

impl Domain {
    /// Parses `text` (trimmed), or says what the option accepts.
    pub fn parse(&self, key: &str, text: &str) -> Result<Value> {
        let text = text.trim();
        let refuse = || {
            let shown = shortened(text, 64);
            Error::arg(format!(
                "option {key}: '{shown}' is not {}",
                self.describe()
            ))
        };
        match *self {
            Domain::Int { min, max, words } => {
                if let Some(word) = words.iter().find(|w| **w == text) {
                    return Ok(Value::Word(word));
                }
                text.parse::<u64>()
                    .ok()
                    .filter(|v| (min..=max).contains(v))
                    .map(Value::Int)
                    .ok_or_else(refuse)
            }
            Domain::Float {
                min,
                max,
                min_exclusive,
            } => text
                .parse::<f64>()
                .ok()
                .filter(|v| {
                    v.is_finite() && *v <= max && (*v > min || (!min_exclusive && *v == min))
                })
                .map(Value::Float)
                .ok_or_else(refuse),
            Domain::Choice(words) => words
                .iter()
                .find(|w| **w == text)
                .map(|w| Value::Word(w))
                .ok_or_else(refuse),
            Domain::Bool => match text {
                "0" => Ok(Value::Bool(false)),
                "1" => Ok(Value::Bool(true)),
                _ => Err(refuse()),
            },
            Domain::Layers => parse_layers(text).map(Value::Layers).map_err(|e| match e {
                Error::Argument(why) => Error::arg(format!("option {key}: {why}")),
                other => other,
            }),
        }
    }

    /// What the domain accepts, in words: "a whole number in 16..=16384", "lbfgs or adam"…
    pub fn describe(&self) -> String {
        match *self {
            Domain::Int { min, max, words } => {
                let range = format!("a whole number in {min}..={max}");
                words
                    .iter()
                    .fold(range, |text, word| format!("{text} or '{word}'"))
            }
            Domain::Float {
                min,
                max,
                min_exclusive,
            } => {
                let low = if min_exclusive { "above" } else { "from" };
                format!("a finite number {low} {min} to {max}")
            }
            Domain::Choice(words) => one_of(words),
            Domain::Bool => "0 or 1".into(),
            Domain::Layers => "auto or a list of layers of the backbone such as relu4_2 or \
                               relu1_1:1,relu2_1:0.5 (lite: stem, block0 … block15)"
                .into(),
        }
    }
}

fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [only] => only.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// One line per option for the header's documentation of `nstyle_set_option`:
/// `- key: doc; values (default D) [effect]`.
pub fn render_docs() -> String {
    OPTIONS
        .iter()
        .map(|row| {
            let unit = if row.unit.is_empty() {
                String::new()
            } else {
                format!(", in {}", row.unit)
            };
            format!(
                "- `{}`: {}; {}{unit} (default `{}`; {})\n",
                row.key,
                row.doc,
                row.domain.describe(),
                row.default,
                row.effect.name()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_keys_are_unique() {
        for (i, row) in OPTIONS.iter().enumerate() {
            row.domain
                .parse(row.key, row.default)
                .unwrap_or_else(|e| panic!("{}: {e}", row.key));
            assert!(OPTIONS[..i].iter().all(|other| other.key != row.key));
            assert!(!row.doc.is_empty());
        }
    }

    #[test]
    fn out_of_range_values_name_the_range() {
        let err = find("size").unwrap().domain.parse("size", "8").unwrap_err();
        assert!(err.to_string().contains("16..=16384"), "{err}");
        let err = find("style_scale")
            .unwrap()
            .domain
            .parse("style_scale", "9")
            .unwrap_err();
        assert!(err.to_string().contains("0.05 to 8"), "{err}");
        let err = find("optimizer")
            .unwrap()
            .domain
            .parse("optimizer", "sgd")
            .unwrap_err();
        assert!(err.to_string().contains("lbfgs or adam"), "{err}");
    }

    #[test]
    fn a_huge_unknown_key_is_quoted_short() {
        let key = "k".repeat(100_000);
        let err = find(&key).unwrap_err().to_string();
        assert!(err.len() < 200, "{} bytes", err.len());
    }
}
