//! The loss terms of the objective, one module each, behind one trait.
//!
//! A term says what it needs (the layers of the image it reads, the content layers its targets
//! come from), builds its targets for a stage ([`Term::whole`]) or for a tiled stage and then
//! each tile's window ([`Term::tiled`], [`TiledTerm::tile`]), and gives its unweighted value from
//! the features of one forward pass ([`TermTargets::value`]). Its weight is the option-table row
//! `<name>_weight`, scaled by its [`Gain`] in one place ([`Settings::term_weight`]); the
//! objective ([`crate::engine::session::objective`]) holds the list of a stage's terms, sums them
//! and reports each by name. Adding a term is its module, a line in [`TERMS`], its option row,
//! its test and docs.

pub mod content;
pub mod functions;
pub mod histogram;
mod parts;
pub mod style;
pub mod temporal;
pub mod tv;

use std::collections::BTreeMap;

use tch::{Device, Tensor};

pub use crate::engine::config::settings::Gain;
pub use functions::*;
pub use parts::LossParts;

use crate::engine::config::settings::Settings;
use crate::engine::config::values::WeightedLayer;
use crate::engine::features::backbone::Network;
use crate::engine::image::mask::Mask;
use crate::engine::image::source::SourceImage;
use crate::engine::image::temporal::TemporalTarget;
use crate::engine::plan::schedule::Stage;
use crate::engine::plan::tiles::{Layout, Tile};
use crate::error::{Error, Result};
use style::Style;

/// Every term, in the order the objective sums and reports them. The order is part of the
/// pictures: the sum and the backward pass run through the terms in it.
pub static TERMS: &[&dyn Term] = &[
    &content::Content,
    &style::StyleTerm,
    &tv::TotalVariation,
    &temporal::Temporal,
    &histogram::Histogram,
];

/// What a run reads but does not own: the network, the settings and the images.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub model: Network<'a>,
    pub settings: &'a Settings,
    pub content: &'a SourceImage,
    pub styles: &'a [Style],
    /// More (or less) photo where this mask is: the content term weighted by it.
    pub content_mask: Option<&'a Mask>,
    pub temporal: Option<&'a TemporalTarget>,
}

/// Which kind of stage a term is built for: a tiled stage uses fewer, shallower layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    Whole,
    Tiled,
}

/// One loss term.
pub trait Term: Sync {
    /// Its name in progress reports; its weight is the option `<name>_weight`.
    fn name(&self) -> &'static str;

    /// Which of the run's gains scale its weight.
    fn gain(&self) -> Gain;

    /// Whether the run has this term at all (the temporal term needs a target, for instance).
    fn applies(&self, _inputs: &Inputs) -> bool {
        true
    }

    /// The layers of the image being optimised whose features it reads.
    fn image_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>>;

    /// The layers of the content image (at the stage's size, or in a tile's window) its targets
    /// are built from; the objective computes them in one pass for all terms.
    fn content_layers(&self, _inputs: &Inputs, _kind: StageKind) -> Result<Vec<usize>> {
        Ok(Vec::new())
    }

    /// Its targets for a whole-image stage.
    fn whole(&self, build: &StageBuild) -> Result<Box<dyn TermTargets>>;

    /// What its tiles share in a tiled stage.
    fn tiled(&self, build: &TiledBuild) -> Result<Box<dyn TiledTerm>>;

    /// What it adds to an evaluation's cost beyond its layers, for the estimate's probe cache
    /// ("" when nothing does).
    fn probe_key(&self, _inputs: &Inputs) -> String {
        String::new()
    }
}

/// A term's targets for one stage or tile.
pub trait TermTargets {
    /// The unweighted value at `image` (Caffe space), whose features are `features`.
    fn value(&self, features: &Features, image: &Tensor) -> Result<Tensor>;
}

/// A term's state shared by the tiles of a tiled stage.
pub trait TiledTerm {
    /// Its targets in the window of one tile.
    fn tile(&self, build: &TileBuild) -> Result<Box<dyn TermTargets>>;
}

/// The feature maps of one forward pass, by layer.
pub struct Features<'a> {
    pub layers: &'a [usize],
    pub maps: &'a [Tensor],
}

impl Features<'_> {
    pub fn at(&self, layer: usize) -> &Tensor {
        let slot = self.layers.iter().position(|l| *l == layer);
        &self.maps[slot.expect("a term reads only the layers it asked for")]
    }
}

/// Feature maps by layer, computed once for every term that asked for them.
pub struct LayerMaps(BTreeMap<usize, Tensor>);

impl LayerMaps {
    /// The maps of `layers` of `image` (the window of `tile`, when it is set), as
    /// [`crate::engine::features::backbone::FeatureNetwork::features_at`] computes them.
    pub fn of(
        model: Network,
        image: &Tensor,
        layers: &[usize],
        tile: Option<&Tile>,
    ) -> Result<LayerMaps> {
        if layers.is_empty() {
            return Ok(LayerMaps(BTreeMap::new()));
        }
        let maps = model.features_at(image, layers, tile.map(Tile::placement))?;
        Ok(LayerMaps(layers.iter().copied().zip(maps).collect()))
    }

    pub fn at(&self, layer: usize) -> Result<&Tensor> {
        self.0.get(&layer).ok_or_else(|| {
            Error::Internal(format!("layer {layer} of the content was not computed"))
        })
    }
}

/// What a term's builder sees for a whole-image stage.
pub struct StageBuild<'a> {
    pub inputs: &'a Inputs<'a>,
    pub stage: Stage,
    pub device: Device,
    /// The content image as the network's input at the stage's size.
    pub content_input: &'a Tensor,
    /// Its features at the layers the terms asked for.
    pub content: &'a LayerMaps,
}

/// What a term's builder sees for a tiled stage.
pub struct TiledBuild<'a> {
    pub inputs: &'a Inputs<'a>,
    pub stage: Stage,
    pub device: Device,
    pub layout: &'a Layout,
    /// True once the run is cancelled (checked between the tiles of a long build).
    pub cancelled: &'a dyn Fn() -> bool,
}

/// What a tiled term sees for one tile.
pub struct TileBuild<'a> {
    pub model: Network<'a>,
    pub tile: Tile,
    /// The content's features in the tile's window (margins included).
    pub content: &'a LayerMaps,
}

impl TileBuild<'_> {
    /// The part of `features` (at `layer`, over the tile's window) inside the tile's margins.
    pub fn interior(&self, features: &Tensor, layer: usize) -> Result<Tensor> {
        self.tile
            .interior(features, self.model.backbone().stride(layer))
    }
}

/// Every layer of the lists, in network order, once: one forward pass serves them all.
pub fn layer_union<'a>(lists: impl IntoIterator<Item = &'a [usize]>) -> Vec<usize> {
    let mut layers: Vec<usize> = lists.into_iter().flatten().copied().collect();
    layers.sort();
    layers.dedup();
    layers
}

/// Share of a content layer's weight it keeps when a tiled stage moves it up to the backbone's
/// deepest tile layer. Measured on VGG-19: at relu3_1 the content term is much stiffer than at
/// relu4_2: with its full weight the tiled scale kept the photo far more than the whole-image
/// scale (SSIM 0.39 against 0.10, style distance 0.72 against 0.58 on the test images); without
/// it the painting ran over the structure (style distance 0.56 but houses washed out on tubingen
/// × starry night); a fifth measured SSIM 0.31, style distance 0.63 and kept the houses. On Lite0
/// (content block7 moved to block2; tubingen at 1024 px, 256 px tiles) the share hardly matters:
/// from 0.05 to 1, SSIM 0.364–0.374 / style 0.420–0.426 on starry night and 0.578–0.601 / 1.19
/// on the scream (whole, untiled: 0.405 / 0.426 and 0.627 / 0.99), so it stays one value for
/// both backbones.
const TILED_CONTENT_SHARE: f64 = 0.2;

/// The content and style layers of a stage. A tiled stage leaves out the style layers deeper
/// than the backbone's deepest tile layer (the lower scales matched them) and moves deeper
/// content layers up to it with [`TILED_CONTENT_SHARE`] of their weight, so that the photo's
/// structure still holds the tiles together without holding back the brush texture.
pub fn stage_layers(
    settings: &Settings,
    kind: StageKind,
) -> Result<(Vec<WeightedLayer>, Vec<WeightedLayer>)> {
    if kind == StageKind::Whole {
        return Ok((settings.content_layers()?, settings.style_layers()?));
    }
    let deepest = settings.backbone.tile_deepest();
    let mut content: Vec<WeightedLayer> = Vec::new();
    for (layer, weight) in settings.content_layers()? {
        let (layer, weight) = if layer > deepest {
            (deepest, weight * TILED_CONTENT_SHARE)
        } else {
            (layer, weight)
        };
        match content.iter_mut().find(|(l, _)| *l == layer) {
            Some((_, w)) => *w += weight,
            None => content.push((layer, weight)),
        }
    }
    let style: Vec<WeightedLayer> = settings
        .style_layers()?
        .into_iter()
        .filter(|(layer, _)| *layer <= deepest)
        .collect();
    if style.is_empty() {
        return Err(Error::arg(format!(
            "a tiled stage matches the style with layers down to {}, and style_layers has none \
             of them",
            settings.backbone.layer_name(deepest)
        )));
    }
    Ok((content, style))
}

/// The indices of weighted layers.
pub fn indices(layers: &[WeightedLayer]) -> Vec<usize> {
    layers.iter().map(|(l, _)| *l).collect()
}

/// A region or content mask at the stage's size ([1, 1, H, W]), softened by `mask_softness`.
pub fn stage_mask(mask: &Mask, stage: Stage, softness: f64, device: Device) -> Result<Tensor> {
    crate::engine::image::mask::soften(
        &mask.tensor_at(stage.width, stage.height, device)?,
        softness,
    )
}

/// The window of `tile` cut from `mask` (over the tile's image), averaged over the positions
/// of `features` (that window's features at some layer, margins included).
pub fn window_at_layer(mask: &Tensor, tile: &Tile, features: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = features.size4()?;
    Ok(tile.window.of(mask)?.f_adaptive_avg_pool2d([h, w])?)
}

/// A scalar 0 on `device`, where a sum of losses starts.
pub fn zero(device: Device) -> Result<Tensor> {
    Ok(Tensor::f_zeros([], (tch::Kind::Float, device))?)
}
