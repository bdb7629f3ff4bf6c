//! A content or style image as the host gave it, stored compactly (8-bit pixels stay 8-bit), so
//! that a huge layer costs what its pixels cost. The engine only ever uses resized copies, which
//! [`SourceImage::picture_at`] makes without a full-size float copy: an area average first brings
//! a much larger source to about twice the target size, then Catmull-Rom finishes the job.

use crate::engine::image::picture::{check_size, resize_plane, Picture};
use crate::error::{Error, Result};

/// One plane of samples, interleaved (3 channels for RGB, 1 for alpha), 0..1 when read.
#[derive(Clone, Debug)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

/// A sample type whose values map onto 0..1.
trait Sample: Copy {
    fn unit(self) -> f32;
}

impl Sample for u8 {
    fn unit(self) -> f32 {
        self as f32 / 255.0
    }
}

impl Sample for u16 {
    fn unit(self) -> f32 {
        self as f32 / 65535.0
    }
}

impl Sample for f32 {
    fn unit(self) -> f32 {
        self
    }
}

impl Samples {
    pub(crate) fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }

    pub(crate) fn bytes(&self) -> u64 {
        let per_sample = match self {
            Samples::U8(_) => 1,
            Samples::U16(_) => 2,
            Samples::F32(_) => 4,
        };
        self.len() as u64 * per_sample
    }
}

#[derive(Clone, Debug)]
pub struct SourceImage {
    width: u32,
    height: u32,
    rgb: Samples,
    alpha: Option<Samples>,
    /// The source had more than 8 bits per channel; outputs keep 16 bits where the format can.
    pub high_bit_depth: bool,
}

impl SourceImage {
    pub fn new(width: u32, height: u32, rgb: Samples, alpha: Option<Samples>) -> Result<Self> {
        check_size(width, height)?;
        let pixels = width as usize * height as usize;
        if rgb.len() != 3 * pixels || alpha.as_ref().is_some_and(|a| a.len() != pixels) {
            return Err(Error::Internal(
                "source image planes do not match its size".into(),
            ));
        }
        Ok(SourceImage {
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

    pub fn has_alpha(&self) -> bool {
        self.alpha.is_some()
    }

    /// What the stored copy occupies.
    pub fn stored_bytes(&self) -> u64 {
        self.rgb.bytes() + self.alpha.as_ref().map_or(0, Samples::bytes)
    }

    /// The image resampled to `width`×`height` as float RGB (and alpha, if it has one).
    pub fn picture_at(&self, width: u32, height: u32) -> Result<Picture> {
        let (rgb, w, h) = self.reduced_plane(&self.rgb, 3, width, height)?;
        let alpha = match &self.alpha {
            Some(plane) => Some(self.reduced_plane(plane, 1, width, height)?.0),
            None => None,
        };
        let mut picture = Picture::new(w, h, rgb, alpha)?.resized(width, height);
        picture.high_bit_depth = self.high_bit_depth;
        Ok(picture)
    }

    /// Only the alpha plane at `width`×`height` (None when the image has none).
    pub fn alpha_at(&self, width: u32, height: u32) -> Result<Option<Vec<f32>>> {
        let Some(plane) = &self.alpha else {
            return Ok(None);
        };
        let (alpha, w, h) = self.reduced_plane(plane, 1, width, height)?;
        Ok(Some(resize_plane(&alpha, (w, h), (width, height))))
    }

    /// `plane` as floats, area-averaged by whole factors while the result stays at least twice
    /// the target size in each direction (so the final resampling never aliases).
    fn reduced_plane(
        &self,
        plane: &Samples,
        channels: usize,
        target_width: u32,
        target_height: u32,
    ) -> Result<(Vec<f32>, u32, u32)> {
        reduced_plane(
            plane,
            (self.width, self.height),
            channels,
            (target_width, target_height),
        )
    }
}

/// `plane` (`size` = width, height; `channels` interleaved) as floats, area-averaged by whole
/// factors while the result stays at least twice `target` in each direction (so the final
/// resampling never aliases); returns the values and their size.
pub(crate) fn reduced_plane(
    plane: &Samples,
    size: (u32, u32),
    channels: usize,
    target: (u32, u32),
) -> Result<(Vec<f32>, u32, u32)> {
    let (width, height) = size;
    let factor = |source: u32, target: u32| (source / target.max(1) / 2).max(1);
    let fx = factor(width, target.0);
    let fy = factor(height, target.1);
    let geometry = Geometry {
        width: width as usize,
        height: height as usize,
        channels,
        fx: fx as usize,
        fy: fy as usize,
    };
    let values = match plane {
        Samples::U8(v) => box_reduce(v, geometry)?,
        Samples::U16(v) => box_reduce(v, geometry)?,
        Samples::F32(v) => box_reduce(v, geometry)?,
    };
    Ok((values, width.div_ceil(fx), height.div_ceil(fy)))
}

impl From<Picture> for SourceImage {
    fn from(picture: Picture) -> Self {
        let (width, height, high_bit_depth) =
            (picture.width(), picture.height(), picture.high_bit_depth);
        let (rgb, alpha) = picture.into_planes();
        SourceImage {
            width,
            height,
            rgb: Samples::F32(rgb),
            alpha: alpha.map(Samples::F32),
            high_bit_depth,
        }
    }
}

#[derive(Clone, Copy)]
struct Geometry {
    width: usize,
    height: usize,
    channels: usize,
    fx: usize,
    fy: usize,
}

/// Averages `fx`×`fy` blocks (smaller at the right and bottom edges), one output row at a time,
/// so that nothing full-size is ever allocated besides the source itself.
fn box_reduce<T: Sample>(data: &[T], g: Geometry) -> Result<Vec<f32>> {
    let out_width = g.width.div_ceil(g.fx);
    let out_height = g.height.div_ceil(g.fy);
    let mut out = try_vec(out_width * out_height * g.channels)?;
    if g.fx == 1 && g.fy == 1 {
        for (o, v) in out.iter_mut().zip(data) {
            *o = v.unit();
        }
        return Ok(out);
    }
    let row_len = g.width * g.channels;
    let mut sums = vec![0f32; out_width * g.channels];
    for (oy, out_row) in out.chunks_exact_mut(out_width * g.channels).enumerate() {
        let (y0, y1) = (oy * g.fy, ((oy + 1) * g.fy).min(g.height));
        sums.fill(0.0);
        for row in data[y0 * row_len..y1 * row_len].chunks_exact(row_len) {
            for (x, pixel) in row.chunks_exact(g.channels).enumerate() {
                let sum = &mut sums[x / g.fx * g.channels..][..g.channels];
                for (s, v) in sum.iter_mut().zip(pixel) {
                    *s += v.unit();
                }
            }
        }
        for (ox, (o, s)) in out_row
            .chunks_exact_mut(g.channels)
            .zip(sums.chunks_exact(g.channels))
            .enumerate()
        {
            let columns = ((ox + 1) * g.fx).min(g.width) - ox * g.fx;
            let count = (columns * (y1 - y0)) as f32;
            for (o, s) in o.iter_mut().zip(s) {
                *o = s / count;
            }
        }
    }
    Ok(out)
}

/// A zeroed vector whose length comes from outside: an allocation failure is an error the caller
/// can report, never an abort of the host process.
pub fn try_vec<T: Clone + Default>(len: usize) -> Result<Vec<T>> {
    let mut values = Vec::new();
    values.try_reserve_exact(len).map_err(|_| {
        Error::Memory(format!(
            "could not allocate {} MiB",
            (len as u64 * std::mem::size_of::<T>() as u64).div_ceil(1 << 20)
        ))
    })?;
    values.resize(len, T::default());
    Ok(values)
}

/// `image` at `width`×`height` as the network's input on `device` (Caffe space, [1, 3, H, W]).
pub fn network_input(
    image: &SourceImage,
    width: u32,
    height: u32,
    device: tch::Device,
) -> Result<tch::Tensor> {
    crate::engine::features::vgg::rgb_to_caffe(&image.picture_at(width, height)?.to_tensor(device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Picture {
        let mut rgb = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
                rgb.extend_from_slice(&[u, v, (u * 7.0).sin() * 0.5 + 0.5]);
            }
        }
        let alpha = (0..width * height).map(|i| (i % width) as f32 / width as f32);
        Picture::new(width, height, rgb, Some(alpha.collect())).unwrap()
    }

    #[test]
    fn reduced_resampling_matches_the_full_resize() {
        let picture = gradient(400, 300);
        let direct = picture.resized(40, 30);
        let source = SourceImage::from(picture);
        let reduced = source.picture_at(40, 30).unwrap();
        assert_eq!((reduced.width(), reduced.height()), (40, 30));
        let worst = direct
            .rgb()
            .iter()
            .zip(reduced.rgb())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 0.02, "largest difference {worst}");
        let alpha = source.alpha_at(40, 30).unwrap().unwrap();
        for (a, b) in alpha.iter().zip(reduced.alpha().unwrap()) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn box_reduce_averages_blocks_and_partial_edges() {
        // 3×2, one channel, factor 2×2: blocks {0,1,3,4} and the partial column {2,5}.
        let data: Vec<u8> = vec![0, 2, 4, 6, 8, 10];
        let g = Geometry {
            width: 3,
            height: 2,
            channels: 1,
            fx: 2,
            fy: 2,
        };
        let out = box_reduce(&data, g).unwrap();
        let expected = [(0.0 + 2.0 + 6.0 + 8.0) / 4.0 / 255.0, 7.0 / 255.0];
        for (o, e) in out.iter().zip(expected) {
            assert!((o - e).abs() < 1e-7, "{o} vs {e}");
        }
    }

    #[test]
    fn an_impossible_allocation_is_an_error() {
        assert!(matches!(
            try_vec::<f32>(usize::MAX / 8),
            Err(Error::Memory(_))
        ));
    }
}
