//! Estimating the memory a run needs before allocating it, and the budget it must fit in.

use tch::Device;

use crate::engine::device::precision::Precision;
use crate::error::{Error, Result};

const MIB: u64 = 1024 * 1024;

/// What one evaluation at `width`×`height` needs, given the network's activation and pooled-map
/// element counts at that size: activations kept for the backward pass, the
/// gradients flowing back, fp32 copies of the loss layers, and the image-sized optimiser tensors.
pub fn estimate_bytes(
    width: u32,
    height: u32,
    (activations, pooled): (u64, u64),
    precision: Precision,
    image_sized_tensors: usize,
    weight_bytes: u64,
) -> u64 {
    let element = precision.kind().elt_size_in_bytes() as u64;
    // Each conv output is saved for the backward pass and a gradient of the same size flows back
    // through it; pooling also saves int64 indices. fp32 loss copies are at most the same again.
    let network = activations * (2 * element + 4) + pooled * (element + 8);
    let image = width as u64 * height as u64 * 3 * 4 * image_sized_tensors as u64;
    network + image + weight_bytes
}

/// The memory budget in bytes: the caller's limit, else 80 % of the available RAM on the CPU.
/// On CUDA without a limit there is no estimate of free memory to hold it to (`None`).
pub fn budget_bytes(limit_mb: Option<u64>, device: Device) -> Option<u64> {
    match limit_mb {
        Some(mb) => Some(mb.saturating_mul(MIB)),
        None if device == Device::Cpu => available_ram_bytes().map(|bytes| bytes / 5 * 4),
        None => None,
    }
}

/// Refuses a host-side allocation of `needed` bytes for `what` over `budget`, naming both, before
/// anything is allocated.
pub fn check_host(needed: u64, budget: Option<u64>, what: &str) -> Result<()> {
    match budget {
        Some(budget) if needed > budget => Err(Error::Memory(format!(
            "{what} needs {} MiB but the memory budget is {} MiB",
            needed.div_ceil(MIB),
            budget / MIB
        ))),
        _ => Ok(()),
    }
}

/// MemAvailable from /proc/meminfo.
pub fn available_ram_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a run of `needed` bytes at long side `size` over `budget`, naming the limit and the
/// largest long side that would fit (memory grows with the pixel count, less the fixed weights).
pub fn check(needed: u64, budget: Option<u64>, size: u32, fixed: u64) -> Result<()> {
    let Some(budget) = budget else { return Ok(()) };
    if needed <= budget {
        return Ok(());
    }
    let scalable = needed.saturating_sub(fixed).max(1) as f64;
    let room = budget.saturating_sub(fixed) as f64;
    let fitting = (size as f64 * (room / scalable).sqrt() * 0.95).floor() as u32;
    let advice = if fitting >= 16 {
        format!("a size of {fitting} would fit")
    } else {
        "even the smallest size would not fit".to_string()
    };
    Err(Error::Memory(format!(
        "size {size} needs about {} MiB but the memory budget is {} MiB; {advice}",
        needed.div_ceil(MIB),
        budget / MIB
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::vgg::Layer;

    /// A VGG-19 pass up to `deepest` with 10 image-sized tensors and no weights.
    fn vgg_estimate(width: u32, height: u32, deepest: Layer, precision: Precision) -> u64 {
        let activations = deepest.activation_elements(width, height);
        estimate_bytes(width, height, activations, precision, 10, 0)
    }

    #[test]
    fn estimate_grows_with_pixels_and_depth() {
        let small = vgg_estimate(128, 96, Layer::RELU5_1, Precision::Fp32);
        let large = vgg_estimate(256, 192, Layer::RELU5_1, Precision::Fp32);
        assert!(large > 3 * small && large < 5 * small);
        assert!(vgg_estimate(128, 96, Layer::RELU1_1, Precision::Fp32) < small);
        assert!(vgg_estimate(128, 96, Layer::RELU5_1, Precision::Bf16) < small);
    }

    #[test]
    fn over_budget_names_limit_and_a_size_that_fits() {
        let needed = vgg_estimate(2048, 2048, Layer::RELU5_1, Precision::Fp32);
        let err = check(needed, Some(512 * MIB), 2048, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("512 MiB"), "{err}");
        let fitting: u32 = err
            .split("a size of ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let fits = vgg_estimate(fitting, fitting, Layer::RELU5_1, Precision::Fp32);
        assert!(fits <= 512 * MIB, "{fitting} does not fit");
        assert!(check(fits, Some(512 * MIB), fitting, 0).is_ok());
    }
}
