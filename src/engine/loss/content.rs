//! The content term: the photo's features at the content layers (relu4_2 by default), as a mean
//! squared difference, weighted per position by the content mask when there is one
//! (`content_mask_gain` inside it).

use tch::{Device, Tensor};

use super::{
    indices, stage_layers, stage_mask, window_at_layer, zero, Features, Gain, Inputs, StageBuild,
    StageKind, Term, TermTargets, TileBuild, TiledBuild, TiledTerm,
};
use crate::engine::config::values::WeightedLayer;
use crate::engine::image::mask::{content_weights, content_weights_at_layer};
use crate::engine::plan::schedule::Stage;
use crate::error::Result;

pub struct Content;

/// A content layer's features to stay close to.
struct LayerTarget {
    layer: usize,
    weight: f64,
    features: Tensor,
    /// The weight of each position (from the content mask; None: 1 everywhere).
    weights: Option<Tensor>,
}

struct Targets(Vec<LayerTarget>);

impl Term for Content {
    fn name(&self) -> &'static str {
        "content"
    }

    fn gain(&self) -> Gain {
        Gain::Content
    }

    fn image_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
        Ok(indices(&stage_layers(inputs.settings, kind)?.0))
    }

    fn content_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
        self.image_layers(inputs, kind)
    }

    fn whole(&self, build: &StageBuild) -> Result<Box<dyn TermTargets>> {
        let settings = build.inputs.settings;
        let mask = mask_at_stage(build.inputs, build.stage, build.device)?;
        let targets = settings
            .content_layers()?
            .into_iter()
            .map(|(layer, weight)| {
                let features = build.content.at(layer)?.shallow_clone();
                let weights = match &mask {
                    None => None,
                    Some(mask) => {
                        let (_, _, h, w) = features.size4()?;
                        Some(content_weights_at_layer(
                            mask,
                            settings.content_mask_gain,
                            h,
                            w,
                        )?)
                    }
                };
                Ok(LayerTarget {
                    layer,
                    weight,
                    features,
                    weights,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Box::new(Targets(targets)))
    }

    fn tiled(&self, build: &TiledBuild) -> Result<Box<dyn TiledTerm>> {
        let settings = build.inputs.settings;
        let mask = mask_at_stage(build.inputs, build.stage, build.device)?;
        Ok(Box::new(Tiled {
            layers: stage_layers(settings, StageKind::Tiled)?.0,
            mask: mask.map(|mask| (mask, settings.content_mask_gain)),
        }))
    }

    fn probe_key(&self, inputs: &Inputs) -> String {
        match inputs.content_mask {
            Some(_) => "content mask".into(),
            None => String::new(),
        }
    }
}

/// The content mask at the stage's size, softened (None without one).
fn mask_at_stage(inputs: &Inputs, stage: Stage, device: Device) -> Result<Option<Tensor>> {
    inputs
        .content_mask
        .map(|mask| stage_mask(mask, stage, inputs.settings.mask_softness, device))
        .transpose()
}

impl TermTargets for Targets {
    fn value(&self, features: &Features, image: &Tensor) -> Result<Tensor> {
        let mut sum = zero(image.device())?;
        for target in &self.0 {
            let here = features.at(target.layer);
            let term = match &target.weights {
                None => super::content_loss(here, &target.features),
                Some(weights) => super::weighted_content_loss(here, &target.features, weights),
            };
            sum = sum.f_add(&term.f_mul_scalar(target.weight)?)?;
        }
        Ok(sum)
    }
}

/// A tiled stage's content term: its layers, and the content mask at the stage's size with its
/// gain (cut to each tile's window).
struct Tiled {
    layers: Vec<WeightedLayer>,
    mask: Option<(Tensor, f64)>,
}

impl TiledTerm for Tiled {
    fn tile(&self, build: &TileBuild) -> Result<Box<dyn TermTargets>> {
        let targets = self
            .layers
            .iter()
            .map(|&(layer, weight)| {
                let window = build.content.at(layer)?;
                let weights = match &self.mask {
                    None => None,
                    Some((mask, gain)) => {
                        let at_layer = window_at_layer(mask, &build.tile, window)?;
                        Some(content_weights(build.interior(&at_layer, layer)?, *gain)?)
                    }
                };
                Ok(LayerTarget {
                    layer,
                    weight,
                    features: build.interior(window, layer)?,
                    weights,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Box::new(Targets(targets)))
    }
}
