//! Where this library lives on disk, so that installed data (the weights) is found relative to
//! it with no configuration.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Directory of the shared object (or executable) that contains this code.
pub fn library_dir() -> Option<PathBuf> {
    library_file()?.parent().map(PathBuf::from)
}

/// The shared object (or executable) that contains this code, resolved through links.
pub fn library_file() -> Option<PathBuf> {
    // dladdr on one of our own functions names the file it was loaded from: libnstyle.so when a
    // host loaded the library, the executable when the code was linked in statically.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = library_dir as *const libc::c_void;
    // SAFETY: dladdr only reads the address and fills `info`; dli_fname points into the loader's
    // own storage and is valid for the life of the process.
    let found = unsafe { libc::dladdr(address, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    std::fs::canonicalize(path).ok()
}

/// The file a shared library whose name starts with `prefix` (e.g. "libtorch_cpu.so") was loaded
/// from, read from the process's memory map.
pub fn loaded_library(prefix: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(PathBuf::from)
}
