//! The Gatys objective of one stage: its loss targets (computed once per stage, without autograd)
//! and the evaluation of loss and image gradient at a point.

use tch::{Device, Kind, Tensor};

use crate::engine::loss::{
    content_loss, gram, guided_gram, guided_style_loss, style_loss, total_variation,
    weighted_content_loss,
};
use crate::engine::loss_parts::LossParts;
use crate::engine::mask::{
    at_layer, content_weights, content_weights_at_layer, layer_mask, soften, LayerMask, Mask,
};
use crate::engine::network::Network;
use crate::engine::optim::{gradient_facts, Evaluation};
use crate::engine::schedule::{fit_long_side, Stage, MIN_SIDE};
use crate::engine::settings::{LossWeights, Settings, WeightedLayer};
use crate::engine::source::SourceImage;
use crate::engine::temporal::{StageTemporal, TemporalTarget};
use crate::engine::tiles::{GramSum, Layout, Tile};
use crate::engine::vgg::rgb_to_caffe;
use crate::error::{Error, Result};

/// A style image, its share of the blend, and where it applies.
pub struct Style {
    pub image: SourceImage,
    /// Styles without a region are blended, their weights normalised over them; a style with a
    /// region has its own term, scaled by its weight (1: as a single style).
    pub blend: f64,
    /// Where on the content this style paints (spatial control). None: everywhere when no style
    /// has a region; otherwise where no region is (styles without one share "the rest").
    pub region: Option<Mask>,
    /// Which part of the style image the style is taken from (None: all of it).
    pub source_mask: Option<Mask>,
}

impl Style {
    pub fn new(image: SourceImage, blend: f64) -> Style {
        Style {
            image,
            blend,
            region: None,
            source_mask: None,
        }
    }
}

/// A content layer's features to stay close to.
struct ContentTarget {
    /// Index into [`Targets::layers`] (and so into the features of one pass).
    slot: usize,
    weight: f64,
    features: Tensor,
    /// The weight of each position (from the content mask; None: 1 everywhere).
    weights: Option<Tensor>,
}

/// A style layer's blended Gram matrix to match, over the whole image or over a region.
struct StyleTarget {
    slot: usize,
    weight: f64,
    gram: Tensor,
    /// The region at this layer (and, in a tile, inside its margins): the loss compares the
    /// region's guided Gram matrix.
    region: Option<LayerMask>,
}

/// The loss targets of one stage, or of one tile of a tiled stage.
pub struct Targets {
    /// Union of the content and style layers (indices of the backbone), in network order: one
    /// forward pass serves all.
    layers: Vec<usize>,
    content: Vec<ContentTarget>,
    style: Vec<StyleTarget>,
    /// For a tile: the tile and each slot's stride, so that the loss sees only the features its
    /// margins leave (see [`crate::engine::tiles`]).
    tile: Option<(Tile, Vec<u32>)>,
    /// The temporal target at this stage's (or tile's) size, with the term's weight.
    temporal: Option<(StageTemporal, f64)>,
}

impl Targets {
    /// Content features and blended style Gram matrices at `stage`'s size; with a content
    /// mask, the content term weighted by it (`content_mask_gain` inside).
    pub fn build(
        model: Network,
        settings: &Settings,
        content: &SourceImage,
        styles: &[Style],
        content_mask: Option<&Mask>,
        temporal: Option<&TemporalTarget>,
        stage: Stage,
    ) -> Result<Targets> {
        let _no_grad = tch::no_grad_guard();
        let device = model.device();
        let (content_layers, style_layers) = (settings.content_layers()?, settings.style_layers()?);
        let layers = layer_union(&content_layers, &style_layers);
        let slot = |layer: usize| layers.iter().position(|l| *l == layer).expect("in union");

        let content_input = network_input(content, stage.width, stage.height, device)?;
        let content_indices: Vec<usize> = content_layers.iter().map(|(l, _)| *l).collect();
        let content_features = model.features(&content_input, &content_indices)?;
        let content_mask = content_mask
            .map(|mask| stage_mask(mask, stage, settings.mask_softness, device))
            .transpose()?;
        let content_targets = content_layers
            .iter()
            .zip(content_features)
            .map(|((layer, weight), features)| {
                let weights = match &content_mask {
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
                Ok(ContentTarget {
                    slot: slot(*layer),
                    weight: *weight,
                    features,
                    weights,
                })
            })
            .collect::<Result<_>>()?;

        let style_indices: Vec<usize> = style_layers.iter().map(|(l, _)| *l).collect();
        let grams_of = |input: &Tensor, style: &Style| {
            let features = model.features(input, &style_indices)?;
            style_grams(&features, input, style, device)
        };
        let groups = style_groups(styles, settings, stage, device, grams_of)?;
        // The layers' sizes at this stage, for the regions: one pass of the content (only when
        // a style has a region: a run without stays exactly as it was).
        let sizes = if groups.iter().any(|g| g.mask.is_some()) {
            model
                .features(&content_input, &style_indices)?
                .iter()
                .map(|f| Ok(f.size4().map(|(_, _, h, w)| (h, w))?))
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let mut style_targets = Vec::new();
        for group in &groups {
            for (index, (&(layer, weight), gram)) in
                style_layers.iter().zip(&group.grams).enumerate()
            {
                let region = match &group.mask {
                    None => None,
                    Some(mask) => {
                        let (h, w) = sizes[index];
                        match at_layer(mask, h, w)? {
                            Some(region) => Some(region),
                            None => continue, // the region is too small at this layer
                        }
                    }
                };
                style_targets.push(StyleTarget {
                    slot: slot(layer),
                    weight: weight * group.share * region.as_ref().map_or(1.0, LayerMask::coverage),
                    gram: gram.shallow_clone(),
                    region,
                });
            }
        }
        Ok(Targets {
            layers,
            content: content_targets,
            style: style_targets,
            tile: None,
            temporal: temporal
                .map(|t| Ok::<_, Error>((t.at(stage.width, stage.height, device)?, t.weight())))
                .transpose()?,
        })
    }

    /// Loss and image gradient at `point` (Caffe space): one forward and one backward pass, and
    /// one read-back of everything the host decides on.
    pub fn evaluate(
        &self,
        model: Network,
        weights: LossWeights,
        point: &Tensor,
    ) -> Result<Evaluation> {
        let image = point.f_detach()?.set_requires_grad(true);
        let tile = self.tile.as_ref().map(|(tile, _)| tile);
        let mut features = model.loss_features(&image, &self.layers, tile)?;
        if let Some((tile, strides)) = &self.tile {
            features = features
                .iter()
                .zip(strides)
                .map(|(f, &stride)| tile.interior(f, stride))
                .collect::<Result<_>>()?;
        }
        let zero = || Tensor::f_zeros([], (Kind::Float, point.device()));
        let mut content = zero()?;
        if weights.content > 0.0 {
            for target in &self.content {
                let term = match &target.weights {
                    None => content_loss(&features[target.slot], &target.features),
                    Some(weights) => {
                        weighted_content_loss(&features[target.slot], &target.features, weights)
                    }
                };
                content = content.f_add(&term.f_mul_scalar(target.weight)?)?;
            }
        }
        let mut style = zero()?;
        if weights.style > 0.0 {
            for target in &self.style {
                let features = &features[target.slot];
                let term = match &target.region {
                    None => style_loss(features, &target.gram),
                    Some(region) => guided_style_loss(features, region, &target.gram),
                };
                style = style.f_add(&term.f_mul_scalar(target.weight)?)?;
            }
        }
        let tv = if weights.tv > 0.0 {
            total_variation(&image)
        } else {
            zero()?
        };
        let temporal = match &self.temporal {
            Some((target, weight)) if *weight > 0.0 => {
                target.loss(&image)?.f_mul_scalar(*weight)?
            }
            _ => zero()?,
        };
        let content = content.f_mul_scalar(weights.content)?;
        let style = style.f_mul_scalar(weights.style)?;
        let tv = tv.f_mul_scalar(weights.tv)?;
        let total = content.f_add(&style)?.f_add(&tv)?.f_add(&temporal)?;
        let grad = if total.requires_grad() {
            total.f_backward()?;
            image.grad()
        } else {
            point.f_zeros_like()?
        };
        let [finite, max_abs] = gradient_facts(&grad);
        let scalars = [&total, &content, &style, &tv, &temporal]
            .map(|t| t.to_kind(Kind::Double))
            .into_iter()
            .chain([finite, max_abs]);
        let read = Tensor::f_stack(&scalars.collect::<Vec<_>>(), 0)?.f_to_device(Device::Cpu)?;
        let values = Vec::<f64>::try_from(read)?;
        Ok(Evaluation {
            parts: LossParts {
                total: values[0],
                content: values[1],
                style: values[2],
                tv: values[3],
                temporal: values[4],
            },
            grad,
            grad_finite: values[5] != 0.0,
            grad_max_abs: values[6],
        })
    }
}

/// Every layer of either list, in network order, once: one forward pass serves them all.
fn layer_union(content: &[WeightedLayer], style: &[WeightedLayer]) -> Vec<usize> {
    let mut layers: Vec<usize> = content.iter().chain(style).map(|(l, _)| *l).collect();
    layers.sort();
    layers.dedup();
    layers
}

/// The Gram matrices of a style's features (of `input`, the style image as the network's input):
/// plain, or guided by the style's source mask when it has one.
fn style_grams(
    features: &[Tensor],
    input: &Tensor,
    style: &Style,
    device: Device,
) -> Result<Vec<Tensor>> {
    let Some(mask) = &style.source_mask else {
        return Ok(features.iter().map(gram).collect());
    };
    let (_, _, h, w) = input.size4()?;
    let mask = mask.tensor_at(w as u32, h as u32, device)?;
    features
        .iter()
        .map(|f| {
            let (_, _, fh, fw) = f.size4()?;
            let region = at_layer(&mask, fh, fw)?.ok_or_else(|| {
                Error::arg(format!(
                    "the style image's mask selects too little of it ({w}×{h} px at this scale) \
                     for the deeper style layers: make the masked part larger or raise \
                     style_scale"
                ))
            })?;
            Ok(guided_gram(f, &region))
        })
        .collect()
}

/// Styles matched over one region: their blended Gram matrices (one per style layer), the
/// region's mask at the stage's size ([1, 1, H, W]; None: the whole image) and the share of the
/// style weight their term gets.
struct RegionGroup {
    mask: Option<Tensor>,
    grams: Vec<Tensor>,
    share: f64,
}

/// The style terms of a stage. Without regions, one group: every style blended over the whole
/// image (as before regions existed). With regions, each style with one its own group over its
/// region, scaled by its blend weight, and the styles without one blended into a group over the
/// rest (1 minus the regions, clamped); where neither reaches, only the content term holds the
/// image.
fn style_groups(
    styles: &[Style],
    settings: &Settings,
    stage: Stage,
    device: Device,
    mut grams_of: impl FnMut(&Tensor, &Style) -> Result<Vec<Tensor>>,
) -> Result<Vec<RegionGroup>> {
    if styles.iter().all(|s| s.region.is_none()) {
        let all: Vec<&Style> = styles.iter().collect();
        return Ok(vec![RegionGroup {
            mask: None,
            grams: blended_style_grams(&all, settings.style_scale, stage, device, grams_of)?,
            share: 1.0,
        }]);
    }
    let mut groups = Vec::new();
    let mut covered = Tensor::f_zeros(
        [1, 1, stage.height as i64, stage.width as i64],
        (Kind::Float, device),
    )?;
    for style in styles.iter().filter(|s| s.blend > 0.0) {
        let Some(region) = &style.region else {
            continue;
        };
        let mask = stage_mask(region, stage, settings.mask_softness, device)?;
        covered = covered.f_add(&mask)?;
        groups.push(RegionGroup {
            grams: blended_style_grams(
                &[style],
                settings.style_scale,
                stage,
                device,
                &mut grams_of,
            )?,
            mask: Some(mask),
            share: style.blend,
        });
    }
    let rest: Vec<&Style> = styles
        .iter()
        .filter(|s| s.blend > 0.0 && s.region.is_none())
        .collect();
    if !rest.is_empty() {
        groups.push(RegionGroup {
            mask: Some(covered.f_neg()?.f_add_scalar(1.0)?.f_clamp(0.0, 1.0)?),
            grams: blended_style_grams(&rest, settings.style_scale, stage, device, &mut grams_of)?,
            share: 1.0,
        });
    }
    Ok(groups)
}

/// A region or content mask at the stage's size ([1, 1, H, W]), softened by `mask_softness`.
fn stage_mask(mask: &Mask, stage: Stage, softness: f64, device: Device) -> Result<Tensor> {
    soften(
        &mask.tensor_at(stage.width, stage.height, device)?,
        softness,
    )
}

/// The style Gram matrices of a stage, one per style layer, blended over the styles by their
/// weights. Each style image is resampled to the stage's size times `style_scale` (its own
/// aspect) and handed to `grams_of` as a network input.
fn blended_style_grams(
    styles: &[&Style],
    style_scale: f64,
    stage: Stage,
    device: Device,
    mut grams_of: impl FnMut(&Tensor, &Style) -> Result<Vec<Tensor>>,
) -> Result<Vec<Tensor>> {
    let blend_total: f64 = styles.iter().map(|s| s.blend).sum();
    let long_side =
        ((stage.width.max(stage.height) as f64 * style_scale).round() as u32).max(MIN_SIDE);
    let mut blended: Vec<Tensor> = Vec::new();
    for style in styles.iter().filter(|s| s.blend > 0.0) {
        let (w, h) = fit_long_side(style.image.width(), style.image.height(), long_side);
        let input = network_input(&style.image, w.max(MIN_SIDE), h.max(MIN_SIDE), device)?;
        let grams = grams_of(&input, style)?;
        let share = style.blend / blend_total;
        blended = if blended.is_empty() {
            grams
                .iter()
                .map(|g| g.f_mul_scalar(share))
                .collect::<std::result::Result<_, _>>()?
        } else {
            blended
                .iter()
                .zip(&grams)
                .map(|(sum, g)| sum.f_add(&g.f_mul_scalar(share)?))
                .collect::<std::result::Result<_, _>>()?
        };
    }
    if blended.is_empty() {
        return Err(Error::State("no style with a blend weight above 0".into()));
    }
    Ok(blended)
}

/// `image` at `width`×`height` as the network's input on `device`.
pub fn network_input(
    image: &SourceImage,
    width: u32,
    height: u32,
    device: Device,
) -> Result<Tensor> {
    rgb_to_caffe(&image.picture_at(width, height)?.to_tensor(device)?)
}

/// The window of `tile` cut from `mask` (over the tile's image), averaged over the positions
/// of `features` (that window's features at some layer, margins included).
fn window_at_layer(mask: &Tensor, tile: &Tile, features: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = features.size4()?;
    Ok(tile.window.of(mask)?.f_adaptive_avg_pool2d([h, w])?)
}

/// What a tiled stage shares between its tiles: the layers it uses (those no deeper than
/// [`Backbone::tile_deepest`](crate::engine::network::Backbone::tile_deepest)), the style Gram matrices of the whole style images at the stage's scale
/// (global statistics, summed over tiles when an image is large), and the content image at the
/// stage's size, from which each tile's content targets are cut when the tile is visited.
pub struct TiledTargets {
    layers: Vec<usize>,
    content_layers: Vec<WeightedLayer>,
    style_layers: Vec<WeightedLayer>,
    /// The style terms: the whole image's, or one per region (masks at the stage's size, cut
    /// with each tile's window).
    groups: Vec<RegionGroup>,
    content: Tensor,
    /// The content mask at the stage's size (softened) with `content_mask_gain`.
    content_mask: Option<(Tensor, f64)>,
    temporal: Option<(StageTemporal, f64)>,
}

/// Share of a content layer's weight it keeps when a tiled stage moves it up to the backbone's
/// deepest tile layer. Measured on VGG-19: at relu3_1 the content term is much stiffer than at relu4_2: with its full
/// weight the tiled scale kept the photo far more than the whole-image scale (SSIM 0.39 against
/// 0.10, style distance 0.72 against 0.58 on the test images); without it the painting ran over
/// the structure (style distance 0.56 but houses washed out on tubingen × starry night); a fifth
/// measured SSIM 0.31, style distance 0.63 and kept the houses. On Lite0 (content block7 moved to
/// block2; tubingen at 1024 px, 256 px tiles) the share hardly matters: from 0.05 to 1, SSIM
/// 0.364–0.374 / style 0.420–0.426 on starry night and 0.578–0.601 / 1.19 on the scream (whole,
/// untiled: 0.405 / 0.426 and 0.627 / 0.99), so it stays one value for both backbones.
const TILED_CONTENT_SHARE: f64 = 0.2;

/// The content and style layers a tiled stage uses: style layers deeper than the backbone's
/// deepest tile layer are left out (the lower scales matched them); content layers deeper than it move up to it with
/// [`TILED_CONTENT_SHARE`] of their weight, so that the photo's structure still holds the tiles
/// together without holding back the brush texture.
pub fn tiled_layers(settings: &Settings) -> Result<(Vec<WeightedLayer>, Vec<WeightedLayer>)> {
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

impl TiledTargets {
    /// Targets shared by the tiles of `stage`, cut by `layout`. Checks `cancelled` between style
    /// tiles (a large style image takes a while); nothing is kept on an error.
    pub fn build(
        model: Network,
        settings: &Settings,
        content: &SourceImage,
        styles: &[Style],
        stage: Stage,
        layout: &Layout,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<TiledTargets> {
        let _no_grad = tch::no_grad_guard();
        let device = model.device();
        let (content_layers, style_layers) = tiled_layers(settings)?;
        let layers = layer_union(&content_layers, &style_layers);
        let style_indices: Vec<usize> = style_layers.iter().map(|(l, _)| *l).collect();
        let grams_of = |input: &Tensor, style: &Style| {
            let (_, _, h, w) = input.size4()?;
            let source_mask = match &style.source_mask {
                Some(mask) => Some(mask.tensor_at(w as u32, h as u32, device)?),
                None => None,
            };
            // The style's statistics over its whole area (or its mask's): each tile adds the
            // features it owns.
            let mut sums: Vec<GramSum> = style_indices.iter().map(|_| GramSum::new()).collect();
            for tile in layout.partition(w as u32, h as u32) {
                if cancelled() {
                    return Err(Error::Cancelled);
                }
                let features =
                    model.tile_features(&tile.window.of(input)?, &style_indices, &tile)?;
                for ((sum, f), layer) in sums.iter_mut().zip(features).zip(&style_indices) {
                    let stride = model.backbone().stride(*layer);
                    match &source_mask {
                        None => sum.add(&tile.interior(&f, stride)?)?,
                        Some(mask) => {
                            let weights = window_at_layer(mask, &tile, &f)?;
                            sum.add_weighted(
                                &tile.interior(&f, stride)?,
                                &tile.interior(&weights, stride)?,
                            )?
                        }
                    }
                }
            }
            sums.into_iter().map(GramSum::finish).collect()
        };
        let groups = style_groups(styles, settings, stage, device, grams_of)?;
        Ok(TiledTargets {
            layers,
            content_layers,
            style_layers,
            groups,
            content: network_input(content, stage.width, stage.height, device)?,
            content_mask: None,
            temporal: None,
        })
    }

    /// These targets with the content term weighted by `mask` (cut to each tile's window).
    pub fn with_content_mask(
        mut self,
        mask: Option<&Mask>,
        settings: &Settings,
        stage: Stage,
        device: Device,
    ) -> Result<TiledTargets> {
        self.content_mask = mask
            .map(|m| {
                let at_stage = stage_mask(m, stage, settings.mask_softness, device)?;
                Ok::<_, Error>((at_stage, settings.content_mask_gain))
            })
            .transpose()?;
        Ok(self)
    }

    /// These targets with a temporal target at the stage's size (cut to each tile's window when
    /// the tile is visited).
    pub fn with_temporal(
        mut self,
        temporal: Option<&TemporalTarget>,
        stage: Stage,
        device: Device,
    ) -> Result<TiledTargets> {
        self.temporal = temporal
            .map(|t| Ok::<_, Error>((t.at(stage.width, stage.height, device)?, t.weight())))
            .transpose()?;
        Ok(self)
    }

    /// The targets of one tile: the content's features in the tile's window (inside its
    /// margins) and the stage's style Gram matrices.
    pub fn for_tile(&self, model: Network, tile: Tile) -> Result<Targets> {
        let _no_grad = tch::no_grad_guard();
        let slot = |layer: usize| {
            self.layers
                .iter()
                .position(|l| *l == layer)
                .expect("in union")
        };
        let regions = self.groups.iter().any(|g| g.mask.is_some());
        // With regions, the style layers' maps too (for their sizes; in a tiled stage they are
        // no deeper than the content's, so this costs little).
        let indices: Vec<usize> = if regions {
            self.layers.clone()
        } else {
            self.content_layers.iter().map(|(l, _)| *l).collect()
        };
        let features = model.tile_features(&tile.window.of(&self.content)?, &indices, &tile)?;
        let of_layer = |layer: usize| &features[indices.iter().position(|l| *l == layer).unwrap()];
        let stride = |layer: usize| model.backbone().stride(layer);
        let content = self
            .content_layers
            .iter()
            .map(|&(layer, weight)| {
                let weights = match &self.content_mask {
                    None => None,
                    Some((mask, gain)) => {
                        let at_layer = window_at_layer(mask, &tile, of_layer(layer))?;
                        Some(content_weights(
                            tile.interior(&at_layer, stride(layer))?,
                            *gain,
                        )?)
                    }
                };
                Ok(ContentTarget {
                    slot: slot(layer),
                    weight,
                    features: tile.interior(of_layer(layer), stride(layer))?,
                    weights,
                })
            })
            .collect::<Result<_>>()?;
        let mut style = Vec::new();
        for group in &self.groups {
            for (&(layer, weight), gram) in self.style_layers.iter().zip(&group.grams) {
                let region = match &group.mask {
                    None => None,
                    Some(mask) => {
                        let weights = window_at_layer(mask, &tile, of_layer(layer))?;
                        let inside = tile.interior(&weights, stride(layer))?;
                        match layer_mask(inside)? {
                            Some(region) => Some(region),
                            None => continue, // the region hardly reaches into this tile
                        }
                    }
                };
                style.push(StyleTarget {
                    slot: slot(layer),
                    weight: weight * group.share * region.as_ref().map_or(1.0, LayerMask::coverage),
                    gram: gram.shallow_clone(),
                    region,
                });
            }
        }
        Ok(Targets {
            layers: self.layers.clone(),
            content,
            style,
            tile: Some((tile, self.layers.iter().map(|&l| stride(l)).collect())),
            temporal: self
                .temporal
                .as_ref()
                .map(|(t, weight)| Ok::<_, Error>((t.window(&tile.window)?, *weight)))
                .transpose()?,
        })
    }
}
