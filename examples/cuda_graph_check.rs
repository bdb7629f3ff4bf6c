//! GPU check of the CUDA-graph shim (`src/cuda_graph.rs`): a small evaluation shaped like ours
//! (convolutions, ReLU and pooling in the network's precision with channels-last weights cast
//! once; Gram and content losses in fp32; the gradient with respect to the image) run eagerly and
//! as a replayed CUDA graph, compared and timed. `scripts/gpu-check.sh` runs it on a lent GPU as
//! `.gpu/cuda-graph-check`.
//!
//! Per precision (fp32, bf16): the replay at the capture's input and at a second input copied
//! into the static input must match the eager evaluation at that input; then `--replays`
//! evaluations each way, each with one read-back of the loss as the optimiser loop does, timed.
//! Last, a capture whose evaluation reads back to the host must fail with an error (not crash)
//! and leave the thread computing eagerly as before.
//!
//! `cargo run --release --example cuda_graph_check -- [--size N] [--replays N] [--device N]`
//! Exit status: 0 all checks passed, 1 a check failed, 2 no usable CUDA or no shim.
//! `--print-shim` prints the shim this build made (what `scripts/gpu-bundle.sh` copies beside the
//! binary) and exits, 1 when the build made none.

use std::time::Instant;

use nstyle::cuda_graph::{self, CudaGraph, CudaSettings};
use tch::{Device, Kind, Reduction, Tensor};

struct Options {
    size: i64,
    replays: usize,
    device: usize,
}

fn options() -> Options {
    let mut options = Options {
        size: 256,
        replays: 100,
        device: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--print-shim"] {
        match cuda_graph::built_shim() {
            Some(shim) => println!("{}", shim.display()),
            None => {
                eprintln!(
                    "this build made no CUDA-graph shim: {}",
                    cuda_graph::shim_not_built_reason().unwrap_or("?")
                );
                std::process::exit(1);
            }
        }
        std::process::exit(0);
    }
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<usize>().ok());
        match (pair[0].as_str(), value) {
            ("--size", Some(v)) => options.size = v as i64,
            ("--replays", Some(v)) => options.replays = v.max(1),
            ("--device", Some(v)) => options.device = v,
            _ => {
                eprintln!("usage: cuda_graph_check [--size N] [--replays N] [--device N]");
                std::process::exit(2);
            }
        }
    }
    options
}

/// The fixed parts of the evaluation: weights in the network's precision, channels-last (cast
/// once, as the engine does), and fp32 targets.
struct Problem {
    kind: Kind,
    weights: Vec<Tensor>,
    gram_targets: Vec<Tensor>,
    content_target: Tensor,
}

fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

impl Problem {
    fn new(kind: Kind, device: Device, size: i64) -> Problem {
        tch::manual_seed(7);
        let shapes = [[64, 3, 3, 3], [64, 64, 3, 3], [128, 64, 3, 3]];
        let weights = shapes
            .iter()
            .map(|shape| {
                let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
                let w = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu))
                    * (2.0 / fan_in).sqrt();
                channels_last(&w.to_device(device).to_kind(kind))
            })
            .collect();
        let mut problem = Problem {
            kind,
            weights,
            gram_targets: Vec::new(),
            content_target: Tensor::zeros([1], (Kind::Float, device)),
        };
        // Targets from two other images, so that the losses and gradients are not trivial.
        let style = Tensor::randn([1, 3, size, size], (Kind::Float, Device::Cpu)).to_device(device);
        let content =
            Tensor::randn([1, 3, size, size], (Kind::Float, Device::Cpu)).to_device(device);
        let style_features = tch::no_grad(|| problem.features(&style));
        problem.gram_targets = style_features.iter().map(gram).collect();
        problem.content_target = tch::no_grad(|| problem.features(&content))[2].shallow_clone();
        problem
    }

    /// relu1, relu2 (after 2×2 pooling) and relu3, in fp32.
    fn features(&self, image: &Tensor) -> Vec<Tensor> {
        let mut h = channels_last(&image.to_kind(self.kind));
        let mut out = Vec::new();
        for (i, w) in self.weights.iter().enumerate() {
            if i == 1 {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
            h = h
                .conv2d(w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1)
                .relu();
            out.push(h.to_kind(Kind::Float));
        }
        out
    }

    /// Loss and gradient at the image in `point` (as the objective: a fresh leaf viewing it).
    fn evaluate(&self, point: &Tensor) -> (Tensor, Tensor) {
        let image = point.detach().set_requires_grad(true);
        let features = self.features(&image);
        let content = features[2].mse_loss(&self.content_target, Reduction::Mean);
        let loss = features
            .iter()
            .zip(&self.gram_targets)
            .fold(content, |loss, (f, target)| {
                loss + gram(f).mse_loss(target, Reduction::Mean) * 100.0
            });
        let grad = Tensor::run_backward(&[&loss], &[&image], false, false)
            .pop()
            .expect("one gradient");
        (loss, grad)
    }
}

/// Gram matrix over C·H·W, in fp32.
fn gram(features: &Tensor) -> Tensor {
    let (_, c, h, w) = features.size4().expect("4-d features");
    let f = features.reshape([c, h * w]);
    f.matmul(&f.tr()) / (c * h * w) as f64
}

/// Largest difference relative to the largest magnitude of the reference.
fn relative_difference(reference: &Tensor, other: &Tensor) -> f64 {
    let scale = reference
        .abs()
        .max()
        .double_value(&[])
        .max(f64::MIN_POSITIVE);
    (reference - other).abs().max().double_value(&[]) / scale
}

struct Outcome {
    failures: Vec<String>,
}

impl Outcome {
    fn check(&mut self, ok: bool, what: String) {
        println!("  {} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failures.push(what);
        }
    }
}

fn precision_check(options: &Options, kind: Kind, outcome: &mut Outcome) -> cuda_graph::Result<()> {
    let device = Device::Cuda(options.device);
    let name = if kind == Kind::Float { "fp32" } else { "bf16" };
    // fp32: the same kernels in the same order, apart from cuDNN's choices; bf16: rounding.
    let tolerance = if kind == Kind::Float { 1e-3 } else { 2e-2 };
    let size = options.size;
    println!("cuda-graph {name} {size}px:");
    let problem = Problem::new(kind, device, size);
    let first = Tensor::randn([1, 3, size, size], (Kind::Float, Device::Cpu)).to_device(device);
    let second = &first
        + Tensor::randn([1, 3, size, size], (Kind::Float, Device::Cpu)).to_device(device) * 0.5;

    // The graph's static input, written before each replay.
    let mut input = first.copy();
    let mut graph = CudaGraph::new(device)?;
    for _ in 0..3 {
        let _ = graph.warm_up(|| problem.evaluate(&input))?;
    }
    let (loss, grad) = graph.capture(|| problem.evaluate(&input))?;

    for (label, point) in [("capture's input", &first), ("a new input", &second)] {
        tch::no_grad(|| input.copy_(point));
        graph.replay()?;
        let (eager_loss, eager_grad) = problem.evaluate(point);
        let loss_diff = relative_difference(&eager_loss, &loss);
        let grad_diff = relative_difference(&eager_grad, &grad);
        outcome.check(
            loss_diff <= tolerance && grad_diff <= tolerance,
            format!(
                "{name} replay vs eager at {label}: loss {:.6} vs {:.6} (rel {loss_diff:.1e}), \
                 gradient rel {grad_diff:.1e} (tolerance {tolerance:.0e})",
                loss.double_value(&[]),
                eager_loss.double_value(&[]),
            ),
        );
    }

    // Timed: each evaluation writes the point and reads the loss back, as the loop does.
    let points = [&first, &second];
    let time = |run: &mut dyn FnMut(&Tensor) -> f64| {
        run(&first); // not timed
        tch::Cuda::synchronize(options.device as i64);
        let start = Instant::now();
        let mut sum = 0.0;
        for i in 0..options.replays {
            sum += run(points[i % 2]);
        }
        (
            start.elapsed().as_secs_f64() * 1e3 / options.replays as f64,
            sum,
        )
    };
    let (eager_ms, eager_sum) = time(&mut |point| problem.evaluate(point).0.double_value(&[]));
    let mut replay_error = None;
    let (graph_ms, graph_sum) = time(&mut |point| {
        tch::no_grad(|| input.copy_(point));
        if let Err(error) = graph.replay() {
            replay_error.get_or_insert(error);
        }
        loss.double_value(&[])
    });
    if let Some(error) = replay_error {
        return Err(error);
    }
    let sums_diff = (eager_sum - graph_sum).abs() / eager_sum.abs().max(f64::MIN_POSITIVE);
    outcome.check(
        sums_diff <= tolerance,
        format!(
            "{name} {} evaluations: eager {eager_ms:.3} ms/eval, graph {graph_ms:.3} ms/eval, \
             speed-up {:.2}x (loss sums rel {sums_diff:.1e})",
            options.replays,
            eager_ms / graph_ms
        ),
    );
    println!("cuda-graph-timing {name} size={size} eager_ms={eager_ms:.4} graph_ms={graph_ms:.4}");
    Ok(())
}

/// A read-back inside the captured region must fail the capture with an error and give the
/// thread its stream back: the eager evaluation afterwards matches the one before.
fn broken_capture_check(options: &Options, outcome: &mut Outcome) -> cuda_graph::Result<()> {
    let device = Device::Cuda(options.device);
    let problem = Problem::new(Kind::Float, device, 64);
    let point = Tensor::randn([1, 3, 64, 64], (Kind::Float, Device::Cpu)).to_device(device);
    let before = problem.evaluate(&point).0.double_value(&[]);
    let mut graph = CudaGraph::new(device)?;
    let _ = graph.warm_up(|| problem.evaluate(&point))?;
    let captured = graph.capture(|| problem.evaluate(&point).0.f_double_value(&[]));
    let refused = match &captured {
        Err(error) => format!("capture refused: {error}"),
        Ok(Err(error)) => format!("read-back refused inside the capture: {error}"),
        Ok(Ok(value)) => format!("read-back inside the capture returned {value}"),
    };
    let failed_cleanly = !matches!(captured, Ok(Ok(_))) && graph.replay().is_err();
    let after = problem.evaluate(&point).0.double_value(&[]);
    outcome.check(
        failed_cleanly && (after - before).abs() <= 1e-6 * before.abs(),
        format!(
            "a read-back inside a capture fails it ({}); eager after: {after:.6} (before \
             {before:.6})",
            refused.lines().next().unwrap_or("")
        ),
    );
    Ok(())
}

fn main() {
    let options = options();
    let status = nstyle::cuda_loader::ensure();
    if let Some(reason) = &status.unusable {
        println!("cuda-graph check: n/a (no usable CUDA: {reason})");
        std::process::exit(2);
    }
    let settings = CudaSettings {
        cudnn_benchmark: true,
        tf32: false,
    };
    match cuda_graph::apply_settings(settings).and_then(|()| cuda_graph::shim_info()) {
        Ok(info) => println!(
            "cuda-graph shim {} (torch {}); settings {:?}",
            info.path.display(),
            info.torch_version,
            cuda_graph::current_settings()
        ),
        Err(error) => {
            println!("cuda-graph check: n/a ({error})");
            std::process::exit(2);
        }
    }
    let mut outcome = Outcome {
        failures: Vec::new(),
    };
    for kind in [Kind::Float, Kind::BFloat16] {
        if let Err(error) = precision_check(&options, kind, &mut outcome) {
            outcome.check(false, format!("{kind:?}: {error}"));
        }
    }
    if let Err(error) = broken_capture_check(&options, &mut outcome) {
        outcome.check(false, format!("broken capture: {error}"));
    }
    if outcome.failures.is_empty() {
        println!("cuda-graph check: ok");
    } else {
        println!(
            "cuda-graph check: FAILED ({} of the checks)",
            outcome.failures.len()
        );
        std::process::exit(1);
    }
}
