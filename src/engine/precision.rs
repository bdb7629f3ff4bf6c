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
}

impl Bf16Probe {
    /// bf16 must win clearly: near a tie, fp32's accuracy is worth more.
    pub fn bf16_wins(&self) -> bool {
        self.bf16_ms < 0.85 * self.fp32_ms
    }
}

/// The CPU's bf16 probe, run once per process on first use. `None` when the CPU does not even
/// claim bf16 instructions (oneDNN then emulates bf16 and it is always slower) or the probe
/// failed. The flag alone is no proof: machines that claim it differ in what it buys.
pub fn cpu_bf16_probe() -> Option<Bf16Probe> {
    static PROBE: once_cell::sync::Lazy<Option<Bf16Probe>> =
        once_cell::sync::Lazy::new(|| cpu_claims_bf16().then(probe_bf16).flatten());
    *PROBE
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
