//! nstyle: neural style transfer (Gatys et al.) with the original VGG-19, on libtorch.

pub mod cuda_graph;
pub mod cuda_loader;
pub mod devices;
pub mod diagnostics;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod paths;
pub mod preview;

pub use error::{Error, Result};
pub mod imageio;
pub mod pixels;
pub mod text;
