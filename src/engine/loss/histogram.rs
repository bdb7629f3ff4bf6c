//! The histogram term (Risser, Wilmot & Barnes 2017, "Stable and Controllable Neural Texture
//! Synthesis and Style Transfer Using Histogram Losses"): each channel of the image's features
//! at relu1_1 and relu4_1 (block0 and block7 on lite; a tiled stage keeps the layers its tiles
//! reach) is matched to the style's distribution of that channel. The image's activations are
//! ranked, the activation of rank r is given the style's quantile at (r + ½)/N, and the term is
//! the mean squared distance to that remapped map, held constant, as in the paper. Gram matrices
//! match second moments only; the histograms hold the colours' and the strokes' whole
//! distribution and steady the result where Gram matching alone flickers or washes out.
//!
//! Several styles blend their quantile functions by their weights (the 1-D Wasserstein
//! barycentre); the term takes each style image whole (regions and source masks shape the Gram
//! term only). In a tiled stage a large style image's distribution is the mean of its tiles'.
//! Off by default (`histogram_weight` 0): it sorts every channel of the image's maps at each
//! evaluation, which at relu1_1 costs about as much as the rest of an evaluation.

use tch::{Kind, Tensor};

use super::style::style_inputs;
use super::{
    Features, Gain, Inputs, StageBuild, StageKind, Term, TermTargets, TileBuild, TiledBuild,
    TiledTerm,
};
use crate::engine::features::backbone::Network;
use crate::error::{Error, Result};

pub struct Histogram;

/// Quantiles kept per channel: enough for a smooth quantile function, small beside the maps.
const QUANTILES: i64 = 1024;

/// Which of the backbone's default style layers the term uses (the paper's relu1_1 and relu4_1
/// on VGG-19).
const STYLE_LAYER_PICKS: [usize; 2] = [0, 3];

/// Each layer's blended quantile functions, [C, QUANTILES].
struct Targets(Vec<(usize, Tensor)>);

fn layers(inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
    let backbone = inputs.settings.backbone;
    let defaults: Vec<&str> = backbone.default_style_layers().split(',').collect();
    let mut layers = Vec::new();
    for pick in STYLE_LAYER_PICKS {
        let name = defaults
            .get(pick)
            .ok_or_else(|| Error::Internal("a backbone has five default style layers".into()))?;
        let layer = backbone.layer_index(name.trim())?;
        if kind == StageKind::Whole || layer <= backbone.tile_deepest() {
            layers.push(layer);
        }
    }
    Ok(layers)
}

impl Term for Histogram {
    fn name(&self) -> &'static str {
        "histogram"
    }

    fn gain(&self) -> Gain {
        Gain::Style
    }

    fn applies(&self, inputs: &Inputs) -> bool {
        inputs.settings.weights.get("histogram") > 0.0
    }

    fn image_layers(&self, inputs: &Inputs, kind: StageKind) -> Result<Vec<usize>> {
        layers(inputs, kind)
    }

    fn whole(&self, build: &StageBuild) -> Result<Box<dyn TermTargets>> {
        let layers = layers(build.inputs, StageKind::Whole)?;
        let quantiles_of = |input: &Tensor| -> Result<Vec<Tensor>> {
            build
                .inputs
                .model
                .features_at(input, &layers, None)?
                .iter()
                .map(|f| quantiles(f, QUANTILES))
                .collect()
        };
        Ok(Box::new(blended(
            build.inputs,
            build.stage,
            &layers,
            quantiles_of,
        )?))
    }

    fn tiled(&self, build: &TiledBuild) -> Result<Box<dyn TiledTerm>> {
        let layers = layers(build.inputs, StageKind::Tiled)?;
        let model = build.inputs.model;
        let quantiles_of = |input: &Tensor| -> Result<Vec<Tensor>> {
            tiled_quantiles(model, build, input, &layers)
        };
        Ok(Box::new(blended(
            build.inputs,
            build.stage,
            &layers,
            quantiles_of,
        )?))
    }

    fn probe_key(&self, _inputs: &Inputs) -> String {
        "histogram".into()
    }
}

/// The quantile functions of every style, blended by the styles' shares.
fn blended(
    inputs: &Inputs,
    stage: crate::engine::plan::schedule::Stage,
    layers: &[usize],
    mut quantiles_of: impl FnMut(&Tensor) -> Result<Vec<Tensor>>,
) -> Result<Targets> {
    let _no_grad = tch::no_grad_guard();
    let styles: Vec<_> = inputs.styles.iter().collect();
    let device = inputs.model.device();
    let mut sum: Option<Vec<Tensor>> = None;
    for (_, input, share) in style_inputs(&styles, inputs.settings.style_scale, stage, device)? {
        let weighted = quantiles_of(&input)?
            .iter()
            .map(|q| q.f_mul_scalar(share))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        sum = Some(match sum {
            None => weighted,
            Some(sum) => sum
                .iter()
                .zip(&weighted)
                .map(|(a, b)| a.f_add(b))
                .collect::<std::result::Result<_, _>>()?,
        });
    }
    let sum = sum.ok_or_else(|| Error::State("no style with a blend weight above 0".into()))?;
    Ok(Targets(layers.iter().copied().zip(sum).collect()))
}

/// A large style image in a tiled stage: the mean of its tiles' quantile functions, weighted by
/// the positions each tile owns.
fn tiled_quantiles(
    model: Network,
    build: &TiledBuild,
    input: &Tensor,
    layers: &[usize],
) -> Result<Vec<Tensor>> {
    let (_, _, h, w) = input.size4()?;
    let mut sums: Vec<Option<Tensor>> = layers.iter().map(|_| None).collect();
    let mut owned = vec![0i64; layers.len()];
    for tile in build.layout.partition(w as u32, h as u32) {
        if (build.cancelled)() {
            return Err(Error::Cancelled);
        }
        let features =
            model.features_at(&tile.window.of(input)?, layers, Some(tile.placement()))?;
        for (i, (f, layer)) in features.iter().zip(layers).enumerate() {
            let inside = tile.interior(f, model.backbone().stride(*layer))?;
            let (_, _, fh, fw) = inside.size4()?;
            let q = quantiles(&inside, QUANTILES)?.f_mul_scalar((fh * fw) as f64)?;
            owned[i] += fh * fw;
            sums[i] = Some(match sums[i].take() {
                None => q,
                Some(sum) => sum.f_add(&q)?,
            });
        }
    }
    sums.into_iter()
        .zip(owned)
        .map(|(sum, n)| {
            let sum = sum.ok_or_else(|| Error::Internal("a style image without tiles".into()))?;
            Ok(sum.f_div_scalar(n.max(1) as f64)?)
        })
        .collect()
}

/// Each channel's sorted values of `features` ([1, C, H, W]) resampled to `count` quantiles:
/// [C, count], fp32.
fn quantiles(features: &Tensor, count: i64) -> Result<Tensor> {
    let (_, channels, _, _) = features.size4()?;
    let flat = features.f_to_kind(Kind::Float)?.f_reshape([channels, -1])?;
    let (sorted, _) = flat.f_sort(1, false)?;
    resample(&sorted, count)
}

/// Linear interpolation of sorted rows ([C, M]) at `count` evenly spaced ranks, each the centre
/// of its 1/count of the distribution: [C, count].
fn resample(sorted: &Tensor, count: i64) -> Result<Tensor> {
    let (_, m) = sorted.size2()?;
    let device = sorted.device();
    let position = Tensor::f_arange(count, (Kind::Float, device))?
        .f_add_scalar(0.5)?
        .f_mul_scalar(m as f64 / count as f64)?
        .f_sub_scalar(0.5)?
        .f_clamp(0.0, (m - 1) as f64)?;
    let low = position.f_floor()?;
    let fraction = position.f_sub(&low)?.f_unsqueeze(0)?;
    let low = low.f_to_kind(Kind::Int64)?;
    let high = low.f_add_scalar(1)?.f_clamp_max(m - 1)?;
    let at = |index: &Tensor| sorted.f_index_select(1, index);
    let (low, high) = (at(&low)?, at(&high)?);
    Ok(low.f_add(&high.f_sub(&low)?.f_mul(&fraction)?)?)
}

/// Mean squared distance of `features` ([1, C, H, W]) to themselves remapped onto the target
/// quantile functions ([C, Q]) rank for rank; the remapped map is a constant.
fn histogram_loss(features: &Tensor, target: &Tensor) -> Result<Tensor> {
    let (_, channels, _, _) = features.size4()?;
    let flat = features.f_to_kind(Kind::Float)?.f_reshape([channels, -1])?;
    let matched = {
        let _no_grad = tch::no_grad_guard();
        let (_, n) = flat.size2()?;
        let order = flat.f_argsort(1, false)?;
        let values = resample(target, n)?;
        flat.f_zeros_like()?.f_scatter(1, &order, &values)?
    };
    Ok(flat.f_sub(&matched)?.f_square()?.f_mean(Kind::Float)?)
}

impl TermTargets for Targets {
    fn value(&self, features: &Features, image: &Tensor) -> Result<Tensor> {
        let mut sum = super::zero(image.device())?;
        for (layer, target) in &self.0 {
            sum = sum.f_add(&histogram_loss(features.at(*layer), target)?)?;
        }
        Ok(sum)
    }
}

impl TiledTerm for Targets {
    fn tile(&self, _build: &TileBuild) -> Result<Box<dyn TermTargets>> {
        let layers = self
            .0
            .iter()
            .map(|(l, t)| (*l, t.shallow_clone()))
            .collect();
        Ok(Box::new(Targets(layers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remapping_onto_its_own_quantiles_costs_almost_nothing() {
        let map = Tensor::rand([1, 3, 16, 16], (Kind::Float, tch::Device::Cpu));
        // With as many quantiles as positions, the quantile function is the sorted map itself.
        let own = quantiles(&map, 256).unwrap();
        let loss = histogram_loss(&map, &own).unwrap().double_value(&[]);
        assert!(loss < 1e-12, "{loss}");
    }

    #[test]
    fn a_shifted_distribution_costs_the_square_of_the_shift() {
        let map = Tensor::rand([1, 2, 8, 8], (Kind::Float, tch::Device::Cpu));
        let shifted = quantiles(&map, 64).unwrap().f_add_scalar(3.0).unwrap();
        let loss = histogram_loss(&map, &shifted).unwrap().double_value(&[]);
        assert!((loss - 9.0).abs() < 1e-4, "{loss}");
    }

    #[test]
    fn the_gradient_pulls_each_value_towards_its_rank_in_the_target() {
        // One channel, values 0..4 in a scrambled order; target quantiles 10..14.
        let map = Tensor::from_slice(&[2.0f32, 0.0, 3.0, 1.0])
            .reshape([1, 1, 2, 2])
            .set_requires_grad(true);
        let target = Tensor::from_slice(&[10.0f32, 11.0, 12.0, 13.0]).reshape([1, 4]);
        histogram_loss(&map, &target).unwrap().backward();
        let grad: Vec<f32> = map.grad().flatten(0, -1).try_into().unwrap();
        // d/dx mean((x - m)²) = 2 (x - m) / 4, and every value sits 10 below its match.
        assert_eq!(grad, vec![-5.0; 4]);
    }
}
