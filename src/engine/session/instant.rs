//! The fast method (`method=fast`) and the warm start (`init=fast`): a session's picture from the
//! feed-forward network ([`crate::engine::fast`]) in one pass instead of an optimisation.
//!
//! What the options mean here:
//! - strength: the style vector interpolated with the photo's own vector, as Ghiasi et al. do;
//!   the default strength (0.6) is the network's full style, lower strengths move towards the
//!   photo's vector linearly, higher ones stay at the full style (extrapolated vectors leave the
//!   distribution the network was trained on).
//! - several styles: their vectors mixed by their blend weights.
//! - regions: each style with a region rendered with its vector and composited by its (softened)
//!   mask; the styles without one fill the rest, or the photo stays there when there are none.
//! - the content mask: the photo blended back in, by `1 − 1/content_mask_gain` where the mask is
//!   1 (gain 10: 90 % photo there); a gain at or below 1 changes nothing (the network cannot
//!   paint more than its full style).
//! - preserve_colors is applied to the result as for every method (in `Transfer::result`).

use tch::{Device, Kind, Tensor};

use crate::engine::config::settings::Settings;
use crate::engine::fast::{blend_with_content, mix_vectors, FastNet};
use crate::engine::image::mask::Mask;
use crate::engine::image::source::SourceImage;
use crate::engine::loss::stage_mask;
use crate::engine::loss::style::Style;
use crate::engine::plan::schedule::{fit_long_side, Stage};
use crate::error::{Error, Result};

/// The strength at which the network's full style is used.
const FULL_STYLE_STRENGTH: f64 = 0.6;

/// The long side a style image is brought to before the network crops and resamples it to its
/// 256 px input: enough to average a painting's strokes, small against any photo.
const STYLE_LONG_SIDE: u32 = 512;

/// What the fast picture reads.
pub struct FastInputs<'a> {
    pub net: &'a FastNet,
    pub settings: &'a Settings,
    pub content: &'a SourceImage,
    pub styles: &'a [Style],
    pub content_mask: Option<&'a Mask>,
}

/// The style vector's share at `strength` (see the module's notes).
fn style_share(strength: f64) -> f64 {
    (strength / FULL_STYLE_STRENGTH).clamp(0.0, 1.0)
}

fn rgb_of(image: &SourceImage, width: u32, height: u32, device: Device) -> Result<Tensor> {
    image.picture_at(width, height)?.to_tensor(device)
}

/// The picture at `width`×`height`: RGB in 0..1, [1, 3, H, W], on the network's device.
pub fn fast_picture(inputs: &FastInputs, width: u32, height: u32) -> Result<Tensor> {
    let _no_grad = tch::no_grad_guard();
    let (net, settings) = (inputs.net, inputs.settings);
    let device = net.device();
    let photo = rgb_of(inputs.content, width, height, device)?;
    let photo_vector = net.style_vector(&photo)?;
    let share = style_share(settings.strength);
    let vector_of = |styles: &[&Style]| -> Result<Tensor> {
        let mut vectors = Vec::new();
        for style in styles {
            let image = &style.image;
            let (w, h) = fit_long_side(image.width(), image.height(), STYLE_LONG_SIDE);
            let (w, h) = if image.width().max(image.height()) < STYLE_LONG_SIDE {
                (image.width(), image.height())
            } else {
                (w, h)
            };
            vectors.push((
                net.style_vector(&rgb_of(image, w, h, device)?)?,
                style.blend,
            ));
        }
        let pairs: Vec<(&Tensor, f64)> = vectors.iter().map(|(v, w)| (v, *w)).collect();
        blend_with_content(&mix_vectors(&pairs)?, &photo_vector, share)
    };
    let active: Vec<&Style> = inputs.styles.iter().filter(|s| s.blend > 0.0).collect();
    if active.is_empty() {
        return Err(Error::arg("all style blend weights are zero"));
    }
    let stage = Stage {
        width,
        height,
        iterations: 1,
        tiling: None,
    };
    let softness = settings.mask_softness;
    let mut picture = if active.iter().all(|s| s.region.is_none()) {
        net.stylize(&photo, &vector_of(&active)?)?
    } else {
        // Each region's rendering weighted by its mask; the rest by what the masks leave.
        let mut sum = photo.f_zeros_like()?;
        let mut covered =
            Tensor::f_zeros([1, 1, height as i64, width as i64], (Kind::Float, device))?;
        for style in active.iter().filter(|s| s.region.is_some()) {
            let region = style.region.as_ref().expect("filtered");
            let mask = stage_mask(region, stage, softness, device)?;
            let rendered = net.stylize(&photo, &vector_of(&[style])?)?;
            sum = sum.f_add(&rendered.f_mul(&mask)?)?;
            covered = covered.f_add(&mask)?;
        }
        // Overlapping regions share their pixels.
        let overlap = covered.f_clamp_min(1.0)?;
        sum = sum.f_div(&overlap)?;
        let rest = covered.f_neg()?.f_add_scalar(1.0)?.f_clamp(0.0, 1.0)?;
        let others: Vec<&Style> = active
            .iter()
            .copied()
            .filter(|s| s.region.is_none())
            .collect();
        let filler = if others.is_empty() {
            photo.shallow_clone()
        } else {
            net.stylize(&photo, &vector_of(&others)?)?
        };
        sum.f_add(&filler.f_mul(&rest)?)?
    };
    if let Some(mask) = inputs.content_mask {
        let gain = settings.content_mask_gain;
        if gain > 1.0 {
            let keep = stage_mask(mask, stage, softness, device)?.f_mul_scalar(1.0 - 1.0 / gain)?;
            picture = picture.f_add(&photo.f_sub(&picture)?.f_mul(&keep)?)?;
        }
    }
    Ok(picture.f_clamp(0.0, 1.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_strength_is_the_full_style_and_zero_the_photo() {
        assert_eq!(style_share(0.6), 1.0);
        assert_eq!(style_share(1.0), 1.0);
        assert_eq!(style_share(0.0), 0.0);
        assert!((style_share(0.3) - 0.5).abs() < 1e-12);
    }
}
