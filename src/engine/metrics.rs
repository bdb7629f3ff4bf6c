//! Evaluation of a result: how much of the content it keeps (SSIM on luminance, relu4_2 feature
//! distance) and how close its style statistics are to the style image's (relative Gram distance
//! over relu1_1…relu5_1, with the style image at the result's resolution).

use tch::{Kind, Tensor};

use crate::engine::features::vgg::{rgb_to_caffe, Layer, Vgg19};
use crate::engine::image::mask::{at_layer, Mask};
use crate::engine::image::picture::Picture;
use crate::engine::loss::{gram, guided_gram, relative_gram_distance};
use crate::engine::plan::schedule::fit_long_side;
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Structural similarity of the luminance to the content's, 1 = identical.
    pub ssim: f64,
    /// Mean over relu1_1…relu5_1 of ‖G_result − G_style‖ / ‖G_style‖; lower is closer in style.
    pub style_distance: f64,
    /// The same distance at each of [`STYLE_LAYERS`], shallow to deep.
    pub style_distance_by_layer: [f64; STYLE_LAYERS.len()],
    /// ‖F_result − F_content‖ / ‖F_content‖ at relu4_2; lower keeps more content.
    pub content_distance: f64,
}

pub const STYLE_LAYERS: [Layer; 5] = [
    Layer::RELU1_1,
    Layer::RELU2_1,
    Layer::RELU3_1,
    Layer::RELU4_1,
    Layer::RELU5_1,
];

/// Evaluates `result` against its content and style images (each resized to the result's size;
/// the style keeps its aspect ratio, with the result's longest side).
pub fn evaluate(
    model: &Vgg19,
    result: &Picture,
    content: &Picture,
    style: &Picture,
) -> Result<Evaluation> {
    evaluate_in(model, result, content, style, None)
}

/// [`evaluate`] inside a region of the result (`mask`, stretched over it): SSIM averaged over
/// the region's weights, the style distance of the region's guided Gram matrices (see
/// [`guided_gram`]) and the content distance of the features weighted by it. None: the whole
/// image, as [`evaluate`].
pub fn evaluate_in(
    model: &Vgg19,
    result: &Picture,
    content: &Picture,
    style: &Picture,
    mask: Option<&Mask>,
) -> Result<Evaluation> {
    let _no_grad = tch::no_grad_guard();
    let device = model.device();
    let content = content.resized(result.width(), result.height());
    let region = match mask {
        Some(mask) => Some(mask.tensor_at(result.width(), result.height(), device)?),
        None => None,
    };
    let ssim = match &region {
        None => ssim_luminance(result, &content),
        Some(region) => {
            let map = ssim_map(result, &content).to_device(device);
            let weighted = (&map * region).sum(Kind::Double) / region.sum(Kind::Double);
            weighted.double_value(&[])
        }
    };
    let style_distance_by_layer = region_style_distances(model, result, style, region.as_ref())?;
    let style_distance = mean(&style_distance_by_layer);
    let features =
        |p: &Picture| model.features(&rgb_to_caffe(&p.to_tensor(device)?)?, &[Layer::RELU4_2]);
    let ours = features(result)?.remove(0);
    let theirs = features(&content)?.remove(0);
    let (ours, theirs) = match &region {
        None => (ours, theirs),
        Some(region) => {
            let (_, _, h, w) = ours.size4()?;
            let weights = region.f_adaptive_avg_pool2d([h, w])?;
            (ours * &weights, theirs * weights)
        }
    };
    let content_distance =
        (&ours - &theirs).norm().double_value(&[]) / theirs.norm().double_value(&[]).max(1e-12);
    Ok(Evaluation {
        ssim,
        style_distance,
        style_distance_by_layer,
        content_distance,
    })
}

/// Mean relative Gram distance between `image` and `style` over the five style layers.
pub fn style_distance(model: &Vgg19, image: &Picture, style: &Picture) -> Result<f64> {
    Ok(mean(&style_distances(model, image, style)?))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Relative Gram distance between `image` and `style` at each of [`STYLE_LAYERS`], with the style
/// resized to the image's longest side.
pub fn style_distances(
    model: &Vgg19,
    image: &Picture,
    style: &Picture,
) -> Result<[f64; STYLE_LAYERS.len()]> {
    region_style_distances(model, image, style, None)
}

/// [`style_distances`] of the region `region` ([1, 1, H, W] over `image`) of the image: its
/// guided Gram matrices against the style's. A layer where the region covers less than one
/// feature position counts as the whole map's.
fn region_style_distances(
    model: &Vgg19,
    image: &Picture,
    style: &Picture,
    region: Option<&Tensor>,
) -> Result<[f64; STYLE_LAYERS.len()]> {
    let _no_grad = tch::no_grad_guard();
    let device = model.device();
    let long_side = image.width().max(image.height());
    let (w, h) = fit_long_side(style.width(), style.height(), long_side);
    let style = style.resized(w, h);
    let ours = model.features(&rgb_to_caffe(&image.to_tensor(device)?)?, &STYLE_LAYERS)?;
    let theirs = model.features(&rgb_to_caffe(&style.to_tensor(device)?)?, &STYLE_LAYERS)?;
    let mut distances = [0.0; STYLE_LAYERS.len()];
    for ((distance, a), b) in distances.iter_mut().zip(&ours).zip(&theirs) {
        let (_, _, h, w) = a.size4()?;
        let ours = match region.map(|r| at_layer(r, h, w)).transpose()?.flatten() {
            Some(layer_region) => guided_gram(a, &layer_region),
            None => gram(a),
        };
        *distance = relative_gram_distance(&ours, &gram(b));
    }
    Ok(distances)
}

/// SSIM (Wang et al. 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03) of the Rec. 601
/// luminance of two same-sized pictures.
pub fn ssim_luminance(a: &Picture, b: &Picture) -> f64 {
    ssim_map(a, b).mean(Kind::Double).double_value(&[])
}

/// The SSIM of every pixel ([1, 1, H, W], CPU), whose mean is [`ssim_luminance`].
fn ssim_map(a: &Picture, b: &Picture) -> Tensor {
    let _no_grad = tch::no_grad_guard();
    let luminance = |p: &Picture| {
        let rgb = p
            .to_tensor(tch::Device::Cpu)
            .expect("CPU tensors of a valid picture");
        let weights = Tensor::from_slice(&[0.299f32, 0.587, 0.114]).view([1, 3, 1, 1]);
        (rgb * weights).sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
    };
    let (x, y) = (luminance(a), luminance(b));
    let window = gaussian_window(11, 1.5);
    let pad = 5;
    let blur = |t: &Tensor| t.conv2d(&window, None::<Tensor>, [1, 1], [pad, pad], [1, 1], 1);
    let (mu_x, mu_y) = (blur(&x), blur(&y));
    let sigma_x = blur(&(&x * &x)) - &mu_x * &mu_x;
    let sigma_y = blur(&(&y * &y)) - &mu_y * &mu_y;
    let sigma_xy = blur(&(&x * &y)) - &mu_x * &mu_y;
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let numerator = (&mu_x * &mu_y * 2.0 + c1) * (sigma_xy * 2.0 + c2);
    let denominator = (mu_x.square() + mu_y.square() + c1) * (sigma_x + sigma_y + c2);
    numerator / denominator
}

fn gaussian_window(size: i64, sigma: f64) -> Tensor {
    let centre = (size - 1) as f64 / 2.0;
    let line: Vec<f32> = (0..size)
        .map(|i| (-((i as f64 - centre).powi(2)) / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let line = Tensor::from_slice(&line);
    let line = &line / line.sum(Kind::Float);
    line.outer(&line).view([1, 1, size, size])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, f: impl Fn(u32, u32) -> f32) -> Picture {
        let mut rgb = Vec::new();
        for y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(&[f(x, y); 3]);
            }
        }
        Picture::new(w, h, rgb, None).unwrap()
    }

    #[test]
    fn ssim_is_one_for_identical_and_lower_for_noise() {
        let a = picture(32, 32, |x, y| ((x * 7 + y * 3) % 17) as f32 / 17.0);
        assert!((ssim_luminance(&a, &a) - 1.0).abs() < 1e-6);
        let b = picture(32, 32, |x, y| ((x * 13 + y * 5) % 11) as f32 / 11.0);
        assert!(ssim_luminance(&a, &b) < 0.5);
    }
}
