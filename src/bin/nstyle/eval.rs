//! `nstyle eval`: the evaluation of a result against its content and style images.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nstyle::engine::{metrics, Mask, Precision, PrecisionChoice};
use nstyle::imageio;
use nstyle::Result;

use crate::ModelArgs;

#[derive(Args)]
pub struct EvalArgs {
    /// The stylised image to score.
    #[arg(long)]
    output: PathBuf,
    #[arg(long)]
    content: PathBuf,
    #[arg(long)]
    style: PathBuf,
    /// Score only inside this region of the result (a grey image, white inside, stretched over
    /// the result): SSIM, style and content distance weighted by it.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn eval(args: EvalArgs) -> Result<ExitCode> {
    let result = imageio::load(&args.output)?;
    let content = imageio::load(&args.content)?;
    let style = imageio::load(&args.style)?;
    let mask = match &args.mask {
        Some(path) => Some(Mask::from_picture(&imageio::load(path)?)?),
        None => None,
    };
    // Scores are computed in fp32 whatever the device, so they compare across machines.
    let model = args.model.load(PrecisionChoice::Fixed(Precision::Fp32))?;
    let scores = metrics::evaluate_in(&model, &result, &content, &style, mask.as_ref())?;
    let by_layer: Vec<(String, f64)> = metrics::STYLE_LAYERS
        .iter()
        .map(|layer| layer.name())
        .zip(scores.style_distance_by_layer)
        .collect();
    if args.json {
        let by_layer: serde_json::Map<String, serde_json::Value> = by_layer
            .into_iter()
            .map(|(name, distance)| (name, distance.into()))
            .collect();
        let json = serde_json::json!({
            "output": args.output,
            "mask": args.mask,
            "ssim": scores.ssim,
            "style_distance": scores.style_distance,
            "style_distance_by_layer": by_layer,
            "content_distance": scores.content_distance,
        });
        println!("{json}");
    } else {
        println!("output            {}", args.output.display());
        if let Some(mask) = &args.mask {
            println!("inside mask       {}", mask.display());
        }
        println!("ssim (content)    {:.4}", scores.ssim);
        println!("style distance    {:.4}", scores.style_distance);
        let layers: Vec<String> = by_layer
            .iter()
            .map(|(name, distance)| format!("{name} {distance:.4}"))
            .collect();
        println!("  by layer        {}", layers.join(", "));
        println!("content distance  {:.4}", scores.content_distance);
    }
    Ok(ExitCode::SUCCESS)
}
