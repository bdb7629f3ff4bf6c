//! Build script: makes the binary and the shared library find libtorch without LD_LIBRARY_PATH
//! (an rpath to the libtorch that torch-sys linked), and generates the C header with cbindgen.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    link_libtorch();
    generate_header();
}

/// torch-sys reports the libtorch it linked against as DEP_TCH_LIBTORCH_LIB (its `links` key is
/// "tch"). We put that directory in the rpath of everything we link, so `target/release/nstyle`
/// runs as built; LD_LIBRARY_PATH still takes precedence (RUNPATH), which is how a machine with
/// its own libtorch 2.11 substitutes it.
///
/// A relocatable build (the release bundle, the wheel) sets NSTYLE_RPATH instead, e.g.
/// `$ORIGIN:$ORIGIN/../lib`: then that is the whole rpath and nothing points back into this
/// machine.
fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=NSTYLE_RPATH");
    let relocatable_rpath = std::env::var("NSTYLE_RPATH").ok().filter(|r| !r.is_empty());
    if let Some(rpath) = &relocatable_rpath {
        println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags,-rpath,{rpath}");
    }
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch directory; no rpath set");
        return;
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
