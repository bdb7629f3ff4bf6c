//! The `nstyle` command line: a tiny real run, each bad input as a one-line error with a non-zero
//! exit and no output file, and Ctrl-C writing the current result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nstyle-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a small gradient image (RGBA when `alpha`).
    fn image(&self, name: &str, width: u32, height: u32) -> PathBuf {
        let path = self.path(name);
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x * 255 / width.max(1)) as u8,
                (y * 255 / height.max(1)) as u8,
                ((x + y) % 7 * 36) as u8,
            ])
        });
        image.save(&path).unwrap();
        path
    }

    fn bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nstyle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nstyle"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `nstyle run` with the given content and style on tiny settings plus `extra` flags.
fn run(content: &Path, style: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--content",
        s(content),
        "--style",
        s(style),
        "--output",
        s(output),
    ];
    for (flag, default) in [("--size", "32"), ("--iterations", "2"), ("--device", "cpu")] {
        if !extra.contains(&flag) {
            args.extend_from_slice(&[flag, default]);
        }
    }
    args.extend_from_slice(extra);
    nstyle(&args)
}

/// Asserts a failed run: non-zero exit, one line on stderr containing `needle`, no output file.
fn assert_refused(output: &Output, result: &Path, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stderr:?}");
    assert!(
        stderr.ends_with('\n') && !lines[0].trim().is_empty(),
        "{stderr:?}"
    );
    assert!(
        !lines[0].chars().any(|c| c.is_control() || c == '\u{FFFD}'),
        "not printable: {stderr:?}"
    );
    assert!(lines[0].contains(needle), "'{needle}' not in: {stderr}");
    assert!(!result.exists(), "an output file was left behind");
    let leftovers: Vec<_> = std::fs::read_dir(result.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left");
}

#[test]
fn tiny_run_writes_png_jpeg_and_16_bit_tiff() {
    let dir = Scratch::new("ok");
    let content = dir.image("content.png", 40, 30);
    let style = dir.image("style.png", 32, 32);
    for name in ["out.png", "out.jpg", "out.tif"] {
        let out = dir.path(name);
        let result = run(&content, &style, &out, &[]);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let written = image::open(&out).unwrap();
        assert_eq!((written.width(), written.height()), (32, 24));
    }
    // A 16-bit content gives a 16-bit PNG.
    let deep = dir.path("deep.png");
    image::DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(40, 30, |x, y| {
        image::Rgb([x as u16 * 1600, y as u16 * 2000, 30000])
    }))
    .save(&deep)
    .unwrap();
    let out = dir.path("deep-out.png");
    assert!(run(&deep, &style, &out, &[]).status.success());
    assert!(matches!(
        image::open(&out).unwrap(),
        image::DynamicImage::ImageRgb16(_)
    ));
}

#[test]
fn bad_images_are_refused() {
    let dir = Scratch::new("images");
    let style = dir.image("style.png", 32, 32);
    let good = std::fs::read(dir.image("good.png", 40, 30)).unwrap();
    let good_jpeg = std::fs::read(dir.image("good.jpg", 64, 48)).unwrap();
    let cases = [
        (dir.path("missing.png"), "cannot open image"),
        (dir.bytes("empty.png", b""), "empty"),
        (
            dir.bytes("truncated.png", &good[..good.len() / 2]),
            "cannot decode",
        ),
        (
            dir.bytes("corrupt.png", &[&good[..40], &[0u8; 200][..]].concat()),
            "cannot decode",
        ),
        (
            dir.bytes("text.png", b"hello, this is text\n"),
            "cannot decode",
        ),
        (
            dir.bytes("text.txt", b"hello, this is text\n"),
            "not an image",
        ),
        // A PNG header that declares a 0×0 image.
        (dir.bytes("zero.png", &zero_sized_png(0, 0)), "zero.png"),
        // A dimension bomb is named for what it is, not called corrupt.
        (
            dir.bytes("huge.png", &zero_sized_png(100_000, 100_000)),
            "larger than 65536 pixels",
        ),
        // Within the side limit but far more pixels than such a small file can hold: refused
        // before anything is decoded (the fuzzer's JPEG bombs took 4-22 GB before this).
        (
            dir.bytes(
                "bomb.jpg",
                include_bytes!("fuzz/findings/images/jpeg-bomb-22gb.jpg"),
            ),
            "decompression bomb",
        ),
        // A JPEG cut short would decode with a grey bottom: refused, saying so.
        (
            dir.bytes("cut.jpg", &good_jpeg[..good_jpeg.len() * 3 / 4]),
            "truncated",
        ),
    ];
    for (content, needle) in cases {
        let out = dir.path("out.png");
        assert_refused(&run(&content, &style, &out, &[]), &out, needle);
    }
}

/// The PNG signature and an IHDR chunk (with a valid CRC) for a `width`×`height` 8-bit RGB image,
/// and no pixel data.
fn zero_sized_png(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn bad_settings_devices_and_weights_are_refused() {
    let dir = Scratch::new("settings");
    let content = dir.image("content.png", 40, 30);
    let style = dir.image("style.png", 32, 32);
    let out = dir.path("out.png");
    let garbage = dir.bytes("garbage.safetensors", b"not weights");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--style-weight", "NaN"], "style_weight"),
        (vec!["--content-weight", "-1"], "content_weight"),
        (vec!["--tv-weight", "inf"], "tv_weight"),
        (vec!["--device", "tpu"], "unknown device"),
        (vec!["--device", "cuda"], "'cuda' requested but CUDA"),
        (
            vec!["--weights", "/nonexistent/weights.safetensors"],
            "/nonexistent/weights.safetensors",
        ),
        (vec!["--weights", s(&garbage)], "bad weights file"),
        // Too large even in tiles: the whole-image copies alone exceed the budget.
        (
            vec!["--size", "16000", "--set", "max_memory_mb=300"],
            "memory budget",
        ),
        (vec!["--size", "8"], "option size"),
        (vec!["--tile", "8"], "option tile"),
        (vec!["--scales", "zero"], "scales"),
        (vec!["--optimizer", "sgd"], "optimizer"),
    ];
    for (extra, needle) in cases {
        if extra == ["--device", "cuda"] && tch::Cuda::is_available() {
            continue;
        }
        assert_refused(&run(&content, &style, &out, &extra), &out, needle);
    }
    // A style blend weight that is not finite, and an unknown output format.
    let nan_style = format!("{}:nan", s(&style));
    let output = nstyle(&[
        "run",
        "--content",
        s(&content),
        "--style",
        &nan_style,
        "--output",
        s(&out),
        "--size",
        "32",
    ]);
    assert_refused(&output, &out, "blend weight");
    let gif = dir.path("out.gif");
    assert_refused(
        &run(&content, &style, &gif, &[]),
        &gif,
        "unsupported output format",
    );
}

#[test]
fn ctrl_c_writes_the_current_result_and_exits_non_zero() {
    let dir = Scratch::new("interrupt");
    let content = dir.image("content.png", 40, 30);
    let style = dir.image("style.png", 32, 32);
    let out = dir.path("out.png");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nstyle"))
        .args([
            "run",
            "--content",
            s(&content),
            "--style",
            s(&style),
            "--output",
            s(&out),
        ])
        // A run that cannot end early, so that it is still going when the signal comes.
        .args(["--size", "48", "--iterations", "100000", "--device", "cpu"])
        .args(["--set", "stop_tolerance=0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal only once the handler is installed (on a loaded machine, starting a process that
    // maps libtorch can take seconds): /proc shows SIGINT among the caught signals then.
    let caught = |pid: u32| -> bool {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
    };
    let waited = std::time::Instant::now();
    while !caught(child.id()) && waited.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let written = image::open(&out).unwrap();
    assert_eq!((written.width(), written.height()), (48, 36));
}

#[test]
fn eval_reports_ssim_and_distances_as_json() {
    let dir = Scratch::new("eval");
    let content = dir.image("content.png", 40, 30);
    let style = dir.image("style.png", 32, 32);
    let output = nstyle(&[
        "eval",
        "--output",
        s(&content),
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--json",
        "--device",
        "cpu",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The content scored against itself: perfect SSIM, zero content distance.
    assert!(
        (json["ssim"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{json}"
    );
    assert!(json["content_distance"].as_f64().unwrap() < 1e-6, "{json}");
    assert!(json["style_distance"].as_f64().unwrap() > 0.0, "{json}");
    // The style distance is the mean of the five layers' distances, each reported.
    let by_layer = json["style_distance_by_layer"].as_object().unwrap();
    let names: Vec<&str> = by_layer.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
        "{json}"
    );
    let mean = by_layer.values().map(|v| v.as_f64().unwrap()).sum::<f64>() / 5.0;
    assert!(
        (mean - json["style_distance"].as_f64().unwrap()).abs() < 1e-9,
        "{json}"
    );
}

#[test]
fn estimate_prints_the_time_and_runs_nothing() {
    let dir = Scratch::new("estimate");
    let content = dir.image("content.png", 80, 60);
    let style = dir.image("style.png", 40, 40);
    let common = [
        "run",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--device",
        "cpu",
        "--size",
        "64",
        "--iterations",
        "10",
        "--estimate",
    ];
    let out = nstyle(&common);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // "about 2 s (1.7 s) for 64×48 on this machine (cpu bf16), 2 scales, 13 evaluations at most"
    assert!(
        stdout.contains("for 64×48 on this machine") && stdout.contains("evaluations at most"),
        "{stdout}"
    );
    let seconds: f64 = stdout
        .split_once(" (")
        .and_then(|(_, rest)| rest.split_once(" s)"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {stdout}"));
    assert!(seconds > 0.0, "{stdout}");
    // No --output needed, none written; a bad setting is still refused first.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 2);
    let mut bad = common.to_vec();
    bad[8] = "8";
    let out = nstyle(&bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("size"));
}

#[test]
fn style_masks_go_with_their_styles_and_bad_ones_are_refused() {
    let dir = Scratch::new("masks");
    let content = dir.image("content.png", 40, 30);
    let style = dir.image("style.png", 32, 32);
    let left = dir.path("left.png");
    image::GrayImage::from_fn(20, 15, |x, _| image::Luma([if x < 10 { 255 } else { 0 }]))
        .save(&left)
        .unwrap();
    let black = dir.path("black.png");
    image::GrayImage::new(4, 4).save(&black).unwrap();
    let result = dir.path("out.png");

    let too_many = ["--style-mask", s(&left), "--style-mask", s(&left)];
    let refused = run(&content, &style, &result, &too_many);
    assert_refused(&refused, &result, "belongs to the i-th --style");
    let refused = run(&content, &style, &result, &["--style-mask", s(&black)]);
    assert_refused(&refused, &result, "0 everywhere");
    let refused = run(&content, &style, &result, &["--content-mask", s(&black)]);
    assert_refused(&refused, &result, "--content-mask");
    let missing = dir.path("missing.png");
    let refused = run(&content, &style, &result, &["--content-mask", s(&missing)]);
    assert_refused(&refused, &result, "missing.png");
    let held = ["--content-mask", s(&left), "--set", "content_mask_gain=30"];
    let output = run(&content, &style, &result, &held);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_file(&result).unwrap();

    // The first style paints the left half, the second (no mask: `-`) the rest.
    let two = [
        "--style-mask",
        s(&left),
        "--style",
        s(&style),
        "--style-mask",
        "-",
        "--style-source-mask",
        s(&left),
    ];
    let output = run(&content, &style, &result, &two);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(result.exists());

    // Scored inside the mask: the content against itself is still perfect there, and the style
    // distance is the left half's, not the whole image's.
    let eval = |mask: Option<&Path>| {
        let mut args = vec![
            "eval",
            "--output",
            s(&content),
            "--content",
            s(&content),
            "--style",
            s(&style),
            "--json",
            "--device",
            "cpu",
        ];
        if let Some(mask) = mask {
            args.extend_from_slice(&["--mask", s(mask)]);
        }
        let output = nstyle(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let inside = eval(Some(&left));
    let whole = eval(None);
    assert!(
        (inside["ssim"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{inside}"
    );
    assert!(
        inside["content_distance"].as_f64().unwrap() < 1e-6,
        "{inside}"
    );
    let (a, b) = (
        inside["style_distance"].as_f64().unwrap(),
        whole["style_distance"].as_f64().unwrap(),
    );
    assert!((a - b).abs() > 1e-3, "inside {a}, whole {b}");
}
