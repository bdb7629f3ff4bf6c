//! Reading and writing image files for the CLI. Writes go to a temporary file in the same folder
//! that is renamed over the target only when complete, so a failed run leaves no partial file.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

use crate::engine::image::picture::MAX_SIDE;
use crate::engine::plan::memory;
use crate::engine::Picture;
use crate::error::{Error, Result};
use crate::text::{printable_line, shortened};

/// Output formats we write, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Png,
    Jpeg,
    Tiff,
}

impl OutputFormat {
    pub fn from_path(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("png") => Ok(OutputFormat::Png),
            Some("jpg" | "jpeg") => Ok(OutputFormat::Jpeg),
            Some("tif" | "tiff") => Ok(OutputFormat::Tiff),
            _ => Err(Error::arg(format!(
                "{}: unsupported output format (use .png, .jpg or .tif)",
                path.display()
            ))),
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            OutputFormat::Png => ImageFormat::Png,
            OutputFormat::Jpeg => ImageFormat::Jpeg,
            OutputFormat::Tiff => ImageFormat::Tiff,
        }
    }
}

/// Loads an image file as RGB(A) in 0..1. Every failure names the file and what is wrong with it.
pub fn load(path: &Path) -> Result<Picture> {
    let metadata =
        fs::metadata(path).map_err(|e| Error::io(path, format!("cannot open image: {e}")))?;
    if metadata.is_dir() {
        return Err(Error::io(path, "is a directory, not an image"));
    }
    if metadata.len() == 0 {
        return Err(Error::arg(format!(
            "{}: image file is empty",
            path.display()
        )));
    }
    let bytes = fs::read(path).map_err(|e| Error::io(path, format!("cannot read image: {e}")))?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, format!("cannot read image: {e}")))?;
    if reader.format().is_none() {
        // Not recognisable by its content: go by the extension, so that a damaged photo.png is
        // reported as a PNG that cannot be decoded rather than as no image at all.
        if let Ok(format) = ImageFormat::from_path(path) {
            reader.set_format(format);
        }
    }
    let Some(format) = reader.format() else {
        return Err(Error::arg(format!(
            "{}: not an image in a supported format (PNG, JPEG, TIFF)",
            path.display()
        )));
    };
    let budget = memory::budget_bytes(None, tch::Device::Cpu);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = budget;
    reader.limits(limits);
    // A JPEG cut short still decodes (the missing part comes out grey): refuse it rather than
    // stylise a damaged photo without a word.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err(Error::arg(format!(
            "{}: the JPEG is truncated (its data ends before the end-of-image marker)",
            path.display()
        )));
    }
    let decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(path, e, budget))?;
    check_declared_size(path, &decoder, bytes.len() as u64, budget)?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e, budget))?;
    from_dynamic(&decoded).map_err(|e| match e {
        Error::Argument(what) => Error::arg(format!("{}: {what}", path.display())),
        other => other,
    })
}

/// Most pixels a file may declare per byte it holds. No format we read stores more: deflate
/// (PNG, TIFF) expands at most ~1032:1, LZW a few thousand to one, and JPEG spends at least a
/// couple of bits on every 8×8 block. A few-hundred-byte file declaring gigapixels is a bomb.
const MAX_PIXELS_PER_BYTE: u64 = 8192;

/// Refuses, before anything is decoded, an image whose declared size no real file of this length
/// can hold, or whose decoding would not fit the memory budget: the decoded pixels plus what
/// `from_dynamic` keeps and converts through (float RGB and alpha, 16 bytes a pixel, and the
/// float RGBA it reads them from, 16 more).
fn check_declared_size(
    path: &Path,
    decoder: &impl image::ImageDecoder,
    file_bytes: u64,
    budget: Option<u64>,
) -> Result<()> {
    let (width, height) = decoder.dimensions();
    let pixels = width as u64 * height as u64;
    if pixels > file_bytes.saturating_mul(MAX_PIXELS_PER_BYTE) {
        return Err(Error::arg(format!(
            "{}: the file declares {width}×{height} pixels in only {file_bytes} bytes, \
             which no real image of that size fits in (a decompression bomb?)",
            path.display()
        )));
    }
    let needed = decoder
        .total_bytes()
        .saturating_add(pixels.saturating_mul(32));
    memory::check_host(
        needed,
        budget,
        &format!("{}: decoding the {width}×{height} image", path.display()),
    )
}

/// Why decoding failed, as one printable line that says which limit was hit rather than calling
/// a large image corrupt.
fn decode_error(path: &Path, error: image::ImageError, budget: Option<u64>) -> Error {
    use image::error::{ImageError, LimitErrorKind};
    let why = match &error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => {
                format!("the image is larger than {MAX_SIDE} pixels on a side")
            }
            LimitErrorKind::InsufficientMemory => format!(
                "decoding the image needs more memory than the budget of {} MiB",
                budget.unwrap_or(0) >> 20
            ),
            _ => format!("the image exceeds a decoding limit: {limit}"),
        },
        ImageError::Unsupported(what) => format!("unsupported image: {what}"),
        other => format!("cannot decode the image (corrupt or truncated?): {other}"),
    };
    Error::arg(format!(
        "{}: {}",
        path.display(),
        shortened(&printable_line(&why), 300)
    ))
}

/// True when the last start-of-scan marker (FF DA) is followed by an end-of-image marker
/// (FF D9). Entropy-coded data cannot contain FF D9 (a data FF is stuffed as FF 00), and an
/// embedded EXIF thumbnail's end marker comes before the main image's scans.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    match (last_scan, last_end) {
        (Some(scan), Some(end)) => end > scan,
        (None, _) => true, // no scan at all: the decoder reports that itself
        (Some(_), None) => false,
    }
}

/// Converts a decoded image: grey becomes RGB, alpha is kept apart, high bit depth is noted.
pub fn from_dynamic(image: &DynamicImage) -> Result<Picture> {
    let (width, height) = (image.width(), image.height());
    let high_bit_depth = !matches!(
        image,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_)
    );
    let rgba = image.to_rgba32f();
    let has_alpha = image.color().has_alpha();
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    let mut alpha = Vec::with_capacity(if has_alpha {
        width as usize * height as usize
    } else {
        0
    });
    for pixel in rgba.pixels() {
        rgb.extend_from_slice(&pixel.0[..3]);
        if has_alpha {
            alpha.push(pixel.0[3]);
        }
    }
    let mut picture = Picture::new(width, height, rgb, has_alpha.then_some(alpha))?;
    picture.high_bit_depth = high_bit_depth;
    Ok(picture)
}

fn to_dynamic(picture: &Picture, format: OutputFormat) -> DynamicImage {
    let (width, height) = (picture.width(), picture.height());
    let rgb = picture.rgb();
    // JPEG has neither alpha nor 16 bits.
    let alpha = if format == OutputFormat::Jpeg {
        None
    } else {
        picture.alpha()
    };
    let sixteen = picture.high_bit_depth && format != OutputFormat::Jpeg;
    let channels = if alpha.is_some() { 4 } else { 3 };
    let mut values = Vec::with_capacity(width as usize * height as usize * channels);
    for (index, pixel) in rgb.chunks_exact(3).enumerate() {
        values.extend_from_slice(pixel);
        if let Some(alpha) = alpha {
            values.push(alpha[index]);
        }
    }
    let quantise = |max: f32| {
        values
            .iter()
            .map(move |v| (v.clamp(0.0, 1.0) * max).round())
    };
    match (sixteen, alpha.is_some()) {
        (true, true) => DynamicImage::ImageRgba16(
            image::ImageBuffer::from_raw(
                width,
                height,
                quantise(65535.0).map(|v| v as u16).collect(),
            )
            .expect("size"),
        ),
        (true, false) => DynamicImage::ImageRgb16(
            image::ImageBuffer::from_raw(
                width,
                height,
                quantise(65535.0).map(|v| v as u16).collect(),
            )
            .expect("size"),
        ),
        (false, true) => DynamicImage::ImageRgba8(
            image::ImageBuffer::from_raw(width, height, quantise(255.0).map(|v| v as u8).collect())
                .expect("size"),
        ),
        (false, false) => DynamicImage::ImageRgb8(
            image::ImageBuffer::from_raw(width, height, quantise(255.0).map(|v| v as u8).collect())
                .expect("size"),
        ),
    }
}

/// Checks before a long run that the output can be written: known format, existing folder.
pub fn check_output_path(path: &Path) -> Result<OutputFormat> {
    let format = OutputFormat::from_path(path)?;
    let folder = parent_folder(path);
    if !folder.is_dir() {
        return Err(Error::io(path, "the output folder does not exist"));
    }
    if path.is_dir() {
        return Err(Error::io(path, "is a directory"));
    }
    Ok(format)
}

fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `picture` to `path` atomically: PNG and TIFF in 16 bits when the content had more than
/// 8, JPEG at quality 95.
pub fn save(picture: &Picture, path: &Path) -> Result<()> {
    let format = check_output_path(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent_folder(path).join(format!(".{name}.{}.partial", std::process::id()));
    let result = write_file(picture, format, &temporary).and_then(|()| {
        fs::rename(&temporary, path).map_err(|e| Error::io(path, format!("cannot write: {e}")))
    });
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_file(picture: &Picture, format: OutputFormat, path: &Path) -> Result<()> {
    let image = to_dynamic(picture, format);
    let file = fs::File::create(path).map_err(|e| Error::io(path, format!("cannot write: {e}")))?;
    let mut writer = BufWriter::new(file);
    let written = match format {
        OutputFormat::Jpeg => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 95).encode_image(&image)
        }
        _ => image.write_to(&mut writer, format.image_format()),
    };
    written.map_err(|e| Error::io(path, format!("cannot encode image: {e}")))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(path, format!("cannot write: {e}")))?;
    file.sync_all()
        .map_err(|e| Error::io(path, format!("cannot write: {e}")))
}
