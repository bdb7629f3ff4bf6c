//! `nstyle run`: load, check everything that can be checked, then optimise with a progress bar.
//! Ctrl-C writes the current result and exits with status 130.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nstyle::engine::config::options;
use nstyle::engine::config::values::check_weight;
use nstyle::engine::{Init, Mask, Progress, Settings, Transfer};
use nstyle::imageio;
use nstyle::{Error, Result};

use crate::ModelArgs;

#[derive(Args)]
// Negative weights must reach our validation (and its message), not be taken for flags.
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// The photo to repaint.
    #[arg(long)]
    content: PathBuf,
    /// A style image, optionally with a blend weight (PATH:WEIGHT); repeat to blend several.
    #[arg(long = "style", required = true, value_name = "PATH[:WEIGHT]")]
    styles: Vec<String>,
    /// The region of the style given at the same position (the i-th --style-mask belongs to the
    /// i-th --style): a grey image over the content, white where that style paints, black
    /// where not, soft edges kept; stretched to the content. `-` gives a style no region.
    /// Styles without one share the rest; where no style reaches, the photo stays.
    #[arg(long = "style-mask", value_name = "PATH|-")]
    style_masks: Vec<String>,
    /// The part of the style image at the same position to take the style from (grey, white
    /// inside; `-` for none).
    #[arg(long = "style-source-mask", value_name = "PATH|-")]
    style_source_masks: Vec<String>,
    /// Where the photo should hold more (grey over the content, white inside): the content
    /// term weighs content_mask_gain times as much there (--set content_mask_gain=N, default 10;
    /// below 1 the style takes more). Edges of every mask are blurred by --set mask_softness=P
    /// (percent of the long side).
    #[arg(long = "content-mask", value_name = "PATH")]
    content_mask: Option<PathBuf>,
    /// Where to write the result (.png, .jpg or .tif).
    #[arg(long, required_unless_present = "estimate")]
    output: Option<PathBuf>,
    /// Print how long the run would take on this machine (from a short probe of the network;
    /// an upper bound when stop_tolerance ends scales early) and exit without running it.
    #[arg(long)]
    estimate: bool,
    /// Longest side of the result in pixels; 0 or full is the content's own size (stages too
    /// large for the memory budget are optimised in tiles).
    #[arg(long, default_value_t = table_default("size"))]
    size: String,
    /// Long side of the tiles of a tiled stage in pixels, or auto (tiles only for stages that do
    /// not fit the memory budget).
    #[arg(long, default_value_t = table_default("tile"))]
    tile: String,
    /// Iterations over all scales.
    #[arg(long, default_value_t = table_default("iterations"))]
    iterations: String,
    /// How strongly the style paints over the photo, 0 (nearly the photo) to 1 (painted over);
    /// the expert weights below are scaled by it.
    #[arg(long, default_value_t = table_default("strength"))]
    strength: String,
    /// Feature network: vgg19 (the original method) or lite (EfficientNet-Lite0, much faster).
    #[arg(long, default_value_t = table_default("backbone"))]
    backbone: String,
    #[arg(long, default_value_t = table_default("content_weight"))]
    content_weight: String,
    #[arg(long, default_value_t = table_default("style_weight"))]
    style_weight: String,
    #[arg(long, default_value_t = table_default("tv_weight"))]
    tv_weight: String,
    /// optimize (the Gatys optimisation) or fast (one pass of a feed-forward network, in a
    /// fraction of a second, further from the style).
    #[arg(long, default_value_t = table_default("method"))]
    method: String,
    /// lbfgs or adam.
    #[arg(long, default_value_t = table_default("optimizer"))]
    optimizer: String,
    /// content, random, fast (the fast method's picture), or the path of an image to start from.
    #[arg(long, default_value_t = table_default("init"))]
    init: String,
    #[arg(long, default_value_t = table_default("seed"))]
    seed: String,
    /// Keep the content's colours (stylise luminance only).
    #[arg(long)]
    preserve_colors: bool,
    /// Size of the style image relative to the result.
    #[arg(long, default_value_t = table_default("style_scale"))]
    style_scale: String,
    /// Number of scales, or auto (from about a quarter of the size up).
    #[arg(long, default_value_t = table_default("scales"))]
    scales: String,
    /// Network precision: auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32, bf16
    /// or fp16. The image, the losses and the optimiser stay fp32.
    #[arg(long, default_value_t = table_default("precision"))]
    precision: String,
    /// Any option of the library's table as KEY=VALUE (repeatable; applied after the flags
    /// above), e.g. --set keep_detail=0 --set lbfgs_history=50.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Also write the result every N iterations (as OUTPUT_<iteration>.<ext>).
    #[arg(long)]
    save_every: Option<u32>,
    #[command(flatten)]
    model: ModelArgs,
}

/// Splits `PATH[:WEIGHT]`; a suffix that is not a number is part of the path.
fn parse_style(spec: &str) -> Result<(PathBuf, f64)> {
    if let Some((path, weight)) = spec.rsplit_once(':') {
        if let Ok(weight) = weight.parse::<f64>() {
            check_weight(&format!("blend weight of style {path}"), weight)?;
            return Ok((PathBuf::from(path), weight));
        }
    }
    Ok((PathBuf::from(spec), 1.0))
}

/// The masks of `flag` (one per style, in order; `-` for none), decoded: no more than there are
/// styles.
fn load_masks(paths: &[String], flag: &str, styles: usize) -> Result<Vec<Option<Mask>>> {
    if paths.len() > styles {
        return Err(Error::arg(format!(
            "{} {flag} for {styles} --style: the i-th {flag} belongs to the i-th --style (use \
             `{flag} -` for a style without one)",
            paths.len()
        )));
    }
    paths
        .iter()
        .map(|path| match path.as_str() {
            "-" => Ok(None),
            path => load_mask(Path::new(path), flag).map(Some),
        })
        .collect()
}

/// A mask file (luminance × alpha); its errors name the flag and the file.
fn load_mask(path: &Path, flag: &str) -> Result<Mask> {
    let picture = imageio::load(path)?;
    Mask::from_picture(&picture).map_err(|e| match e {
        Error::Argument(why) => Error::arg(format!("{flag} {}: {why}", path.display())),
        other => other,
    })
}

/// An option's default from the library's table: the flags' defaults are the table's, not
/// restated here.
fn table_default(key: &str) -> String {
    options::find(key)
        .map(|row| row.default.to_string())
        .unwrap_or_default()
}

fn settings(args: &RunArgs) -> Result<Settings> {
    let mut settings = Settings::default();
    // Each flag is its option of the table, read as the table reads it (its errors name the
    // option and what it accepts).
    for (key, value) in [
        ("size", &args.size),
        ("tile", &args.tile),
        ("iterations", &args.iterations),
        ("scales", &args.scales),
        ("optimizer", &args.optimizer),
        ("seed", &args.seed),
        ("style_scale", &args.style_scale),
        ("precision", &args.precision),
        ("strength", &args.strength),
        ("backbone", &args.backbone),
        ("content_weight", &args.content_weight),
        ("style_weight", &args.style_weight),
        ("tv_weight", &args.tv_weight),
        ("method", &args.method),
    ] {
        settings.set_option(key, value)?;
    }
    if args.preserve_colors {
        settings.set_option("preserve_colors", "1")?;
    }
    match args.init.as_str() {
        "content" | "random" | "fast" => settings.set_option("init", &args.init)?,
        path => settings.init = Init::Image(imageio::load(Path::new(path))?),
    }
    for option in &args.options {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| Error::arg(format!("--set takes KEY=VALUE, not '{option}'")))?;
        settings.set_option(key.trim(), value)?;
    }
    settings.validate()?;
    Ok(settings)
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    // Everything that can fail fast is checked before the network is loaded or anything runs.
    if let Some(output) = &args.output {
        imageio::check_output_path(output)?;
    }
    if args.save_every == Some(0) {
        return Err(Error::arg("--save-every must be at least 1"));
    }
    let settings = settings(&args)?;
    let interrupt = Interrupt::install()?;
    let content = imageio::load(&args.content)?;
    let styles = args
        .styles
        .iter()
        .map(|spec| {
            parse_style(spec).and_then(|(path, weight)| Ok((imageio::load(&path)?, weight)))
        })
        .collect::<Result<Vec<_>>>()?;

    let style_masks = load_masks(&args.style_masks, "--style-mask", styles.len())?;
    let content_mask = args
        .content_mask
        .as_ref()
        .map(|path| load_mask(path, "--content-mask"))
        .transpose()?;
    let source_masks = load_masks(
        &args.style_source_masks,
        "--style-source-mask",
        styles.len(),
    )?;

    let loading = Instant::now();
    let mut transfer = args.model.open()?;
    let load_seconds = loading.elapsed().as_secs_f64();
    transfer.set_settings(settings)?;
    transfer.set_content(content);
    for (index, (style, weight)) in styles.into_iter().enumerate() {
        transfer.add_style(style, weight)?;
        transfer.set_style_region(index, style_masks.get(index).cloned().flatten())?;
        transfer.set_style_source_mask(index, source_masks.get(index).cloned().flatten())?;
    }
    transfer.set_content_mask(content_mask);
    interrupt.attach(&transfer);
    let (width, height) = output_size(&mut transfer)?;
    if args.estimate {
        return print_estimate(&mut transfer, width, height);
    }
    let output = args
        .output
        .clone()
        .expect("clap requires --output without --estimate");

    let started = Instant::now();
    let bar = progress_bar(transfer.progress()?.total);
    // Evaluations spent in each scale ("W×H:N"): where the time went, since scales may end early.
    let mut per_scale: Vec<(String, u64)> = Vec::new();
    let mut counted = 0;
    loop {
        // Ctrl-C between two steps: each step starts with the library's cancel flag lowered, so
        // the interruption is checked here as well as inside a step.
        let step = if interrupt.seen() {
            Err(Error::Cancelled)
        } else {
            transfer.step(1)
        };
        let progress = match step {
            Ok(progress) => progress,
            Err(Error::Cancelled) if interrupt.seen() => {
                bar.abandon_with_message("interrupted");
                imageio::save(&transfer.result(width, height)?, &output)?;
                eprintln!(
                    "nstyle: interrupted; current result written to {}",
                    output.display()
                );
                return Ok(ExitCode::from(130));
            }
            Err(error) => {
                bar.abandon();
                return Err(error);
            }
        };
        show(&bar, &progress);
        let scale = format!("{}×{}", progress.width, progress.height);
        if per_scale.last().map(|(s, _)| s) != Some(&scale) {
            per_scale.push((scale, 0));
        }
        per_scale.last_mut().expect("pushed").1 += progress.evaluations - counted;
        counted = progress.evaluations;
        if let Some(every) = args.save_every {
            if progress.iteration % every == 0 && progress.iteration < progress.total {
                imageio::save(
                    &transfer.result(width, height)?,
                    &numbered(&output, progress.iteration),
                )?;
            }
        }
        if progress.iteration >= progress.total {
            break;
        }
    }
    bar.finish();
    // Engine time: planning, targets and every iteration, up to the result in host memory.
    let result = transfer.result(width, height)?;
    let engine_seconds = started.elapsed().as_secs_f64();
    imageio::save(&result, &output)?;
    let progress = transfer.progress()?;
    eprintln!(
        "nstyle: {} iterations ({} evaluations) in {:.2} s (model load {:.2} s, {} {}, {} threads, other programs {:.1} cores), loss {:.4e}, evaluations per scale {}, peak memory {}",
        progress.iteration,
        progress.evaluations,
        engine_seconds,
        load_seconds,
        device_name(transfer.device()),
        transfer.precision().name(),
        tch::get_num_threads(),
        transfer.others_load(),
        progress.losses.total,
        per_scale
            .iter()
            .map(|(scale, n)| format!("{scale}:{n}"))
            .collect::<Vec<_>>()
            .join(" "),
        crate::bench::peak_rss_mib().map_or_else(|| "unknown".into(), |mib| format!("{mib} MiB"))
    );
    println!("{}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// `--estimate`: the estimate in words and the facts behind it, on stdout.
fn print_estimate(transfer: &mut Transfer, width: u32, height: u32) -> Result<ExitCode> {
    let estimate = transfer.estimate()?;
    let busy = nstyle::engine::device::threads::busy_cores(transfer.others_load());
    let while_busy = if busy > 0 {
        format!("; other programs kept {busy} cores busy while this was measured")
    } else {
        String::new()
    };
    if transfer.settings().method == nstyle::engine::Method::Fast {
        println!(
            "{} ({:.2} s) for {width}×{height} on this machine ({}), one pass of the fast network{while_busy}",
            nstyle::engine::session::estimate::describe_seconds(estimate.seconds),
            estimate.seconds,
            device_name(transfer.device()),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let stages = transfer.stage_memory()?;
    let tiled = stages.iter().filter(|(s, _)| s.tiling.is_some()).count();
    println!(
        "{} ({:.1} s) for {width}×{height} on this machine ({} {}), {} scales{}, {:.0} evaluations at most{while_busy}",
        nstyle::engine::session::estimate::describe_seconds(estimate.seconds),
        estimate.seconds,
        device_name(transfer.device()),
        transfer.precision().name(),
        stages.len(),
        if tiled > 0 {
            format!(" ({tiled} in tiles)")
        } else {
            String::new()
        },
        estimate.evaluations
    );
    for (stage, _) in &stages {
        match stage.tiling {
            None => eprintln!(
                "nstyle:   {}×{}: {} iterations",
                stage.width, stage.height, stage.iterations
            ),
            Some(tiling) => eprintln!(
                "nstyle:   {}×{}: {} tile visits of {} iterations in {} passes, tiles of {} px",
                stage.width,
                stage.height,
                stage.iterations / tiling.per_visit.max(1),
                tiling.per_visit,
                tiling.passes,
                tiling.layout.tile
            ),
        }
    }
    let rates = |name: &str, rates: &nstyle::engine::session::estimate::Rates| {
        eprintln!(
            "nstyle: {name} evaluation {:.1} ms + {:.2} µs/px, forward {:.1} ms + {:.2} µs/px",
            rates.evaluation.fixed * 1e3,
            rates.evaluation.per_pixel * 1e6,
            rates.forward.fixed * 1e3,
            rates.forward.per_pixel * 1e6
        )
    };
    if let Some(whole) = &estimate.whole {
        rates("whole", whole);
    }
    if let Some(tiled) = &estimate.tiled {
        rates("tiled", tiled);
    }
    eprintln!(
        "nstyle: probe {:.2} s; an upper bound when stop_tolerance ends scales early",
        estimate.probe_seconds
    );
    Ok(ExitCode::SUCCESS)
}

fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".to_string(),
    }
}

/// The result's size: the content's aspect with `--size` as the longest side (the content's own
/// size for `--size 0`).
fn output_size(transfer: &mut Transfer) -> Result<(u32, u32)> {
    let content = transfer.content().expect("set above");
    let (width, height) = (content.width(), content.height());
    Ok(nstyle::engine::plan::schedule::fit_long_side(
        width,
        height,
        transfer.settings().long_side(width, height),
    ))
}

/// Ctrl-C: remembered from the start (loading the network can take seconds), and passed on to
/// the session's cancel flag once there is a session.
struct Interrupt {
    seen: Arc<AtomicBool>,
    cancel: Arc<std::sync::Mutex<Option<Arc<AtomicBool>>>>,
}

impl Interrupt {
    fn install() -> Result<Interrupt> {
        let interrupt = Interrupt {
            seen: Arc::new(AtomicBool::new(false)),
            cancel: Arc::new(std::sync::Mutex::new(None)),
        };
        let (seen, cancel) = (Arc::clone(&interrupt.seen), Arc::clone(&interrupt.cancel));
        ctrlc::set_handler(move || {
            seen.store(true, Ordering::SeqCst);
            if let Some(flag) = cancel.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .map_err(|e| Error::Internal(format!("cannot install the Ctrl-C handler: {e}")))?;
        Ok(interrupt)
    }

    /// From now on Ctrl-C cancels `transfer`'s step (at once if it came already).
    fn attach(&self, transfer: &Transfer) {
        let flag = transfer.cancel_flag();
        let mut slot = self.cancel.lock().unwrap_or_else(|e| e.into_inner());
        if self.seen.load(Ordering::SeqCst) {
            flag.store(true, Ordering::SeqCst);
        }
        *slot = Some(flag);
    }

    fn seen(&self) -> bool {
        self.seen.load(Ordering::SeqCst)
    }
}

fn progress_bar(total: u32) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

fn show(bar: &ProgressBar, progress: &Progress) {
    bar.set_position(progress.iteration as u64);
    bar.set_message(format!(
        "scale {}/{} ({}×{}) loss {:.4e}",
        progress.scale + 1,
        progress.scales,
        progress.width,
        progress.height,
        progress.losses.total
    ));
}

fn numbered(output: &Path, iteration: u32) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = output
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}_{iteration}.{extension}"))
}
