//! The self-check a user pastes into a bug report (`nstyle doctor`, `nstyle_diagnostics()`, the
//! plug-ins' Diagnostics button): what was loaded from where, which weights were found and whether
//! they are intact, what device, precision, threads and memory budget a run would get.
//! Every line is gathered independently: one that fails says why, and the rest still print.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::features::checksum;
use crate::engine::features::lite::LITE_WEIGHTS;
use crate::engine::features::weights::{WeightsFile, VGG_WEIGHTS};
use crate::engine::plan::memory;
use crate::engine::{parse_device, PrecisionChoice};

/// The report: labelled lines, and the problems found (none when nstyle can run).
pub struct Diagnostics {
    pub lines: Vec<(String, String)>,
    pub problems: Vec<String>,
}

impl Diagnostics {
    pub fn text(&self) -> String {
        let width = self.lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (key, value) in &self.lines {
            let _ = writeln!(out, "{key:width$}  {value}");
        }
        if self.problems.is_empty() {
            out.push_str("status: ok\n");
        } else {
            for problem in &self.problems {
                let _ = writeln!(out, "PROBLEM: {problem}");
            }
        }
        out
    }
}

/// Gathers the report. `abi_version` is the C ABI's (passed in: the ABI lives in `ffi`);
/// `device` the one to check, else `$NSTYLE_DEVICE`, else auto.
pub fn gather(abi_version: u32, device: Option<&str>) -> Diagnostics {
    let mut report = Diagnostics {
        lines: Vec::new(),
        problems: Vec::new(),
    };
    let mut line = |k: &str, v: String| report.lines.push((k.to_string(), v));
    line(
        "nstyle",
        format!("{} (C ABI {abi_version})", env!("CARGO_PKG_VERSION")),
    );
    line("library", shown(crate::paths::library_file()));
    let libtorch = crate::paths::loaded_library("libtorch_cpu.so");
    line("libtorch", shown(libtorch.clone()));
    line(
        "libtorch version",
        libtorch
            .as_deref()
            .and_then(libtorch_version)
            .unwrap_or_else(|| "unknown (no version file beside it)".into()),
    );
    // The CUDA half is loaded (or refused) here, before any CUDA query (crate::cuda_loader).
    let cuda = crate::cuda_loader::ensure();
    line("CUDA add-on", cuda.addon_line());
    line(
        "NVIDIA driver",
        match &cuda.driver {
            Ok(driver) => driver.clone(),
            Err(reason) => reason.clone(),
        },
    );
    line(
        "GPU",
        if cuda.gpus.is_empty() {
            "none".into()
        } else {
            cuda.gpus
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    format!(
                        "{i}: {}, {:.1} GiB, compute capability {}.{}",
                        g.name,
                        g.memory_bytes as f64 / (1u64 << 30) as f64,
                        g.capability.0,
                        g.capability.1
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
    );
    line(
        "CUDA",
        match &cuda.unusable {
            Some(reason) => format!("not used: {reason}"),
            None => match tch::Cuda::device_count() {
                0 => "not used: torch sees no CUDA device".into(),
                n => format!("{n} device(s), cuDNN {}", tch::Cuda::cudnn_is_available()),
            },
        },
    );
    line("CPU", cpu_summary());
    line("threads", tch::get_num_threads().to_string());
    let requested = device.map(str::to_string).unwrap_or_else(|| {
        std::env::var("NSTYLE_DEVICE")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "auto".into())
    });
    match parse_device(&requested) {
        Ok(device) => {
            line("device", format!("{device:?} (asked: {requested})"));
            let precision = PrecisionChoice::Auto.resolve(device);
            line(
                "precision",
                format!("{} (auto{})", precision.name(), bf16_reason(device)),
            );
            line(
                "memory budget",
                match memory::budget_bytes(None, device) {
                    Some(bytes) => format!(
                        "{} MiB (80 % of the {} MiB available)",
                        bytes >> 20,
                        memory::available_ram_bytes().unwrap_or(0) >> 20
                    ),
                    None => "the GPU's own (no host budget on CUDA)".into(),
                },
            );
        }
        Err(error) => {
            line("device", format!("{requested}: {error}"));
            report.problems.push(error.to_string());
        }
    }
    for file in [&VGG_WEIGHTS, &LITE_WEIGHTS] {
        let (value, problem) = weights_line(file);
        report.lines.push((file.what.to_string(), value));
        report.problems.extend(problem);
    }
    report
}

fn shown(path: Option<PathBuf>) -> String {
    path.map_or_else(|| "unknown".into(), |p| p.display().to_string())
}

/// libtorch's version from the file beside it: `libtorch-version.txt` (the release bundle writes
/// it) or the PyPI package's `torch/version.py` one folder up.
fn libtorch_version(libtorch: &Path) -> Option<String> {
    let dir = libtorch.parent()?;
    if let Ok(text) = std::fs::read_to_string(dir.join("libtorch-version.txt")) {
        return Some(text.trim().to_string());
    }
    let text = std::fs::read_to_string(dir.join("../version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    Some(line.split(['\'', '"']).nth(1)?.to_string())
}

fn cpu_summary() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = crate::devices::cpu_model();
    let flags: Vec<&str> = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let features: Vec<&str> = ["avx2", "avx512f", "avx512_bf16", "amx_bf16"]
        .into_iter()
        .filter(|f| flags.contains(f))
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores, {}", features.join(" "))
}

/// Why `auto` picked its precision on the CPU: the bf16 probe's timings and where they come from.
fn bf16_reason(device: tch::Device) -> String {
    use crate::engine::device::precision::{cpu_bf16_probe, ProbeSource};
    if device.is_cuda() {
        return String::new();
    }
    match cpu_bf16_probe() {
        None => ": the CPU has no native bf16".into(),
        Some(probe) => {
            let source = match probe.source {
                ProbeSource::Kept => "kept from an earlier probe on a quiet machine".to_string(),
                ProbeSource::Probed => "probed now, kept for later processes".to_string(),
                ProbeSource::ProbedBusy { others } => format!(
                    "probed now while other programs used {others:.1} cores: used by this \
                     process only"
                ),
            };
            format!(
                ": bf16 {:.1} ms, fp32 {:.1} ms a probe convolution; {source}",
                probe.bf16_ms, probe.fp32_ms
            )
        }
    }
}

/// One weights file: where it was found, its size and checksum, and what the manifest beside it
/// says; or why it was not found. The second value is the problem, if any.
fn weights_line(file: &WeightsFile) -> (String, Option<String>) {
    let path = match file.resolve(None) {
        Ok(path) => path,
        Err(error) => return ("NOT FOUND".into(), Some(error.to_string())),
    };
    let sum = match checksum::file_sha256(&path) {
        Ok(sum) => sum,
        Err(error) => {
            return (
                format!("{}: unreadable", path.display()),
                Some(error.to_string()),
            )
        }
    };
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let shown = format!("{} ({} bytes, SHA-256 {sum})", path.display(), size);
    match checksum::expected(&path) {
        None => (format!("{shown}, no {}", checksum::MANIFEST_NAME), None),
        Some(want) if want == sum => (
            format!("{shown}, matches {}", checksum::MANIFEST_NAME),
            None,
        ),
        Some(want) => (
            format!("{shown}, DAMAGED"),
            Some(format!(
                "{} is damaged: SHA-256 {sum}, {} says {want}",
                path.display(),
                checksum::MANIFEST_NAME
            )),
        ),
    }
}
