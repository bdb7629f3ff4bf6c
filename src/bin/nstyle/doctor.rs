//! `nstyle doctor`: the library's self-check (the same text as `nstyle_diagnostics()` in the C ABI
//! and the plug-ins' Diagnostics button). Exits 1 when it found a problem.

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct DoctorArgs {
    /// Device to check (auto, cpu, cuda, cuda:N); default $NSTYLE_DEVICE, else auto.
    #[arg(long)]
    device: Option<String>,
}

pub fn doctor(args: DoctorArgs) -> ExitCode {
    let report =
        nstyle::diagnostics::gather(nstyle::ffi::NSTYLE_ABI_VERSION, args.device.as_deref());
    print!("{}", report.text());
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
