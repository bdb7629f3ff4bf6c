//! Raw pixel buffers as hosts pass them (RGB8, RGBA8, BGRA8, RGBA16, RGBA half and single float;
//! any row stride) to and from [`Picture`]s. Float input is made safe here, not by each host:
//! NaN reads as 0, and every value is clamped to 0..1. Bounds are checked here, so the C boundary only turns pointers into slices.

use crate::engine::image::source::{try_vec, Samples, SourceImage};
use crate::engine::plan::memory;
use crate::engine::{Mask, Picture};
use crate::error::{Error, Result};

/// Pixel layouts, numbered as in the C header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8 = 0,
    Rgba8 = 1,
    Rgba16 = 2,
    RgbaF32 = 3,
    /// Byte order B, G, R, A: Qt's and Cairo's ARGB32 on little-endian machines (Krita, GTK).
    Bgra8 = 4,
    /// IEEE half floats, as Krita's 16-bit float RGBA layers hold them.
    RgbaF16 = 5,
}

/// Every format, in numbering order.
pub const FORMATS: [PixelFormat; 6] = [
    PixelFormat::Rgb8,
    PixelFormat::Rgba8,
    PixelFormat::Rgba16,
    PixelFormat::RgbaF32,
    PixelFormat::Bgra8,
    PixelFormat::RgbaF16,
];

impl PixelFormat {
    /// Validates a format number from C: an out-of-range value is an argument error, never an
    /// invalid enum.
    pub fn from_raw(raw: u32) -> Result<Self> {
        FORMATS.get(raw as usize).copied().ok_or_else(|| {
            Error::arg(format!(
                "unknown pixel format {raw} (expected 0..={})",
                FORMATS.len() - 1
            ))
        })
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 => 4,
            PixelFormat::Rgba16 => 8,
            PixelFormat::RgbaF32 => 16,
            PixelFormat::Bgra8 => 4,
            PixelFormat::RgbaF16 => 8,
        }
    }
}

/// A host float sample made safe: NaN is 0, everything else clamped to 0..1 (so +inf is 1).
fn safe_unit(v: f32) -> f32 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(0.0, 1.0)
    }
}

/// Checks a buffer description and returns the number of bytes it spans (the last row need not
/// be padded to the stride).
pub fn buffer_len(width: u32, height: u32, stride: usize, format: PixelFormat) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::arg(format!(
            "image size {width}×{height} has a zero side"
        )));
    }
    if width > crate::engine::image::picture::MAX_SIDE
        || height > crate::engine::image::picture::MAX_SIDE
    {
        return Err(Error::arg(format!(
            "image size {width}×{height} is over the limit"
        )));
    }
    let row = width as usize * format.bytes_per_pixel();
    if stride < row {
        return Err(Error::arg(format!(
            "stride {stride} is shorter than a row of {width} pixels ({row} bytes)"
        )));
    }
    stride
        .checked_mul(height as usize - 1)
        .and_then(|n| n.checked_add(row))
        .ok_or_else(|| Error::arg("image buffer size overflows"))
}

/// Bytes the stored copy of a `width`×`height` image in `format` occupies: RGB and alpha kept
/// at the host's own bit depth.
pub fn stored_bytes(width: u32, height: u32, format: PixelFormat) -> u64 {
    width as u64 * height as u64 * format.bytes_per_pixel() as u64
}

/// Reads a host buffer into a compact copy (8-bit stays 8-bit); alpha, if the format has it, is
/// kept beside the RGB. The copy is checked against `budget` and allocated fallibly first, so a
/// huge image is an error the host can show, not an aborted process.
pub fn read_source(
    bytes: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
    budget: Option<u64>,
) -> Result<SourceImage> {
    let needed = buffer_len(width, height, stride, format)?;
    if bytes.len() < needed {
        return Err(Error::arg(
            "pixel buffer is shorter than width, height and stride say",
        ));
    }
    memory::check_host(
        stored_bytes(width, height, format),
        budget,
        &format!("a copy of the {width}×{height} image"),
    )?;
    let pixels = width as usize * height as usize;
    let row_bytes = width as usize * format.bytes_per_pixel();
    let rows = (0..height as usize).map(|y| &bytes[y * stride..y * stride + row_bytes]);
    let (rgb, alpha) = match format {
        PixelFormat::Rgb8 => {
            let mut rgb = try_vec::<u8>(pixels * 3)?;
            for (out, row) in rgb.chunks_exact_mut(row_bytes).zip(rows) {
                out.copy_from_slice(row);
            }
            (Samples::U8(rgb), None)
        }
        PixelFormat::Rgba8 => {
            let (rgb, alpha) = split_alpha(rows, pixels, |p: &[u8]| p[0])?;
            (Samples::U8(rgb), Some(Samples::U8(alpha)))
        }
        PixelFormat::Rgba16 => {
            let (rgb, alpha) =
                split_alpha(rows, pixels, |p: &[u8]| u16::from_ne_bytes([p[0], p[1]]))?;
            (Samples::U16(rgb), Some(Samples::U16(alpha)))
        }
        PixelFormat::RgbaF32 => {
            let (rgb, alpha) = split_alpha(rows, pixels, |p: &[u8]| {
                safe_unit(f32::from_ne_bytes([p[0], p[1], p[2], p[3]]))
            })?;
            (Samples::F32(rgb), Some(Samples::F32(alpha)))
        }
        PixelFormat::Bgra8 => {
            let (mut rgb, alpha) = split_alpha(rows, pixels, |p: &[u8]| p[0])?;
            rgb.chunks_exact_mut(3).for_each(|bgr| bgr.swap(0, 2));
            (Samples::U8(rgb), Some(Samples::U8(alpha)))
        }
        PixelFormat::RgbaF16 => {
            // Stored as 16-bit integers: half floats in 0..1 keep about 11 significant bits, so
            // nothing is lost and the copy costs what the host's pixels cost.
            let (rgb, alpha) = split_alpha(rows, pixels, |p: &[u8]| {
                let value = safe_unit(half::f16::from_ne_bytes([p[0], p[1]]).to_f32());
                (value * 65535.0).round() as u16
            })?;
            (Samples::U16(rgb), Some(Samples::U16(alpha)))
        }
    };
    let mut source = SourceImage::new(width, height, rgb, alpha)?;
    source.high_bit_depth = matches!(
        format,
        PixelFormat::Rgba16 | PixelFormat::RgbaF32 | PixelFormat::RgbaF16
    );
    Ok(source)
}

/// Mask layouts, numbered as in the C header: one grey sample per pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskFormat {
    Grey8 = 0,
    Grey16 = 1,
    GreyF32 = 2,
}

pub const MASK_FORMATS: [MaskFormat; 3] =
    [MaskFormat::Grey8, MaskFormat::Grey16, MaskFormat::GreyF32];

impl MaskFormat {
    /// Validates a mask format number from C.
    pub fn from_raw(raw: u32) -> Result<Self> {
        MASK_FORMATS.get(raw as usize).copied().ok_or_else(|| {
            Error::arg(format!(
                "unknown mask format {raw} (expected 0..={}: grey 8-bit, 16-bit or float)",
                MASK_FORMATS.len() - 1
            ))
        })
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            MaskFormat::Grey8 => 1,
            MaskFormat::Grey16 => 2,
            MaskFormat::GreyF32 => 4,
        }
    }
}

/// Checks a mask buffer description and returns the bytes it spans (the last row need not be
/// padded to the stride).
pub fn mask_buffer_len(
    width: u32,
    height: u32,
    stride: usize,
    format: MaskFormat,
) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::arg(format!(
            "mask size {width}×{height} has a zero side"
        )));
    }
    if width > crate::engine::image::picture::MAX_SIDE
        || height > crate::engine::image::picture::MAX_SIDE
    {
        return Err(Error::arg(format!(
            "mask size {width}×{height} is over the limit"
        )));
    }
    let row = width as usize * format.bytes_per_pixel();
    if stride < row {
        return Err(Error::arg(format!(
            "mask stride {stride} is shorter than a row of {width} samples ({row} bytes)"
        )));
    }
    stride
        .checked_mul(height as usize - 1)
        .and_then(|n| n.checked_add(row))
        .ok_or_else(|| Error::arg("mask buffer size overflows"))
}

/// Reads a host mask buffer into a compact copy (8-bit stays 8-bit), checked against `budget`.
/// A float mask with NaN or infinity, or a mask 0 everywhere, is refused ([`Mask::new`]).
pub fn read_mask(
    bytes: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: MaskFormat,
    budget: Option<u64>,
) -> Result<Mask> {
    read_plane(bytes, width, height, stride, format, budget)?.selecting()
}

/// As [`read_mask`], with a plane 0 everywhere allowed ([`Mask::plane`]).
pub fn read_plane(
    bytes: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: MaskFormat,
    budget: Option<u64>,
) -> Result<Mask> {
    let needed = mask_buffer_len(width, height, stride, format)?;
    if bytes.len() < needed {
        return Err(Error::arg(
            "mask buffer is shorter than width, height and stride say",
        ));
    }
    let size = format.bytes_per_pixel();
    memory::check_host(
        width as u64 * height as u64 * size as u64,
        budget,
        &format!("a copy of the {width}×{height} mask"),
    )?;
    let row_bytes = width as usize * size;
    let rows = (0..height as usize).map(|y| &bytes[y * stride..y * stride + row_bytes]);
    fn gather<'a, T: Copy + Default>(
        rows: impl Iterator<Item = &'a [u8]>,
        count: usize,
        size: usize,
        sample: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>> {
        let mut out = try_vec::<T>(count)?;
        let samples = rows.flat_map(|row| row.chunks_exact(size));
        for (o, s) in out.iter_mut().zip(samples) {
            *o = sample(s);
        }
        Ok(out)
    }
    let count = width as usize * height as usize;
    let plane = match format {
        MaskFormat::Grey8 => Samples::U8(gather(rows, count, size, |p| p[0])?),
        MaskFormat::Grey16 => Samples::U16(gather(rows, count, size, |p| {
            u16::from_ne_bytes([p[0], p[1]])
        })?),
        MaskFormat::GreyF32 => Samples::F32(gather(rows, count, size, |p| {
            f32::from_ne_bytes([p[0], p[1], p[2], p[3]])
        })?),
    };
    Mask::plane(width, height, plane)
}

/// A format number of the one image description (`NstyleImage`): the colour formats 0..=5,
/// then the grey planes 6, 7 and 8 (8-bit, 16-bit, float), so that every input takes the same
/// numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFormat {
    Colour(PixelFormat),
    Plane(MaskFormat),
}

impl HostFormat {
    pub fn from_raw(raw: u32) -> Result<HostFormat> {
        let colours = FORMATS.len() as u32;
        if raw < colours {
            return Ok(HostFormat::Colour(FORMATS[raw as usize]));
        }
        match MASK_FORMATS.get((raw - colours) as usize) {
            Some(plane) => Ok(HostFormat::Plane(*plane)),
            None => Err(Error::arg(format!(
                "unknown image format {raw} (expected 0..={}: colours 0..={}, grey planes {}..={})",
                colours as usize + MASK_FORMATS.len() - 1,
                colours - 1,
                colours,
                colours as usize + MASK_FORMATS.len() - 1
            ))),
        }
    }

    /// Checks the buffer description and returns the bytes it spans.
    pub fn buffer_len(self, width: u32, height: u32, stride: usize) -> Result<usize> {
        match self {
            HostFormat::Colour(format) => buffer_len(width, height, stride, format),
            HostFormat::Plane(format) => mask_buffer_len(width, height, stride, format),
        }
    }

    /// Reads the buffer: a colour image, or a plane of weights (0 everywhere allowed here; the
    /// input it is for decides).
    pub fn read(
        self,
        bytes: &[u8],
        width: u32,
        height: u32,
        stride: usize,
        budget: Option<u64>,
    ) -> Result<crate::engine::session::inputs::InputData> {
        use crate::engine::session::inputs::InputData;
        Ok(match self {
            HostFormat::Colour(format) => {
                InputData::Image(read_source(bytes, width, height, stride, format, budget)?)
            }
            HostFormat::Plane(format) => {
                InputData::Plane(read_plane(bytes, width, height, stride, format, budget)?)
            }
        })
    }
}

/// Splits four-channel rows into a three-channel plane and an alpha plane of samples that
/// `sample` decodes from the bytes of one channel (channels are as wide as `T`).
fn split_alpha<'a, T: Copy + Default>(
    rows: impl Iterator<Item = &'a [u8]>,
    pixels: usize,
    sample: impl Fn(&[u8]) -> T,
) -> Result<(Vec<T>, Vec<T>)> {
    let size = std::mem::size_of::<T>();
    let mut rgb = try_vec::<T>(pixels * 3)?;
    let mut alpha = try_vec::<T>(pixels)?;
    let mut i = 0;
    for row in rows {
        for pixel in row.chunks_exact(4 * size) {
            for c in 0..3 {
                rgb[3 * i + c] = sample(&pixel[c * size..]);
            }
            alpha[i] = sample(&pixel[3 * size..]);
            i += 1;
        }
    }
    Ok((rgb, alpha))
}

/// Writes `picture` (already at `width`×`height`) into a host buffer; pixels without alpha get
/// an opaque alpha. Bytes between rows are left alone.
pub fn write(
    picture: &Picture,
    bytes: &mut [u8],
    stride: usize,
    format: PixelFormat,
) -> Result<()> {
    let (width, height) = (picture.width(), picture.height());
    let needed = buffer_len(width, height, stride, format)?;
    if bytes.len() < needed {
        return Err(Error::arg(
            "pixel buffer is shorter than width, height and stride say",
        ));
    }
    let size = format.bytes_per_pixel();
    let rgb = picture.rgb();
    let alpha = picture.alpha();
    for y in 0..height as usize {
        let row = &mut bytes[y * stride..y * stride + width as usize * size];
        for (x, out) in row.chunks_exact_mut(size).enumerate() {
            let i = y * width as usize + x;
            let a = alpha.map_or(1.0, |a| a[i]);
            let values = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], a];
            encode(values, out, format);
        }
    }
    Ok(())
}

fn encode(values: [f32; 4], out: &mut [u8], format: PixelFormat) {
    let quantise = |v: f32, max: f32| (v.clamp(0.0, 1.0) * max).round();
    match format {
        PixelFormat::Rgb8 | PixelFormat::Rgba8 => {
            for (o, v) in out.iter_mut().zip(values) {
                *o = quantise(v, 255.0) as u8;
            }
        }
        PixelFormat::Rgba16 => {
            for (o, v) in out.chunks_exact_mut(2).zip(values) {
                o.copy_from_slice(&(quantise(v, 65535.0) as u16).to_ne_bytes());
            }
        }
        PixelFormat::RgbaF32 => {
            for (o, v) in out.chunks_exact_mut(4).zip(values) {
                o.copy_from_slice(&v.clamp(0.0, 1.0).to_ne_bytes());
            }
        }
        PixelFormat::Bgra8 => {
            let [r, g, b, a] = values;
            for (o, v) in out.iter_mut().zip([b, g, r, a]) {
                *o = quantise(v, 255.0) as u8;
            }
        }
        PixelFormat::RgbaF16 => {
            for (o, v) in out.chunks_exact_mut(2).zip(values) {
                o.copy_from_slice(&half::f16::from_f32(v.clamp(0.0, 1.0)).to_ne_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_format_with_padding() {
        for format in FORMATS {
            let (w, h) = (3u32, 2u32);
            let stride = w as usize * format.bytes_per_pixel() + 5;
            let mut source = vec![0u8; buffer_len(w, h, stride, format).unwrap()];
            let original = Picture::new(
                w,
                h,
                (0..18).map(|v| v as f32 / 17.0).collect(),
                Some(vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            )
            .unwrap();
            write(&original, &mut source, stride, format).unwrap();
            let back = read_source(&source, w, h, stride, format, None)
                .unwrap()
                .picture_at(w, h)
                .unwrap();
            for (a, b) in back.rgb().iter().zip(original.rgb()) {
                assert!((a - b).abs() < 1.0 / 255.0, "{format:?}");
            }
            if format != PixelFormat::Rgb8 {
                assert!((back.alpha().unwrap()[1] - 0.2).abs() < 1.0 / 255.0);
            }
        }
    }

    #[test]
    fn non_finite_floats_are_clamped_not_refused() {
        let values = [f32::NAN, f32::INFINITY, -1.0, 0.5];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let source = read_source(&bytes, 1, 1, 16, PixelFormat::RgbaF32, None).unwrap();
        let picture = source.picture_at(1, 1).unwrap();
        assert_eq!(picture.rgb(), &[0.0, 1.0, 0.0]);
        assert_eq!(picture.alpha().unwrap(), &[0.5]);
    }

    #[test]
    fn masks_read_in_every_format_with_padding() {
        // 2×2, left column inside, each format with two bytes of padding per row.
        let cases: [(MaskFormat, Vec<u8>); 3] = [
            (MaskFormat::Grey8, vec![255, 0, 9, 9, 255, 0]),
            (MaskFormat::Grey16, {
                let row: Vec<u8> = [65535u16, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
                let mut v = row.clone();
                v.extend([7, 7]);
                v.extend(row);
                v
            }),
            (MaskFormat::GreyF32, {
                let mut v: Vec<u8> = [1f32, 0.0].iter().flat_map(|v| v.to_ne_bytes()).collect();
                v.extend([7, 7]);
                v.extend([1f32, 0.0].iter().flat_map(|v| v.to_ne_bytes()));
                v
            }),
        ];
        for (format, bytes) in cases {
            let stride = 2 * format.bytes_per_pixel() + 2;
            let mask = read_mask(&bytes, 2, 2, stride, format, None).unwrap();
            let values = mask.values_at(2, 2).unwrap();
            assert_eq!(values, vec![1.0, 0.0, 1.0, 0.0], "{format:?}");
        }
    }

    #[test]
    fn bad_masks_are_refused_with_a_reason() {
        let nan: Vec<u8> = [1f32, f32::NAN]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let error = read_mask(&nan, 2, 1, 8, MaskFormat::GreyF32, None).unwrap_err();
        assert!(error.to_string().contains("finite"), "{error}");
        let error = read_mask(&[0, 0], 2, 1, 2, MaskFormat::Grey8, None).unwrap_err();
        assert!(error.to_string().contains("0 everywhere"), "{error}");
        assert!(read_mask(&[1], 0, 1, 1, MaskFormat::Grey8, None).is_err());
        assert!(read_mask(&[1, 1], 2, 1, 1, MaskFormat::Grey8, None).is_err());
        assert!(MaskFormat::from_raw(3).is_err());
    }

    #[test]
    fn bgra_swaps_red_and_blue_both_ways() {
        let bytes = [10u8, 20, 30, 40];
        let source = read_source(&bytes, 1, 1, 4, PixelFormat::Bgra8, None).unwrap();
        let picture = source.picture_at(1, 1).unwrap();
        assert!((picture.rgb()[0] - 30.0 / 255.0).abs() < 1e-6);
        let mut back = [0u8; 4];
        write(&picture, &mut back, 4, PixelFormat::Bgra8).unwrap();
        assert_eq!(back, bytes);
    }

    #[test]
    fn rejects_short_strides_zero_sizes_and_unknown_formats() {
        assert!(buffer_len(4, 4, 11, PixelFormat::Rgb8).is_err());
        assert!(buffer_len(0, 4, 100, PixelFormat::Rgb8).is_err());
        assert!(PixelFormat::from_raw(6).is_err());
        assert_eq!(buffer_len(4, 2, 13, PixelFormat::Rgb8).unwrap(), 13 + 12);
    }
}
