//! Seconds per evaluation (forward + Gram-style loss + backward to the image) of the
//! EfficientNet-Lite0 backbone against VGG-19, on the CPU, fp32 and bf16, in one run.
//!
//! VGG-19: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 style + relu4_2 content (forward to relu5_1).
//! Lite0: stem, block2, block4, block7, block10 style + block7 content (forward to block10).
//! Lite0's depthwise convs are timed both channels-last and contiguous NCHW.
//!
//! Usage: cargo run --release --example lite_bench [--threads=N] [SIZES…]
//!        (default: libtorch's thread count, 256x192 512x384). Small ops suffer most when other
//!        processes compete for the cores: run it on a quiet machine. On a busy one, OpenMP's
//!        spinning threads wait out whole time slices (256x192 Lite0 1.4 s instead of 0.06 s with
//!        two threads at load 7); `OMP_WAIT_POLICY=PASSIVE` or `--threads=1` avoids that.

use std::time::Instant;

use nstyle::engine::features::lite::{self, rgb_to_lite, Lite0};
use nstyle::engine::features::vgg::{rgb_to_caffe, Layer};
use nstyle::engine::loss::{content_loss, style_loss};
use nstyle::engine::{self, Precision, PrecisionChoice};
use tch::{Device, Kind, Tensor};

type Forward<'a> = Box<dyn Fn(&Tensor) -> Vec<Tensor> + 'a>;

/// One evaluation: features, style losses on every map, a content loss on `content`, backward.
fn evaluate(forward: &Forward, image: &Tensor, grams: &[Tensor], content: (usize, &Tensor)) {
    let x = image.detach().set_requires_grad(true);
    let features = forward(&x);
    let mut loss = content_loss(&features[content.0], content.1);
    for (f, g) in features.iter().zip(grams) {
        loss += style_loss(f, g);
    }
    loss.backward();
    let _ = x.grad().sum(Kind::Float).double_value(&[]);
}

/// Median seconds per evaluation over `reps` after one warm-up.
fn time(
    forward: &Forward,
    image: &Tensor,
    style: &Tensor,
    content_index: usize,
    reps: usize,
) -> f64 {
    let _guard = tch::no_grad_guard();
    let targets = forward(style);
    let grams: Vec<Tensor> = targets.iter().map(nstyle::engine::loss::gram).collect();
    let content = forward(image).swap_remove(content_index);
    drop(_guard);
    evaluate(forward, image, &grams, (content_index, &content));
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            evaluate(forward, image, &grams, (content_index, &content));
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let sizes: Vec<(i64, i64)> = {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        args.retain(|a| match a.strip_prefix("--threads=") {
            Some(n) => {
                tch::set_num_threads(n.parse().expect("--threads=N"));
                false
            }
            None => true,
        });
        let args = if args.is_empty() {
            vec!["256x192".to_string(), "512x384".to_string()]
        } else {
            args
        };
        args.iter()
            .map(|s| {
                let (w, h) = s.split_once('x').expect("WxH");
                (w.parse().unwrap(), h.parse().unwrap())
            })
            .collect()
    };
    tch::manual_seed(0);
    println!("threads: {}", tch::get_num_threads());
    let mut vgg = engine::load_model(None, "cpu", PrecisionChoice::Fixed(Precision::Fp32)).unwrap();
    let lite_path = lite::resolve_path(None).unwrap();
    let mut net = Lite0::load(&lite_path, Device::Cpu, Precision::Fp32).unwrap();
    let vgg_layers = [
        Layer::RELU1_1,
        Layer::RELU2_1,
        Layer::RELU3_1,
        Layer::RELU4_1,
        Layer::RELU5_1,
        Layer::RELU4_2,
    ];
    let lite_layers = [0usize, 3, 5, 8, 11];
    println!(
        "{:>9} {:>5} {:>9} {:>12} {:>12} {:>8}",
        "size", "prec", "VGG s", "Lite NHWC s", "Lite NCHW-dw", "ratio"
    );
    for &(w, h) in &sizes {
        let rgb = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
        let style = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
        for precision in [Precision::Fp32, Precision::Bf16] {
            vgg.set_precision(precision).unwrap();
            net.set_precision(precision).unwrap();
            let vgg_reps = if w * h > 100_000 { 3 } else { 5 };
            let t_vgg = {
                let f: Forward = Box::new(|x| vgg.features(x, &vgg_layers).unwrap());
                time(
                    &f,
                    &rgb_to_caffe(&rgb).unwrap(),
                    &rgb_to_caffe(&style).unwrap(),
                    5,
                    vgg_reps,
                )
            };
            let mut t_lite = [0.0; 2];
            for (slot, channels_last) in [(0, true), (1, false)] {
                net.set_depthwise_channels_last(channels_last).unwrap();
                let f: Forward = Box::new(|x| net.features(x, &lite_layers).unwrap());
                t_lite[slot] = time(
                    &f,
                    &rgb_to_lite(&rgb).unwrap(),
                    &rgb_to_lite(&style).unwrap(),
                    3,
                    9,
                );
            }
            let best = t_lite[0].min(t_lite[1]);
            println!(
                "{:>9} {:>5} {:>9.4} {:>12.4} {:>12.4} {:>8.3}",
                format!("{w}x{h}"),
                precision.name(),
                t_vgg,
                t_lite[0],
                t_lite[1],
                best / t_vgg
            );
        }
    }
}
