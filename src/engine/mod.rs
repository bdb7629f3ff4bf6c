//! The style engine: the method of Gatys et al. in parts that read as it works, listed from the
//! bottom up. Each part imports only from the parts above it in this list, so no two parts (and
//! no two sibling files inside a part) import each other in a circle:
//!
//! 1. [`device`]: device, precision, CPU threads and the counted reads back to the host.
//! 2. [`features`]: the backbone (VGG-19 or EfficientNet-Lite0) whose activations the losses
//!    compare, and its weights files.
//! 3. [`image`]: the content, styles, masks and temporal target as the host gave them.
//! 4. [`plan`]: the multi-scale stages, the tiles of large stages, the memory they need.
//! 5. [`config`]: the option table and the settings it fills.
//! 6. [`loss`]: the loss terms (content, style, histogram, total variation, temporal).
//! 7. [`optim`]: the optimisers (L-BFGS, Adam) that minimise them over the image.
//! 8. [`session`]: a session that takes the inputs and runs the stages, or the fast network.
//!
//! Beside the chain: [`fast`], the feed-forward network of `method=fast` and `init=fast` (it
//! needs only `device` and `features`), and [`metrics`], the scores of a result for
//! `nstyle eval` and the tests (up to `loss`).

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
pub use session::transfer::{Progress, Setup, Transfer};

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
