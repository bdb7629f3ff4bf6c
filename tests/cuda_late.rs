//! A process whose first model is `cpu` keeps CUDA off afterwards, with the reason (libtorch sets
//! up its autograd device threads once, at the first backward pass; src/cuda_loader.rs). Its own
//! test binary: the loader's state is per process.

use nstyle::engine::parse_device;

#[test]
fn cuda_after_a_cpu_start_is_refused_with_the_reason() {
    assert_eq!(parse_device("cpu").unwrap(), tch::Device::Cpu);
    let status = nstyle::cuda_loader::ensure();
    let reason = status.unusable.as_deref().unwrap_or_default();
    assert!(
        reason.contains("this process ran on the CPU before the CUDA libraries were loaded"),
        "{reason}"
    );
    assert_eq!(parse_device("auto").unwrap(), tch::Device::Cpu);
    let error = parse_device("cuda").unwrap_err().to_string();
    assert!(error.contains("ran on the CPU before"), "{error}");
}
