//! The CUDA-graph shim (`csrc/cuda_graph.cpp`, `src/cuda_graph.rs`) on a machine without a GPU:
//! the build made it; it exports exactly its C ABI and links the CUDA half of torch, which
//! libnstyle.so does not; it loads into this process beside the CUDA half the loader loaded and
//! its session settings round-trip through torch; a torch error inside it comes back through the
//! C boundary as text; and `CudaGraph::new` says why there is no CUDA rather than crashing.
//!
//! Capture and replay need a GPU: `examples/cuda_graph_check.rs`, run by `scripts/gpu-check.sh`.
//! All tests share one process (the loader runs once per process), as a host would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use nstyle::cuda_graph::{
    self, built_shim, CudaGraph, CudaGraphError, CudaSettings, CudaSettingsNow,
};
use tch::Device;

/// The shim's C ABI: every symbol it exports, no more.
const SHIM_API: [&str; 14] = [
    "nstyle_cuda_get_settings",
    "nstyle_cuda_graph_abi_version",
    "nstyle_cuda_graph_capture_abort",
    "nstyle_cuda_graph_capture_begin",
    "nstyle_cuda_graph_capture_end",
    "nstyle_cuda_graph_create",
    "nstyle_cuda_graph_destroy",
    "nstyle_cuda_graph_new_pool",
    "nstyle_cuda_graph_replay",
    "nstyle_cuda_graph_torch_version",
    "nstyle_cuda_graph_warmup_begin",
    "nstyle_cuda_graph_warmup_end",
    "nstyle_cuda_set_cudnn_benchmark",
    "nstyle_cuda_set_tf32",
];

/// The venv's torch/lib: the libtorch this test process runs on.
fn torch_lib() -> PathBuf {
    let cpu = nstyle::paths::loaded_library("libtorch_cpu.so").expect("libtorch_cpu.so is loaded");
    std::fs::canonicalize(cpu)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shim this build made. None only where the build had nothing to make it from (a CPU-only
/// libtorch) or was told not to: a libtorch with its CUDA half must give one.
fn shim() -> Option<&'static Path> {
    if let Some(shim) = built_shim() {
        return Some(shim);
    }
    let reason = cuda_graph::shim_not_built_reason().unwrap_or("no reason given");
    assert!(
        reason.contains("NSTYLE_CUDA_GRAPH=off") || !torch_lib().join("libtorch_cuda.so").exists(),
        "the linked libtorch has libtorch_cuda.so, but the build made no CUDA-graph shim: {reason}"
    );
    eprintln!("skipped: no CUDA-graph shim in this build ({reason})");
    None
}

fn has_driver() -> bool {
    // SAFETY: dlopen/dlclose of the driver library by its soname.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return false;
        }
        libc::dlclose(handle);
        true
    }
}

fn needed(elf: &Path) -> Vec<String> {
    let out = Command::new("readelf").arg("-d").arg(elf).output().unwrap();
    assert!(out.status.success(), "readelf -d {}", elf.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

/// The names of the functions an ELF file exports (`nm -D --defined-only`, text symbols).
fn exported_functions(elf: &Path) -> BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "nm -D {}", elf.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "T", name] => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_shim_exports_exactly_its_c_abi() {
    let Some(shim) = shim() else { return };
    assert_eq!(
        exported_functions(shim),
        SHIM_API.iter().map(|s| s.to_string()).collect(),
        "{} (built with -fvisibility=hidden: only the C ABI is exported)",
        shim.display()
    );
}

#[test]
fn the_shim_links_the_cuda_half_and_libnstyle_does_not() {
    let Some(shim) = shim() else { return };
    let shim_needs = needed(shim);
    for cuda in ["libtorch_cuda.so", "libc10_cuda.so"] {
        assert!(
            shim_needs.iter().any(|n| n == cuda),
            "{} lacks {cuda} in NEEDED: {shim_needs:?}",
            shim.display()
        );
    }
    let lib = PathBuf::from(env!("CARGO_BIN_EXE_nstyle"))
        .parent()
        .unwrap()
        .join("libnstyle.so");
    assert!(lib.exists(), "{} is not built", lib.display());
    let lib_needs = needed(&lib);
    assert!(
        !lib_needs.iter().any(|n| n.contains("cuda")),
        "{} has the CUDA half in NEEDED: {lib_needs:?}",
        lib.display()
    );
    // Nor is the shim linked into it: its functions are only in the shim.
    let lib_exports = exported_functions(&lib);
    assert!(
        !SHIM_API.iter().any(|name| lib_exports.contains(*name)),
        "{} exports the shim's functions",
        lib.display()
    );
}

#[test]
fn new_graph_without_cuda_says_why() {
    assert_eq!(
        CudaGraph::new(Device::Cpu).err(),
        Some(CudaGraphError::NotCuda("Cpu".into()))
    );
    if has_driver() {
        eprintln!("skipped the no-driver case: this machine has an NVIDIA driver");
        return;
    }
    match CudaGraph::new(Device::Cuda(0)) {
        Err(CudaGraphError::NoCuda(reason)) => {
            assert!(reason.contains("no NVIDIA driver"), "{reason}")
        }
        Err(other) => panic!("expected the no-CUDA error, got: {other}"),
        Ok(_) => panic!("a graph on a machine without a driver"),
    }
}

#[test]
fn the_shim_loads_beside_the_cuda_half_and_sets_the_session() {
    let Some(built) = shim() else { return };
    // The loader loads the venv's CUDA half even without a driver (it only declines to use it),
    // so the shim's libraries resolve to the copies in the process.
    let info = cuda_graph::shim_info().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.torch_version, nstyle::cuda_loader::TORCH_VERSION);
    assert_eq!(
        std::fs::canonicalize(&info.path).unwrap(),
        std::fs::canonicalize(built).unwrap()
    );
    for (settings, now) in [
        (
            CudaSettings {
                cudnn_benchmark: true,
                tf32: false,
            },
            CudaSettingsNow {
                cudnn_benchmark: true,
                tf32_matmul: false,
                tf32_conv: false,
            },
        ),
        (
            CudaSettings {
                cudnn_benchmark: false,
                tf32: true,
            },
            CudaSettingsNow {
                cudnn_benchmark: false,
                tf32_matmul: true,
                tf32_conv: true,
            },
        ),
    ] {
        cuda_graph::apply_settings(settings).unwrap();
        assert_eq!(cuda_graph::current_settings().unwrap(), now);
    }
}

#[test]
fn a_torch_error_in_the_shim_comes_back_as_text() {
    if shim().is_none() {
        return;
    }
    if has_driver() {
        eprintln!("skipped: this machine has an NVIDIA driver");
        return;
    }
    // Past the CUDA check: torch itself finds no GPU and throws; the shim catches it.
    match CudaGraph::new_without_cuda_check(0) {
        Err(CudaGraphError::Torch(text)) => {
            eprintln!("torch's error, as it came back: {text}");
            assert!(text.starts_with("creating a CUDA graph: "), "{text}");
            assert!(
                !text.contains("Exception raised from"),
                "the C++ backtrace came through: {text}"
            );
        }
        Err(other) => panic!("expected torch's error, got: {other}"),
        Ok(_) => panic!("a CUDA graph on a machine without a driver"),
    }
}
