//! Devices and the precision of the VGG pass.
//!
//! The image, the losses and the optimiser always stay fp32; only the network runs in reduced
//! precision, where the hardware does it natively (CUDA, and CPUs with AVX-512 BF16 or AMX).

use tch::{Cuda, Device, Kind};

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
            PrecisionChoice::Auto if cpu_has_native_bf16() => Precision::Bf16,
            PrecisionChoice::Auto => Precision::Fp32,
        }
    }
}

/// bf16 convolutions are only faster than fp32 on CPUs that compute in bf16 natively; elsewhere
/// oneDNN emulates them and they are slower.
fn cpu_has_native_bf16() -> bool {
    static HAS: once_cell::sync::Lazy<bool> = once_cell::sync::Lazy::new(|| {
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
    });
    *HAS
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N` and checks that the device exists.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim();
    match spec {
        "" | "auto" => Ok(if Cuda::is_available() {
            Device::Cuda(0)
        } else {
            Device::Cpu
        }),
        "cpu" => Ok(Device::Cpu),
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
    let count = Cuda::device_count().max(0) as usize;
    if count == 0 {
        Err(Error::Device(format!(
            "'{spec}' requested but CUDA is not available on this machine"
        )))
    } else if index >= count {
        Err(Error::Device(format!(
            "'{spec}' requested but only {count} CUDA device(s) exist"
        )))
    } else {
        Ok(Device::Cuda(index))
    }
}
