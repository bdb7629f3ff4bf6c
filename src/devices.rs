//! The devices a host can offer its user (a dialog's device choice): the CPU, then each GPU the
//! NVIDIA driver reports, with whether a model can run there and, when not, why. The list is
//! made once per process, after the CUDA half was loaded or refused ([`crate::cuda_loader`]),
//! and does not change afterwards (neither does the loader's decision).

use std::ffi::CString;

use once_cell::sync::Lazy;

use crate::cuda_loader;

/// One device: what `nstyle_model_create` takes, and what a menu shows.
#[derive(Debug)]
pub struct Device {
    /// "cpu", "cuda:0", …
    pub id: CString,
    /// "CPU (AMD EPYC 9454P 48-Core Processor, 2 cores)", "NVIDIA H200 (139.8 GiB)".
    pub name: CString,
    /// The GPU's memory, or the machine's RAM for the CPU.
    pub memory_bytes: u64,
    /// Why a model cannot run there; `None` when it can.
    pub unusable: Option<CString>,
}

static DEVICES: Lazy<Vec<Device>> = Lazy::new(find);

/// Every device, the CPU first (the first call loads or refuses the CUDA half).
pub fn all() -> &'static [Device] {
    &DEVICES
}

fn find() -> Vec<Device> {
    let cuda = cuda_loader::ensure();
    let cpu = Device {
        id: text("cpu"),
        name: text(&format!(
            "CPU ({}, {} cores)",
            cpu_model(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
        memory_bytes: total_ram_bytes(),
        unusable: None,
    };
    let gpus = cuda.gpus.iter().enumerate().map(|(index, gpu)| Device {
        id: text(&format!("cuda:{index}")),
        name: text(&format!(
            "{} ({:.1} GiB)",
            gpu.name,
            gpu.memory_bytes as f64 / (1u64 << 30) as f64
        )),
        memory_bytes: gpu.memory_bytes,
        unusable: cuda.unusable.as_deref().map(text),
    });
    std::iter::once(cpu).chain(gpus).collect()
}

/// The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none).
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, v)| v.trim())
        .to_string()
}

fn total_ram_bytes() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// A C string of `value` with any NUL (which no name has) dropped.
fn text(value: &str) -> CString {
    CString::new(value.replace('\0', "")).expect("NULs removed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_comes_first_and_is_usable() {
        let devices = all();
        assert_eq!(devices[0].id.to_str().unwrap(), "cpu");
        assert!(devices[0].unusable.is_none());
        assert!(devices[0].memory_bytes > 0, "MemTotal read");
        for (index, gpu) in devices[1..].iter().enumerate() {
            assert_eq!(gpu.id.to_str().unwrap(), format!("cuda:{index}"));
        }
    }
}
