//! The C ABI. Only the boundary lives here: pointer checks, panics caught, errors turned into a
//! status and a thread-local message. Everything else is in the engine.
//!
//! Threading: one model is used by one thread at a time (calls on the same model from two threads
//! are serialised by a lock, never a data race); different models may run concurrently;
//! `nstyle_cancel` may be called from any thread at any time.

// These functions are C entry points: C callers cannot see `unsafe`, and the pointer contract of
// each is in its documentation (copied into the header), so marking them `unsafe fn` would only
// burden Rust callers of the rlib without protecting anyone.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::config::options::{self, Domain};
use crate::engine::config::values::check_weight;
use crate::engine::image::temporal::TemporalTarget;
use crate::engine::session::inputs::{self, InputData, InputSlot};
use crate::engine::{self, SourceImage, Transfer};
use crate::error::Error;
use crate::pixels::{self, HostFormat, MaskFormat, PixelFormat};
use crate::preview::Preview;
use crate::text::{printable_line, shortened};

/// Version of this ABI; grows only by addition. 2 added the option table (`nstyle_option_*`,
/// `nstyle_get_option`), `nstyle_result_size` and the BGRA8 and RGBA_F16 formats; 3 added
/// `nstyle_estimate_seconds`; 4 added `nstyle_version`, `nstyle_diagnostics`, style region
/// masks (`nstyle_set_style_mask` and the calls beside it) and, for video,
/// `nstyle_set_init_image`, `nstyle_set_temporal` and `nstyle_clear_temporal`; 5 added the
/// content mask (`nstyle_set_content_mask`, `nstyle_clear_content_mask`) and the options
/// `content_mask_gain` and `mask_softness`.
///
/// 6 is the first change that is not an addition: `nstyle_step` returns NSTYLE_DONE (not
/// NSTYLE_OK) once the run is complete, as sqlite3_step returns SQLITE_DONE, so a host loop
/// reads the end from the status instead of re-deriving it from the progress; a cancel stops
/// only the step that is running (each step starts with the flag lowered); the last error is
/// kept per model (`nstyle_errmsg`). It adds the one input call (`nstyle_set_input` with
/// `NstyleImage`, `NstyleInput` and the grey plane formats in `NstyleFormat`; the per-input
/// calls stay, as thin wrappers over it), the loss terms by name (`nstyle_progress_term_count`,
/// `nstyle_progress_term`), the estimate in words (`nstyle_estimate_text`), the options
/// `method` (fast), `temporal_weight` and `histogram_weight`, and `init=fast`. A host
/// written for 5 keeps working except that it sees NSTYLE_DONE, not NSTYLE_OK, from the step
/// that completes the run.
///
/// 7 adds `nstyle_describe_seconds`, `nstyle_style_side` (the size a style is used at),
/// `nstyle_model_device` (where a model runs), the device list (`nstyle_device_count`,
/// `nstyle_device_info`, `NstyleDeviceInfo`) for a host's device choice, and the preview driver
/// (`NstylePreview` and the `nstyle_preview_*` calls): one implementation of what a dialog's
/// preview shows, and when, for every host.
pub const NSTYLE_ABI_VERSION: u32 = 7;

/// Result of every call that can fail. On failure `nstyle_errmsg(model)` says why (and
/// `nstyle_last_error()`, on the calling thread).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NstyleStatus {
    NSTYLE_OK = 0,
    /// Null pointer, zero or oversized dimension, short stride, unknown format, NaN/negative
    /// weight, unknown option or bad option value.
    NSTYLE_ERR_ARGUMENT = 1,
    /// The call is not valid now, e.g. a step before a content and a style image are set.
    NSTYLE_ERR_STATE = 2,
    /// Weights file missing or unreadable.
    NSTYLE_ERR_IO = 3,
    /// Weights file malformed or of the wrong shapes.
    NSTYLE_ERR_MODEL = 4,
    /// Over the memory budget, or an allocation failed.
    NSTYLE_ERR_MEMORY = 5,
    /// Device unknown or not available.
    NSTYLE_ERR_DEVICE = 6,
    /// `nstyle_cancel()` stopped a step; the model is as it was before the interrupted iteration.
    NSTYLE_ERR_CANCELLED = 7,
    /// Diverged and could not recover; the last good image is kept.
    NSTYLE_ERR_NUMERIC = 8,
    /// Caught panic or unexpected libtorch error.
    NSTYLE_ERR_INTERNAL = 9,
    /// Not an error: `nstyle_step` completed the run (this step did the last iteration, or the
    /// run was already complete and the step did nothing). Since ABI 6.
    NSTYLE_DONE = 100,
}

/// Pixel layouts (passed as `uint32_t`). 16-bit and float channels are in native byte order;
/// values are non-premultiplied, 0..1 (float) or the full integer range.
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum NstyleFormat {
    NSTYLE_RGB8 = 0,
    NSTYLE_RGBA8 = 1,
    NSTYLE_RGBA16 = 2,
    /// Float channels; NaN reads as 0 and values are clamped to 0..1 (never refused).
    NSTYLE_RGBA_F32 = 3,
    /// Bytes B, G, R, A: Qt's and Cairo's ARGB32 on little-endian machines. Since ABI 2.
    NSTYLE_BGRA8 = 4,
    /// IEEE half-float channels (Krita's 16-bit float layers); read like NSTYLE_RGBA_F32.
    /// Since ABI 2.
    NSTYLE_RGBA_F16 = 5,
    /// One grey sample per pixel, 0..255: a plane of weights (regions, masks, temporal
    /// weights). Since ABI 6, for `nstyle_set_input`.
    NSTYLE_GREY8 = 6,
    /// One grey sample per pixel, 0..65535. Since ABI 6.
    NSTYLE_GREY16 = 7,
    /// One float sample per pixel, 0..1 (clamped); NaN or infinity is NSTYLE_ERR_ARGUMENT.
    /// Since ABI 6.
    NSTYLE_GREY_F32 = 8,
}

/// The inputs `nstyle_set_input` sets or clears (passed as `uint32_t`). Since ABI 6.
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum NstyleInput {
    /// The photo (a colour image); restarts the run. Cannot be cleared.
    NSTYLE_INPUT_CONTENT = 0,
    /// Style `index` (a colour image): at the index after the last it adds a style (blend
    /// weight 1), at an existing one it replaces that style's image (its weight and masks
    /// stay); cleared, the style is removed and the later ones move down by one.
    NSTYLE_INPUT_STYLE = 1,
    /// Where on the content style `index` paints (a plane; see `nstyle_set_style_mask`).
    NSTYLE_INPUT_STYLE_REGION = 2,
    /// Which part of style `index`'s own image its style is taken from (a plane).
    NSTYLE_INPUT_STYLE_SOURCE_REGION = 3,
    /// Where the photo holds more (a plane; see `nstyle_set_content_mask`).
    NSTYLE_INPUT_CONTENT_MASK = 4,
    /// Where the optimisation starts (a colour image); restarts the run. Cleared: the content.
    NSTYLE_INPUT_INIT_IMAGE = 5,
    /// The temporal term's target (a colour image; see `nstyle_set_temporal`), with weights 1
    /// everywhere until NSTYLE_INPUT_TEMPORAL_WEIGHTS sets them; its weight is the option
    /// `temporal_weight`.
    NSTYLE_INPUT_TEMPORAL_TARGET = 6,
    /// The temporal term's per-pixel weights (a plane, resampled to the target's size; needs a
    /// target). Cleared: 1 everywhere.
    NSTYLE_INPUT_TEMPORAL_WEIGHTS = 7,
}

/// An image or a plane as the host holds it: `height` rows of `width` pixels, `stride_bytes`
/// apart (the last row need not be padded), in `format` (an NstyleFormat). Since ABI 6.
#[repr(C)]
pub struct NstyleImage {
    pub pixels: *const c_void,
    pub width: u32,
    pub height: u32,
    pub stride_bytes: usize,
    pub format: u32,
}

/// Kinds of option value (`NstyleOptionInfo.value_type`).
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum NstyleOptionType {
    /// A whole number in `min`..`max`, or one of `words` (e.g. "auto").
    NSTYLE_OPTION_INT = 0,
    /// A finite number in `min`..`max`.
    NSTYLE_OPTION_FLOAT = 1,
    /// One of `words` (comma-separated).
    NSTYLE_OPTION_CHOICE = 2,
    /// "0" or "1".
    NSTYLE_OPTION_BOOL = 3,
    /// VGG-19 layers with optional weights, e.g. "relu4_2" or "relu1_1:1,relu2_1:0.5".
    NSTYLE_OPTION_LAYERS = 4,
}

/// What changing an option does to a run in progress (`NstyleOptionInfo.effect`).
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum NstyleOptionEffect {
    /// The optimisation starts again from the initial image.
    NSTYLE_EFFECT_RESTART = 0,
    /// The current image is kept; the loss targets are rebuilt.
    NSTYLE_EFFECT_RETARGET = 1,
    /// Applies from the next step.
    NSTYLE_EFFECT_LIVE = 2,
}

/// One row of the option table. Every string is static, NUL-terminated and never NULL.
#[repr(C)]
pub struct NstyleOptionInfo {
    /// The name `nstyle_set_option` takes.
    pub key: *const c_char,
    /// An NstyleOptionType.
    pub value_type: u32,
    /// An NstyleOptionEffect.
    pub effect: u32,
    /// Inclusive range of INT and FLOAT options (0 for the others).
    pub min: f64,
    pub max: f64,
    /// CHOICE: the accepted words, comma-separated; INT: words accepted besides numbers
    /// (e.g. "auto"); otherwise "".
    pub words: *const c_char,
    /// The default, as `nstyle_set_option` accepts it.
    pub default_value: *const c_char,
    /// Unit of numeric values ("px", "MiB"…), or "".
    pub unit: *const c_char,
    /// One line for a tooltip.
    pub doc: *const c_char,
    /// The accepted values in words, for error messages and help text.
    pub accepts: *const c_char,
}

/// One device a host can offer (`nstyle_device_info`). Every string is static, NUL-terminated
/// and never NULL. Since ABI 7.
#[repr(C)]
pub struct NstyleDeviceInfo {
    /// What `nstyle_model_create` takes: "cpu", "cuda:0", …
    pub id: *const c_char,
    /// For a menu: "CPU (AMD EPYC …, 2 cores)", "NVIDIA H200 (139.8 GiB)".
    pub name: *const c_char,
    /// The GPU's memory, or the machine's RAM for the CPU, in bytes.
    pub memory_bytes: u64,
    /// 1 when a model can run there; 0 with `reason` saying why not.
    pub usable: u32,
    /// Why the device cannot be used (no driver, a driver too old, …); "" when it can.
    pub reason: *const c_char,
}

/// Weights of the three loss terms (defaults 5, 100, 0.01). Finite and ≥ 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NstyleWeights {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
}

/// Where a model stands after a step.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NstyleProgress {
    /// Iterations done so far (all scales) and planned.
    pub iteration: u32,
    pub total: u32,
    /// Current scale, 0-based, and how many.
    pub scale: u32,
    pub scales: u32,
    pub loss: f64,
    pub content_loss: f64,
    pub style_loss: f64,
    pub tv_loss: f64,
}

impl From<&engine::Progress> for NstyleProgress {
    fn from(report: &engine::Progress) -> Self {
        NstyleProgress {
            iteration: report.iteration,
            total: report.total,
            scale: report.scale,
            scales: report.scales,
            loss: report.losses.total,
            content_loss: report.losses.get("content"),
            style_loss: report.losses.get("style"),
            tv_loss: report.losses.get("tv"),
        }
    }
}

/// An opaque style-transfer model: the network, the images, the settings and the optimisation.
pub struct NstyleModel {
    session: Mutex<Transfer>,
    cancel: Arc<AtomicBool>,
    /// The message of the last call on this model that failed (`nstyle_errmsg`).
    last_error: Mutex<CString>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::new("no error").expect("no NUL"));
    static DIAGNOSTICS: RefCell<CString> = RefCell::new(CString::default());
}

/// Longest message kept, in characters: messages quote what the caller passed (an option key, a
/// value), and a host must not get a 100 KB key echoed back into its error dialog.
const MAX_ERROR_CHARS: usize = 400;

fn set_last_error(message: &str) {
    let clean = shortened(&printable_line(message), MAX_ERROR_CHARS);
    LAST_ERROR
        .with(|slot| *slot.borrow_mut() = CString::new(clean).expect("no control characters"));
}

fn status_of(error: &Error) -> NstyleStatus {
    use NstyleStatus::*;
    match error {
        Error::Argument(_) => NSTYLE_ERR_ARGUMENT,
        Error::State(_) => NSTYLE_ERR_STATE,
        Error::Io(_) => NSTYLE_ERR_IO,
        Error::Model(_) => NSTYLE_ERR_MODEL,
        Error::Memory(_) => NSTYLE_ERR_MEMORY,
        Error::Device(_) => NSTYLE_ERR_DEVICE,
        Error::Cancelled => NSTYLE_ERR_CANCELLED,
        Error::Numeric(_) => NSTYLE_ERR_NUMERIC,
        Error::Internal(_) => NSTYLE_ERR_INTERNAL,
    }
}

/// Runs the body of an exported function: a panic becomes NSTYLE_ERR_INTERNAL, an error its
/// status, and either one is recorded for `nstyle_last_error`.
fn boundary(body: impl FnOnce() -> Result<(), Error>) -> NstyleStatus {
    status_boundary(|| body().map(|()| NstyleStatus::NSTYLE_OK))
}

/// [`boundary`] for a call on `model`: a failure is also recorded on the model, for
/// `nstyle_errmsg` (a NULL model has nowhere to keep it: the thread's message says it).
fn model_boundary(
    model: *const NstyleModel,
    body: impl FnOnce() -> Result<(), Error>,
) -> NstyleStatus {
    model_status_boundary(model, || body().map(|()| NstyleStatus::NSTYLE_OK))
}

fn model_status_boundary(
    model: *const NstyleModel,
    body: impl FnOnce() -> Result<NstyleStatus, Error>,
) -> NstyleStatus {
    let status = status_boundary(body);
    if !matches!(status, NstyleStatus::NSTYLE_OK | NstyleStatus::NSTYLE_DONE) {
        if let Ok(model) = model_ref(model) {
            let message = LAST_ERROR.with(|slot| slot.borrow().clone());
            *model
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = message;
        }
    }
    status
}

/// The boundary of a body that chooses its own success status (NSTYLE_OK or NSTYLE_DONE).
fn status_boundary(body: impl FnOnce() -> Result<NstyleStatus, Error>) -> NstyleStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => {
            set_last_error(&error.to_string());
            status_of(&error)
        }
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            let text = text.lines().next().unwrap_or("");
            let error = if text.to_lowercase().contains("out of memory") {
                Error::Memory(text.to_string())
            } else {
                Error::Internal(text.to_string())
            };
            set_last_error(&error.to_string());
            status_of(&error)
        }
    }
}

fn model_ref<'a>(model: *const NstyleModel) -> Result<&'a NstyleModel, Error> {
    // SAFETY: a non-null pointer must come from nstyle_model_create and not be freed yet (the
    // documented contract); we only ever take shared references to it.
    unsafe { model.as_ref() }.ok_or_else(|| Error::arg("model is NULL"))
}

fn with_session<T>(
    model: *const NstyleModel,
    f: impl FnOnce(&mut Transfer) -> Result<T, Error>,
) -> Result<T, Error> {
    let model = model_ref(model)?;
    // A panic inside a previous call may have poisoned the lock; the session itself is still
    // consistent (every mutation completes or is not made), so keep using it.
    let mut session = model
        .session
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut session)
}

fn optional_str<'a>(text: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null strings must be NUL-terminated (the documented contract).
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str()
        .map(Some)
        .map_err(|_| Error::arg(format!("{what} is not valid UTF-8")))
}

/// A path argument (NULL: none). Paths are bytes on Unix, not necessarily UTF-8.
fn optional_path<'a>(path: *const c_char) -> Option<&'a Path> {
    (!path.is_null()).then(|| {
        // SAFETY: a non-null string must be NUL-terminated (the documented contract).
        let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
        Path::new(std::ffi::OsStr::from_bytes(bytes))
    })
}

/// The shape of every create call: `*out` is NULL until `make` succeeds, then the new object
/// (which the matching free call takes back).
fn create_into<T>(out: *mut *mut T, make: impl FnOnce() -> Result<T, Error>) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::arg("out is NULL"));
    }
    // SAFETY: `out` is non-null and points to writable storage for a pointer.
    unsafe { *out = std::ptr::null_mut() };
    let object = make()?;
    // SAFETY: as above.
    unsafe { *out = Box::into_raw(Box::new(object)) };
    Ok(())
}

fn required_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, Error> {
    optional_str(text, what)?.ok_or_else(|| Error::arg(format!("{what} is NULL")))
}

/// A host image or plane, checked (size, stride, format) but not yet copied.
struct HostImage<'a> {
    bytes: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: HostFormat,
}

impl<'a> HostImage<'a> {
    fn new(
        pixels: *const c_void,
        width: u32,
        height: u32,
        stride: usize,
        format: HostFormat,
    ) -> Result<Self, Error> {
        let len = format.buffer_len(width, height, stride)?;
        if pixels.is_null() {
            return Err(Error::arg("pixels is NULL"));
        }
        // SAFETY: the caller promises `stride * (height - 1) + row` readable bytes at `pixels`.
        let bytes = unsafe { std::slice::from_raw_parts(pixels.cast::<u8>(), len) };
        Ok(HostImage {
            bytes,
            width,
            height,
            stride,
            format,
        })
    }

    /// A colour image from the calls that take one (`format` is an NstyleFormat below the
    /// planes).
    fn colour(
        pixels: *const c_void,
        width: u32,
        height: u32,
        stride: usize,
        format: u32,
    ) -> Result<Self, Error> {
        let format = HostFormat::Colour(PixelFormat::from_raw(format)?);
        HostImage::new(pixels, width, height, stride, format)
    }

    /// The compact copy the session keeps, refused (NSTYLE_ERR_MEMORY) over `budget`.
    fn read(&self, budget: Option<u64>) -> Result<InputData, Error> {
        let HostImage {
            bytes,
            width,
            height,
            stride,
            format,
        } = *self;
        format.read(bytes, width, height, stride, budget)
    }

    /// The compact copy of a colour image.
    fn copy(&self, budget: Option<u64>) -> Result<SourceImage, Error> {
        match self.read(budget)? {
            InputData::Image(image) => Ok(image),
            InputData::Plane(_) => Err(Error::arg("a colour image is needed here, not a plane")),
        }
    }
}

/// ABI version of the loaded library (7). Compare with NSTYLE_ABI_VERSION from the header.
#[no_mangle]
pub extern "C" fn nstyle_abi_version() -> u32 {
    NSTYLE_ABI_VERSION
}

/// Message of the last failed call on this thread; never NULL. Valid until the next failing call
/// on the same thread. For a call on a model, `nstyle_errmsg(model)` is the message to read
/// (a worker thread's failure reads the same from the host's thread); this one remains for
/// `nstyle_model_create`, which has no model when it fails.
#[no_mangle]
pub extern "C" fn nstyle_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Message of the last call on `model` that failed, from whichever thread made it ("no error"
/// before any); never NULL. NULL `model`: the calling thread's `nstyle_last_error()`. Valid
/// until the next call on the model that fails, or until the model is freed. Since ABI 6.
#[no_mangle]
pub extern "C" fn nstyle_errmsg(model: *const NstyleModel) -> *const c_char {
    match model_ref(model) {
        Ok(model) => model
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ptr(),
        Err(_) => nstyle_last_error(),
    }
}

/// Finds and checks the VGG-19 weights (`weights_path` NULL: `$NSTYLE_WEIGHTS`, then the
/// installed copy, then the per-user cache) and creates a model on `device` (NULL or "auto":
/// CUDA if present, else CPU; "cpu"; "cuda"; "cuda:N") in `*out`. A missing file or one whose
/// header, tensors or length are wrong fails here; the weights themselves are read when a run
/// first needs VGG-19, so a model used only with `backbone=lite` never loads them. On failure
/// `*out` is set to NULL.
#[no_mangle]
pub extern "C" fn nstyle_model_create(
    weights_path: *const c_char,
    device: *const c_char,
    out: *mut *mut NstyleModel,
) -> NstyleStatus {
    boundary(|| {
        create_into(out, || {
            let device = optional_str(device, "device")?.unwrap_or("auto");
            let session = engine::open(optional_path(weights_path), device)?;
            let cancel = session.cancel_flag();
            Ok(NstyleModel {
                session: Mutex::new(session),
                cancel,
                last_error: Mutex::new(CString::new("no error").expect("no NUL")),
            })
        })
    })
}

/// Frees a model and everything it holds. NULL is harmless. Must not run concurrently with
/// another call on the same model.
#[no_mangle]
pub extern "C" fn nstyle_model_free(model: *mut NstyleModel) {
    if !model.is_null() {
        let _ = catch_unwind(|| {
            // SAFETY: a non-null model came from nstyle_model_create and is freed once.
            drop(unsafe { Box::from_raw(model) });
        });
    }
}

/// Sets the content image (copied). Restarts the optimisation. Alpha, if the format has it, is
/// carried to the result unchanged.
#[no_mangle]
pub extern "C" fn nstyle_set_content(
    model: *mut NstyleModel,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let image = HostImage::colour(pixels, width, height, stride_bytes, format)?;
        with_session(model, |session| {
            let copy = image.copy(session.host_budget())?;
            session.set_content(copy);
            Ok(())
        })
    })
}

/// Adds a style image (copied) with a blend weight (finite, ≥ 0; weights are normalised over
/// all styles). Takes effect from the next step without restarting.
#[no_mangle]
pub extern "C" fn nstyle_add_style(
    model: *mut NstyleModel,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
    blend_weight: f32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        // Cheap arguments first: a bad weight must not cost a copy of the pixels.
        check_weight("style blend weight", blend_weight as f64)?;
        let image = HostImage::colour(pixels, width, height, stride_bytes, format)?;
        with_session(model, |session| {
            let copy = image.copy(session.host_budget())?;
            session.add_style(copy, blend_weight as f64)
        })
    })
}

/// Removes all style images (a step then fails with NSTYLE_ERR_STATE until one is added).
#[no_mangle]
pub extern "C" fn nstyle_clear_styles(model: *mut NstyleModel) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.clear_styles();
            Ok(())
        })
    })
}

/// Sets the loss weights; takes effect from the next step without restarting.
#[no_mangle]
pub extern "C" fn nstyle_set_weights(
    model: *mut NstyleModel,
    weights: *const NstyleWeights,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        // SAFETY: a non-null pointer points to an NstyleWeights.
        let weights = unsafe { weights.as_ref() }.ok_or_else(|| Error::arg("weights is NULL"))?;
        with_session(model, |session| {
            let mut settings = session.settings().clone();
            settings.weights.set("content", weights.content as f64)?;
            settings.weights.set("style", weights.style as f64)?;
            settings.weights.set("tv", weights.tv as f64)?;
            session.set_settings(settings)
        })
    })
}

/// Sets an option by name (both NUL-terminated text). The options, rendered from the library's
/// option table (`nstyle_option_info` gives the same facts at run time):
///
/// <!-- options:begin -->
/// - `size`: longest side of the working image and result; 0 (or full) is the content's own size, within this range and raised for a very thin content (stages that do not fit the memory budget are optimised in tiles); a whole number in 16..=16384 or '0' or 'full', in px (default `512`; restarts the run)
/// - `tile`: long side of the overlapping tiles a large stage is optimised in (with layers down to relu3_1, or block2 on lite, style statistics of the whole style image); auto tiles only a stage that does not fit the memory budget, a number tiles every stage longer than it; a whole number in 64..=16384 or 'auto', in px (default `auto`; restarts the run)
/// - `iterations`: iterations over all scales, at most: a scale may end early (stop_tolerance); a whole number in 1..=1000000 (default `300`; restarts the run)
/// - `scales`: number of scales; auto starts from about a quarter of size; a whole number in 1..=8 or 'auto' (default `auto`; restarts the run)
/// - `keep_detail`: each finer scale starts with the photo's own detail at that scale (a sharper subject); 0 or 1 (default `1`; applies from the next step)
/// - `strength`: how strongly the style paints over the photo: 0 keeps the photo nearly as it is, 1 paints it over; scales style_weight by 1000^(strength - 0.5); a finite number from 0 to 1 (default `0.6`; applies from the next step)
/// - `stop_tolerance`: a scale ends early once its loss falls by less than this fraction over 10 iterations (iterations is then a cap); 0 runs every iteration; a finite number from 0 to 1 (default `0.005`; applies from the next step)
/// - `content_weight`: weight of the content loss (detail kept from the photo); a finite number from 0 to 1000000000 (default `5`; applies from the next step)
/// - `style_weight`: weight of the style loss (texture taken from the style); a finite number from 0 to 1000000000 (default `100`; applies from the next step)
/// - `tv_weight`: weight of the total-variation smoothing; a finite number from 0 to 1000000000 (default `0.01`; applies from the next step)
/// - `temporal_weight`: weight of the temporal term (video: how strongly the result keeps to the previous frame warped by optical flow); no effect without a temporal target; a finite number from 0 to 1000000000 (default `1`; applies from the next step)
/// - `histogram_weight`: weight of the histogram style loss (Risser et al. 2017: each channel's distribution of the style's activations at relu1_1 and relu4_1 matched, besides the Gram matrices); 0 turns it off (it costs about a second evaluation at relu1_1); a finite number from 0 to 1000000000 (default `0`; rebuilds the targets, keeps the image)
/// - `method`: optimize: the Gatys optimisation (iterations, scales and the loss options apply); fast: one pass of a feed-forward network (Ghiasi et al. 2017) for any style, in a fraction of a second, further from the style (strength, several styles, regions and the content mask apply); optimize or fast (default `optimize`; restarts the run)
/// - `optimizer`: L-BFGS (fewer iterations) or Adam; lbfgs or adam (default `lbfgs`; restarts the run)
/// - `init`: start from the content image, from seeded noise, or from the fast method's picture (a warm start); content, random or fast (default `content`; restarts the run)
/// - `seed`: seeds init=random; CPU runs are bit-identical per seed; a whole number in 0..=18446744073709551615 (default `0`; restarts the run)
/// - `preserve_colors`: 1 keeps the content's colours (only luminance is stylised); 0 or 1 (default `0`; applies from the next step)
/// - `style_scale`: style image size relative to the working image; a finite number from 0.05 to 8, in × (default `1`; rebuilds the targets, keeps the image)
/// - `content_mask_gain`: content weight inside the content mask as a multiple of the weight outside it: above 1 keeps more of the photo there, below 1 lets the style take more; no effect without a content mask; a finite number from 0 to 1000, in × (default `10`; rebuilds the targets, keeps the image)
/// - `mask_softness`: blurs the edges of the style regions and of the content mask (Gaussian, this percentage of the image's long side) so that styles fade into each other; 0 keeps the masks as given; a finite number from 0 to 25, in % (default `0`; rebuilds the targets, keeps the image)
/// - `backbone`: feature network: vgg19 (the original method) or lite (EfficientNet-Lite0, many times faster per iteration; for previews and slow machines: it takes less of the style, the less the larger the image); vgg19 or lite (default `vgg19`; restarts the run)
/// - `content_layers`: layers of the content loss; auto is relu4_2 on vgg19, block7 on lite; auto or a list of layers of the backbone such as relu4_2 or relu1_1:1,relu2_1:0.5 (lite: stem, block0 … block15) (default `auto`; rebuilds the targets, keeps the image)
/// - `style_layers`: layers of the style loss, weight 1 each unless given; auto is relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 on vgg19 and block0,block2,block4,block7,block10 on lite; auto or a list of layers of the backbone such as relu4_2 or relu1_1:1,relu2_1:0.5 (lite: stem, block0 … block15) (default `auto`; rebuilds the targets, keeps the image)
/// - `precision`: network precision; auto is bf16 on CUDA and on CPUs with native bf16, else fp32; auto, fp32, bf16 or fp16 (default `auto`; restarts the run)
/// - `max_memory_mb`: memory budget; auto or 0 is 80 % of available RAM on CPU, none on CUDA; a whole number in 0..=17592186044415 or 'auto', in MiB (default `auto`; applies from the next step)
/// - `threads`: CPU threads of each step (libtorch's intra-op threads); 0 is libtorch's default (one per physical core, or OMP_NUM_THREADS). libtorch's setting is process-wide (tch::set_num_threads): each step sets its model's value on the thread it runs on, and a thread computing for the first time takes the last value set. 1 suits previews and busy machines, where OpenMP threads waiting for each other cost more than they gain; a whole number in 0..=1024 (default `0`; applies from the next step)
/// - `lbfgs_history`: curvature pairs L-BFGS keeps; a whole number in 1..=1000, in pairs (default `100`; restarts the run)
/// - `learning_rate`: Adam step in pixel levels on a 0-255 scale; a finite number above 0 to 1000, in levels (default `2`; restarts the run)
/// <!-- options:end -->
///
/// A bad key or value is NSTYLE_ERR_ARGUMENT (the message names the accepted range) and changes
/// nothing.
#[no_mangle]
pub extern "C" fn nstyle_set_option(
    model: *mut NstyleModel,
    key: *const c_char,
    value: *const c_char,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let key = required_str(key, "key")?;
        let value = required_str(value, "value")?;
        with_session(model, |session| {
            let mut settings = session.settings().clone();
            settings.set_option(key, value)?;
            session.set_settings(settings)
        })
    })
}

/// Runs up to `iterations` more iterations and fills `progress` (may be NULL). Returns
/// NSTYLE_OK while iterations remain and NSTYLE_DONE once the run is complete (`iteration ==
/// total`): from the step that does the last iteration, and from every step after it, which
/// does nothing. Returns NSTYLE_ERR_CANCELLED if `nstyle_cancel` stopped it; a cancel stops
/// only the step that is running (one made while no step runs is forgotten when the next step
/// starts), and the model stays usable: the next step goes on. Since ABI 6 the end is
/// NSTYLE_DONE (before, NSTYLE_OK with `iteration == total`).
#[no_mangle]
pub extern "C" fn nstyle_step(
    model: *mut NstyleModel,
    iterations: u32,
    progress: *mut NstyleProgress,
) -> NstyleStatus {
    model_status_boundary(model, || {
        let result = with_session(model, |session| session.step(iterations));
        let report = with_session(model, |session| session.progress()).unwrap_or_default();
        if !progress.is_null() {
            // SAFETY: a non-null pointer points to writable NstyleProgress storage.
            unsafe { *progress = NstyleProgress::from(&report) };
        }
        let report = result?;
        Ok(if report.total > 0 && report.iteration >= report.total {
            NstyleStatus::NSTYLE_DONE
        } else {
            NstyleStatus::NSTYLE_OK
        })
    })
}

/// How many loss terms the last step reported (`nstyle_progress_term` reads them): content,
/// style and tv always, then the temporal term with a temporal target and the histogram term
/// when its weight is above 0. 0 before the first step. Since ABI 6.
#[no_mangle]
pub extern "C" fn nstyle_progress_term_count(
    model: *mut NstyleModel,
    count: *mut u32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        if count.is_null() {
            return Err(Error::arg("count is NULL"));
        }
        let terms = with_session(model, |session| Ok(session.last_losses().terms.len()))?;
        // SAFETY: non-null and points to writable uint32_t storage (the documented contract).
        unsafe { *count = terms as u32 };
        Ok(())
    })
}

/// Term `index` (0-based, below `nstyle_progress_term_count`) of the last step's loss: its name
/// ("content", "style", "tv", "temporal", "histogram"; static, NUL-terminated) and its weighted
/// value. The terms add up to the progress' `loss`. NSTYLE_ERR_ARGUMENT for an index past the
/// terms or a NULL `name` or `value`. Since ABI 6.
#[no_mangle]
pub extern "C" fn nstyle_progress_term(
    model: *mut NstyleModel,
    index: u32,
    name: *mut *const c_char,
    value: *mut f64,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        if name.is_null() || value.is_null() {
            return Err(Error::arg("name or value is NULL"));
        }
        let losses = with_session(model, |session| Ok(session.last_losses().clone()))?;
        let (term, weighted) = losses.terms.get(index as usize).ok_or_else(|| {
            Error::arg(format!(
                "term index {index} is out of range (the last step reported {})",
                losses.terms.len()
            ))
        })?;
        // SAFETY: both are non-null and point to writable storage (the documented contract).
        unsafe {
            *name = term_name_c(term).as_ptr();
            *value = *weighted;
        }
        Ok(())
    })
}

/// The terms' names as C strings, made once.
fn term_name_c(name: &str) -> &'static CStr {
    static NAMES: once_cell::sync::Lazy<Vec<CString>> = once_cell::sync::Lazy::new(|| {
        engine::loss::TERMS
            .iter()
            .map(|term| CString::new(term.name()).expect("term names have no NUL"))
            .collect()
    });
    NAMES
        .iter()
        .find(|c| c.to_bytes() == name.as_bytes())
        .map(CString::as_c_str)
        .unwrap_or(c"unknown")
}

/// Writes the current image into `pixels` at `width`×`height` (resampled from the working
/// resolution), in `format`, rows `stride_bytes` apart. Works any time after the content is set
/// (before any step: the initial image). RGBA results carry the content's alpha.
#[no_mangle]
pub extern "C" fn nstyle_fetch_result(
    model: *mut NstyleModel,
    pixels: *mut c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let format = PixelFormat::from_raw(format)?;
        let len = pixels::buffer_len(width, height, stride_bytes, format)?;
        if pixels.is_null() {
            return Err(Error::arg("pixels is NULL"));
        }
        let picture = with_session(model, |session| session.result(width, height))?;
        // SAFETY: the caller promises `stride * (height - 1) + row` writable bytes at `pixels`.
        let bytes = unsafe { std::slice::from_raw_parts_mut(pixels.cast::<u8>(), len) };
        pixels::write(&picture, bytes, stride_bytes, format)
    })
}

/// Asks a running `nstyle_step` on this model to stop; it returns NSTYLE_ERR_CANCELLED within
/// about one iteration. Thread-safe; NULL is harmless.
#[no_mangle]
pub extern "C" fn nstyle_cancel(model: *mut NstyleModel) {
    if let Ok(model) = model_ref(model) {
        model.cancel.store(true, Ordering::SeqCst);
    }
}

/// The option table as C sees it: strings made once, alive for the life of the process.
struct OptionRowC {
    key: CString,
    words: CString,
    default_value: CString,
    unit: CString,
    doc: CString,
    accepts: CString,
}

static OPTION_ROWS_C: once_cell::sync::Lazy<Vec<OptionRowC>> = once_cell::sync::Lazy::new(|| {
    let c = |text: &str| CString::new(text).expect("the option table has no NULs");
    options::OPTIONS
        .iter()
        .map(|row| {
            let words = match row.domain {
                Domain::Int { words, .. } | Domain::Choice(words) => words.join(","),
                _ => String::new(),
            };
            OptionRowC {
                key: c(row.key),
                words: c(&words),
                default_value: c(row.default),
                unit: c(row.unit),
                doc: c(row.doc),
                accepts: c(&row.domain.describe()),
            }
        })
        .collect()
});

fn option_info(index: usize) -> NstyleOptionInfo {
    let row = &options::OPTIONS[index];
    let strings = &OPTION_ROWS_C[index];
    let (value_type, min, max) = match row.domain {
        Domain::Int { min, max, .. } => {
            (NstyleOptionType::NSTYLE_OPTION_INT, min as f64, max as f64)
        }
        Domain::Float { min, max, .. } => (NstyleOptionType::NSTYLE_OPTION_FLOAT, min, max),
        Domain::Choice(_) => (NstyleOptionType::NSTYLE_OPTION_CHOICE, 0.0, 0.0),
        Domain::Bool => (NstyleOptionType::NSTYLE_OPTION_BOOL, 0.0, 1.0),
        Domain::Layers => (NstyleOptionType::NSTYLE_OPTION_LAYERS, 0.0, 0.0),
    };
    NstyleOptionInfo {
        key: strings.key.as_ptr(),
        value_type: value_type as u32,
        effect: row.effect as u32,
        min,
        max,
        words: strings.words.as_ptr(),
        default_value: strings.default_value.as_ptr(),
        unit: strings.unit.as_ptr(),
        doc: strings.doc.as_ptr(),
        accepts: strings.accepts.as_ptr(),
    }
}

/// Number of options in the table (rows 0..count-1 for `nstyle_option_info`). Since ABI 2.
#[no_mangle]
pub extern "C" fn nstyle_option_count() -> u32 {
    options::OPTIONS.len() as u32
}

/// Fills `*out` with row `index` of the option table: key, type, range, default, unit, doc and
/// effect. NSTYLE_ERR_ARGUMENT for an index out of range or a NULL `out`. Since ABI 2.
#[no_mangle]
pub extern "C" fn nstyle_option_info(index: u32, out: *mut NstyleOptionInfo) -> NstyleStatus {
    boundary(|| {
        if out.is_null() {
            return Err(Error::arg("out is NULL"));
        }
        if index as usize >= options::OPTIONS.len() {
            return Err(Error::arg(format!(
                "option index {index} is out of range (there are {})",
                options::OPTIONS.len()
            )));
        }
        // SAFETY: `out` is non-null and points to writable NstyleOptionInfo storage.
        unsafe { *out = option_info(index as usize) };
        Ok(())
    })
}

/// Like `nstyle_option_info` for the row named `key`; NSTYLE_ERR_ARGUMENT for an unknown key.
/// Since ABI 2.
#[no_mangle]
pub extern "C" fn nstyle_option_find(
    key: *const c_char,
    out: *mut NstyleOptionInfo,
) -> NstyleStatus {
    boundary(|| {
        let key = required_str(key, "key")?;
        if out.is_null() {
            return Err(Error::arg("out is NULL"));
        }
        let row = options::find(key)?;
        let index = options::OPTIONS
            .iter()
            .position(|r| std::ptr::eq(r, row))
            .expect("found in the table");
        // SAFETY: `out` is non-null and points to writable NstyleOptionInfo storage.
        unsafe { *out = option_info(index) };
        Ok(())
    })
}

/// Writes the model's current value of option `key` into `buffer` as NUL-terminated text that
/// `nstyle_set_option` accepts. `*needed` (if `needed` is not NULL) is set to the bytes the value
/// takes with its NUL, also when `buffer` is too small, in which case nothing is written and the
/// status is NSTYLE_ERR_ARGUMENT (so `buffer` NULL with `buffer_len` 0 asks for the size).
/// Since ABI 2.
#[no_mangle]
pub extern "C" fn nstyle_get_option(
    model: *const NstyleModel,
    key: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let key = required_str(key, "key")?;
        let value = with_session(model, |session| session.settings().get_option(key))?;
        write_text(
            &value,
            buffer,
            buffer_len,
            needed,
            &format!("the value of {key}"),
        )
    })
}

/// Writes `text` NUL-terminated into the caller's `buffer` of `buffer_len` bytes, `*needed` (if
/// not NULL) set to the bytes it takes, also when the buffer is too small (then nothing is
/// written and the call is NSTYLE_ERR_ARGUMENT).
fn write_text(
    text: &str,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
    what: &str,
) -> Result<(), Error> {
    let size = text.len() + 1;
    if !needed.is_null() {
        // SAFETY: a non-null `needed` points to writable size_t storage.
        unsafe { *needed = size };
    }
    if buffer.is_null() || buffer_len < size {
        return Err(Error::arg(format!(
            "{what} needs a buffer of {size} bytes, not {buffer_len}"
        )));
    }
    // SAFETY: `buffer` has `buffer_len` >= `size` writable bytes (the documented contract).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buffer.cast::<u8>(), text.len());
        *buffer.add(text.len()) = 0;
    }
    Ok(())
}

/// The size of the result for the current content and settings: the content's aspect with
/// `size` as the longest side, as the library rounds it. Fetching at this size returns the
/// working image unresampled. NSTYLE_ERR_STATE before a content is set. Since ABI 2.
#[no_mangle]
pub extern "C" fn nstyle_result_size(
    model: *const NstyleModel,
    width: *mut u32,
    height: *mut u32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        if width.is_null() || height.is_null() {
            return Err(Error::arg("width or height is NULL"));
        }
        let (w, h) = with_session(model, |session| session.result_size())?;
        // SAFETY: both are non-null and point to writable uint32_t storage.
        unsafe {
            *width = w;
            *height = h;
        }
        Ok(())
    })
}

/// The longest side a style image is used at for the current content and options (the
/// result's long side times `style_scale`), in `*side`: a host need not read a style image at
/// more than this (a larger one is brought down to it). NSTYLE_ERR_STATE before a content is
/// set. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_style_side(model: *const NstyleModel, side: *mut u32) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        if side.is_null() {
            return Err(Error::arg("side is NULL"));
        }
        let value = with_session(model, |session| session.style_side())?;
        // SAFETY: non-null, points to writable uint32_t storage.
        unsafe { *side = value };
        Ok(())
    })
}

/// Roughly how many seconds the run the current content, styles and options describe takes on
/// this machine, from its start, in `*out_seconds` (for a dialog: "about 3 min"). The library
/// times a short probe of the network the run will use (its backbone, precision, threads and
/// layers; a second or two the first time, then cached for the life of the process, so calls
/// while the user moves a slider return at once) and prices the plan the run would execute: every scale's pixels
/// times its iterations and the evaluations each takes, tiled scales tile by tile with their
/// margins, plus building the targets. It is an upper bound when `stop_tolerance` ends scales
/// early, as it usually does; a machine busy with other work makes it low. Valid once a content
/// and a style are set (NSTYLE_ERR_STATE before); a plan the run would refuse (too small, over
/// the memory budget) gets the run's own error. Does not change the model. Since ABI 3.
#[no_mangle]
pub extern "C" fn nstyle_estimate_seconds(
    model: *mut NstyleModel,
    out_seconds: *mut f64,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        if out_seconds.is_null() {
            return Err(Error::arg("out_seconds is NULL"));
        }
        let estimate = with_session(model, |session| session.estimate())?;
        // SAFETY: non-null and points to writable double storage (the documented contract).
        unsafe { *out_seconds = estimate.seconds };
        Ok(())
    })
}

/// `nstyle_estimate_seconds` as a dialog says it, into `buffer` as NUL-terminated UTF-8 (the
/// buffer convention of `nstyle_get_option`): "about 40 s on this machine", "about 3 min on this
/// machine while other programs keep 1 of its 2 cores busy" (the time holds while they do).
/// The same errors as `nstyle_estimate_seconds`. Since ABI 6.
#[no_mangle]
pub extern "C" fn nstyle_estimate_text(
    model: *mut NstyleModel,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let text = with_session(model, |session| session.estimate_text())?;
        write_text(&text, buffer, buffer_len, needed, "the estimate")
    })
}

/// The device the model runs on, "cpu" or "cuda:N" (what `auto` became), into `buffer` as
/// NUL-terminated UTF-8 (the buffer convention of `nstyle_get_option`): for a progress line that
/// names it. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_model_device(
    model: *mut NstyleModel,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let device = with_session(model, |session| Ok(session.device()))?;
        let text = match device {
            tch::Device::Cuda(index) => format!("cuda:{index}"),
            _ => "cpu".to_string(),
        };
        write_text(&text, buffer, buffer_len, needed, "the device")
    })
}

/// `seconds` in the words of `nstyle_estimate_text` ("under a second", "about 40 s", "about 3
/// min", "about 2 h 10 min"), into `buffer` as NUL-terminated UTF-8 (the buffer convention of
/// `nstyle_get_option`), for a host's own timings, such as the time left of a batch. A negative
/// or NaN `seconds` reads as 0. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_describe_seconds(
    seconds: f64,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
) -> NstyleStatus {
    boundary(|| {
        let seconds = if seconds.is_nan() { 0.0 } else { seconds };
        let text = engine::session::estimate::describe_seconds(seconds);
        write_text(&text, buffer, buffer_len, needed, "the time in words")
    })
}

/// How many devices `nstyle_device_info` lists: the CPU, then each GPU the NVIDIA driver
/// reports. The first call looks for the CUDA half (as the first `auto` or `cuda` model does)
/// and the list stays the same for the life of the process. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_device_count() -> u32 {
    catch_unwind(|| crate::devices::all().len() as u32).unwrap_or(0)
}

/// Device `index` (0: the CPU) for a host's device choice: its id for `nstyle_model_create`,
/// its name, memory and whether it can be used (with the reason when not).
/// NSTYLE_ERR_ARGUMENT for a NULL `out` or an index past `nstyle_device_count()`. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_device_info(index: u32, out: *mut NstyleDeviceInfo) -> NstyleStatus {
    boundary(|| {
        if out.is_null() {
            return Err(Error::arg("out is NULL"));
        }
        let devices = crate::devices::all();
        let device = devices.get(index as usize).ok_or_else(|| {
            Error::arg(format!(
                "device index {index} is out of range (there are {})",
                devices.len()
            ))
        })?;
        // SAFETY: `out` is non-null and points to writable NstyleDeviceInfo storage; the strings
        // are static (the list lives as long as the process).
        unsafe {
            *out = NstyleDeviceInfo {
                id: device.id.as_ptr(),
                name: device.name.as_ptr(),
                memory_bytes: device.memory_bytes,
                usable: u32::from(device.unusable.is_none()),
                reason: device.unusable.as_deref().unwrap_or(c"").as_ptr(),
            }
        };
        Ok(())
    })
}

/// Version of the loaded library, e.g. "0.1.0"; static, never NULL. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A self-check for bug reports and "it does not start" dialogs, as lines of text: library and
/// ABI version, the library's file, the libtorch loaded and its version, CUDA, CPU, threads, the
/// device and precision `auto` picks (`$NSTYLE_DEVICE` if set), the memory budget, and for each
/// weights file where it was found, its size and SHA-256 and whether it matches the `SHA256SUMS`
/// installed beside it. Ends with "status: ok" or one "PROBLEM: ..." line per problem (weights
/// missing or damaged, device unusable). Needs no model and never fails: NUL-terminated, never
/// NULL, valid until the next call on the same thread. Takes a moment (it hashes the weights and
/// may time the CPU's bf16). Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_diagnostics() -> *const c_char {
    let text = catch_unwind(|| crate::diagnostics::gather(NSTYLE_ABI_VERSION, None).text())
        .unwrap_or_else(|_| "PROBLEM: the self-check itself failed (internal error)\n".into());
    let text = CString::new(text.replace('\0', " ")).expect("NULs replaced");
    DIAGNOSTICS.with(|slot| {
        *slot.borrow_mut() = text;
        slot.borrow().as_ptr()
    })
}

// Since ABI 4: video. A frame starts from the previous stylised frame warped by optical flow and
// is pulled towards it where the flow is reliable (Ruder, Dosovitskiy & Brox 2016).

/// Starts the optimisation from this image (copied) instead of the content or noise, resampled
/// to the first scale's size: e.g. the previous video frame's result warped to this frame.
/// Restarts the run; option `init` then reads "image" until it is set to "content" or "random".
/// Alpha, if the format has it, is ignored. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_set_init_image(
    model: *mut NstyleModel,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let image = HostImage::colour(pixels, width, height, stride_bytes, format)?;
        with_session(model, |session| {
            let copy = image.copy(session.host_budget())?;
            session.set_init_image(&copy)
        })
    })
}

/// Adds a temporal term to the objective: `temporal_weight` · mean over pixels and channels of
/// `weights[k]` · (result − target)², in 0–255 units, pulling the result towards the target image
/// (copied; alpha ignored) where the weight is high and leaving it free where it is 0. `weights` is
/// NULL (every pixel 1) or `width` × `height` floats in 0..1, row-major and tightly packed (a
/// NaN or a value outside 0..1 is NSTYLE_ERR_ARGUMENT). Target and weights are resampled to
/// every scale's size, so they may be at any size (the content's aspect is expected).
/// `temporal_weight` is finite and ≥ 0. Replaces an earlier target; keeps the current image and
/// rebuilds the loss targets, like a changed style. The progress' `loss` includes the term.
/// Since ABI 4.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn nstyle_set_temporal(
    model: *mut NstyleModel,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
    weights: *const f32,
    temporal_weight: f32,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        check_weight("temporal weight", temporal_weight as f64)?;
        let image = HostImage::colour(pixels, width, height, stride_bytes, format)?;
        let mask = (!weights.is_null()).then(|| {
            // SAFETY: a non-null `weights` points to width × height readable floats (the
            // documented contract); HostImage::new checked that the product fits.
            unsafe { std::slice::from_raw_parts(weights, width as usize * height as usize) }
        });
        with_session(model, |session| {
            let copy = image.copy(session.host_budget())?;
            let target = TemporalTarget::new(copy, mask)?;
            let mut settings = session.settings().clone();
            settings.weights.set("temporal", temporal_weight as f64)?;
            session.set_settings(settings)?;
            session.set_temporal(target);
            Ok(())
        })
    })
}

/// Removes the temporal term (the run goes on as a plain one, from its current image). Harmless
/// when none is set. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_clear_temporal(model: *mut NstyleModel) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.clear_temporal();
            Ok(())
        })
    })
}

// ---- Style regions (spatial control). Since ABI 4. ----

/// Mask layouts (passed as `uint32_t`): one grey sample per pixel, 0 outside to full inside.
/// 16-bit and float samples are in native byte order. Since ABI 4.
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum NstyleMaskFormat {
    /// 0..255.
    NSTYLE_MASK_GREY8 = 0,
    /// 0..65535.
    NSTYLE_MASK_GREY16 = 1,
    /// 0..1; values outside are clamped, NaN or infinity is refused (NSTYLE_ERR_ARGUMENT).
    NSTYLE_MASK_GREY_F32 = 2,
}

/// A host mask checked (style index first, then size, stride, format) and copied.
fn read_host_mask(
    session: &Transfer,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> Result<engine::Mask, Error> {
    let format = MaskFormat::from_raw(format)?;
    let len = pixels::mask_buffer_len(width, height, stride_bytes, format)?;
    if pixels.is_null() {
        return Err(Error::arg("mask pixels is NULL"));
    }
    // SAFETY: the caller promises `stride * (height - 1) + row` readable bytes at `pixels`.
    let bytes = unsafe { std::slice::from_raw_parts(pixels.cast::<u8>(), len) };
    pixels::read_mask(
        bytes,
        width,
        height,
        stride_bytes,
        format,
        session.host_budget(),
    )
}

/// A host mask's pixels, width, height, stride in bytes and format, as the C calls take them.
type HostMask = (*const c_void, u32, u32, usize, u32);

/// The body of both mask setters: the style index checked first, then the mask read and given to
/// the session by `apply` (its region or its style-image mask).
fn set_host_mask(
    model: *mut NstyleModel,
    style_index: u32,
    (pixels, width, height, stride_bytes, format): HostMask,
    apply: fn(&mut Transfer, usize, Option<engine::Mask>) -> Result<(), Error>,
) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.check_style_index(style_index as usize)?;
            let mask = read_host_mask(session, pixels, width, height, stride_bytes, format)?;
            apply(session, style_index as usize, Some(mask))
        })
    })
}

/// Gives style `style_index` (0-based, in the order `nstyle_add_style` added them) a region:
/// where on the content it paints (spatial control, Gatys et al. 2017). The mask (copied; any
/// size) is stretched over the whole content frame at each scale, smoothly (soft edges stay
/// soft), and averaged down to each style layer; the style's loss becomes the Gram loss of the
/// features weighted by the mask, normalised by the region's area (a small region counts as
/// much as a large one), scaled by the style's blend weight (1: as strong as a single style).
/// Styles without a region share the rest (1 minus the regions); where no style reaches, only
/// the content term holds the photo. Strokes cross soft edges: the whole image is optimised.
/// A model whose styles have no masks runs exactly as without these calls. In tiled scales the
/// mask is cut with each tile. Rebuilds the targets and keeps the image.
/// NSTYLE_ERR_ARGUMENT for a style that does not exist, a zero or oversized size, a short
/// stride, an unknown format, a float mask with NaN or infinity, or a mask 0 everywhere
/// (nothing changes then). Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_set_style_mask(
    model: *mut NstyleModel,
    style_index: u32,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    set_host_mask(
        model,
        style_index,
        (pixels, width, height, stride_bytes, format),
        Transfer::set_style_region,
    )
}

/// Removes style `style_index`'s region (it paints everywhere again, or the rest when other
/// styles have regions). NSTYLE_ERR_ARGUMENT for a style that does not exist. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_clear_style_mask(
    model: *mut NstyleModel,
    style_index: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.set_style_region(style_index as usize, None)
        })
    })
}

/// Gives style `style_index` a mask over its own image: its style is taken only from the masked
/// part of the painting (guided Gram matrices, as for regions). The mask is stretched over the
/// style image. Same formats and errors as `nstyle_set_style_mask`; a mask that leaves less
/// than one feature position at the deepest style layer makes the next step fail with
/// NSTYLE_ERR_ARGUMENT. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_set_style_source_mask(
    model: *mut NstyleModel,
    style_index: u32,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    set_host_mask(
        model,
        style_index,
        (pixels, width, height, stride_bytes, format),
        Transfer::set_style_source_mask,
    )
}

/// Removes style `style_index`'s mask over its image (its whole image counts again).
/// NSTYLE_ERR_ARGUMENT for a style that does not exist. Since ABI 4.
#[no_mangle]
pub extern "C" fn nstyle_clear_style_source_mask(
    model: *mut NstyleModel,
    style_index: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.set_style_source_mask(style_index as usize, None)
        })
    })
}

// ---- One call for every input. Since ABI 6. ----

/// Sets input `input` (an NstyleInput) to `image` (copied), or clears it when `image` is NULL.
/// `index` is the style's number for the style inputs (0-based, in the order added; for
/// NSTYLE_INPUT_STYLE the number after the last adds a style) and 0 for the others. Colour
/// inputs take formats NSTYLE_RGB8 … NSTYLE_RGBA_F16, planes NSTYLE_GREY8, NSTYLE_GREY16 and
/// NSTYLE_GREY_F32; each input does what its per-input call does (`nstyle_set_content`,
/// `nstyle_set_style_mask`, …; those remain as thin wrappers). NSTYLE_ERR_ARGUMENT for an
/// unknown input, an index past the styles, a colour image where a plane goes or the other way
/// round, clearing the content, a zero or oversized size, a short stride, an unknown format, a
/// float plane with NaN or infinity, or a region or mask 0 everywhere; NSTYLE_ERR_STATE for
/// temporal weights without a temporal target. On any error the model is as before the call.
#[no_mangle]
pub extern "C" fn nstyle_set_input(
    model: *mut NstyleModel,
    input: u32,
    index: u32,
    image: *const NstyleImage,
) -> NstyleStatus {
    model_boundary(model, || {
        model_ref(model)?;
        let slot = InputSlot::from_raw(input)?;
        // SAFETY: a non-null pointer points to an NstyleImage (the documented contract).
        let host = match unsafe { image.as_ref() } {
            None => None,
            Some(image) => Some(HostImage::new(
                image.pixels,
                image.width,
                image.height,
                image.stride_bytes,
                HostFormat::from_raw(image.format)?,
            )?),
        };
        with_session(model, |session| {
            let plane = host
                .as_ref()
                .map(|h| matches!(h.format, HostFormat::Plane(_)));
            inputs::check_input(session, slot, index as usize, plane)?;
            let data = host.map(|h| h.read(session.host_budget())).transpose()?;
            inputs::set_input(session, slot, index as usize, data)
        })
    })
}

// ---- Content mask. Since ABI 5. ----

/// Gives the content term a mask: where it is set the photo holds `content_mask_gain` times as
/// strongly (option, default 10; below 1 the style takes more there), softly in between; 1
/// elsewhere. A face, say, keeps more of itself while the rest is painted. Stretched over the
/// content frame and averaged down to each content layer like a style region (softened by the
/// option `mask_softness`). Same formats and errors as `nstyle_set_style_mask`, without the
/// style index. Rebuilds the targets and keeps the image. Since ABI 5.
#[no_mangle]
pub extern "C" fn nstyle_set_content_mask(
    model: *mut NstyleModel,
    pixels: *const c_void,
    width: u32,
    height: u32,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            let mask = read_host_mask(session, pixels, width, height, stride_bytes, format)?;
            session.set_content_mask(Some(mask));
            Ok(())
        })
    })
}

/// Removes the content mask (the content term weighs the same everywhere again); nothing to
/// remove is not an error. Since ABI 5.
#[no_mangle]
pub extern "C" fn nstyle_clear_content_mask(model: *mut NstyleModel) -> NstyleStatus {
    model_boundary(model, || {
        with_session(model, |session| {
            session.set_content_mask(None);
            Ok(())
        })
    })
}

// ------------------------------------------------------------------------------------------
// The preview driver (ABI 7): what a dialog shows while its user changes settings.

/// An opaque preview driver (`nstyle_preview_create`): a thread of the library's own that
/// shows the feed-forward network's picture first, estimates the full run, then refines with
/// the optimiser, superseded by each `nstyle_preview_start`.
pub struct NstylePreview {
    driver: Preview,
}

/// The preview's texts (`nstyle_preview_text`, passed as `uint32_t`). Since ABI 7.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum NstylePreviewText {
    /// Why the newest job failed; else what did not stop it ("no quick preview: …" when the
    /// feed-forward network's weights are missing); else "".
    NSTYLE_PREVIEW_TEXT_MESSAGE = 0,
    /// The newest frame's loss terms, "content 1.2e+06 · style 3.4e+05 · tv 812", or "".
    NSTYLE_PREVIEW_TEXT_TERMS = 1,
    /// The full run's time in words ("about 40 s on this machine"), or why there is no
    /// estimate, or "" before it is made.
    NSTYLE_PREVIEW_TEXT_ESTIMATE = 2,
}

/// The newest frame of the newest job (`nstyle_preview_frame`). Since ABI 7.
#[repr(C)]
pub struct NstylePreviewFrame {
    /// The job it belongs to (`nstyle_preview_start`'s number); 0: none yet.
    pub job: u32,
    /// Grows with every frame published: show a frame when its serial changed.
    pub serial: u32,
    /// Its size: the model's content's, or that scaled down to the preview's side.
    pub width: u32,
    pub height: u32,
    /// 1: the feed-forward network's picture, before the optimiser refines it.
    pub quick: u32,
    /// 1: the job's last frame.
    pub done: u32,
    /// NSTYLE_OK, or why the job failed (then there are no pixels; the message is
    /// NSTYLE_PREVIEW_TEXT_MESSAGE).
    pub status: NstyleStatus,
    /// Seconds from the job's start to this frame.
    pub seconds: f64,
    pub progress: NstyleProgress,
}

/// The full run's estimate for the newest job (`nstyle_preview_estimate`). Since ABI 7.
#[repr(C)]
pub struct NstylePreviewEstimate {
    /// The job it belongs to; 0: not made yet.
    pub job: u32,
    /// NSTYLE_OK, or why the run cannot be estimated (the run would fail the same way; the
    /// message is NSTYLE_PREVIEW_TEXT_ESTIMATE).
    pub status: NstyleStatus,
    /// The full run's result size and time.
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
}

fn preview_ref<'a>(preview: *const NstylePreview) -> Result<&'a NstylePreview, Error> {
    // SAFETY: a non-null pointer must come from nstyle_preview_create and not be freed yet.
    unsafe { preview.as_ref() }.ok_or_else(|| Error::arg("preview is NULL"))
}

/// Creates a preview driver for models on `device` (as `nstyle_model_create`: NULL or "auto",
/// "cpu", "cuda", "cuda:N"), with the VGG-19 weights at `weights_path` (NULL: found as
/// `nstyle_model_create` finds them). Returns at once: the weights load on the driver's thread
/// at the first start. An unknown device fails here. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_create(
    weights_path: *const c_char,
    device: *const c_char,
    out: *mut *mut NstylePreview,
) -> NstyleStatus {
    boundary(|| {
        create_into(out, || {
            let device = optional_str(device, "device")?.unwrap_or("auto");
            let weights = optional_path(weights_path).map(Path::to_path_buf);
            Ok(NstylePreview {
                driver: Preview::new(weights, device)?,
            })
        })
    })
}

/// Stops the preview (within about one iteration) and frees it. NULL is harmless.
#[no_mangle]
pub extern "C" fn nstyle_preview_free(preview: *mut NstylePreview) {
    if !preview.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: a non-null preview came from nstyle_preview_create and is freed once.
            drop(unsafe { Box::from_raw(preview) });
        }));
    }
}

/// The longest side the preview works at (256 on the CPU, 512 on a GPU): read the content at
/// about this size for `nstyle_preview_start`. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_side(
    preview: *const NstylePreview,
    side: *mut u32,
) -> NstyleStatus {
    boundary(|| {
        let preview = preview_ref(preview)?;
        if side.is_null() {
            return Err(Error::arg("side is NULL"));
        }
        // SAFETY: non-null, points to writable storage.
        unsafe { *side = preview.driver.side() };
        Ok(())
    })
}

/// Starts previewing the run `model` is set up for: its options and inputs are copied now
/// (the model is not stepped or changed, and may be freed or changed afterwards); its content
/// should be read at about `nstyle_preview_side`. `full_width`×`full_height` is the size of the
/// picture the full run will work on (for its estimate), or 0×0 when the content is that
/// picture. The job that runs stops within about one iteration. `*job` (may be NULL) gets the
/// new job's number. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_start(
    preview: *mut NstylePreview,
    model: *const NstyleModel,
    full_width: u32,
    full_height: u32,
    job: *mut u32,
) -> NstyleStatus {
    boundary(|| {
        let preview = preview_ref(preview)?;
        let full_size = match (full_width, full_height) {
            (0, 0) => None,
            (0, _) | (_, 0) => {
                return Err(Error::arg(format!(
                    "full size {full_width}×{full_height}: both sides or neither must be 0"
                )))
            }
            size => Some(size),
        };
        let setup = with_session(model, |session| Ok(session.setup()))?;
        let number = preview.driver.start(setup, full_size);
        if !job.is_null() {
            // SAFETY: non-null, points to writable storage.
            unsafe { *job = number };
        }
        Ok(())
    })
}

/// Fills `frame` with the newest frame of the newest job (job 0 when it has none yet) and,
/// when `pixels` is not NULL and the frame has a picture, writes it there at the frame's size
/// in `format` with `stride_bytes` per row (as `nstyle_fetch_result`). Call it with `pixels`
/// NULL to learn the size and whether the serial changed; a frame is kept until a newer one
/// replaces it. A job's failure is the frame's `status`, not this call's. Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_frame(
    preview: *mut NstylePreview,
    frame: *mut NstylePreviewFrame,
    pixels: *mut c_void,
    stride_bytes: usize,
    format: u32,
) -> NstyleStatus {
    boundary(|| {
        let preview = preview_ref(preview)?;
        if frame.is_null() {
            return Err(Error::arg("frame is NULL"));
        }
        let newest = preview.driver.frame();
        let info = match &newest {
            None => NstylePreviewFrame {
                job: 0,
                serial: 0,
                width: 0,
                height: 0,
                quick: 0,
                done: 0,
                status: NstyleStatus::NSTYLE_OK,
                seconds: 0.0,
                progress: NstyleProgress::default(),
            },
            Some(f) => NstylePreviewFrame {
                job: f.job,
                serial: f.serial,
                width: f.width,
                height: f.height,
                quick: u32::from(f.quick),
                done: u32::from(f.done),
                status: f.error.as_ref().map_or(NstyleStatus::NSTYLE_OK, status_of),
                seconds: f.seconds,
                progress: NstyleProgress::from(&f.progress),
            },
        };
        if let (false, Some(picture)) = (
            pixels.is_null(),
            newest.as_ref().and_then(|f| f.picture.as_ref()),
        ) {
            let format = PixelFormat::from_raw(format)?;
            let len = pixels::buffer_len(info.width, info.height, stride_bytes, format)?;
            // SAFETY: the caller promises `stride * (height - 1) + row` writable bytes there.
            let bytes = unsafe { std::slice::from_raw_parts_mut(pixels.cast::<u8>(), len) };
            pixels::write(picture, bytes, stride_bytes, format)?;
        }
        // SAFETY: non-null, points to writable NstylePreviewFrame storage.
        unsafe { *frame = info };
        Ok(())
    })
}

/// Fills `estimate` with the newest job's estimate of the full run (job 0 until it is made,
/// which is after the quick frame and before the refinement). Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_estimate(
    preview: *mut NstylePreview,
    estimate: *mut NstylePreviewEstimate,
) -> NstyleStatus {
    boundary(|| {
        let preview = preview_ref(preview)?;
        if estimate.is_null() {
            return Err(Error::arg("estimate is NULL"));
        }
        let made = preview.driver.estimate();
        let mut info = NstylePreviewEstimate {
            job: made.as_ref().map_or(0, |e| e.job),
            status: NstyleStatus::NSTYLE_OK,
            width: 0,
            height: 0,
            seconds: 0.0,
        };
        match made.map(|e| e.outcome) {
            Some(Ok(value)) => {
                info.width = value.width;
                info.height = value.height;
                info.seconds = value.seconds;
            }
            Some(Err(error)) => info.status = status_of(&error),
            None => {}
        }
        // SAFETY: non-null, points to writable NstylePreviewEstimate storage.
        unsafe { *estimate = info };
        Ok(())
    })
}

/// One of the preview's texts (an NstylePreviewText) into `buffer` as NUL-terminated UTF-8
/// (the buffer convention of `nstyle_get_option`). Since ABI 7.
#[no_mangle]
pub extern "C" fn nstyle_preview_text(
    preview: *mut NstylePreview,
    which: u32,
    buffer: *mut c_char,
    buffer_len: usize,
    needed: *mut usize,
) -> NstyleStatus {
    boundary(|| {
        let preview = preview_ref(preview)?;
        use NstylePreviewText::*;
        const MESSAGE: u32 = NSTYLE_PREVIEW_TEXT_MESSAGE as u32;
        const TERMS: u32 = NSTYLE_PREVIEW_TEXT_TERMS as u32;
        const ESTIMATE: u32 = NSTYLE_PREVIEW_TEXT_ESTIMATE as u32;
        let text = match which {
            MESSAGE => preview
                .driver
                .frame()
                .and_then(|f| f.error.map(|e| e.to_string()).or(f.note))
                .unwrap_or_default(),
            TERMS => preview
                .driver
                .frame()
                .map(|f| f.terms_text())
                .unwrap_or_default(),
            ESTIMATE => match preview.driver.estimate().map(|e| e.outcome) {
                Some(Ok(value)) => value.words,
                Some(Err(error)) => error.to_string(),
                None => String::new(),
            },
            other => return Err(Error::arg(format!("unknown preview text {other}"))),
        };
        let text = printable_line(&text);
        write_text(&text, buffer, buffer_len, needed, "the preview's text")
    })
}
