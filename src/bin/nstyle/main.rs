//! The `nstyle` command line: `run` stylises an image, `eval` scores a result, `bench` times the
//! engine, `doctor` checks the installation.

mod bench;
mod doctor;
mod eval;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nstyle",
    version,
    about = "Neural style transfer with the original VGG-19"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Paint the content image in the style of one or more style images.
    Run(Box<run::RunArgs>),
    /// Score a result: SSIM to the content, Gram distance to the style, relu4_2 content distance.
    Eval(eval::EvalArgs),
    /// Seconds per objective evaluation and peak memory on synthetic images.
    Bench(bench::BenchArgs),
    /// Self-check for bug reports: versions, libtorch, device, weights found and their checksums.
    Doctor(doctor::DoctorArgs),
    /// The GNU build ID of ELF files, one line each (install.sh --gpu matches libtorch builds).
    #[command(hide = true)]
    BuildId { files: Vec<PathBuf> },
}

/// Options every command that loads the network shares.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// VGG-19 weights file (default: $NSTYLE_WEIGHTS, then the installed or cached copy).
    #[arg(long)]
    weights: Option<PathBuf>,
}

impl ModelArgs {
    fn open(&self) -> nstyle::Result<nstyle::engine::Transfer> {
        nstyle::engine::open(self.weights.as_deref(), &self.device)
    }

    fn load(
        &self,
        precision: nstyle::engine::PrecisionChoice,
    ) -> nstyle::Result<nstyle::engine::Vgg19> {
        nstyle::engine::load_model(self.weights.as_deref(), &self.device, precision)
    }
}

fn build_ids(files: &[PathBuf]) -> nstyle::Result<ExitCode> {
    for file in files {
        let id = nstyle::cuda_loader::build_id(file)
            .map_err(|e| nstyle::Error::Io(format!("{}: {e}", file.display())))?;
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Eval(args) => eval::eval(args),
        Command::Bench(args) => bench::bench(args),
        Command::Doctor(args) => Ok(doctor::doctor(args)),
        Command::BuildId { files } => build_ids(&files),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            // One printable line, whatever the message quotes (file names, decoder output).
            let line = nstyle::text::printable_line(&error.to_string());
            let message = nstyle::text::shortened(&line, 2000);
            eprintln!("nstyle: error: {message}");
            ExitCode::FAILURE
        }
    }
}
