//! The style engine: VGG-19 features, losses, optimisers and the multi-scale schedule.

pub mod adam;
pub mod checksum;
pub mod estimate;
pub mod fast;
pub mod inputs;
pub mod instant;
pub mod lbfgs;
pub mod lite;
pub mod loss;
pub mod mask;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod objective;
pub mod optim;
pub mod options;
pub mod picture;
pub mod precision;
pub mod readback;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod source;
pub mod temporal;
pub mod threads;
pub mod tiles;
pub mod transfer;
pub mod vgg;
pub mod weights;

pub use mask::Mask;
pub use picture::Picture;
pub use precision::{parse_device, Precision, PrecisionChoice};
pub use settings::{Init, LossWeights, Method, OptimizerKind, Settings};
pub use source::SourceImage;
pub use transfer::{Progress, Setup, Transfer};
pub use vgg::Vgg19;

use std::path::Path;

use crate::error::Result;

/// Loads the weights (explicit path, else `NSTYLE_WEIGHTS`, else the default location) onto a
/// device (`auto`, `cpu`, `cuda`, `cuda:N`) in the given precision.
pub fn load_model(
    weights: Option<&Path>,
    device: &str,
    precision: PrecisionChoice,
) -> Result<Vgg19> {
    let device = parse_device(device)?;
    let path = weights::resolve_path(weights)?;
    let convs = weights::load(&path)?;
    Vgg19::new(convs, device, precision.resolve(device))
}

/// A session on a device (`auto`, `cpu`, `cuda`, `cuda:N`) with the VGG-19 weights found as
/// [`load_model`] finds them and checked (header, tensor names and shapes, length) but read only
/// when a run needs VGG-19: a lite session never loads it.
pub fn open(weights: Option<&Path>, device: &str) -> Result<Transfer> {
    let device = parse_device(device)?;
    let path = weights::resolve_path(weights)?;
    weights::check(&path)?;
    checksum::verify_file(&path)?;
    Ok(Transfer::lazy(path, device))
}
