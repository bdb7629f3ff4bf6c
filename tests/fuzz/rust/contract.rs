//! The contract of the CLI's image loading, checked by the libFuzzer target (fuzz_image.rs). See fuzz_image.rs.

use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("NSTYLE_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                if std::path::Path::new("/dev/shm").is_dir() {
                    PathBuf::from("/dev/shm")
                } else {
                    std::env::temp_dir()
                }
            });
        let dir = base.join(format!("nstyle-fuzz-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Declared size over which a known dimension bomb is not loaded: 16 Mpx (4096²) is 256 MiB as
/// RGBA f32, the largest intermediate `load` makes.
const BOMB_PIXELS: u64 = 16 << 20;

/// Whether `id` is listed in NSTYLE_FUZZ_KNOWN (comma-separated ids of open findings from
/// tests/fuzz/known-issues, tolerated so a campaign can look past them).
fn known(id: &str) -> bool {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("NSTYLE_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|k| k == id)
}

/// Loads `data` as the CLI would and checks the contract; returns the outcome for the caller.
pub fn check(data: &[u8]) -> Result<(u32, u32), String> {
    if known("image-dimension-bomb") {
        // Open finding (tests/fuzz/known-issues): a file of a few hundred bytes declaring a huge
        // image is decoded within the memory budget, then converted at 16 bytes a pixel: GBs,
        // tens of seconds, or a panic when that allocation fails. Tolerated: inputs declaring
        // more than 16 Mpx are not loaded.
        let declared = image::ImageReader::new(std::io::Cursor::new(data))
            .with_guessed_format()
            .ok()
            .and_then(|reader| reader.into_dimensions().ok());
        if let Some((w, h)) = declared {
            if w as u64 * h as u64 > BOMB_PIXELS {
                return Err(format!("skipped: declares {w}×{h} (image-dimension-bomb)"));
            }
        }
    }
    let extension = ["", ".png", ".jpg", ".tif"][data.len() % 4];
    let path = scratch_dir().join(format!("input{extension}"));
    std::fs::write(&path, data).expect("write the input file");
    let outcome = nstyle::imageio::load(&path);
    let _ = std::fs::remove_file(&path);
    match outcome {
        Ok(picture) => {
            let (w, h) = (picture.width(), picture.height());
            assert!(w >= 1 && h >= 1, "CONTRACT: loaded a {w}×{h} picture");
            let pixels = w as usize * h as usize;
            let rgb = picture.rgb();
            assert_eq!(rgb.len(), pixels * 3, "CONTRACT: RGB length for {w}×{h}");
            if let Some(bad) = rgb.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                panic!("CONTRACT: RGB value {bad} outside 0..1");
            }
            if let Some(alpha) = picture.alpha() {
                assert_eq!(alpha.len(), pixels, "CONTRACT: alpha length for {w}×{h}");
                if let Some(bad) = alpha.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                    panic!("CONTRACT: alpha value {bad} outside 0..1");
                }
            }
            Ok((w, h))
        }
        Err(error) => {
            let text = error.to_string();
            assert!(!text.trim().is_empty(), "CONTRACT: empty error message");
            assert!(
                !text.chars().any(char::is_control),
                "CONTRACT: error is not one printable line: {text:?}"
            );
            // Open finding image-error-length (tests/fuzz/known-issues): TIFF errors list every
            // sample's bit depth, ~100 KB from a 200-byte file.
            assert!(
                text.len() <= 4096 || known("image-error-length"),
                "CONTRACT: error of {} bytes",
                text.len()
            );
            Err(text)
        }
    }
}

