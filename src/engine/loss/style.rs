//! The style term: the Gram matrices of the style images at the style layers (relu1_1 … relu5_1
//! by default), blended by the styles' weights, or per region when styles have one (guided Gram
//! matrices, Gatys et al. 2017).

use tch::{Device, Kind, Tensor};

use super::{
    indices, stage_layers, stage_mask, window_at_layer, zero, Features, Gain, Inputs, StageBuild,
    StageKind, Term, TermTargets, TileBuild, TiledBuild, TiledTerm,
};
use crate::engine::config::settings::Settings;
use crate::engine::config::values::WeightedLayer;
use crate::engine::features::backbone::Network;
use crate::engine::image::mask::{layer_masks, weights_at_layer, LayerMask, Mask};
use crate::engine::image::source::{network_input, SourceImage};
use crate::engine::plan::schedule::{fit_long_side, Stage, MIN_SIDE};
use crate::engine::plan::tiles::GramSum;
use crate::error::{Error, Result};

/// A style image, its share of the blend, and where it applies.
#[derive(Clone)]
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

pub struct StyleTerm;

/// A style layer's blended Gram matrix to match, over the whole image or over a region.
struct LayerTarget {
    layer: usize,
    weight: f64,
    gram: Tensor,
    /// The region at this layer (and, in a tile, inside its margins): the loss compares the
    /// region's guided Gram matrix.
    region: Option<LayerMask>,
}

struct Targets(Vec<LayerTarget>);

fn has_regions(inputs: &Inputs) -> bool {
    inputs.styles.iter().any(|s| s.region.is_some())
}

impl Term for StyleTerm {
    fn name(&self) -> &'static str {
        "style"
    }

    fn gain(&self) -> Gain {
        Gain::Style
    }

    fn image_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
        Ok(indices(&stage_layers(inputs.settings, kind)?.1))
    }

    /// With regions, the content's maps at the style layers (for their sizes); none without.
    fn content_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
        if has_regions(inputs) {
            self.image_layers(inputs, kind)
        } else {
            Ok(Vec::new())
        }
    }

    fn whole(&self, build: &StageBuild) -> Result<Box<dyn TermTargets>> {
        let (model, settings) = (build.inputs.model, build.inputs.settings);
        let style_layers = settings.style_layers()?;
        let style_indices = indices(&style_layers);
        let grams_of = |input: &Tensor, style: &Style| {
            let features = model.features_at(input, &style_indices, None)?;
            style_grams(&features, input, style, build.device)
        };
        let groups = style_groups(
            build.inputs.styles,
            settings,
            build.stage,
            build.device,
            grams_of,
        )?;
        let targets = layer_targets(&style_layers, &groups, |mask, layer| {
            let (_, _, h, w) = build.content.at(layer)?.size4()?;
            weights_at_layer(mask, h, w)
        })?;
        Ok(Box::new(targets))
    }

    /// The Gram matrices of the whole style images at the stage's scale (global statistics,
    /// summed over tiles when an image is large), shared by the tiles.
    fn tiled(&self, build: &TiledBuild) -> Result<Box<dyn TiledTerm>> {
        let (model, settings, device) = (build.inputs.model, build.inputs.settings, build.device);
        let style_layers = stage_layers(settings, StageKind::Tiled)?.1;
        let style_indices = indices(&style_layers);
        let grams_of =
            |input: &Tensor, style: &Style| tiled_grams(model, build, input, style, &style_indices);
        let groups = style_groups(build.inputs.styles, settings, build.stage, device, grams_of)?;
        Ok(Box::new(Tiled {
            layers: style_layers,
            groups,
        }))
    }

    fn probe_key(&self, inputs: &Inputs) -> String {
        let regions = inputs
            .styles
            .iter()
            .filter(|s| s.blend > 0.0 && s.region.is_some())
            .count();
        match regions {
            0 => String::new(),
            n => format!("{n} regions"),
        }
    }
}

/// The Gram matrices of a style image's features summed over the tiles that partition it.
fn tiled_grams(
    model: Network,
    build: &TiledBuild,
    input: &Tensor,
    style: &Style,
    style_indices: &[usize],
) -> Result<Vec<Tensor>> {
    let (_, _, h, w) = input.size4()?;
    let source_mask = match &style.source_mask {
        Some(mask) => Some(mask.tensor_at(w as u32, h as u32, build.device)?),
        None => None,
    };
    // The style's statistics over its whole area (or its mask's): each tile adds the features
    // it owns.
    let mut sums: Vec<GramSum> = style_indices.iter().map(|_| GramSum::new()).collect();
    for tile in build.layout.partition(w as u32, h as u32) {
        if (build.cancelled)() {
            return Err(Error::Cancelled);
        }
        let features = model.features_at(
            &tile.window.of(input)?,
            style_indices,
            Some(tile.placement()),
        )?;
        for ((sum, f), layer) in sums.iter_mut().zip(features).zip(style_indices) {
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
    GramSum::finish_all(sums)
}

impl TermTargets for Targets {
    fn value(&self, features: &Features, image: &Tensor) -> Result<Tensor> {
        let mut sum = zero(image.device())?;
        for target in &self.0 {
            let here = features.at(target.layer);
            let term = match &target.region {
                None => super::style_loss(here, &target.gram),
                Some(region) => super::guided_style_loss(here, region, &target.gram),
            };
            sum = sum.f_add(&term.f_mul_scalar(target.weight)?)?;
        }
        Ok(sum)
    }
}

/// A tiled stage's style term: the tiled layers and the style groups (masks at the stage's
/// size, cut with each tile's window).
struct Tiled {
    layers: Vec<WeightedLayer>,
    groups: Vec<RegionGroup>,
}

impl TiledTerm for Tiled {
    fn tile(&self, build: &TileBuild) -> Result<Box<dyn TermTargets>> {
        let targets = layer_targets(&self.layers, &self.groups, |mask, layer| {
            let weights = window_at_layer(mask, &build.tile, build.content.at(layer)?)?;
            build.interior(&weights, layer)
        })?;
        Ok(Box::new(targets))
    }
}

/// The targets of `groups` at `layers`, each group's region cut to the layer (and tile) by
/// `region_at`; a layer the region does not reach (covers less than [`MIN_LAYER_AREA`] of: too
/// small there, or hardly reaching into a tile) is left out of that group. The regions' areas at
/// every layer are read back in one transfer.
///
/// [`MIN_LAYER_AREA`]: crate::engine::image::mask::MIN_LAYER_AREA
fn layer_targets(
    layers: &[WeightedLayer],
    groups: &[RegionGroup],
    mut region_at: impl FnMut(&Tensor, usize) -> Result<Tensor>,
) -> Result<Targets> {
    let mut weights = Vec::new();
    for group in groups {
        if let Some(mask) = &group.mask {
            for (&(layer, _), _) in layers.iter().zip(&group.grams) {
                weights.push(region_at(mask, layer)?);
            }
        }
    }
    let mut regions = layer_masks(weights)?.into_iter();
    let mut targets = Vec::new();
    for group in groups {
        for (&(layer, weight), gram) in layers.iter().zip(&group.grams) {
            let region = match &group.mask {
                None => None,
                Some(_) => match regions
                    .next()
                    .expect("a region for each layer of the group")
                {
                    Some(region) => Some(region),
                    None => continue,
                },
            };
            targets.push(LayerTarget {
                layer,
                weight: weight * group.share * region.as_ref().map_or(1.0, LayerMask::coverage),
                gram: gram.shallow_clone(),
                region,
            });
        }
    }
    Ok(Targets(targets))
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
        return Ok(features.iter().map(super::gram).collect());
    };
    let (_, _, h, w) = input.size4()?;
    let mask = mask.tensor_at(w as u32, h as u32, device)?;
    let weights = features
        .iter()
        .map(|f| {
            let (_, _, fh, fw) = f.size4()?;
            weights_at_layer(&mask, fh, fw)
        })
        .collect::<Result<Vec<_>>>()?;
    features
        .iter()
        .zip(layer_masks(weights)?)
        .map(|(f, region)| {
            let region = region.ok_or_else(|| {
                Error::arg(format!(
                    "the style image's mask selects too little of it ({w}×{h} px at this scale) \
                     for the deeper style layers: make the masked part larger or raise \
                     style_scale"
                ))
            })?;
            Ok(super::guided_gram(f, &region))
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

/// The style images of a stage as the network's inputs: each resampled to the stage's size
/// times `style_scale` (its own aspect), with its share of the blend among `styles`.
pub fn style_inputs<'s>(
    styles: &[&'s Style],
    style_scale: f64,
    stage: Stage,
    device: Device,
) -> Result<Vec<(&'s Style, Tensor, f64)>> {
    let blend_total: f64 = styles.iter().map(|s| s.blend).sum();
    let long_side =
        ((stage.width.max(stage.height) as f64 * style_scale).round() as u32).max(MIN_SIDE);
    styles
        .iter()
        .filter(|s| s.blend > 0.0)
        .map(|style| {
            let (w, h) = fit_long_side(style.image.width(), style.image.height(), long_side);
            let input = network_input(&style.image, w.max(MIN_SIDE), h.max(MIN_SIDE), device)?;
            Ok((*style, input, style.blend / blend_total))
        })
        .collect()
}

/// The style Gram matrices of a stage, one per style layer, blended over the styles by their
/// weights ([`style_inputs`] handed to `grams_of`).
fn blended_style_grams(
    styles: &[&Style],
    style_scale: f64,
    stage: Stage,
    device: Device,
    mut grams_of: impl FnMut(&Tensor, &Style) -> Result<Vec<Tensor>>,
) -> Result<Vec<Tensor>> {
    let mut blended: Vec<Tensor> = Vec::new();
    for (style, input, share) in style_inputs(styles, style_scale, stage, device)? {
        let grams = grams_of(&input, style)?;
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
