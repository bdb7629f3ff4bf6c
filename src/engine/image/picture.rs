//! An image as the engine sees it: RGB in 0..1 (f32, interleaved) and an optional alpha plane that
//! is carried along but never optimised.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma, Rgb};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Largest side we accept from any source; beyond this the numbers stop being an image.
pub const MAX_SIDE: u32 = 65_536;

/// Refuses an image size any source may not have: a zero side or one over [`MAX_SIDE`].
pub fn check_size(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::arg(format!(
            "image is {width}×{height}: both sides must be at least 1 pixel"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::arg(format!(
            "image is {width}×{height}: sides over {MAX_SIDE} are not supported"
        )));
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<f32>,
    alpha: Option<Vec<f32>>,
    /// The source had more than 8 bits per channel; outputs keep 16 bits where the format can.
    pub high_bit_depth: bool,
}

impl Picture {
    pub fn new(width: u32, height: u32, rgb: Vec<f32>, alpha: Option<Vec<f32>>) -> Result<Self> {
        check_size(width, height)?;
        let pixels = width as usize * height as usize;
        if rgb.len() != pixels * 3 || alpha.as_ref().is_some_and(|a| a.len() != pixels) {
            return Err(Error::Internal(
                "picture buffer does not match its size".into(),
            ));
        }
        Ok(Picture {
            width,
            height,
            rgb,
            alpha,
            high_bit_depth: false,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rgb(&self) -> &[f32] {
        &self.rgb
    }

    pub fn alpha(&self) -> Option<&[f32]> {
        self.alpha.as_deref()
    }

    pub fn with_alpha(mut self, alpha: Option<Vec<f32>>) -> Result<Self> {
        if alpha
            .as_ref()
            .is_some_and(|a| a.len() != self.rgb.len() / 3)
        {
            return Err(Error::Internal(
                "alpha plane does not match the image size".into(),
            ));
        }
        self.alpha = alpha;
        Ok(self)
    }

    /// Resamples to `width`×`height` (Catmull-Rom, antialiased when shrinking), alpha included.
    pub fn resized(&self, width: u32, height: u32) -> Picture {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let rgb: ImageBuffer<Rgb<f32>, Vec<f32>> =
            ImageBuffer::from_raw(self.width, self.height, self.rgb.clone())
                .expect("size checked at creation");
        let mut rgb = imageops::resize(&rgb, width, height, FilterType::CatmullRom).into_raw();
        clamp_unit(&mut rgb);
        let alpha = self
            .alpha
            .as_ref()
            .map(|alpha| resize_plane(alpha, (self.width, self.height), (width, height)));
        Picture {
            width,
            height,
            rgb,
            alpha,
            high_bit_depth: self.high_bit_depth,
        }
    }

    /// Gives up the RGB and alpha buffers.
    pub fn into_planes(self) -> (Vec<f32>, Option<Vec<f32>>) {
        (self.rgb, self.alpha)
    }

    /// [1, 3, H, W] fp32 RGB tensor on `device` (an error, not a panic, when the device is out
    /// of memory).
    pub fn to_tensor(&self, device: Device) -> Result<Tensor> {
        let interleaved = Tensor::f_from_slice(&self.rgb)?;
        Ok(
            crate::engine::device::readback::upload(&interleaved, device)?
                .f_view([self.height as i64, self.width as i64, 3])?
                .f_permute([2, 0, 1])?
                .f_unsqueeze(0)?
                .f_contiguous()?,
        )
    }

    /// Builds a picture from a [1, 3, H, W] RGB tensor (clamped to 0..1), without alpha.
    pub fn from_tensor(rgb: &Tensor) -> Result<Picture> {
        let (_, _, height, width) = rgb.size4()?;
        let interleaved = rgb
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .clamp(0.0, 1.0)
            .squeeze_dim(0)
            .permute([1, 2, 0]);
        let values = Vec::<f32>::try_from(interleaved.contiguous().view([-1]))?;
        Picture::new(width as u32, height as u32, values, None)
    }

    /// Keeps this picture's luminance and takes the chroma from `colors` (same size): the result
    /// has the style's textures in the content's colours. Uses YIQ, as the Lua neural-style does.
    pub fn with_colors_of(&self, colors: &Picture) -> Picture {
        debug_assert_eq!((self.width, self.height), (colors.width, colors.height));
        let mut rgb = Vec::with_capacity(self.rgb.len());
        for (ours, theirs) in self.rgb.chunks_exact(3).zip(colors.rgb.chunks_exact(3)) {
            let (y, _, _) = rgb_to_yiq(ours);
            let (_, i, q) = rgb_to_yiq(theirs);
            rgb.extend(yiq_to_rgb(y, i, q).map(|v| v.clamp(0.0, 1.0)));
        }
        Picture {
            rgb,
            ..self.clone()
        }
    }
}

/// Resamples one plane of `from` = (width, height) values to `to` like [`Picture::resized`].
pub fn resize_plane(plane: &[f32], from: (u32, u32), to: (u32, u32)) -> Vec<f32> {
    if from == to {
        return plane.to_vec();
    }
    let buffer: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(from.0, from.1, plane.to_vec()).expect("plane matches its size");
    let mut resized = imageops::resize(&buffer, to.0, to.1, FilterType::CatmullRom).into_raw();
    clamp_unit(&mut resized);
    resized
}

fn clamp_unit(values: &mut [f32]) {
    for v in values {
        *v = v.clamp(0.0, 1.0);
    }
}

fn rgb_to_yiq(p: &[f32]) -> (f32, f32, f32) {
    let (r, g, b) = (p[0], p[1], p[2]);
    (
        0.299 * r + 0.587 * g + 0.114 * b,
        0.595_716 * r - 0.274_453 * g - 0.321_263 * b,
        0.211_456 * r - 0.522_591 * g + 0.311_135 * b,
    )
}

fn yiq_to_rgb(y: f32, i: f32, q: f32) -> [f32; 3] {
    [
        y + 0.9563 * i + 0.6210 * q,
        y - 0.2721 * i - 0.6474 * q,
        y - 1.1070 * i + 1.7046 * q,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_round_trip_keeps_pixels() {
        let rgb: Vec<f32> = (0..2 * 3 * 3).map(|v| v as f32 / 20.0).collect();
        let picture = Picture::new(3, 2, rgb.clone(), None).unwrap();
        let back = Picture::from_tensor(&picture.to_tensor(Device::Cpu).unwrap()).unwrap();
        assert_eq!(back.rgb(), rgb.as_slice());
        assert_eq!((back.width(), back.height()), (3, 2));
    }

    #[test]
    fn zero_sized_pictures_are_refused() {
        assert!(matches!(
            Picture::new(0, 5, vec![], None),
            Err(Error::Argument(_))
        ));
    }

    #[test]
    fn preserving_colours_keeps_luminance_and_takes_chroma() {
        let gray = Picture::new(1, 1, vec![0.5, 0.5, 0.5], None).unwrap();
        let red = Picture::new(1, 1, vec![0.8, 0.2, 0.2], None).unwrap();
        let mixed = gray.with_colors_of(&red);
        let (y, i, q) = rgb_to_yiq(mixed.rgb());
        let (_, ri, rq) = rgb_to_yiq(red.rgb());
        assert!((y - 0.5).abs() < 1e-3 && (i - ri).abs() < 1e-3 && (q - rq).abs() < 1e-3);
    }
}
