//! The project's one safetensors reader, for every weights file it reads: VGG-19's
//! ([`super::weights`]), EfficientNet-Lite0's ([`super::lite`]) and the fast network's
//! ([`crate::engine::fast`]). Ours rather than tch's: tch's reader panics on some malformed
//! inputs and its messages do not say which tensor was wrong. Finding a file and checking it
//! against its checksums is [`super::weights::WeightsFile`]'s; what each network expects of the
//! tensors is its own.
//!
//! Errors say what is wrong (naming the tensor) but not which file: the callers add that.

use std::collections::HashMap;

use tch::{Kind, Tensor};

/// The tensors of a safetensors file's bytes (on the CPU, sharing nothing with `bytes`), or what
/// is wrong with them.
pub(crate) fn parse(bytes: &[u8]) -> Result<HashMap<String, Tensor>, String> {
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

/// Why a header could not be read from a file.
pub(crate) enum HeaderError {
    /// The file could not be read.
    Io(std::io::Error),
    /// What it holds is not a sound safetensors header.
    Unsound(String),
}

/// The tensors the header of a safetensors file of `file_len` bytes describes, read from the
/// start of `file` without reading their data (which is only checked to fit in the file).
pub(crate) fn read_header(
    file: &mut impl std::io::Read,
    file_len: u64,
) -> Result<Vec<Entry>, HeaderError> {
    let mut prefix = [0u8; 8];
    let prefix = match file.read_exact(&mut prefix) {
        Ok(()) => Some(&prefix[..]),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
        Err(e) => return Err(HeaderError::Io(e)),
    };
    let end = header_end(prefix, file_len).map_err(HeaderError::Unsound)?;
    let mut header = vec![0u8; end - 8];
    file.read_exact(&mut header).map_err(HeaderError::Io)?;
    parse_header(&header, (file_len - end as u64) as usize).map_err(HeaderError::Unsound)
}

/// Where the header of a safetensors file of `file_len` bytes ends, from its first 8 bytes.
fn header_end(prefix: Option<&[u8]>, file_len: u64) -> Result<usize, String> {
    let header_len = prefix
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or("file too short for a safetensors header")?;
    8u64.checked_add(header_len)
        .filter(|&end| end <= file_len)
        .and_then(|end| usize::try_from(end).ok())
        .ok_or_else(|| "safetensors header length exceeds the file".to_string())
}

/// One tensor as the header describes it: its bytes are `start..end` of the data section.
pub(crate) struct Entry {
    pub name: String,
    pub kind: Kind,
    pub shape: Vec<i64>,
    start: usize,
    end: usize,
}

/// The tensors a safetensors header describes, each checked against a data section of
/// `data_len` bytes.
fn parse_header(header: &[u8], data_len: usize) -> Result<Vec<Entry>, String> {
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
            .collect::<Result<_, _>>()?;
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

/// Tensor `name` of `tensors`, which a network expects of `kind` and `shape`; an error naming it
/// when it is missing or is not that.
pub(crate) fn expect_tensor<'a>(
    tensors: &'a HashMap<String, Tensor>,
    name: &str,
    kind: Kind,
    shape: &[i64],
) -> Result<&'a Tensor, String> {
    let tensor = tensors
        .get(name)
        .ok_or_else(|| format!("missing tensor {name}"))?;
    expect_type(name, (tensor.kind(), &tensor.size()), (kind, shape))?;
    Ok(tensor)
}

/// Fails, naming the tensor, when a tensor `found` of a type and shape (read, or as a header
/// says) is not the `expected` one.
pub(crate) fn expect_type(
    name: &str,
    found: (Kind, &[i64]),
    expected: (Kind, &[i64]),
) -> Result<(), String> {
    if found != expected {
        return Err(format!(
            "tensor {name} is {:?} {:?}, expected {:?} {:?}",
            found.0, found.1, expected.0, expected.1
        ));
    }
    Ok(())
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
