//! Build script: makes the binary and the shared library find libtorch without LD_LIBRARY_PATH
//! (an rpath to the libtorch that torch-sys linked), generates the C header with cbindgen, and
//! builds the CUDA-graph shim `libnstyle_cudagraph.so` when the linked libtorch has CUDA.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let libtorch_lib = link_libtorch();
    generate_header();
    build_cuda_graph_shim(libtorch_lib.as_deref());
}

/// torch-sys reports the libtorch it linked against as DEP_TCH_LIBTORCH_LIB (its `links` key is
/// "tch"). We put that directory in the rpath of everything we link, so `target/release/nstyle`
/// runs as built; LD_LIBRARY_PATH still takes precedence (RUNPATH), which is how a machine with
/// its own libtorch 2.11 substitutes it.
///
/// A relocatable build (the release bundle, the wheel) sets NSTYLE_RPATH instead, e.g.
/// `$ORIGIN:$ORIGIN/../lib`: then that is the whole rpath and nothing points back into this
/// machine.
fn link_libtorch() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=NSTYLE_RPATH");
    let relocatable_rpath = std::env::var("NSTYLE_RPATH").ok().filter(|r| !r.is_empty());
    if let Some(rpath) = &relocatable_rpath {
        println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags,-rpath,{rpath}");
    }
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch directory; no rpath set");
        return None;
    };
    // Canonical, so that the rpath does not run through the checkout's `.venv` symlink and an
    // installed library keeps finding libtorch when the checkout moves.
    let lib_dir = std::fs::canonicalize(&lib_dir).unwrap_or_else(|_| PathBuf::from(lib_dir));
    if relocatable_rpath.is_none() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    }
    // The CUDA half of libtorch is not linked: src/cuda_loader.rs loads it at run time. torch-sys
    // asks for -ltorch_cuda (and -ltorch, whose only job is to pull in libtorch_cuda) whenever the
    // libtorch it builds against has it; rustc links with --as-needed, and nothing of ours refers
    // to either, so neither becomes NEEDED (tests/cuda_loader.rs checks it with readelf). The
    // loader gets this folder as the last place to look: the source build's venv.
    println!(
        "cargo:rustc-env=NSTYLE_BUILD_LIBTORCH_LIB={}",
        lib_dir.display()
    );
    Some(lib_dir)
}

/// Writes the C header into OUT_DIR only: a build never writes into the source tree. `make
/// header` copies it to include/nstyle.h (what the plug-ins and C programs compile against), and
/// tests/header.rs fails when that copy is not what this generates.
fn generate_header() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let source = crate_dir.join("src/ffi.rs");
    let bindings = match cbindgen::Builder::new()
        .with_src(&source)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(error) => panic!("cbindgen failed on src/ffi.rs: {error}"),
    };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    bindings.write_to_file(out_dir.join("nstyle.h"));
}

/// The file the CUDA-graph shim is built into (in OUT_DIR), and its soname.
const SHIM_FILE: &str = "libnstyle_cudagraph.so";

/// Builds the CUDA-graph shim (`csrc/cuda_graph.cpp`, loaded by `src/cuda_graph.rs`) into
/// OUT_DIR as its own shared object, linked against the CUDA half of libtorch, which libnstyle
/// itself must not link. Its path reaches the crate as NSTYLE_BUILD_CUDA_GRAPH_SHIM (or why it was
/// not built as NSTYLE_BUILD_CUDA_GRAPH_SHIM_SKIPPED).
///
/// NSTYLE_CUDA_GRAPH picks when: unset or `auto`, whenever the linked libtorch has
/// `libtorch_cuda.so`, `ATen/cuda/CUDAGraph.h` and CUDA's runtime headers are found (a compile
/// problem is then a warning, not a failed build); `off` never (nothing is compiled, a CPU-only
/// libtorch needs nothing); `on` it must be built, and the build fails with the reason otherwise.
/// It is rebuilt only when its inputs change (a stamp of them in OUT_DIR), not each time this
/// script reruns for the header.
fn build_cuda_graph_shim(libtorch_lib: Option<&Path>) {
    println!("cargo:rerun-if-changed=csrc/cuda_graph.cpp");
    println!("cargo:rerun-if-env-changed=NSTYLE_CUDA_GRAPH");
    println!("cargo:rerun-if-env-changed=NSTYLE_CUDA_INCLUDE");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let mode = std::env::var("NSTYLE_CUDA_GRAPH").unwrap_or_default();
    let required = match mode.as_str() {
        "" | "auto" => false,
        "on" | "1" => true,
        "off" | "0" => {
            shim_skipped("not built: NSTYLE_CUDA_GRAPH=off");
            return;
        }
        other => panic!("NSTYLE_CUDA_GRAPH={other}: expected auto, on or off"),
    };
    let inputs = match shim_inputs(libtorch_lib) {
        Ok(inputs) => inputs,
        Err(reason) if required => panic!("NSTYLE_CUDA_GRAPH=on, but {reason}"),
        // The normal case of a CPU-only libtorch: nothing to say.
        Err(reason) => {
            shim_skipped(&format!("not built: {reason}"));
            return;
        }
    };
    match compile_shim(&inputs) {
        Ok(path) => println!(
            "cargo:rustc-env=NSTYLE_BUILD_CUDA_GRAPH_SHIM={}",
            path.display()
        ),
        Err(reason) if required => panic!("the CUDA-graph shim failed to build: {reason}"),
        Err(reason) => {
            println!("cargo:warning=the CUDA-graph shim failed to build (NSTYLE_CUDA_GRAPH=off skips it): {reason}");
            shim_skipped(&format!("its build failed: {reason}"));
        }
    }
}

fn shim_skipped(reason: &str) {
    let one_line = reason.replace(['\n', '\r'], " ");
    println!("cargo:rustc-env=NSTYLE_BUILD_CUDA_GRAPH_SHIM_SKIPPED={one_line}");
}

/// What the shim is compiled and linked against.
struct ShimInputs {
    libtorch_lib: PathBuf,
    /// torch's headers, then CUDA's (the runtime API, then, when apart, CUDA's `crt/`).
    system_includes: Vec<PathBuf>,
    cxx11_abi: String,
}

fn shim_inputs(libtorch_lib: Option<&Path>) -> Result<ShimInputs, String> {
    let lib = libtorch_lib.ok_or("torch-sys did not report its libtorch directory")?;
    if !lib.join("libtorch_cuda.so").is_file() {
        return Err(format!(
            "the linked libtorch ({}) has no libtorch_cuda.so (a CPU-only build)",
            lib.display()
        ));
    }
    let torch_include = lib.join("../include");
    if !torch_include.join("ATen/cuda/CUDAGraph.h").is_file() {
        return Err(format!(
            "the linked libtorch has no {}",
            torch_include.join("ATen/cuda/CUDAGraph.h").display()
        ));
    }
    let mut system_includes = vec![torch_include];
    system_includes.extend(cuda_includes(lib)?);
    Ok(ShimInputs {
        libtorch_lib: lib.to_path_buf(),
        system_includes,
        // As torch-sys compiles its own C++ against the same headers (torch 2.11 ships the new ABI
        // only).
        cxx11_abi: std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into()),
    })
}

/// CUDA's runtime headers, which torch's CUDA headers include: no toolkit is needed, the
/// `nvidia-*` wheels torch depends on carry them. The CUDA 13 runtime wheel lacks `crt/` (its
/// compiler-glue headers, in the separate nvidia-cuda-crt wheel since CUDA 13); when no complete
/// set is found, `crt/` comes from the CUDA headers that triton (a requirement of torch on Linux)
/// bundles. The shim uses only CUDA's types and enums from them, which both versions share.
fn cuda_includes(libtorch_lib: &Path) -> Result<Vec<PathBuf>, String> {
    let site_packages = libtorch_lib.join("../..");
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("NSTYLE_CUDA_INCLUDE").filter(|d| !d.is_empty()) {
        places.push(PathBuf::from(dir));
    }
    if let Some(home) = std::env::var_os("CUDA_HOME").filter(|d| !d.is_empty()) {
        places.push(PathBuf::from(home).join("include"));
    }
    places.extend([
        site_packages.join("nvidia/cu13/include"),
        site_packages.join("nvidia/cuda_runtime/include"),
        PathBuf::from("/usr/local/cuda/include"),
    ]);
    let runtime = places
        .iter()
        .find(|dir| dir.join("cuda_runtime_api.h").is_file())
        .ok_or_else(|| {
            format!(
                "no CUDA runtime headers (cuda_runtime_api.h) in {} (NSTYLE_CUDA_INCLUDE names a \
                 folder)",
                places
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?
        .clone();
    if runtime.join("crt/host_config.h").is_file() {
        return Ok(vec![runtime]);
    }
    let crt = places
        .iter()
        .chain([&site_packages.join("triton/backends/nvidia/include")])
        .find(|dir| dir.join("crt/host_config.h").is_file())
        .ok_or_else(|| {
            format!(
                "{} has no crt/ and no other CUDA headers with one were found (install \
                 nvidia-cuda-crt, or set NSTYLE_CUDA_INCLUDE)",
                runtime.display()
            )
        })?
        .clone();
    // After the runtime's folder: only what it lacks (crt/) is taken from here.
    Ok(vec![runtime, crt])
}

/// Compiles the shim with the `cc` crate (which finds the C++ compiler and its flags as for any
/// C/C++ in a build script) and links it into a shared object with the same compiler: `cc` itself
/// only makes static archives, and a static archive would put libtorch_cuda into libnstyle.
fn compile_shim(inputs: &ShimInputs) -> Result<PathBuf, String> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let source = Path::new("csrc/cuda_graph.cpp");
    let shim = out_dir.join(SHIM_FILE);
    let stamp_file = out_dir.join("libnstyle_cudagraph.stamp");
    let rpath = std::env::var("NSTYLE_RPATH")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| inputs.libtorch_lib.display().to_string());

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .pic(true)
        .cargo_metadata(false)
        .warnings(true)
        .extra_warnings(true)
        .define("_GLIBCXX_USE_CXX11_ABI", inputs.cxx11_abi.as_str())
        // Only the C ABI is exported (tests/cuda_graph.rs lists it with nm -D).
        .flag("-fvisibility=hidden")
        .flag("-fvisibility-inlines-hidden")
        .file(source);
    // System includes: torch's and CUDA's headers warn under -Wextra; ours must not.
    for dir in &inputs.system_includes {
        build
            .flag("-isystem")
            .flag(dir.to_str().ok_or("non-UTF-8 include path")?);
    }
    let compiler = build.try_get_compiler().map_err(|e| e.to_string())?;

    // The inputs that decide the result; when they are as last time, the shim is kept.
    let stamp = shim_stamp(inputs, source, &compiler, &rpath)?;
    if shim.is_file() && std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp) {
        return Ok(shim);
    }
    let objects = build
        .try_compile_intermediates()
        .map_err(|e| e.to_string())?;
    // Linked under a temporary name and renamed: a failed link never leaves a half-written shim.
    let partial = out_dir.join(format!("{SHIM_FILE}.partial"));
    let output = Command::new(compiler.path())
        .arg("-shared")
        .arg("-o")
        .arg(&partial)
        .args(&objects)
        .arg(format!("-Wl,-soname,{SHIM_FILE}"))
        // Every symbol resolved at link time, and only the libraries it uses become NEEDED.
        .arg("-Wl,--no-undefined")
        .arg("-Wl,--as-needed")
        .arg(format!("-L{}", inputs.libtorch_lib.display()))
        .args(["-ltorch_cuda", "-lc10_cuda", "-ltorch_cpu", "-lc10"])
        // As libnstyle's: RUNPATH, so LD_LIBRARY_PATH substitutes the device's libtorch. At run
        // time the libraries are already in the process (src/cuda_graph.rs loads the shim after
        // the CUDA half) and are matched by soname; the rpath serves ldd and a standalone load.
        .arg(format!("-Wl,--enable-new-dtags,-rpath,{rpath}"))
        .output()
        .map_err(|e| format!("{}: {e}", compiler.path().display()))?;
    if !output.status.success() {
        return Err(format!(
            "linking {SHIM_FILE}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    std::fs::rename(&partial, &shim).map_err(|e| e.to_string())?;
    std::fs::write(&stamp_file, stamp).map_err(|e| e.to_string())?;
    Ok(shim)
}

/// One line naming everything the shim is built from: the source, the compiler and its flags,
/// the folders and the sizes and times of the torch files it is compiled and linked against.
fn shim_stamp(
    inputs: &ShimInputs,
    source: &Path,
    compiler: &cc::Tool,
    rpath: &str,
) -> Result<String, String> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(source)
        .map_err(|e| format!("{}: {e}", source.display()))?
        .hash(&mut hasher);
    compiler.path().hash(&mut hasher);
    compiler.args().hash(&mut hasher);
    rpath.hash(&mut hasher);
    inputs.cxx11_abi.hash(&mut hasher);
    inputs.system_includes.hash(&mut hasher);
    for file in [
        inputs.libtorch_lib.join("libtorch_cuda.so"),
        inputs.libtorch_lib.join("libc10_cuda.so"),
        inputs.system_includes[0].join("ATen/cuda/CUDAGraph.h"),
    ] {
        let meta = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        file.hash(&mut hasher);
        meta.len().hash(&mut hasher);
        meta.modified().ok().hash(&mut hasher);
    }
    Ok(format!("{:016x}", hasher.finish()))
}
