//! CUDA graphs: an evaluation (forward, losses, backward) recorded once per static shape and
//! replayed, so that each L-BFGS evaluation costs one launch instead of hundreds of kernel
//! launches from the host. Also the CUDA session settings (cuDNN benchmark, TF32).
//!
//! tch 0.24 has no binding for `at::cuda::CUDAGraph`, and libnstyle must not link the CUDA half
//! of torch (`src/cuda_loader.rs` loads it at run time). So the binding is a small C++ shim,
//! `libnstyle_cudagraph.so` (`csrc/cuda_graph.cpp`, built by `build.rs`), linked against
//! `libtorch_cuda`/`libc10_cuda` and `dlopen`ed here only after the loader has put those in the
//! process; its NEEDED libraries then resolve to the copies already loaded, so it shares their
//! state: the thread's current stream, the caching allocator, the global context.
//!
//! A capture brackets ordinary tch calls: the shim makes a side stream current on this thread,
//! the closure's tch ops land on it and are recorded (not run), and the shim puts the previous
//! stream back. The tensors the closure creates are the graph's static outputs; every replay
//! recomputes them in place from whatever the static inputs hold then. See
//! docs/engineering.md, *CUDA graphs*, for how the optimiser loop uses it.
//!
//! Where the shim is looked for, in order (the first that loads wins; `NSTYLE_CUDA_GRAPH_SHIM`,
//! a file, when set, is the only place looked at): beside this library (the bundle, the GPU
//! check's `.gpu/`), in `../lib` beside it (the CLI of a bundle), beside the loaded
//! `libtorch_cuda.so` and in the add-on folder around it, then where this build made it (a
//! source build). It must speak this crate's ABI version and name the torch version the loader
//! loads.
//!
//! The CPU path never comes here. Everything returns [`CudaGraphError`], never panics: no GPU,
//! no shim or a torch error inside the shim (a C++ exception turned into text at the C boundary)
//! is a reason the caller can print.

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tch::Device;

use crate::cuda_loader;

/// The shim's file name (and soname).
pub const SHIM_FILE: &str = "libnstyle_cudagraph.so";
/// The shim's C ABI version this module speaks (`kAbiVersion` in csrc/cuda_graph.cpp).
const SHIM_ABI_VERSION: u32 = 1;
/// Where this build made the shim (build.rs), when it did.
const BUILT_SHIM: Option<&str> = option_env!("NSTYLE_BUILD_CUDA_GRAPH_SHIM");
/// Why this build did not make it, when it did not.
const SHIM_NOT_BUILT: Option<&str> = option_env!("NSTYLE_BUILD_CUDA_GRAPH_SHIM_SKIPPED");

/// Why a CUDA graph or a CUDA setting is not available, or what went wrong in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CudaGraphError {
    /// Asked for on a device that is not a GPU.
    #[error("CUDA graphs need a CUDA device, not {0}")]
    NotCuda(String),
    /// This process cannot use CUDA: the loader's reason.
    #[error("CUDA graphs need CUDA, which this process cannot use: {0}")]
    NoCuda(String),
    /// The shim was not found or refused.
    #[error("the CUDA graph library ({SHIM_FILE}) is not available: {0}")]
    NoShim(String),
    /// torch or CUDA refused a step (the shim's error text).
    #[error("CUDA graph: {0}")]
    Torch(String),
}

pub type Result<T, E = CudaGraphError> = std::result::Result<T, E>;

/// The shim's returned error: NULL, or a text in its thread-local buffer (copied at once).
type ErrorText = *const c_char;

// The shim's entry points (csrc/cuda_graph.cpp).
type AbiVersionFn = unsafe extern "C" fn() -> u32;
type TorchVersionFn = unsafe extern "C" fn() -> *const c_char;
type CreateFn = unsafe extern "C" fn(i32, *mut *mut c_void) -> ErrorText;
/// Warm-up begin/end, capture end/abort, replay: one graph, nothing else.
type GraphStepFn = unsafe extern "C" fn(*mut c_void) -> ErrorText;
type CaptureBeginFn = unsafe extern "C" fn(*mut c_void, u64, u64) -> ErrorText;
type NewPoolFn = unsafe extern "C" fn(*mut u64, *mut u64) -> ErrorText;
type DestroyFn = unsafe extern "C" fn(*mut c_void);
type SwitchFn = unsafe extern "C" fn(i32) -> ErrorText;
type GetSettingsFn = unsafe extern "C" fn(*mut i32, *mut i32, *mut i32) -> ErrorText;

/// The shim, loaded: its file and its entry points.
struct Shim {
    path: PathBuf,
    torch_version: String,
    create: CreateFn,
    warmup_begin: GraphStepFn,
    warmup_end: GraphStepFn,
    capture_begin: CaptureBeginFn,
    capture_end: GraphStepFn,
    capture_abort: GraphStepFn,
    replay: GraphStepFn,
    new_pool: NewPoolFn,
    destroy: DestroyFn,
    set_cudnn_benchmark: SwitchFn,
    set_tf32: SwitchFn,
    get_settings: GetSettingsFn,
}

/// Turns the shim's answer into a result.
fn check(error: ErrorText) -> Result<()> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null answer is a NUL-terminated string the shim keeps until its next failing
    // call on this thread; it is copied before anything else runs.
    let text = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    Err(CudaGraphError::Torch(text))
}

/// The shim built by this build (in its OUT_DIR), when there is one: what a source build loads
/// and what `make gpu-bundle` copies.
pub fn built_shim() -> Option<&'static Path> {
    BUILT_SHIM.map(Path::new)
}

/// Why this build made no shim (e.g. a CPU-only libtorch), when it made none.
pub fn shim_not_built_reason() -> Option<&'static str> {
    SHIM_NOT_BUILT
}

/// What was loaded: for the diagnostics and the tests.
#[derive(Debug, Clone)]
pub struct ShimInfo {
    pub path: PathBuf,
    pub torch_version: String,
}

/// Loads the shim if it is not yet (which needs the CUDA half of torch loaded, not a GPU) and
/// says which one.
pub fn shim_info() -> Result<ShimInfo> {
    let shim = shim()?;
    Ok(ShimInfo {
        path: shim.path.clone(),
        torch_version: shim.torch_version.clone(),
    })
}

static SHIM: OnceLock<std::result::Result<Shim, String>> = OnceLock::new();

fn shim() -> Result<&'static Shim> {
    let status = cuda_loader::ensure();
    if status.loaded_from.is_none() {
        return Err(CudaGraphError::NoCuda(
            status
                .unusable
                .clone()
                .unwrap_or_else(|| "the CUDA libraries of torch are not loaded".into()),
        ));
    }
    SHIM.get_or_init(|| load_shim(status.loaded_from.as_deref()))
        .as_ref()
        .map_err(|reason| CudaGraphError::NoShim(reason.clone()))
}

/// The places to look, each with what it is; `explicit` when it is the only one.
fn shim_candidates(cuda_lib: Option<&Path>) -> (Vec<(PathBuf, &'static str)>, bool) {
    if let Some(file) = std::env::var_os("NSTYLE_CUDA_GRAPH_SHIM").filter(|f| !f.is_empty()) {
        return (vec![(PathBuf::from(file), "NSTYLE_CUDA_GRAPH_SHIM")], true);
    }
    let mut list = Vec::new();
    if let Some(dir) = crate::paths::library_dir() {
        list.push((dir.join(SHIM_FILE), "beside the library"));
        list.push((dir.join("../lib").join(SHIM_FILE), "the bundle's lib/"));
    }
    if let Some(dir) = cuda_lib {
        list.push((dir.join(SHIM_FILE), "beside libtorch_cuda.so"));
        // An add-on keeps the libraries in torch/lib under its own folder.
        list.push((dir.join("../..").join(SHIM_FILE), "the GPU add-on"));
    }
    if let Some(file) = BUILT_SHIM {
        list.push((PathBuf::from(file), "this build's"));
    }
    let mut seen = Vec::new();
    list.retain(|(path, _)| {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    (list, false)
}

fn load_shim(cuda_lib: Option<&Path>) -> std::result::Result<Shim, String> {
    let (candidates, explicit) = shim_candidates(cuda_lib);
    let mut refused = Vec::new();
    let mut looked_in = Vec::new();
    for (path, origin) in candidates {
        if !path.is_file() && !explicit {
            looked_in.push(path.display().to_string());
            continue;
        }
        match open_shim(&path) {
            Ok(shim) => return Ok(shim),
            Err(reason) => refused.push(format!("{} ({origin}): {reason}", path.display())),
        }
    }
    let mut reason = if refused.is_empty() {
        format!("not found (looked at {})", looked_in.join(", "))
    } else {
        refused.join("; ")
    };
    if let Some(why) = SHIM_NOT_BUILT {
        reason.push_str(&format!("; this build made none ({why})"));
    }
    Err(reason)
}

/// `dlopen`s one candidate and checks that it is the shim this code speaks to.
fn open_shim(path: &Path) -> std::result::Result<Shim, String> {
    // A truncated library would crash the loader (SIGBUS) rather than fail.
    cuda_loader::elf_whole(path)?;
    let name = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a plain dlopen of a whole ELF file. RTLD_LOCAL: its symbols are ours alone. The
    // handle is kept for the life of the process unless refused below.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns null or a NUL-terminated string owned by the loader.
        let error = unsafe { libc::dlerror() };
        return Err(if error.is_null() {
            "dlopen failed".into()
        } else {
            unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned()
        });
    }
    let refuse = |reason: String| {
        // SAFETY: nothing from this handle is in use yet.
        unsafe { libc::dlclose(handle) };
        Err(reason)
    };
    macro_rules! entry {
        ($name:literal as $signature:ty) => {{
            // SAFETY: dlsym on a live handle with a NUL-terminated name.
            let address = unsafe { libc::dlsym(handle, concat!($name, "\0").as_ptr().cast()) };
            if address.is_null() {
                return refuse(format!("it lacks {}", $name));
            }
            // SAFETY: the shim defines this symbol with the signature of the field it goes to
            // (csrc/cuda_graph.cpp, ABI version checked below before any other call).
            unsafe { std::mem::transmute::<*mut c_void, $signature>(address) }
        }};
    }
    let abi_version = entry!("nstyle_cuda_graph_abi_version" as AbiVersionFn);
    let torch_version = entry!("nstyle_cuda_graph_torch_version" as TorchVersionFn);
    // SAFETY: both take nothing; the version text is a static string.
    let (abi, torch) = unsafe {
        (
            abi_version(),
            CStr::from_ptr(torch_version())
                .to_string_lossy()
                .into_owned(),
        )
    };
    if abi != SHIM_ABI_VERSION {
        return refuse(format!(
            "it speaks ABI version {abi}, this library {SHIM_ABI_VERSION} (a shim of another \
             nstyle build)"
        ));
    }
    if torch != cuda_loader::TORCH_VERSION {
        return refuse(format!(
            "built for torch {torch}, this library runs on torch {}",
            cuda_loader::TORCH_VERSION
        ));
    }
    Ok(Shim {
        path: path.to_path_buf(),
        torch_version: torch,
        create: entry!("nstyle_cuda_graph_create" as CreateFn),
        warmup_begin: entry!("nstyle_cuda_graph_warmup_begin" as GraphStepFn),
        warmup_end: entry!("nstyle_cuda_graph_warmup_end" as GraphStepFn),
        capture_begin: entry!("nstyle_cuda_graph_capture_begin" as CaptureBeginFn),
        capture_end: entry!("nstyle_cuda_graph_capture_end" as GraphStepFn),
        capture_abort: entry!("nstyle_cuda_graph_capture_abort" as GraphStepFn),
        replay: entry!("nstyle_cuda_graph_replay" as GraphStepFn),
        new_pool: entry!("nstyle_cuda_graph_new_pool" as NewPoolFn),
        destroy: entry!("nstyle_cuda_graph_destroy" as DestroyFn),
        set_cudnn_benchmark: entry!("nstyle_cuda_set_cudnn_benchmark" as SwitchFn),
        set_tf32: entry!("nstyle_cuda_set_tf32" as SwitchFn),
        get_settings: entry!("nstyle_cuda_get_settings" as GetSettingsFn),
    })
}

/// The CUDA session settings torch keeps for the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaSettings {
    /// cuDNN times its algorithms on the first convolution of each shape and keeps the fastest:
    /// worth it when shapes repeat (every evaluation of a stage, and a graph is one shape).
    pub cudnn_benchmark: bool,
    /// TF32 for fp32 matrix products and convolutions (10-bit mantissa inputs, fp32 sums). Off
    /// keeps fp32 work (fp32 precision, the Grams and losses) in full fp32; bf16 work is not
    /// affected either way.
    pub tf32: bool,
}

/// The settings as torch holds them now. TF32 is per operation kind, so it is read back as two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaSettingsNow {
    pub cudnn_benchmark: bool,
    pub tf32_matmul: bool,
    pub tf32_conv: bool,
}

/// Sets the session settings for the process (torch's global context). Needs the shim, not a
/// GPU: on a process that runs on the CPU the settings mean nothing, and the CPU path does not
/// call this.
pub fn apply_settings(settings: CudaSettings) -> Result<()> {
    let shim = shim()?;
    // SAFETY: plain calls into the checked shim; the answers are copied at once.
    unsafe {
        check((shim.set_cudnn_benchmark)(settings.cudnn_benchmark as i32))?;
        check((shim.set_tf32)(settings.tf32 as i32))
    }
}

/// The settings torch holds now.
pub fn current_settings() -> Result<CudaSettingsNow> {
    let shim = shim()?;
    let (mut benchmark, mut matmul, mut conv) = (0, 0, 0);
    // SAFETY: the shim writes three ints through valid pointers.
    check(unsafe { (shim.get_settings)(&mut benchmark, &mut matmul, &mut conv) })?;
    Ok(CudaSettingsNow {
        cudnn_benchmark: benchmark != 0,
        tf32_matmul: matmul != 0,
        tf32_conv: conv != 0,
    })
}

/// A memory pool several graphs allocate from. Sharing one saves memory, and is safe only when
/// the graphs are replayed in the order they were captured and each one's outputs are read
/// before the next replays (e.g. one graph per scale, each done with before the next is
/// captured). Graphs of tiles replayed in any order must keep their own pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphPool(u64, u64);

impl GraphPool {
    pub fn new() -> Result<Self> {
        let shim = shim()?;
        let (mut a, mut b) = (0, 0);
        // SAFETY: the shim writes two u64 through valid pointers.
        check(unsafe { (shim.new_pool)(&mut a, &mut b) })?;
        Ok(GraphPool(a, b))
    }

    /// A graph's own pool, shared with no other.
    const PRIVATE: GraphPool = GraphPool(0, 0);
}

/// One CUDA graph: empty, then (after [`CudaGraph::capture`]) ready to [`CudaGraph::replay`].
pub struct CudaGraph {
    shim: &'static Shim,
    handle: *mut c_void,
    captured: bool,
}

// SAFETY: the handle is owned by this value alone and the shim keeps no thread-affine state in it
// between calls (the stream it makes current during warm-up and capture is put back before the
// call that made it returns to the caller's code). A graph may be built on one thread and
// replayed on another, one at a time (CudaGraph is not Sync).
unsafe impl Send for CudaGraph {}

/// Ends a warm-up or capture that did not finish (the evaluation panicked), so that the thread
/// gets its own stream back and goes on eagerly.
struct Bracket {
    abort: GraphStepFn,
    handle: *mut c_void,
    open: bool,
}

impl Bracket {
    fn open(graph: &CudaGraph) -> Self {
        Bracket {
            abort: graph.shim.capture_abort,
            handle: graph.handle,
            open: true,
        }
    }
}

impl Drop for Bracket {
    fn drop(&mut self) {
        if self.open {
            // SAFETY: a live handle; the error of an abandoned capture has nobody to go to.
            let _ = unsafe { (self.abort)(self.handle) };
        }
    }
}

impl CudaGraph {
    /// An empty graph for `device`. Refused with [`CudaGraphError::NotCuda`] for the CPU, with
    /// [`CudaGraphError::NoCuda`] (the loader's reason) where CUDA cannot be used, and with
    /// [`CudaGraphError::NoShim`] where the shim is missing.
    pub fn new(device: Device) -> Result<Self> {
        let Device::Cuda(index) = device else {
            return Err(CudaGraphError::NotCuda(format!("{device:?}")));
        };
        if let Some(reason) = &cuda_loader::ensure().unusable {
            return Err(CudaGraphError::NoCuda(reason.clone()));
        }
        Self::create(index)
    }

    /// [`CudaGraph::new`] without asking whether the process can use CUDA: the shim is called
    /// whatever the loader found, so a test on a machine without a GPU sees torch's own error
    /// come back through the C boundary as text.
    #[cfg(feature = "test-hooks")]
    pub fn new_without_cuda_check(index: usize) -> Result<Self> {
        Self::create(index)
    }

    fn create(index: usize) -> Result<Self> {
        let shim = shim()?;
        let index = i32::try_from(index)
            .map_err(|_| CudaGraphError::NotCuda(format!("CUDA device {index}")))?;
        let mut handle = std::ptr::null_mut();
        // SAFETY: the shim writes a new handle (or nothing, with an error).
        check(unsafe { (shim.create)(index, &mut handle) })?;
        Ok(CudaGraph {
            shim,
            handle,
            captured: false,
        })
    }

    /// Runs `evaluation` eagerly on the stream the capture will use and waits for it, returning
    /// its result. Run it (typically 2–3 times) before [`CudaGraph::capture`]: the first
    /// evaluations on a stream set things up that must not happen during a capture (cuDNN's
    /// benchmark runs, cuBLAS workspaces, the autograd engine's and the allocator's first blocks).
    pub fn warm_up<T>(&mut self, evaluation: impl FnOnce() -> T) -> Result<T> {
        // SAFETY: a live handle.
        check(unsafe { (self.shim.warmup_begin)(self.handle) })?;
        let mut bracket = Bracket::open(self);
        let outputs = evaluation();
        bracket.open = false;
        // SAFETY: a live handle, warming up.
        check(unsafe { (self.shim.warmup_end)(self.handle) })?;
        Ok(outputs)
    }

    /// Records `evaluation` into this graph, from its own memory pool, and returns its outputs:
    /// tensors allocated for the graph that hold nothing yet. Every [`CudaGraph::replay`] then
    /// recomputes them in place from the tensors the evaluation read (its static inputs).
    ///
    /// Inside `evaluation`: tch calls on `device` only, all shapes fixed, and nothing that waits
    /// for the GPU (no read-back to the host, no `.double_value`, no printing a CUDA tensor): such
    /// a call fails and breaks the capture. If `evaluation` panics the capture is abandoned (the
    /// thread gets its stream back) and the panic goes on.
    pub fn capture<T>(&mut self, evaluation: impl FnOnce() -> T) -> Result<T> {
        self.capture_in(GraphPool::PRIVATE, evaluation)
    }

    /// [`CudaGraph::capture`] allocating from `pool`, shared with other graphs (see
    /// [`GraphPool`] for when that is safe).
    pub fn capture_in_pool<T>(
        &mut self,
        pool: &GraphPool,
        evaluation: impl FnOnce() -> T,
    ) -> Result<T> {
        self.capture_in(*pool, evaluation)
    }

    fn capture_in<T>(&mut self, pool: GraphPool, evaluation: impl FnOnce() -> T) -> Result<T> {
        // SAFETY: a live handle; the shim refuses a graph that is not empty.
        check(unsafe { (self.shim.capture_begin)(self.handle, pool.0, pool.1) })?;
        let mut bracket = Bracket::open(self);
        let outputs = evaluation();
        bracket.open = false;
        // SAFETY: a live handle, capturing.
        check(unsafe { (self.shim.capture_end)(self.handle) })?;
        self.captured = true;
        Ok(outputs)
    }

    /// Whether the graph holds a capture ready to replay.
    pub fn is_captured(&self) -> bool {
        self.captured
    }

    /// Runs the recorded evaluation once, on this thread's current stream (after the eager work
    /// already queued there, such as the copy of the next point into the static input). Returns
    /// without waiting: reading an output back waits for it, as with any CUDA tensor.
    pub fn replay(&self) -> Result<()> {
        // SAFETY: a live handle; the shim refuses a graph that holds no capture.
        check(unsafe { (self.shim.replay)(self.handle) })
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        // SAFETY: the handle came from create and is freed once, here. The graph's memory goes
        // back to torch's allocator once the outputs still held are dropped too.
        unsafe { (self.shim.destroy)(self.handle) };
    }
}
