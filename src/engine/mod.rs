//! The style engine: the method of Gatys et al. in parts that read as it works.
//!
//! - [`image`]: the content, styles, masks and temporal target as the host gave them.
//! - [`features`]: the backbone (VGG-19 or EfficientNet-Lite0) whose activations are compared,
//!   and its weights files.
//! - [`loss`]: the loss terms (content, style, histogram, total variation, temporal).
//! - [`optim`]: the optimisers (L-BFGS, Adam) that minimise them over the image.
//! - [`plan`]: the multi-scale stages, the tiles of large stages, the memory they need.
//! - [`config`]: the option table and the settings it fills.
//! - [`session`]: a session that takes the inputs and runs the stages (or the fast network).
//! - [`fast`]: the feed-forward network of `method=fast` and `init=fast`.
//! - [`device`]: device, precision, CPU threads and reads back to the host.
//! - [`metrics`]: scores of a result (SSIM, style distance) for `nstyle eval` and the tests.

pub mod config;
pub mod device;
pub mod fast;
pub mod features;
pub mod image;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod plan;
pub mod session;

pub use config::settings::{Init, LossWeights, Method, OptimizerKind, Settings};
pub use device::precision::{parse_device, Precision, PrecisionChoice};
pub use features::vgg::Vgg19;
pub use image::mask::Mask;
pub use image::picture::Picture;
pub use image::source::SourceImage;
pub use session::transfer::{Progress, Transfer};

use std::path::Path;

use crate::error::Result;
use features::{checksum, weights};

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
