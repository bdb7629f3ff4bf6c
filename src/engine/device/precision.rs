//! Devices and the precision of the VGG pass.
//!
//! The image, the losses and the optimiser always stay fp32; only the network runs in reduced
//! precision, where it is faster: always on CUDA; on a CPU only where a short probe measured bf16
//! faster than fp32.

use tch::{Cuda, Device, Kind, Tensor};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    Bf16,
    Fp16,
}

/// What the user asked for; `Auto` picks per device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PrecisionChoice {
    #[default]
    Auto,
    Fixed(Precision),
}

impl Precision {
    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }
}

impl PrecisionChoice {
    pub fn name(self) -> &'static str {
        match self {
            PrecisionChoice::Auto => "auto",
            PrecisionChoice::Fixed(precision) => precision.name(),
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "auto" => Ok(PrecisionChoice::Auto),
            "fp32" => Ok(PrecisionChoice::Fixed(Precision::Fp32)),
            "bf16" => Ok(PrecisionChoice::Fixed(Precision::Bf16)),
            "fp16" => Ok(PrecisionChoice::Fixed(Precision::Fp16)),
            other => Err(Error::arg(format!(
                "unknown precision '{other}' (expected auto, fp32, bf16 or fp16)"
            ))),
        }
    }

    pub fn resolve(self, device: Device) -> Precision {
        match self {
            PrecisionChoice::Fixed(p) => p,
            PrecisionChoice::Auto if device.is_cuda() => Precision::Bf16,
            PrecisionChoice::Auto if cpu_bf16_wins() => Precision::Bf16,
            PrecisionChoice::Auto => Precision::Fp32,
        }
    }
}

/// What the first `precision=auto` on the CPU measured: one 3×3 convolution, forward and
/// backward to its input, in fp32 and in bf16 (best of several interleaved runs each).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bf16Probe {
    pub fp32_ms: f64,
    pub bf16_ms: f64,
    /// Where the decision comes from.
    pub source: ProbeSource,
}

/// Where a process's bf16 decision comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProbeSource {
    /// An earlier process's probe on a quiet machine, kept in the per-user cache: every process
    /// on this machine decides alike, whatever the load when it starts.
    Kept,
    /// This process's probe on a quiet machine (now kept for the next ones).
    Probed,
    /// This process's probe while other programs kept `others` cores busy: used by this
    /// process (its picture's precision does not change mid-session) but not kept.
    ProbedBusy { others: f64 },
}

impl Bf16Probe {
    /// bf16 must win clearly: near a tie, fp32's accuracy is worth more.
    pub fn bf16_wins(&self) -> bool {
        self.bf16_ms < 0.85 * self.fp32_ms
    }
}

/// The CPU's bf16 decision, made once per process on first use. `None` when the CPU does not
/// even claim bf16 instructions (oneDNN then emulates bf16 and it is always slower) or the probe
/// failed. The flag alone is no proof: machines that claim it differ in what it buys.
///
/// A probe under load decides by noise (seen here: fp32 one run, bf16 the next, the picture's
/// precision with it), so a probe made while other programs left the machine quiet is kept per
/// CPU model and libtorch in the per-user cache and every later process uses it; a busy probe
/// serves its own process only.
pub fn cpu_bf16_probe() -> Option<Bf16Probe> {
    static PROBE: once_cell::sync::Lazy<Option<Bf16Probe>> =
        once_cell::sync::Lazy::new(|| cpu_claims_bf16().then(decide_bf16).flatten());
    *PROBE
}

/// Others' load (cores) over a probe under which it still counts as quiet.
const QUIET_BELOW: f64 = 0.35;

fn decide_bf16() -> Option<Bf16Probe> {
    let record = probe_record_path();
    if let Some(kept) = record.as_deref().and_then(read_probe_record) {
        return Some(kept);
    }
    let window = crate::engine::device::threads::LoadWindow::start();
    let mut probe = probe_bf16()?;
    let others = window.others().unwrap_or(0.0);
    if others < QUIET_BELOW {
        probe.source = ProbeSource::Probed;
        if let Some(path) = record {
            write_probe_record(&path, &probe);
        }
    } else {
        probe.source = ProbeSource::ProbedBusy { others };
    }
    Some(probe)
}

/// The kept probe's file: per CPU model and libtorch version, in the per-user cache.
fn probe_record_path() -> Option<std::path::PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim());
    let key: String = format!("{model}-torch-{}", crate::cuda_loader::TORCH_VERSION)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Some(cache.join("nstyle").join("cpu-bf16").join(key))
}

/// "fp32_ms bf16_ms" written by a quiet probe.
fn read_probe_record(path: &std::path::Path) -> Option<Bf16Probe> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut numbers = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    let (fp32_ms, bf16_ms) = (numbers.next()??, numbers.next()??);
    (fp32_ms.is_finite() && bf16_ms.is_finite() && fp32_ms > 0.0 && bf16_ms > 0.0).then_some(
        Bf16Probe {
            fp32_ms,
            bf16_ms,
            source: ProbeSource::Kept,
        },
    )
}

/// Best effort: a cache that cannot be written only means the next process probes again.
fn write_probe_record(path: &std::path::Path, probe: &Bf16Probe) {
    let Some(folder) = path.parent() else { return };
    if std::fs::create_dir_all(folder).is_err() {
        return;
    }
    // Written whole then renamed: a concurrent reader sees the old record or the new one.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let text = format!("{} {}\n", probe.fp32_ms, probe.bf16_ms);
    if std::fs::write(&temporary, text).is_ok() && std::fs::rename(&temporary, path).is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

fn cpu_bf16_wins() -> bool {
    cpu_bf16_probe().is_some_and(|probe| probe.bf16_wins())
}

fn cpu_claims_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("flags"))
                .take(1)
                .any(|l| {
                    l.split_whitespace()
                        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
                })
        })
        .unwrap_or(false)
}

/// About 0.2 s: a VGG-like 128-channel 3×3 convolution on 64×64 (~2.4 GFLOP a pass), channels-last as the network
/// runs it, timed forward+backward in both precisions, alternating so that a burst of load
/// from elsewhere hits both alike.
fn probe_bf16() -> Option<Bf16Probe> {
    use std::time::Instant;
    let run = |kind: Kind| -> std::result::Result<f64, tch::TchError> {
        let values = |n: i64, shape: &[i64]| -> std::result::Result<Tensor, tch::TchError> {
            Tensor::f_arange(n, (Kind::Float, Device::Cpu))?
                .f_mul_scalar(0.37)?
                .f_sin()?
                .f_view(shape)?
                .f_to_kind(kind)
        };
        let channels_last = |t: Tensor| -> std::result::Result<Tensor, tch::TchError> {
            t.f_permute([0, 2, 3, 1])?
                .f_contiguous()?
                .f_permute([0, 3, 1, 2])
        };
        let input =
            channels_last(values(128 * 64 * 64, &[1, 128, 64, 64])?)?.set_requires_grad(true);
        let weight = channels_last(values(128 * 128 * 9, &[128, 128, 3, 3])?.f_mul_scalar(0.03)?)?;
        let started = Instant::now();
        let out = input.f_conv2d(&weight, None::<&Tensor>, [1, 1], [1, 1], [1, 1], 1)?;
        out.f_relu()?.f_sum(Kind::Float)?.f_backward()?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let (mut fp32, mut bf16) = (f64::INFINITY, f64::INFINITY);
    for round in 0..12 {
        let (a, b) = (run(Kind::Float).ok()?, run(Kind::BFloat16).ok()?);
        if round >= 2 {
            // The first rounds pick oneDNN's kernels: not counted.
            fp32 = fp32.min(a);
            bf16 = bf16.min(b);
        }
    }
    Some(Bf16Probe {
        fp32_ms: fp32,
        bf16_ms: bf16,
        source: ProbeSource::Probed,
    })
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N` and checks that the device exists.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim();
    match spec {
        // The CUDA half of libtorch is loaded before the first CUDA query (crate::cuda_loader).
        "" | "auto" => Ok(
            if crate::cuda_loader::ensure().usable() && Cuda::is_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            },
        ),
        "cpu" => {
            crate::cuda_loader::note_cpu_device();
            Ok(Device::Cpu)
        }
        "cuda" => cuda_device(0, spec),
        _ => match spec.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => cuda_device(index, spec),
            _ => Err(Error::Device(format!(
                "unknown device '{spec}' (expected auto, cpu, cuda or cuda:N)"
            ))),
        },
    }
}

fn cuda_device(index: usize, spec: &str) -> Result<Device> {
    if let Some(reason) = &crate::cuda_loader::ensure().unusable {
        return Err(Error::Device(format!(
            "'{spec}' requested but CUDA cannot be used: {reason}"
        )));
    }
    let count = Cuda::device_count().max(0) as usize;
    if count == 0 {
        Err(Error::Device(format!(
            "'{spec}' requested but CUDA is not available on this machine (torch sees no device)"
        )))
    } else if index >= count {
        Err(Error::Device(format!(
            "'{spec}' requested but only {count} CUDA device(s) exist"
        )))
    } else {
        Ok(Device::Cuda(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_probe_is_kept_and_read_back_and_a_damaged_record_ignored() {
        let folder = std::env::temp_dir().join(format!("nstyle-bf16-{}", std::process::id()));
        let path = folder.join("cpu-model");
        let probe = Bf16Probe {
            fp32_ms: 25.5,
            bf16_ms: 11.25,
            source: ProbeSource::Probed,
        };
        write_probe_record(&path, &probe);
        let kept = read_probe_record(&path).expect("the record reads back");
        assert_eq!((kept.fp32_ms, kept.bf16_ms), (25.5, 11.25));
        assert_eq!(kept.source, ProbeSource::Kept);
        assert!(kept.bf16_wins());
        for damaged in ["", "25.5", "nan 3", "-1 2", "a b"] {
            std::fs::write(&path, damaged).unwrap();
            assert!(read_probe_record(&path).is_none(), "{damaged:?}");
        }
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
