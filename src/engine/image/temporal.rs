//! The temporal term of video stylisation (Ruder, Dosovitskiy & Brox 2016, "Artistic style
//! transfer for videos"): the result is pulled towards a target image (the previous stylised
//! frame warped by optical flow) with a per-pixel weight (the paper's c: 0 where the flow is
//! unreliable — disoccluded or at motion boundaries — 1 where it can be trusted):
//!
//!   L_temporal = 1/D · Σ_k c_k (x_k − ω_k)²,  D = W·H·C,
//!
//! over pixels k and channels, in the network's 0–255 units. The host computes the flow and the
//! weights; the engine only keeps the target and adds the term to the objective at every scale
//! (target and weights resampled to the stage's size) and in every tile (cut to the tile's window).

use tch::{Device, Kind, Tensor};

use crate::engine::features::vgg::rgb_to_caffe;
use crate::engine::image::picture::resize_plane;
use crate::engine::image::source::SourceImage;
use crate::engine::image::window::Window;
use crate::error::{Error, Result};

/// A target image with its per-pixel weights (the term's weight is the option `temporal_weight`).
#[derive(Clone, Debug)]
pub struct TemporalTarget {
    image: SourceImage,
    /// One value per pixel of `image`, 0..1, row-major.
    mask: Vec<f32>,
}

impl TemporalTarget {
    /// `mask` holds `image`'s width × height values in 0..1 (NaN and values outside are refused:
    /// a weight map is the host's own computation, and a wrong one is a bug to report, not to
    /// hide); `None` weighs every pixel 1.
    pub fn new(image: SourceImage, mask: Option<&[f32]>) -> Result<TemporalTarget> {
        let pixels = image.width() as usize * image.height() as usize;
        let mask = match mask {
            None => vec![1.0; pixels],
            Some(values) => {
                if values.len() != pixels {
                    return Err(Error::arg(format!(
                        "the temporal weight map has {} values, the {}×{} target needs {pixels}",
                        values.len(),
                        image.width(),
                        image.height()
                    )));
                }
                if let Some(bad) = values.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                    return Err(Error::arg(format!(
                        "temporal weights must be in 0..1, found {bad}"
                    )));
                }
                values.to_vec()
            }
        };
        Ok(TemporalTarget { image, mask })
    }

    /// This target with other per-pixel weights: `weights` resampled to the target's size
    /// (None: 1 everywhere).
    pub fn with_weights(
        &self,
        weights: Option<&crate::engine::image::mask::Mask>,
    ) -> Result<TemporalTarget> {
        let (width, height) = (self.image.width(), self.image.height());
        let mask = match weights {
            None => vec![1.0; width as usize * height as usize],
            Some(plane) => plane
                .values_at(width, height)?
                .into_iter()
                .map(|v| v.clamp(0.0, 1.0))
                .collect(),
        };
        TemporalTarget::new(self.image.clone(), Some(&mask))
    }

    /// The target (Caffe space, [1, 3, H, W]) and its weights ([1, 1, H, W]) at a stage's size.
    pub fn at(&self, width: u32, height: u32, device: Device) -> Result<StageTemporal> {
        let image = rgb_to_caffe(&self.image.picture_at(width, height)?.to_tensor(device)?)?;
        let mask = resize_plane(
            &self.mask,
            (self.image.width(), self.image.height()),
            (width, height),
        );
        let mask = crate::engine::device::readback::upload(&Tensor::f_from_slice(&mask)?, device)?
            .f_view([1, 1, height as i64, width as i64])?;
        Ok(StageTemporal { image, mask })
    }
}

/// The temporal target of one stage (or one tile of it).
pub struct StageTemporal {
    image: Tensor,
    mask: Tensor,
}

impl StageTemporal {
    /// The part inside `window` (a tile's).
    pub fn window(&self, window: &Window) -> Result<StageTemporal> {
        Ok(StageTemporal {
            image: window.of(&self.image)?,
            mask: window.of(&self.mask)?,
        })
    }

    /// The unweighted term at `image` (same size, Caffe space).
    pub fn loss(&self, image: &Tensor) -> Result<Tensor> {
        let (_, channels, height, width) = image.size4()?;
        let squared = image.f_sub(&self.image)?.f_square()?.f_mul(&self.mask)?;
        Ok(squared
            .f_sum(Kind::Float)?
            .f_div_scalar((channels * height * width) as f64)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::image::source::Samples;

    fn grey(width: u32, height: u32, level: u8) -> SourceImage {
        let samples = vec![level; 3 * width as usize * height as usize];
        SourceImage::new(width, height, Samples::U8(samples), None).unwrap()
    }

    #[test]
    fn loss_is_the_weighted_mean_squared_difference() {
        // A 2×1 target; the left pixel weighs 1, the right 0.
        let target = TemporalTarget::new(grey(2, 1, 0), Some(&[1.0, 0.0])).unwrap();
        let stage = target.at(2, 1, Device::Cpu).unwrap();
        // The image 10 levels above the target everywhere: only the left pixel's 3 channels
        // count, (3 · 10²) / (3 · 2) = 50.
        let image = stage.image.f_add_scalar(10.0).unwrap();
        let loss = stage.loss(&image).unwrap().double_value(&[]);
        assert!((loss - 50.0).abs() < 1e-3, "{loss}");
    }

    #[test]
    fn bad_weight_maps_are_refused() {
        assert!(TemporalTarget::new(grey(2, 1, 0), Some(&[1.0])).is_err());
        assert!(TemporalTarget::new(grey(2, 1, 0), Some(&[1.0, f32::NAN])).is_err());
        assert!(TemporalTarget::new(grey(2, 1, 0), Some(&[1.0, 1.5])).is_err());
    }
}
