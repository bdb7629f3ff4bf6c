//! The CUDA half of libtorch loaded at run time (src/cuda_loader.rs), on a machine without a GPU.
//!
//! The loader runs once per process, so every scenario is its own `nstyle` process with its own
//! environment, and its answer is read from `nstyle doctor` (or a refused `--device cuda`). The
//! libraries come from the venv the build links (the libtorch_cpu.so in this test process):
//! pointed at its torch/lib, the loader loads it; a copy whose BUILD file names another build, one
//! for another torch version and one with a truncated libtorch_cuda.so are refused with a reason,
//! and the run goes to the CPU. On a machine with an NVIDIA driver the "no driver" assertions do
//! not apply and are skipped (tests/cuda.rs covers the GPU).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nstyle::cuda_loader::{build_id, elf_whole};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nstyle-cuda-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The venv's torch/lib: where the libtorch_cpu.so of this process lives.
fn torch_lib() -> PathBuf {
    let cpu = nstyle::paths::loaded_library("libtorch_cpu.so").expect("libtorch_cpu.so is loaded");
    std::fs::canonicalize(cpu)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn has_driver() -> bool {
    // SAFETY: dlopen/dlclose of the driver library by its soname.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return false;
        }
        libc::dlclose(handle);
        true
    }
}

/// `nstyle ARGS` with NSTYLE_CUDA_DIR (None: unset), an empty XDG_DATA_HOME (no user add-on) and
/// no NSTYLE_DEVICE.
fn nstyle(cuda_dir: Option<&Path>, home: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nstyle"));
    command
        .args(args)
        .env_remove("NSTYLE_DEVICE")
        .env_remove("NSTYLE_CUDA_DIR")
        .env("XDG_DATA_HOME", home);
    if let Some(dir) = cuda_dir {
        command.env("NSTYLE_CUDA_DIR", dir);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.code().is_some(),
        "nstyle died of a signal: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The value of a `doctor` line.
fn line<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no '{key}' line in:\n{report}"))[key.len()..]
        .trim()
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// An add-on folder (torch/lib/ beside a BUILD file) whose libraries are links to the venv's.
fn addon(dir: &Path, torch: &str, build_id: &str) {
    let lib = torch_lib();
    let mut build = format!("torch {torch}\nlibtorch_cpu-build-id {build_id}\n");
    for name in ["libc10_cuda.so", "libtorch_cuda.so"] {
        symlink(&lib.join(name), &dir.join("torch/lib").join(name));
        let size = std::fs::metadata(lib.join(name)).unwrap().len();
        build.push_str(&format!("file {size} 0 torch/lib/{name}\n"));
    }
    std::fs::write(dir.join("BUILD"), build).unwrap();
}

fn our_build_id() -> String {
    build_id(&torch_lib().join("libtorch_cpu.so")).unwrap()
}

#[test]
fn the_library_and_the_binary_do_not_link_the_cuda_half() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_nstyle"));
    let lib = bin.parent().unwrap().join("libnstyle.so");
    for elf in [&bin, &lib] {
        assert!(elf.exists(), "{} is not built", elf.display());
        let out = Command::new("readelf").arg("-d").arg(elf).output().unwrap();
        let dynamic = String::from_utf8_lossy(&out.stdout);
        let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
        assert!(
            needed.iter().any(|l| l.contains("libtorch_cpu.so")),
            "{}: {needed:?}",
            elf.display()
        );
        for cuda in [
            "libtorch_cuda",
            "libc10_cuda",
            "libcudnn",
            "libcublas",
            "[libtorch.so]",
        ] {
            assert!(
                !needed.iter().any(|l| l.contains(cuda)),
                "{} has {cuda} in NEEDED: {needed:?}",
                elf.display()
            );
        }
    }
}

#[test]
fn build_ids_and_whole_elf_files_are_read() {
    let lib = torch_lib();
    let id = our_build_id();
    assert_eq!(id.len(), 40, "{id}");
    let pins = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dist/gpu-pins.txt"),
    )
    .unwrap();
    assert!(
        pins.contains(&format!("# nstyle-libtorch-cpu-build-id: {id}\n")),
        "scripts/dist/gpu-pins.txt is for another torch build than the venv's ({id}): rerun \
         scripts/dist/gpu-pins.py"
    );
    elf_whole(&lib.join("libc10_cuda.so")).unwrap();
    let scratch = Scratch::new("elf");
    let cut = scratch.0.join("cut.so");
    let bytes = std::fs::read(lib.join("libc10_cuda.so")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let error = elf_whole(&cut).unwrap_err();
    assert!(error.contains("truncated"), "{error}");
    std::fs::write(&cut, b"not an ELF").unwrap();
    assert!(build_id(&cut).is_err());
}

#[test]
fn nstyle_cuda_dir_at_the_venv_is_loaded_and_without_a_driver_the_cpu_is_used() {
    let home = Scratch::new("home");
    let lib = torch_lib();
    let out = nstyle(Some(&lib), &home.0, &["doctor"]);
    let report = text(&out);
    let addon = line(&report, "CUDA add-on");
    assert!(
        addon.starts_with(&format!(
            "loaded from {} (NSTYLE_CUDA_DIR; torch 2.11.0",
            lib.display()
        )),
        "{report}"
    );
    if has_driver() {
        eprintln!("an NVIDIA driver is present: the no-driver checks are skipped");
        return;
    }
    assert_eq!(
        line(&report, "NVIDIA driver"),
        "no NVIDIA driver (libcuda.so.1 cannot be loaded)"
    );
    assert_eq!(line(&report, "GPU"), "none");
    assert_eq!(
        line(&report, "CUDA"),
        "not used: no NVIDIA driver (libcuda.so.1 cannot be loaded)"
    );
    assert!(
        line(&report, "device").starts_with("Cpu (asked: auto)"),
        "{report}"
    );
    assert!(out.status.success(), "{report}");

    // Asked for cuda: an error with the reason, never a silent CPU run.
    let out = nstyle(Some(&lib), &home.0, &["doctor", "--device", "cuda"]);
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains(
            "'cuda' requested but CUDA cannot be used: no NVIDIA driver (libcuda.so.1 cannot be \
             loaded)"
        ),
        "{report}"
    );
    let scratch = Scratch::new("run");
    let image = scratch.0.join("in.png");
    image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([x as u8 * 9, y as u8 * 13, 90]))
        .save(&image)
        .unwrap();
    let output = scratch.0.join("out.png");
    let image = image.to_str().unwrap();
    let out = nstyle(
        Some(&lib),
        &home.0,
        &[
            "run",
            "--content",
            image,
            "--style",
            image,
            "--output",
            output.to_str().unwrap(),
            "--size",
            "16",
            "--iterations",
            "1",
            "--device",
            "cuda",
        ],
    );
    let message = text(&out);
    assert!(!out.status.success(), "{message}");
    assert!(
        message.contains("CUDA cannot be used: no NVIDIA driver"),
        "{message}"
    );
    assert!(!output.exists());
}

#[test]
fn with_no_setting_the_source_build_finds_its_venv() {
    let home = Scratch::new("default");
    let report = text(&nstyle(None, &home.0, &["doctor"]));
    let addon = line(&report, "CUDA add-on");
    assert!(
        addon.starts_with(&format!("loaded from {}", torch_lib().display())),
        "{report}"
    );
}

#[test]
fn an_add_on_for_another_build_or_torch_version_is_refused() {
    let home = Scratch::new("home-mismatch");
    let scratch = Scratch::new("mismatch");
    let other = "0123456789abcdef0123456789abcdef01234567";
    addon(&scratch.0, "2.11.0", other);
    let out = nstyle(Some(&scratch.0), &home.0, &["doctor"]);
    let report = text(&out);
    let line_text = line(&report, "CUDA add-on");
    assert!(line_text.starts_with("not loaded: "), "{report}");
    assert!(
        line_text.contains(&format!(
            "built for another libtorch_cpu.so (build ID {other}; this process has {}",
            our_build_id()
        )),
        "{report}"
    );
    assert!(line(&report, "CUDA").starts_with("not used: "), "{report}");
    assert!(line(&report, "device").starts_with("Cpu"), "{report}");
    let out = nstyle(Some(&scratch.0), &home.0, &["doctor", "--device", "cuda"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("built for another libtorch_cpu.so"));

    let scratch = Scratch::new("version");
    addon(&scratch.0, "2.10.0", &our_build_id());
    let report = text(&nstyle(Some(&scratch.0), &home.0, &["doctor"]));
    assert!(
        line(&report, "CUDA add-on").contains("for torch 2.10.0, this library runs on 2.11.0"),
        "{report}"
    );

    // The right build, but a listed file of another size: damaged, refused.
    let scratch = Scratch::new("size");
    addon(&scratch.0, "2.11.0", &our_build_id());
    let build = std::fs::read_to_string(scratch.0.join("BUILD")).unwrap();
    std::fs::write(
        scratch.0.join("BUILD"),
        build
            .replace("file ", "file 1")
            .replacen("file 1", "file ", 1),
    )
    .unwrap();
    let report = text(&nstyle(Some(&scratch.0), &home.0, &["doctor"]));
    assert!(
        line(&report, "CUDA add-on").contains("torch/lib/libtorch_cuda.so is damaged"),
        "{report}"
    );

    // A folder with nothing in it.
    let empty = Scratch::new("empty");
    let report = text(&nstyle(Some(&empty.0), &home.0, &["doctor"]));
    assert!(
        line(&report, "CUDA add-on").contains("no libtorch_cuda.so there"),
        "{report}"
    );
}

#[test]
fn a_truncated_libtorch_cuda_is_refused_without_a_crash() {
    let home = Scratch::new("home-cut");
    let scratch = Scratch::new("cut");
    let lib = torch_lib();
    let ours = scratch.0.join("torch/lib");
    std::fs::create_dir_all(&ours).unwrap();
    for name in ["libtorch_cpu.so", "libc10_cuda.so"] {
        symlink(&lib.join(name), &ours.join(name));
    }
    std::fs::copy(
        lib.join("../version.py"),
        scratch.0.join("torch/version.py"),
    )
    .unwrap();
    // The first 8 MiB of the real one: a whole ELF header, the rest missing.
    let mut cut = vec![0u8; 8 << 20];
    use std::io::Read;
    std::fs::File::open(lib.join("libtorch_cuda.so"))
        .unwrap()
        .read_exact(&mut cut)
        .unwrap();
    std::fs::write(ours.join("libtorch_cuda.so"), &cut).unwrap();
    let out = nstyle(Some(&ours), &home.0, &["doctor"]);
    let report = text(&out);
    let addon = line(&report, "CUDA add-on");
    assert!(addon.starts_with("not loaded: "), "{report}");
    assert!(
        addon.contains("libtorch_cuda.so: truncated: 8388608 bytes"),
        "{report}"
    );
    assert!(line(&report, "device").starts_with("Cpu"), "{report}");
    assert!(out.status.success(), "{report}");
}
