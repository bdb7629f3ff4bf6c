//! Region masks for spatial control (Gatys et al. 2017, "Controlling Perceptual Factors in
//! Neural Style Transfer"): a grey plane, 0 (outside) to 1 (inside), over the content (where a
//! style paints) or over a style image (which part of the painting the style is taken from).
//!
//! A mask is stored as the host gave it (8-bit stays 8-bit) and stretched to the frame it covers
//! at each scale: area-averaged, then Catmull-Rom, so soft edges stay soft. Inside the network it
//! follows each layer's feature map by an area average ([`at_layer`]).

use tch::{Device, Kind, Tensor};

use crate::engine::image::picture::{check_size, resize_plane, Picture};
use crate::engine::image::source::{reduced_plane, Samples};
use crate::error::{Error, Result};

/// A region's summed squared weight at a layer below which the layer leaves the region out: a
/// region smaller than about one feature position there has no statistics worth matching, and
/// dividing by its area would only amplify noise.
pub const MIN_LAYER_AREA: f64 = 1.0;

#[derive(Clone, Debug)]
pub struct Mask {
    width: u32,
    height: u32,
    plane: Samples,
}

impl Mask {
    /// A mask of `width`×`height` samples (one per pixel, row by row). Float samples must be
    /// finite (NaN or infinity is refused: a mask with holes is a bug in the caller, not a
    /// region) and are clamped to 0..1; a mask with no sample above 0 is refused (it selects
    /// nothing: clear the mask instead).
    pub fn new(width: u32, height: u32, plane: Samples) -> Result<Mask> {
        Mask::plane(width, height, plane)?.selecting()
    }

    /// A plane of weights as [`Mask::new`] takes it, 0 everywhere allowed (a weight map, such
    /// as the temporal term's, may weigh nothing).
    pub fn plane(width: u32, height: u32, plane: Samples) -> Result<Mask> {
        check_size(width, height)?;
        if plane.len() != width as usize * height as usize {
            return Err(Error::Internal("mask plane does not match its size".into()));
        }
        let plane = match plane {
            Samples::F32(mut values) => {
                if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                    return Err(Error::arg(format!(
                        "a float mask must be finite everywhere, and this one has {bad}"
                    )));
                }
                values.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
                Samples::F32(values)
            }
            other => other,
        };
        Ok(Mask {
            width,
            height,
            plane,
        })
    }

    /// This mask, refused when no sample is above 0 (it selects nothing).
    pub fn selecting(self) -> Result<Mask> {
        let any_inside = match &self.plane {
            Samples::U8(v) => v.iter().any(|&s| s > 0),
            Samples::U16(v) => v.iter().any(|&s| s > 0),
            Samples::F32(v) => v.iter().any(|&s| s > 0.0),
        };
        if !any_inside {
            return Err(Error::arg(
                "the mask is 0 everywhere: it selects nothing (clear the mask instead)",
            ));
        }
        Ok(self)
    }

    /// A mask from float values in 0..1 (tests and the CLI's decoded files).
    pub fn from_values(width: u32, height: u32, values: Vec<f32>) -> Result<Mask> {
        Mask::new(width, height, Samples::F32(values))
    }

    /// A mask from a picture (a mask file): its luminance (Rec. 601), times its alpha where it
    /// has one (transparent is outside). White is inside, black outside.
    pub fn from_picture(picture: &Picture) -> Result<Mask> {
        let alpha = picture.alpha();
        let values = picture
            .rgb()
            .chunks_exact(3)
            .enumerate()
            .map(|(i, p)| {
                let luminance = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                luminance * alpha.map_or(1.0, |a| a[i])
            })
            .collect();
        Mask::from_values(picture.width(), picture.height(), values)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// What the stored copy occupies.
    pub fn stored_bytes(&self) -> u64 {
        self.plane.bytes()
    }

    /// The mask stretched to `width`×`height`, values in 0..1.
    pub fn values_at(&self, width: u32, height: u32) -> Result<Vec<f32>> {
        let (reduced, w, h) =
            reduced_plane(&self.plane, (self.width, self.height), 1, (width, height))?;
        Ok(resize_plane(&reduced, (w, h), (width, height)))
    }

    /// The mask stretched to `width`×`height` as a [1, 1, height, width] fp32 tensor.
    pub fn tensor_at(&self, width: u32, height: u32, device: Device) -> Result<Tensor> {
        let values = self.values_at(width, height)?;
        Ok(
            crate::engine::device::readback::upload(&Tensor::f_from_slice(&values)?, device)?
                .f_view([1, 1, height as i64, width as i64])?,
        )
    }
}

/// Standard deviations (in samples) up to which [`soften`] blurs at the mask's own size; a wider
/// blur is computed on a copy reduced so that it spans this many samples, then stretched back
/// (the blurred mask has no detail finer than that, and a full-size kernel over a large image
/// would cost seconds).
const SOFTEN_SIGMA_AT_FULL_SIZE: f64 = 4.0;

/// `mask` ([1, 1, H, W], values 0..1) blurred by a Gaussian whose standard deviation is
/// `percent` % of its long side: the option `mask_softness`, which lets regions fade into each
/// other whatever the edges the host gave. Edges are extended (replicate), so a region reaching
/// the border stays full there. 0 returns the mask as it is.
pub fn soften(mask: &Tensor, percent: f64) -> Result<Tensor> {
    let (_, _, height, width) = mask.size4()?;
    let sigma = percent / 100.0 * height.max(width) as f64;
    if sigma < 0.5 {
        return Ok(mask.shallow_clone());
    }
    let factor = (SOFTEN_SIGMA_AT_FULL_SIZE / sigma).min(1.0);
    let reduced = |side: i64| ((side as f64 * factor).ceil() as i64).max(1);
    let small = if factor < 1.0 {
        mask.f_adaptive_avg_pool2d([reduced(height), reduced(width)])?
    } else {
        mask.shallow_clone()
    };
    let sigma = sigma * factor;
    let radius = (3.0 * sigma).ceil() as i64;
    let taps: Vec<f32> = (-radius..=radius)
        .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let total: f32 = taps.iter().sum();
    let taps: Vec<f32> = taps.iter().map(|t| t / total).collect();
    let kernel =
        crate::engine::device::readback::upload(&Tensor::f_from_slice(&taps)?, mask.device())?;
    let across = kernel.f_view([1, 1, 1, 2 * radius + 1])?;
    let down = kernel.f_view([1, 1, 2 * radius + 1, 1])?;
    let padded = small.f_pad([radius, radius, radius, radius], "replicate", None)?;
    let blurred = padded
        .f_conv2d::<Tensor>(&across, None, [1, 1], [0, 0], [1, 1], 1)?
        .f_conv2d::<Tensor>(&down, None, [1, 1], [0, 0], [1, 1], 1)?;
    if factor < 1.0 {
        Ok(blurred.f_upsample_bilinear2d([height, width], false, None, None)?)
    } else {
        Ok(blurred)
    }
}

/// The content term's weight at each position of a layer's `height`×`width` map, from the
/// content mask at the stage's size: 1 outside, `gain` inside, soft edges in between.
pub fn content_weights_at_layer(
    mask: &Tensor,
    gain: f64,
    height: i64,
    width: i64,
) -> Result<Tensor> {
    content_weights(mask.f_adaptive_avg_pool2d([height, width])?, gain)
}

/// The content term's weights from the content mask already at a layer's positions.
pub fn content_weights(at_layer: Tensor, gain: f64) -> Result<Tensor> {
    Ok(at_layer.f_mul_scalar(gain - 1.0)?.f_add_scalar(1.0)?)
}

/// A mask at a layer: its weights over the layer's feature positions and their summed square
/// (the region's area there, which normalises its Gram matrix).
pub struct LayerMask {
    pub weights: Tensor,
    pub area: f64,
}

impl LayerMask {
    /// The share of the layer's positions the region covers (its area over the map's): the
    /// weight of the region's style term. The guided Gram matrix is a mean over the region, so
    /// its gradient at each pixel is the map's area over the region's times that of a Gram
    /// matrix over the whole map; weighting the term by the coverage gives each pixel of a
    /// region the push a style covering the whole image gives it. Without it (measured on
    /// tubingen, 256 px) a region a third of the image was pushed three times as hard: the
    /// houses lost their structure (SSIM 0.42 in the region against 0.61 unmasked).
    pub fn coverage(&self) -> f64 {
        let positions = self.weights.numel().max(1) as f64;
        self.area / positions
    }
}

/// `mask` ([1, 1, H, W] over the layer's input) over a feature map of `height`×`width`: each
/// position gets the mean of the mask over the pixels it covers.
pub fn weights_at_layer(mask: &Tensor, height: i64, width: i64) -> Result<Tensor> {
    Ok(mask.f_adaptive_avg_pool2d([height, width])?)
}

/// [`weights_at_layer`] as a [`LayerMask`]. None when the region covers less than
/// [`MIN_LAYER_AREA`] there.
pub fn at_layer(mask: &Tensor, height: i64, width: i64) -> Result<Option<LayerMask>> {
    Ok(layer_masks(vec![weights_at_layer(mask, height, width)?])?
        .pop()
        .flatten())
}

/// Weights already at layers' positions as [`LayerMask`]s, their areas read back in one
/// transfer (a region's layers are known together: one host synchronisation, not one per
/// layer); None where they cover less than [`MIN_LAYER_AREA`].
pub fn layer_masks(weights: Vec<Tensor>) -> Result<Vec<Option<LayerMask>>> {
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    let areas = weights
        .iter()
        .map(|w| w.f_square()?.f_sum(Kind::Double))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let areas = crate::engine::device::readback::values(&Tensor::f_stack(&areas, 0)?)?;
    Ok(weights
        .into_iter()
        .zip(areas)
        .map(|(weights, area)| (area >= MIN_LAYER_AREA).then_some(LayerMask { weights, area }))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_nan_infinite_and_empty_masks() {
        for bad in [f32::NAN, f32::INFINITY] {
            let error = Mask::from_values(2, 1, vec![1.0, bad]).unwrap_err();
            assert!(matches!(error, Error::Argument(_)), "{error}");
        }
        let error = Mask::new(2, 2, Samples::U8(vec![0; 4])).unwrap_err();
        assert!(error.to_string().contains("0 everywhere"), "{error}");
        assert!(Mask::new(0, 2, Samples::U8(vec![])).is_err());
        // Negative values are clamped, not refused: some inside is enough.
        assert!(Mask::from_values(2, 1, vec![-3.0, 0.5]).is_ok());
    }

    #[test]
    fn stretches_to_any_frame_keeping_halves() {
        // Left half inside, 8-bit: stretched to 6×4 the left columns stay 1, the right 0.
        let plane: Vec<u8> = (0..4 * 2)
            .map(|i| if i % 4 < 2 { 255 } else { 0 })
            .collect();
        let mask = Mask::new(4, 2, Samples::U8(plane)).unwrap();
        let values = mask.values_at(6, 4).unwrap();
        assert_eq!(values.len(), 24);
        assert!((values[0] - 1.0).abs() < 1e-6 && values[5].abs() < 1e-6);
    }

    #[test]
    fn soften_blurs_edges_keeps_flat_parts_and_is_off_at_zero() {
        // Left half inside, 200×100.
        let values: Vec<f32> = (0..200 * 100)
            .map(|i| if i % 200 < 100 { 1.0 } else { 0.0 })
            .collect();
        let mask = Mask::from_values(200, 100, values).unwrap();
        let t = mask.tensor_at(200, 100, Device::Cpu).unwrap();
        let same = soften(&t, 0.0).unwrap();
        assert!(same.equal(&t));
        let at = |t: &Tensor, x: i64| t.double_value(&[0, 0, 50, x]);
        // Sigma 2 % of 200 = 4 px: computed at full size.
        let soft = soften(&t, 2.0).unwrap();
        assert_eq!(soft.size(), t.size());
        assert!((at(&soft, 0) - 1.0).abs() < 1e-5 && at(&soft, 199).abs() < 1e-5);
        assert!((at(&soft, 99) - 0.5).abs() < 0.1, "{}", at(&soft, 99));
        assert!(at(&soft, 95) > 0.75 && at(&soft, 95) < 0.99);
        // Sigma 10 % = 20 px: computed reduced, stretched back; still monotone, 0.5 at the edge.
        let wide = soften(&t, 10.0).unwrap();
        assert_eq!(wide.size(), t.size());
        assert!((at(&wide, 99) - 0.5).abs() < 0.1, "{}", at(&wide, 99));
        assert!(at(&wide, 80) > at(&wide, 99) && at(&wide, 120) < at(&wide, 99));
        assert!(at(&wide, 70) < 0.99 && at(&wide, 5) > 0.99);
    }

    #[test]
    fn content_weights_are_one_outside_and_gain_inside() {
        let mask = Mask::from_values(2, 1, vec![1.0, 0.0]).unwrap();
        let t = mask.tensor_at(2, 1, Device::Cpu).unwrap();
        let w = content_weights_at_layer(&t, 4.0, 1, 2).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(w.flatten(0, -1)).unwrap(),
            vec![4.0, 1.0]
        );
    }

    #[test]
    fn layer_masks_average_and_drop_tiny_regions() {
        let mask = Mask::from_values(4, 4, {
            let mut v = vec![0.0; 16];
            v[0] = 1.0;
            v
        })
        .unwrap();
        let t = mask.tensor_at(4, 4, Device::Cpu).unwrap();
        // At 4×4 the one pixel is a whole position; at 2×2 it is a quarter of one (area 1/16).
        let full = at_layer(&t, 4, 4).unwrap().unwrap();
        assert_eq!(full.area, 1.0);
        assert!(at_layer(&t, 2, 2).unwrap().is_none());
    }
}
