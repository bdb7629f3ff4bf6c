//! The CUDA half of libtorch, loaded at run time.
//!
//! `libnstyle` links `libtorch_cpu` only. For `device=auto` or `cuda` the CUDA half of the same
//! torch build (`libc10_cuda.so`, then `libtorch_cuda.so`) is `dlopen`ed with
//! `RTLD_NOW | RTLD_GLOBAL` before the first CUDA query: libtorch's CUDA hooks are a one-time
//! static, so a query made before the load would leave CUDA off for the whole process. Where it
//! looks, in order (the first one that passes the checks wins; `NSTYLE_CUDA_DIR`, when set, is the
//! only place looked at):
//!
//! 1. `$NSTYLE_CUDA_DIR`: a folder holding `libtorch_cuda.so`, or an add-on folder;
//! 2. the release bundle's GPU add-on, `cuda-2.11.0/` beside the library (`lib/`), made by
//!    `install.sh --gpu`, then the user's, `~/.local/share/nstyle/cuda-2.11.0/`;
//! 3. the `torch/lib` of the torch package beside a Python binding (the wheel's case);
//! 4. the folder of the `libtorch_cpu.so` this process runs on, then the libtorch the build
//!    linked (the source build's venv).
//!
//! Before loading, the candidate must be the same build as the `libtorch_cpu.so` in the process:
//! an add-on folder's `BUILD` file (written by the installer) names the torch version, the GNU
//! build ID of the `libtorch_cpu.so` it belongs with and each file's size; a torch package folder
//! must be torch 2.11.0 (`version.py`) with a `libtorch_cpu.so` of the same build ID. Both
//! libraries must also be whole ELF files (a truncated one would crash the loader with SIGBUS).
//! Then the NVIDIA driver is asked directly (`libcuda.so.1`: version, GPUs), so that a missing
//! or too old driver is a one-line reason rather than a warning from deep inside torch.
//!
//! Everything here runs once per process ([`ensure`]) and never panics: any failure is a reason
//! in [`CudaStatus::unusable`], and the run goes to the CPU (or, asked for `cuda`, is refused
//! with that reason).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The torch version whose CUDA half we load (the one the build links).
pub const TORCH_VERSION: &str = "2.11.0";
/// The add-on folder's name, beside the library or in `~/.local/share/nstyle/`.
pub const ADDON_DIR: &str = "cuda-2.11.0";
/// The add-on's description of itself, written by `install.sh --gpu`.
pub const BUILD_FILE: &str = "BUILD";
/// The oldest CUDA version the driver must support (torch 2.11.0's CUDA 13 build): driver 580.
const MIN_DRIVER_CUDA: c_int = 13000;
/// The libtorch folder the build linked against (build.rs): the source build's venv.
const BUILD_LIBTORCH_LIB: Option<&str> = option_env!("NSTYLE_BUILD_LIBTORCH_LIB");
/// The libraries loaded, in order.
const LIBRARIES: [&str; 2] = ["libc10_cuda.so", "libtorch_cuda.so"];

/// One GPU as the driver reports it.
#[derive(Debug, Clone)]
pub struct Gpu {
    pub name: String,
    pub memory_bytes: u64,
    pub capability: (i32, i32),
}

/// What the loader found and did; one per process.
#[derive(Debug)]
pub struct CudaStatus {
    /// The folder `libtorch_cuda.so` was loaded from (or already was, when the process had it).
    pub loaded_from: Option<PathBuf>,
    /// Which kind of place that was, e.g. "NSTYLE_CUDA_DIR" or "the bundle's GPU add-on".
    pub origin: Option<String>,
    /// The build loaded: torch version and libtorch_cpu build ID.
    pub build: Option<String>,
    /// Places looked at and refused, each with its reason.
    pub refused: Vec<String>,
    /// Places looked at that held nothing.
    pub looked_in: Vec<PathBuf>,
    /// The NVIDIA driver: its version and the CUDA version it supports, or why there is none.
    pub driver: Result<String, String>,
    /// The GPUs the driver sees.
    pub gpus: Vec<Gpu>,
    /// Why CUDA cannot be used; `None` when it can.
    pub unusable: Option<String>,
}

impl CudaStatus {
    pub fn usable(&self) -> bool {
        self.unusable.is_none()
    }

    /// One line on the add-on: where it was loaded from and which build, or why not.
    pub fn addon_line(&self) -> String {
        match (&self.loaded_from, &self.origin) {
            (Some(dir), origin) => format!(
                "loaded from {} ({}{})",
                dir.display(),
                origin.as_deref().unwrap_or("?"),
                self.build
                    .as_deref()
                    .map(|b| format!("; {b}"))
                    .unwrap_or_default()
            ),
            (None, _) if !self.refused.is_empty() => {
                format!("not loaded: {}", self.refused.join("; "))
            }
            (None, _) => format!(
                "not found (looked in {}; `install.sh --gpu` installs it)",
                self.looked_in
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

static STATUS: OnceLock<CudaStatus> = OnceLock::new();
/// Set when the process was given `device=cpu` before the loader ran.
static CPU_BEFORE_LOAD: AtomicBool = AtomicBool::new(false);

/// Called for `device=cpu` (which loads nothing). libtorch sets up its autograd device threads
/// once, at the first backward pass: CUDA loaded after a CPU run would have none, so a later
/// `auto` or `cuda` in the same process stays on the CPU, with that reason.
pub fn note_cpu_device() {
    if STATUS.get().is_none() {
        CPU_BEFORE_LOAD.store(true, Ordering::Relaxed);
    }
}

/// Loads the CUDA half once (the first call does the work; later calls return its result).
pub fn ensure() -> &'static CudaStatus {
    STATUS.get_or_init(load)
}

fn load() -> CudaStatus {
    let mut status = CudaStatus {
        loaded_from: None,
        origin: None,
        build: None,
        refused: Vec::new(),
        looked_in: Vec::new(),
        driver: Err("not asked".into()),
        gpus: Vec::new(),
        unusable: None,
    };
    let mut load_problem = None;
    if let Some(already) = crate::paths::loaded_library("libtorch_cuda.so") {
        status.loaded_from = already.parent().map(Path::to_path_buf);
        status.origin = Some("already in the process".into());
    } else {
        load_problem = load_addon(&mut status).err();
    }
    let driver_problem = probe_driver(&mut status).err();
    let late = (status.origin.as_deref() != Some("already in the process")
        && CPU_BEFORE_LOAD.load(Ordering::Relaxed))
    .then(|| {
        "this process ran on the CPU before the CUDA libraries were loaded (libtorch sets up its \
         devices once): start a new process, or ask for auto or cuda (or the diagnostics) first"
            .to_string()
    });
    let problems: Vec<String> = [driver_problem, load_problem, late]
        .into_iter()
        .flatten()
        .collect();
    if !problems.is_empty() {
        status.unusable = Some(problems.join("; "));
    }
    status
}

/// A place to look, and what it is.
struct Candidate {
    root: PathBuf,
    origin: &'static str,
    explicit: bool,
}

fn candidates() -> Vec<Candidate> {
    if let Some(dir) = std::env::var_os("NSTYLE_CUDA_DIR").filter(|d| !d.is_empty()) {
        return vec![Candidate {
            root: PathBuf::from(dir),
            origin: "NSTYLE_CUDA_DIR",
            explicit: true,
        }];
    }
    let mut list = Vec::new();
    let mut push = |root: PathBuf, origin| {
        list.push(Candidate {
            root: lexical(&root),
            origin,
            explicit: false,
        })
    };
    let library_dir = crate::paths::library_dir();
    let libtorch_dir = crate::paths::loaded_library("libtorch_cpu.so")
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    if let Some(dir) = &library_dir {
        push(dir.join(ADDON_DIR), "the bundle's GPU add-on");
        // The CLI (bin/nstyle) has the library's code linked in: the add-on is in ../lib.
        push(
            dir.join("../lib").join(ADDON_DIR),
            "the bundle's GPU add-on",
        );
    }
    if let Some(dir) = &libtorch_dir {
        push(dir.join(ADDON_DIR), "the bundle's GPU add-on");
    }
    if let Some(data) = data_home() {
        push(data.join("nstyle").join(ADDON_DIR), "the user's GPU add-on");
    }
    if let Some(dir) = &library_dir {
        push(
            dir.join("../torch/lib"),
            "the torch package beside the binding",
        );
    }
    if let Some(dir) = libtorch_dir {
        push(dir, "the libtorch this library runs on");
    }
    if let Some(dir) = BUILD_LIBTORCH_LIB {
        push(PathBuf::from(dir), "the libtorch of the build");
    }
    // The same folder reached twice is looked at once.
    let mut seen = Vec::new();
    list.retain(|c| {
        let key = std::fs::canonicalize(&c.root).unwrap_or_else(|_| c.root.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    list
}

/// `a/b/../c` as `a/c`, without touching the file system (the folder may not exist).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if out.parent().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn data_home() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })
}

/// The folder holding the libraries: the root itself, or an add-on's `torch/lib`.
fn library_folder(root: &Path) -> Option<PathBuf> {
    [root.to_path_buf(), root.join("torch/lib")]
        .into_iter()
        .find(|dir| dir.join("libtorch_cuda.so").is_file())
}

fn load_addon(status: &mut CudaStatus) -> Result<(), String> {
    let ours = crate::paths::loaded_library("libtorch_cpu.so")
        .ok_or("libtorch_cpu.so is not in the process: cannot tell which build to load")?;
    let our_id = build_id(&ours).map_err(|e| format!("{}: {e}", ours.display()))?;
    for candidate in candidates() {
        let Some(lib) = library_folder(&candidate.root) else {
            if candidate.explicit {
                status.refused.push(format!(
                    "{} ({}): no libtorch_cuda.so there (nor in torch/lib)",
                    candidate.root.display(),
                    candidate.origin
                ));
            } else {
                status.looked_in.push(candidate.root);
            }
            continue;
        };
        let lib = std::fs::canonicalize(&lib).unwrap_or(lib);
        let build = match check_candidate(&candidate.root, &lib, &ours, &our_id) {
            Ok(build) => build,
            Err(reason) => {
                status.refused.push(format!(
                    "{} ({}) refused: {reason}",
                    lib.display(),
                    candidate.origin
                ));
                continue;
            }
        };
        // After a failed dlopen nothing more is tried: a second copy of a library with the same
        // soname would be loaded beside the first.
        for name in LIBRARIES {
            if let Err(error) = dlopen_global(&lib.join(name)) {
                status.refused.push(format!(
                    "{} ({}) could not be loaded: {error}",
                    lib.display(),
                    candidate.origin
                ));
                return Err(format!("the CUDA libraries could not be loaded: {error}"));
            }
        }
        status.loaded_from = Some(lib);
        status.origin = Some(candidate.origin.into());
        status.build = Some(build);
        return Ok(());
    }
    Err(if status.refused.is_empty() {
        format!("no GPU add-on ({ADDON_DIR}) or CUDA torch {TORCH_VERSION} found")
    } else {
        format!("no usable CUDA libraries: {}", status.refused.join("; "))
    })
}

/// Checks that the libraries in `lib` belong with the `libtorch_cpu.so` in the process (`ours`,
/// build ID `our_id`) and are whole; returns a description of the build.
fn check_candidate(root: &Path, lib: &Path, ours: &Path, our_id: &str) -> Result<String, String> {
    let build_file = [root.join(BUILD_FILE), lib.join(BUILD_FILE)]
        .into_iter()
        .find(|p| p.is_file());
    let short = &our_id[..our_id.len().min(12)];
    if let Some(build_file) = build_file {
        let text = std::fs::read_to_string(&build_file)
            .map_err(|e| format!("{}: {e}", build_file.display()))?;
        let base = build_file.parent().unwrap_or(root);
        check_build_file(&text, base, our_id)
            .map_err(|e| format!("{}: {e}", build_file.display()))?;
    } else {
        let version = torch_version(lib).ok_or_else(|| {
            format!("no {BUILD_FILE} file and no torch version.py beside it: cannot tell its build")
        })?;
        if version != TORCH_VERSION {
            return Err(format!(
                "torch {version}, this library runs on torch {TORCH_VERSION}"
            ));
        }
        let theirs = lib.join("libtorch_cpu.so");
        let same_file = std::fs::canonicalize(&theirs).ok() == std::fs::canonicalize(ours).ok();
        if !same_file {
            let their_id = build_id(&theirs).map_err(|e| format!("{}: {e}", theirs.display()))?;
            if their_id != our_id {
                return Err(format!(
                    "a different torch {TORCH_VERSION} build (its libtorch_cpu.so has build ID \
                     {their_id}, the one in this process {our_id})"
                ));
            }
        }
    }
    for name in LIBRARIES {
        elf_whole(&lib.join(name)).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(format!(
        "torch {TORCH_VERSION}, libtorch_cpu build ID {short}…"
    ))
}

/// An add-on's BUILD file: `torch VERSION`, `libtorch_cpu-build-id ID`, then one
/// `file SIZE SHA256 PATH` line per file (PATH relative to the add-on folder).
fn check_build_file(text: &str, base: &Path, our_id: &str) -> Result<(), String> {
    let mut version = None;
    let mut id = None;
    let mut files = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("torch") => version = words.next(),
            Some("libtorch_cpu-build-id") => id = words.next(),
            Some("file") => {
                let (Some(size), Some(_sha), Some(path)) =
                    (words.next(), words.next(), words.next())
                else {
                    return Err(format!("malformed line '{line}'"));
                };
                let want: u64 = size
                    .parse()
                    .map_err(|_| format!("malformed line '{line}'"))?;
                let have = std::fs::metadata(base.join(path))
                    .map_err(|e| format!("{path} listed but missing ({e})"))?
                    .len();
                if have != want {
                    return Err(format!(
                        "{path} is damaged: {have} bytes, the add-on lists {want}"
                    ));
                }
                files += 1;
            }
            _ => {}
        }
    }
    match version {
        Some(v) if v == TORCH_VERSION => {}
        Some(v) => {
            return Err(format!(
                "for torch {v}, this library runs on {TORCH_VERSION}"
            ))
        }
        None => return Err("names no torch version".into()),
    }
    match id {
        Some(id) if id == our_id => {}
        Some(id) => {
            return Err(format!(
                "built for another libtorch_cpu.so (build ID {id}; this process has {our_id}): \
                 reinstall it with this bundle's install.sh --gpu"
            ))
        }
        None => return Err("names no libtorch_cpu build ID".into()),
    }
    if files == 0 {
        return Err("lists no files".into());
    }
    Ok(())
}

/// torch's version from `../version.py` beside a `torch/lib` folder.
fn torch_version(lib: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib.join("../version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    let version = line.split(['\'', '"']).nth(1)?;
    Some(version.split('+').next()?.to_string())
}

fn read_at(file: &mut std::fs::File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    u16::from_le_bytes([b[at], b[at + 1]]) as u64
}
fn u32_at(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as u64
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The parts of a 64-bit little-endian ELF file's header we need.
struct Elf {
    file: std::fs::File,
    len: u64,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
}

fn open_elf(path: &Path) -> Result<Elf, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut header = [0u8; 64];
    read_at(&mut file, 0, &mut header)
        .map_err(|_| format!("not an ELF file ({len} bytes: truncated?)"))?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    Ok(Elf {
        file,
        len,
        phoff: u64_at(&header, 32),
        shoff: u64_at(&header, 40),
        phentsize: u16_at(&header, 54),
        phnum: u16_at(&header, 56),
        shentsize: u16_at(&header, 58),
        shnum: u16_at(&header, 60),
    })
}

/// The program headers: (type, offset, file size).
fn program_headers(elf: &mut Elf) -> Result<Vec<(u64, u64, u64)>, String> {
    let end = elf.phoff + elf.phentsize * elf.phnum;
    if elf.phentsize < 56 || end > elf.len {
        return Err(format!(
            "truncated ({} bytes; its program headers end at {end})",
            elf.len
        ));
    }
    let mut table = vec![0u8; (elf.phentsize * elf.phnum) as usize];
    read_at(&mut elf.file, elf.phoff, &mut table).map_err(|e| e.to_string())?;
    Ok(table
        .chunks(elf.phentsize as usize)
        .map(|h| (u32_at(h, 0), u64_at(h, 8), u64_at(h, 32)))
        .collect())
}

/// Checks that an ELF file is whole: every segment and the section header table lie inside it.
/// `dlopen` of a truncated library maps pages past its end and dies of SIGBUS.
pub fn elf_whole(path: &Path) -> Result<(), String> {
    let mut elf = open_elf(path)?;
    let mut need = elf.shoff + elf.shentsize * elf.shnum;
    for (_, offset, size) in program_headers(&mut elf)? {
        need = need.max(offset + size);
    }
    if need > elf.len {
        return Err(format!(
            "truncated: {} bytes, its headers need {need}",
            elf.len
        ));
    }
    Ok(())
}

/// The GNU build ID (hex) of an ELF file, from its PT_NOTE segments.
pub fn build_id(path: &Path) -> Result<String, String> {
    let mut elf = open_elf(path)?;
    for (kind, offset, size) in program_headers(&mut elf)? {
        if kind != 4 || size > 1 << 20 || offset + size > elf.len {
            continue; // PT_NOTE only
        }
        let mut notes = vec![0u8; size as usize];
        read_at(&mut elf.file, offset, &mut notes).map_err(|e| e.to_string())?;
        let mut at = 0usize;
        while at + 12 <= notes.len() {
            let namesz = u32_at(&notes, at) as usize;
            let descsz = u32_at(&notes, at + 4) as usize;
            let kind = u32_at(&notes, at + 8);
            let name_at = at + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let next = desc_at + descsz.div_ceil(4) * 4;
            if next > notes.len() {
                break;
            }
            if kind == 3 && &notes[name_at..name_at + namesz] == b"GNU\0" {
                return Ok(notes[desc_at..desc_at + descsz]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect());
            }
            at = next;
        }
    }
    Err("no GNU build ID".into())
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string owned by the loader.
    let error = unsafe { libc::dlerror() };
    if error.is_null() {
        "unknown dlopen error".into()
    } else {
        unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned()
    }
}

fn dlopen_global(path: &Path) -> Result<(), String> {
    let name = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a plain dlopen of a library checked above to be a whole ELF file; the handle is
    // kept for the life of the process (never dlclosed: libtorch's statics live in it).
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        Err(dlerror_text())
    } else {
        Ok(())
    }
}

type CuIntFn = unsafe extern "C" fn(*mut c_int) -> c_int;
type CuInitFn = unsafe extern "C" fn(u32) -> c_int;
type CuDeviceGetFn = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
type CuNameFn = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
type CuMemFn = unsafe extern "C" fn(*mut usize, c_int) -> c_int;
type CuAttrFn = unsafe extern "C" fn(*mut c_int, c_int, c_int) -> c_int;
type CuErrorNameFn = unsafe extern "C" fn(c_int, *mut *const c_char) -> c_int;

fn symbol(handle: *mut c_void, name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym on a live handle with a NUL-terminated name.
    let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
    (!address.is_null()).then_some(address)
}

/// The kernel module's version from /proc/driver/nvidia/version ("580.65.06").
fn kernel_driver_version() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    let line = text.lines().next()?;
    line.split_whitespace()
        .find(|w| {
            w.contains('.')
                && w.chars().next().is_some_and(|c| c.is_ascii_digit())
                && w.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .map(str::to_string)
}

/// Asks the NVIDIA driver (libcuda.so.1) for its version and its GPUs, without torch.
fn probe_driver(status: &mut CudaStatus) -> Result<(), String> {
    // SAFETY: dlopen of the driver library by its soname; kept loaded (torch uses it too).
    let handle =
        unsafe { libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        let reason = "no NVIDIA driver (libcuda.so.1 cannot be loaded)".to_string();
        status.driver = Err(reason.clone());
        return Err(reason);
    }
    let kernel = kernel_driver_version();
    let mut version: c_int = 0;
    let got = symbol(handle, c"cuDriverGetVersion")
        // SAFETY: cuDriverGetVersion(int*) per the CUDA driver API.
        .map(|f| unsafe { std::mem::transmute::<*mut c_void, CuIntFn>(f)(&mut version) });
    if got != Some(0) {
        let reason = "the NVIDIA driver did not say its version (cuDriverGetVersion)".to_string();
        status.driver = Err(reason.clone());
        return Err(reason);
    }
    let cuda = format!("CUDA {}.{}", version / 1000, version % 1000 / 10);
    status.driver = Ok(match &kernel {
        Some(k) => format!("{k} (supports {cuda})"),
        None => format!("supports {cuda}"),
    });
    if version < MIN_DRIVER_CUDA {
        return Err(format!(
            "the NVIDIA driver {}supports {cuda}; torch {TORCH_VERSION} needs CUDA 13.0 (driver 580 \
             or newer)",
            kernel.map(|k| format!("{k} ")).unwrap_or_default()
        ));
    }
    let error_name = |code: c_int| -> String {
        let mut name: *const c_char = std::ptr::null();
        match symbol(handle, c"cuGetErrorName") {
            // SAFETY: cuGetErrorName(CUresult, const char**) per the driver API.
            Some(f)
                if unsafe {
                    std::mem::transmute::<*mut c_void, CuErrorNameFn>(f)(code, &mut name)
                } == 0
                    && !name.is_null() =>
            {
                // SAFETY: the driver returns a static NUL-terminated string.
                unsafe { CStr::from_ptr(name) }
                    .to_string_lossy()
                    .into_owned()
            }
            _ => format!("error {code}"),
        }
    };
    let (Some(init), Some(count_fn)) = (
        symbol(handle, c"cuInit"),
        symbol(handle, c"cuDeviceGetCount"),
    ) else {
        return Err("the NVIDIA driver lacks cuInit".into());
    };
    // SAFETY: cuInit(unsigned) per the driver API; calling it more than once is allowed.
    let code = unsafe { std::mem::transmute::<*mut c_void, CuInitFn>(init)(0) };
    if code != 0 {
        return Err(format!(
            "the NVIDIA driver found no usable GPU (cuInit: {})",
            error_name(code)
        ));
    }
    let mut count: c_int = 0;
    // SAFETY: cuDeviceGetCount(int*).
    unsafe { std::mem::transmute::<*mut c_void, CuIntFn>(count_fn)(&mut count) };
    for ordinal in 0..count.max(0) {
        status.gpus.push(gpu(handle, ordinal));
    }
    if status.gpus.is_empty() {
        return Err("no NVIDIA GPU".into());
    }
    if status.gpus.iter().all(|g| g.capability < (7, 5)) {
        let g = &status.gpus[0];
        return Err(format!(
            "{} has compute capability {}.{}; torch {TORCH_VERSION}'s CUDA 13 build needs 7.5 \
             (Turing) or newer",
            g.name, g.capability.0, g.capability.1
        ));
    }
    Ok(())
}

fn gpu(handle: *mut c_void, ordinal: c_int) -> Gpu {
    let mut device: c_int = 0;
    let mut gpu = Gpu {
        name: format!("GPU {ordinal}"),
        memory_bytes: 0,
        capability: (0, 0),
    };
    let Some(get) = symbol(handle, c"cuDeviceGet") else {
        return gpu;
    };
    // SAFETY: cuDeviceGet(CUdevice*, int ordinal).
    if unsafe { std::mem::transmute::<*mut c_void, CuDeviceGetFn>(get)(&mut device, ordinal) } != 0
    {
        return gpu;
    }
    if let Some(f) = symbol(handle, c"cuDeviceGetName") {
        let mut name = [0 as c_char; 256];
        // SAFETY: cuDeviceGetName(char*, int len, CUdevice) writes a NUL-terminated name.
        if unsafe {
            std::mem::transmute::<*mut c_void, CuNameFn>(f)(name.as_mut_ptr(), 255, device)
        } == 0
        {
            gpu.name = unsafe { CStr::from_ptr(name.as_ptr()) }
                .to_string_lossy()
                .into_owned();
        }
    }
    if let Some(f) = symbol(handle, c"cuDeviceTotalMem_v2") {
        let mut bytes: usize = 0;
        // SAFETY: cuDeviceTotalMem_v2(size_t*, CUdevice).
        if unsafe { std::mem::transmute::<*mut c_void, CuMemFn>(f)(&mut bytes, device) } == 0 {
            gpu.memory_bytes = bytes as u64;
        }
    }
    if let Some(f) = symbol(handle, c"cuDeviceGetAttribute") {
        let attr = unsafe { std::mem::transmute::<*mut c_void, CuAttrFn>(f) };
        let (mut major, mut minor) = (0, 0);
        // SAFETY: cuDeviceGetAttribute(int*, attribute, CUdevice); 75/76: compute capability.
        unsafe {
            attr(&mut major, 75, device);
            attr(&mut minor, 76, device);
        }
        gpu.capability = (major, minor);
    }
    gpu
}
