//! The objective of one stage: the targets of its loss terms (built once per stage, without
//! autograd, by one builder for whole-image and tiled stages alike) and the evaluation of loss
//! and image gradient at a point. The terms themselves are in [`crate::engine::loss`].

use tch::Tensor;

use crate::engine::config::settings::Settings;
use crate::engine::features::backbone::Network;
use crate::engine::image::source::network_input;
use crate::engine::loss::{
    layer_union, zero, Features, Inputs, LayerMaps, StageBuild, StageKind, Term, TermTargets,
    TileBuild, TiledBuild, TiledTerm, TERMS,
};
use crate::engine::optim::UnreadEvaluation;
use crate::engine::plan::schedule::Stage;
use crate::engine::plan::tiles::{Layout, Tile};
use crate::error::Result;

/// The terms a run with these inputs has, in [`TERMS`] order.
pub fn active_terms<'a>(inputs: &'a Inputs) -> impl Iterator<Item = &'static dyn Term> + 'a {
    TERMS.iter().copied().filter(|term| term.applies(inputs))
}

/// What every term asks of a stage of `kind`: the layers of the image to compute at each
/// evaluation, and those of the content to compute once for the targets.
fn layers_asked(inputs: &Inputs, kind: StageKind) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut image = Vec::new();
    let mut content = Vec::new();
    for term in active_terms(inputs) {
        image.push(term.image_layers(inputs, kind)?);
        content.push(term.content_layers(inputs, kind)?);
    }
    Ok((
        layer_union(image.iter().map(Vec::as_slice)),
        layer_union(content.iter().map(Vec::as_slice)),
    ))
}

/// The targets of every term of one stage, or of one tile of a tiled stage.
pub struct Objective {
    /// Every layer a term reads, in network order: one forward pass serves all.
    layers: Vec<usize>,
    terms: Vec<(&'static dyn Term, Box<dyn TermTargets>)>,
    /// For a tile: the tile and each layer's stride, so that the terms see only the features
    /// its margins leave (see [`crate::engine::plan::tiles`]).
    tile: Option<(Tile, Vec<u32>)>,
}

impl Objective {
    /// The targets of a whole-image stage.
    pub fn build(inputs: &Inputs, stage: Stage) -> Result<Objective> {
        let _no_grad = tch::no_grad_guard();
        let device = inputs.model.device();
        let (layers, content_layers) = layers_asked(inputs, StageKind::Whole)?;
        let content_input = network_input(inputs.content, stage.width, stage.height, device)?;
        let content = LayerMaps::of(inputs.model, &content_input, &content_layers, None)?;
        let build = StageBuild {
            inputs,
            stage,
            device,
            content_input: &content_input,
            content: &content,
        };
        let terms = active_terms(inputs)
            .map(|term| Ok((term, term.whole(&build)?)))
            .collect::<Result<_>>()?;
        Ok(Objective {
            layers,
            terms,
            tile: None,
        })
    }

    /// Loss and image gradient at `point` (Caffe space): one forward and one backward pass; the
    /// loss, its parts and the gradient's facts stay on the device until the optimiser reads them
    /// with its own scalars (one transfer). Each term is weighted as
    /// [`Settings::term_weight`] says; a term of weight 0 is not computed.
    pub fn evaluate(
        &self,
        model: Network,
        settings: &Settings,
        point: &Tensor,
    ) -> Result<UnreadEvaluation> {
        let image = point.f_detach()?.set_requires_grad(true);
        let placement = self.tile.as_ref().map(|(tile, _)| tile.placement());
        let mut maps = model.loss_features(&image, &self.layers, placement)?;
        if let Some((tile, strides)) = &self.tile {
            maps = maps
                .iter()
                .zip(strides)
                .map(|(f, &stride)| tile.interior(f, stride))
                .collect::<Result<_>>()?;
        }
        let features = Features {
            layers: &self.layers,
            maps: &maps,
        };
        let mut weighted = Vec::with_capacity(self.terms.len());
        for (term, targets) in &self.terms {
            let weight = settings.term_weight(term.name(), term.gain());
            weighted.push(if weight > 0.0 {
                targets.value(&features, &image)?.f_mul_scalar(weight)?
            } else {
                zero(point.device())?
            });
        }
        let mut total = match weighted.first() {
            Some(first) => first.shallow_clone(),
            None => zero(point.device())?,
        };
        for part in weighted.iter().skip(1) {
            total = total.f_add(part)?;
        }
        let grad = if total.requires_grad() {
            total.f_backward()?;
            image.grad()
        } else {
            point.f_zeros_like()?
        };
        let parts: Vec<(&'static str, Tensor)> = self
            .terms
            .iter()
            .map(|(term, _)| term.name())
            .zip(weighted)
            .collect();
        UnreadEvaluation::new(&total, &parts, grad)
    }
}

/// What the tiles of a tiled stage share: each term's shared state (the style statistics of the
/// whole style images, the masks at the stage's size…) and the content image at the stage's
/// size, from which each tile's content features are cut when the tile is visited.
pub struct TiledObjective {
    layers: Vec<usize>,
    content_layers: Vec<usize>,
    content: Tensor,
    terms: Vec<(&'static dyn Term, Box<dyn TiledTerm>)>,
}

impl TiledObjective {
    /// The shared targets of the tiles of `stage`, cut by `layout`. Checks `cancelled` between
    /// style tiles (a large style image takes a while); nothing is kept on an error.
    pub fn build(
        inputs: &Inputs,
        stage: Stage,
        layout: &Layout,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<TiledObjective> {
        let _no_grad = tch::no_grad_guard();
        let device = inputs.model.device();
        let (layers, content_layers) = layers_asked(inputs, StageKind::Tiled)?;
        let build = TiledBuild {
            inputs,
            stage,
            device,
            layout,
            cancelled,
        };
        let terms = active_terms(inputs)
            .map(|term| Ok((term, term.tiled(&build)?)))
            .collect::<Result<_>>()?;
        Ok(TiledObjective {
            layers,
            content_layers,
            content: network_input(inputs.content, stage.width, stage.height, device)?,
            terms,
        })
    }

    /// The targets of one tile: each term's window on it.
    pub fn for_tile(&self, model: Network, tile: Tile) -> Result<Objective> {
        let _no_grad = tch::no_grad_guard();
        let window = tile.window.of(&self.content)?;
        let content = LayerMaps::of(model, &window, &self.content_layers, Some(&tile))?;
        let build = TileBuild {
            model,
            tile,
            content: &content,
        };
        let terms = self
            .terms
            .iter()
            .map(|(term, tiled)| Ok((*term, tiled.tile(&build)?)))
            .collect::<Result<_>>()?;
        let strides = self
            .layers
            .iter()
            .map(|&l| model.backbone().stride(l))
            .collect();
        Ok(Objective {
            layers: self.layers.clone(),
            terms,
            tile: Some((tile, strides)),
        })
    }
}
