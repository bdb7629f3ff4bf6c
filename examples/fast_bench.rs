//! Time and memory of the fast network (`engine::fast`): style vector + stylised picture, at
//! several sizes, on the CPU (fp32) or `--device cuda`.
//!
//! Per size: one untimed run, then the median of `--reps` runs of `style_vector` (the style image
//! brought to 256×256 and predicted) plus `stylize` (the content at that size), engine time only
//! (images decoded and resized beforehand), and the peak resident memory of the runs at that size
//! (VmHWM, reset before each size through /proc/self/clear_refs); the median's parts and the
//! fastest total are printed. Also writes the first size's
//! picture to `--output` when given.
//!
//! Images: `--content`/`--style`, else ../shared/images/tubingen.jpg × starry_night.jpg where
//! present, else the demo images of the set-up cache.
//!
//! Usage: cargo run --release --example fast_bench -- [--reps N] [--strength S]
//!        [--output out.png] [--device cpu|cuda] [--precision fp32|bf16] [SIZES…] (default 512 1024
//!        2048: the longer side in pixels)

use std::path::{Path, PathBuf};
use std::time::Instant;

use nstyle::engine::fast::{self, FastNet};
use nstyle::engine::{parse_device, Precision};
use tch::{Kind, Tensor};

fn load(path: &Path) -> Tensor {
    let rgb = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = (rgb.width() as i64, rgb.height() as i64);
    Tensor::from_slice(rgb.as_raw())
        .view([h, w, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        / 255.0
}

/// The picture with its longer side `side` (antialiased bilinear).
fn resized(image: &Tensor, side: i64) -> Tensor {
    let (h, w) = (image.size()[2], image.size()[3]);
    let scale = side as f64 / h.max(w) as f64;
    let (nh, nw) = (
        ((h as f64 * scale).round() as i64).max(1),
        ((w as f64 * scale).round() as i64).max(1),
    );
    image.internal_upsample_bilinear2d_aa([nh, nw], false, None, None)
}

fn save(picture: &Tensor, path: &Path) {
    let p = picture.squeeze_dim(0).to_device(tch::Device::Cpu);
    let (h, w) = (p.size()[1], p.size()[2]);
    let bytes = Vec::<u8>::try_from(
        (p.clamp(0.0, 1.0) * 255.0 + 0.5)
            .to_kind(Kind::Uint8)
            .permute([1, 2, 0])
            .contiguous()
            .flatten(0, -1),
    )
    .unwrap();
    image::RgbImage::from_raw(w as u32, h as u32, bytes)
        .unwrap()
        .save(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut reps, mut strength, mut output) = (5usize, 1.0f64, None::<PathBuf>);
    let (mut device, mut precision) = ("cpu".to_string(), Precision::Fp32);
    let (mut content, mut style) = (None::<PathBuf>, None::<PathBuf>);
    let mut sizes = Vec::new();
    let mut compare_layouts = false;
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--reps" => reps = value().parse().unwrap(),
            "--strength" => strength = value().parse().unwrap(),
            "--output" => output = Some(value().into()),
            "--device" => device = value(),
            "--precision" => {
                precision = match value().as_str() {
                    "bf16" => Precision::Bf16,
                    _ => Precision::Fp32,
                }
            }
            "--content" => content = Some(value().into()),
            "--compare-layouts" => compare_layouts = true,
            "--style" => style = Some(value().into()),
            size => sizes.push(size.parse::<i64>().expect("a size in pixels")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![512, 1024, 2048];
    }
    let shared = Path::new("../shared/images");
    let demo = std::env::var_os("NSTYLE_DEMO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/nstyle/demo-v1")
        });
    let (content, style) = match (content, style) {
        (Some(c), Some(s)) => (c, s),
        _ if shared.join("tubingen.jpg").is_file() => {
            (shared.join("tubingen.jpg"), shared.join("starry_night.jpg"))
        }
        _ => (demo.join("content.png"), demo.join("style.png")),
    };
    let device = parse_device(&device).unwrap();
    let t0 = Instant::now();
    let mut net =
        FastNet::load_with_precision(&fast::resolve_path(None).unwrap(), device, precision)
            .unwrap();
    println!(
        "load {:.3} s; {} x {}; {:?} {}; torch threads {}",
        t0.elapsed().as_secs_f64(),
        content.display(),
        style.display(),
        device,
        precision.name(),
        tch::get_num_threads()
    );
    let (content_full, style_image) = (load(&content), load(&style));
    if compare_layouts {
        // Interleaved stylize runs in both layouts, medians (a busy machine slows both alike).
        let v = net.style_vector(&style_image.to_device(device)).unwrap();
        for &side in &sizes {
            let picture = resized(&content_full, side).to_device(device);
            let mut times = [Vec::new(), Vec::new()];
            for round in 0..=reps {
                for (layout, channels_last) in [false, true].into_iter().enumerate() {
                    net.set_channels_last(channels_last).unwrap();
                    let t = Instant::now();
                    let _ = net.stylize(&picture, &v).unwrap();
                    if round > 0 {
                        times[layout].push(t.elapsed().as_secs_f64());
                    }
                }
            }
            for t in &mut times {
                t.sort_by(f64::total_cmp);
            }
            println!(
                "{side}: stylize NCHW {:.3} s, channels-last {:.3} s",
                times[0][times[0].len() / 2],
                times[1][times[1].len() / 2]
            );
        }
        return;
    }
    let sync = || {
        if let tch::Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
    };
    println!("size        vector s  stylize s  total s  (fastest)  peak RSS MiB");
    for (i, &side) in sizes.iter().enumerate() {
        let picture = resized(&content_full, side).to_device(device);
        let style_image = style_image.to_device(device);
        let run = || {
            let v = net.style_vector(&style_image).unwrap();
            let v = if strength < 1.0 {
                let own = net.style_vector(&picture).unwrap();
                fast::blend_with_content(&v, &own, strength).unwrap()
            } else {
                v
            };
            sync();
            let t = Instant::now();
            let out = net.stylize(&picture, &v).unwrap();
            sync();
            (out, t)
        };
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let _ = run(); // warm-up
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..reps.max(1) {
            let start = Instant::now();
            let (out, mid) = run();
            let total = start.elapsed().as_secs_f64();
            times.push((mid.duration_since(start).as_secs_f64(), total));
            last = Some(out);
        }
        times.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (vector, total) = times[times.len() / 2];
        let out = last.unwrap();
        println!(
            "{:>4}x{:<4}  {:>8.3}  {:>9.3}  {:>7.3}  {:>9.3}  {:>12.0}",
            out.size()[3],
            out.size()[2],
            vector,
            total - vector,
            total,
            times[0].1,
            status_kib("VmHWM:") as f64 / 1024.0
        );
        if i == 0 {
            if let Some(path) = &output {
                save(&out, path);
                println!("wrote {}", path.display());
            }
        }
    }
}
