//! One error type for the whole library. Each variant is a kind of failure a caller can act on
//! differently (fix an argument, free memory, pick another device…); the C ABI maps them 1:1 to
//! status codes, the CLI prints them as one line.

use std::path::Path;

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value is invalid (NaN weight, zero size, unknown option…).
    #[error("invalid argument: {0}")]
    Argument(String),
    /// The call is not valid in the current state (step before content and style are set…).
    #[error("invalid state: {0}")]
    State(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The weights file exists but is not a VGG-19 weights file we understand.
    #[error("bad weights file: {0}")]
    Model(String),
    /// The request does not fit the memory budget, or an allocation failed.
    #[error("out of memory: {0}")]
    Memory(String),
    /// The device is unknown or not available.
    #[error("device: {0}")]
    Device(String),
    /// A cancel request stopped the work; everything is as it was before the interrupted iteration.
    #[error("cancelled")]
    Cancelled,
    /// The optimisation diverged and could not recover; the last good image is kept.
    #[error("numeric failure: {0}")]
    Numeric(String),
    /// An unexpected libtorch error or a caught panic.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, what: impl std::fmt::Display) -> Self {
        Error::Io(format!("{}: {}", path.display(), what))
    }

    pub fn arg(message: impl Into<String>) -> Self {
        Error::Argument(message.into())
    }
}

impl From<tch::TchError> for Error {
    fn from(err: tch::TchError) -> Self {
        let text = err.to_string();
        // libtorch reports allocation failures as ordinary errors; surface them as memory errors so
        // hosts can suggest a smaller size instead of reporting a bug.
        let lowered = text.to_lowercase();
        if lowered.contains("out of memory") || lowered.contains("can't allocate") {
            Error::Memory(first_line(&text))
        } else {
            Error::Internal(first_line(&text))
        }
    }
}

/// libtorch messages carry a C++ backtrace after the first line; users need only the first.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}
