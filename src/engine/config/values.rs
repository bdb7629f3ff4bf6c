//! The option values that are more than a number or a word: the layers of a loss term with
//! their weights, and the rule every weight obeys. The option table ([`super::options`]) parses
//! them and the settings ([`super::settings`]) hold them; both import them from here.

use crate::engine::features::backbone::Backbone;
use crate::error::{Error, Result};
use crate::text::shortened;

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

/// The layers of a loss term: the backbone's own choice, or named layers with their weights.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerChoice {
    Auto,
    Listed(Vec<(String, f64)>),
}

impl LayerChoice {
    /// Layer indices of `backbone` with their weights; `defaults` is what `Auto` means there.
    pub fn resolve(&self, backbone: Backbone, defaults: &str) -> Result<Vec<WeightedLayer>> {
        let listed = match self {
            LayerChoice::Auto => match parse_layers(defaults)? {
                LayerChoice::Listed(listed) => listed,
                LayerChoice::Auto => unreachable!("defaults name layers"),
            },
            LayerChoice::Listed(listed) => listed.clone(),
        };
        listed
            .iter()
            .map(|(name, weight)| Ok((backbone.layer_index(name)?, *weight)))
            .collect()
    }

    /// As the option reads it back: `auto` or `name:weight,…`.
    pub fn text(&self) -> String {
        match self {
            LayerChoice::Auto => "auto".into(),
            LayerChoice::Listed(listed) => listed
                .iter()
                .map(|(name, weight)| format!("{name}:{weight}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A layer (index in its backbone) with its weight inside its loss term.
pub type WeightedLayer = (usize, f64);

/// Parses `auto`, `relu4_2` or `relu1_1:1,relu2_1:0.5,…` (a missing weight is 1). Whether the
/// names exist is the backbone's question ([`LayerChoice::resolve`]).
pub fn parse_layers(text: &str) -> Result<LayerChoice> {
    if text.trim() == "auto" {
        return Ok(LayerChoice::Auto);
    }
    let mut layers = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, weight) = match item.split_once(':') {
            Some((name, weight)) => {
                let weight: f64 = weight
                    .trim()
                    .parse()
                    .map_err(|_| Error::arg(format!("bad layer weight in '{item}'")))?;
                (name.trim(), weight)
            }
            None => (item, 1.0),
        };
        check_weight(&format!("weight of layer {name}"), weight)?;
        let plausible = !name.is_empty()
            && name.len() <= 16
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plausible {
            return Err(Error::arg(format!(
                "'{}' is not a layer name",
                shortened(name, 32)
            )));
        }
        layers.push((name.to_string(), weight));
    }
    if layers.is_empty() {
        return Err(Error::arg(format!(
            "no layers in '{}'",
            shortened(text, 32)
        )));
    }
    Ok(LayerChoice::Listed(layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lists_parse_with_and_without_weights() {
        let layers = parse_layers("relu1_1, relu4_2:0.5").unwrap();
        assert_eq!(
            layers.resolve(Backbone::Vgg19, "").unwrap(),
            vec![(0, 1.0), (9, 0.5)]
        );
        assert!(parse_layers("relu9_1")
            .unwrap()
            .resolve(Backbone::Vgg19, "")
            .is_err());
        assert_eq!(parse_layers("auto").unwrap(), LayerChoice::Auto);
        assert!(parse_layers("relu1_1:-1").is_err());
        assert!(parse_layers("relu1_1:nan").is_err());
        assert!(parse_layers("").is_err());
    }
}
