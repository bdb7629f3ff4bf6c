//! The Gatys objective of one stage: its loss targets (computed once per stage, without autograd)
//! and the evaluation of loss and image gradient at a point.

use tch::{Device, Kind, Tensor};

use crate::engine::loss::{content_loss, gram, style_loss, total_variation};
use crate::engine::loss_parts::LossParts;
use crate::engine::network::Network;
use crate::engine::optim::{gradient_facts, Evaluation};
use crate::engine::schedule::{fit_long_side, Stage, MIN_SIDE};
use crate::engine::settings::{LossWeights, Settings};
use crate::engine::source::SourceImage;
use crate::engine::vgg::rgb_to_caffe;
use crate::error::Result;

/// A style image and its share of the blend (weights are normalised over all styles).
pub struct Style {
    pub image: SourceImage,
    pub blend: f64,
}

/// A content layer's features to stay close to.
struct ContentTarget {
    /// Index into [`Targets::layers`] (and so into the features of one pass).
    slot: usize,
    weight: f64,
    features: Tensor,
}

/// A style layer's blended Gram matrix to match.
struct StyleTarget {
    slot: usize,
    weight: f64,
    gram: Tensor,
}

/// The loss targets of one stage.
pub struct Targets {
    /// Union of the content and style layers (indices of the backbone), in network order: one
    /// forward pass serves all.
    layers: Vec<usize>,
    content: Vec<ContentTarget>,
    style: Vec<StyleTarget>,
}

impl Targets {
    /// Content features and blended style Gram matrices at `stage`'s size.
    pub fn build(
        model: Network,
        settings: &Settings,
        content: &SourceImage,
        styles: &[Style],
        stage: Stage,
    ) -> Result<Targets> {
        let _no_grad = tch::no_grad_guard();
        let device = model.device();
        let (content_layers, style_layers) = (settings.content_layers()?, settings.style_layers()?);
        let mut layers: Vec<usize> = content_layers
            .iter()
            .chain(&style_layers)
            .map(|(l, _)| *l)
            .collect();
        layers.sort();
        layers.dedup();
        let slot = |layer: usize| layers.iter().position(|l| *l == layer).expect("in union");

        let content_input = network_input(content, stage.width, stage.height, device)?;
        let content_indices: Vec<usize> = content_layers.iter().map(|(l, _)| *l).collect();
        let content_features = model.features(&content_input, &content_indices)?;
        let content_targets = content_layers
            .iter()
            .zip(content_features)
            .map(|((layer, weight), features)| ContentTarget {
                slot: slot(*layer),
                weight: *weight,
                features,
            })
            .collect();

        let style_indices: Vec<usize> = style_layers.iter().map(|(l, _)| *l).collect();
        let blend_total: f64 = styles.iter().map(|s| s.blend).sum();
        let mut grams: Vec<Option<Tensor>> = style_indices.iter().map(|_| None).collect();
        let long_side = ((stage.width.max(stage.height) as f64 * settings.style_scale).round()
            as u32)
            .max(MIN_SIDE);
        for style in styles.iter().filter(|s| s.blend > 0.0) {
            let (w, h) = fit_long_side(style.image.width(), style.image.height(), long_side);
            let input = network_input(&style.image, w.max(MIN_SIDE), h.max(MIN_SIDE), device)?;
            let features = model.features(&input, &style_indices)?;
            for (sum, f) in grams.iter_mut().zip(features) {
                let weighted = gram(&f).f_mul_scalar(style.blend / blend_total)?;
                *sum = Some(match sum.take() {
                    Some(s) => s.f_add(&weighted)?,
                    None => weighted,
                });
            }
        }
        let style_targets = style_layers
            .iter()
            .zip(grams)
            .map(|((layer, weight), gram)| StyleTarget {
                slot: slot(*layer),
                weight: *weight,
                gram: gram.expect("a style with blend > 0 exists (checked before planning)"),
            })
            .collect();
        Ok(Targets {
            layers,
            content: content_targets,
            style: style_targets,
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
        let features = model.features(&image, &self.layers)?;
        let zero = || Tensor::f_zeros([], (Kind::Float, point.device()));
        let mut content = zero()?;
        if weights.content > 0.0 {
            for target in &self.content {
                let term = content_loss(&features[target.slot], &target.features);
                content = content.f_add(&term.f_mul_scalar(target.weight)?)?;
            }
        }
        let mut style = zero()?;
        if weights.style > 0.0 {
            for target in &self.style {
                let term = style_loss(&features[target.slot], &target.gram);
                style = style.f_add(&term.f_mul_scalar(target.weight)?)?;
            }
        }
        let tv = if weights.tv > 0.0 {
            total_variation(&image)
        } else {
            zero()?
        };
        let content = content.f_mul_scalar(weights.content)?;
        let style = style.f_mul_scalar(weights.style)?;
        let tv = tv.f_mul_scalar(weights.tv)?;
        let total = content.f_add(&style)?.f_add(&tv)?;
        let grad = if total.requires_grad() {
            total.f_backward()?;
            image.grad()
        } else {
            point.f_zeros_like()?
        };
        let [finite, max_abs] = gradient_facts(&grad);
        let scalars = [&total, &content, &style, &tv]
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
            },
            grad,
            grad_finite: values[4] != 0.0,
            grad_max_abs: values[5],
        })
    }
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
