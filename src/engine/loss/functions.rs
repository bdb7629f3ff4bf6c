//! The three terms of the Gatys objective, each normalised so that the default weights behave the
//! same at any resolution: content as a mean squared feature difference, style as a mean squared
//! difference of Gram matrices divided by the feature map's size, total variation as a mean over
//! pixels.

use tch::{Kind, Tensor};

use crate::engine::image::mask::LayerMask;

/// Gram matrix of a feature map [1, C, H, W], divided by C·H·W so that it does not grow with the
/// image size.
///
/// bf16 maps are multiplied in bf16 (the CPU and GPU kernels accumulate in fp32; only the product
/// is rounded, to about 0.3 % of its largest entry) and the product widened to fp32: measured on
/// the CPU 2-7x faster than widening the map first, which copied it whole each evaluation. fp16
/// maps are widened first: their sums of squares over a map overflow fp16's range.
pub fn gram(features: &Tensor) -> Tensor {
    let (_, channels, height, width) = features.size4().expect("feature maps are 4-D");
    let features = match features.kind() {
        Kind::BFloat16 | Kind::Float | Kind::Double => features.shallow_clone(),
        _ => features.to_kind(Kind::Float),
    };
    // Pixels × channels: no copy for the channels-last maps the networks produce.
    let flat = features
        .permute([0, 2, 3, 1])
        .reshape([height * width, channels]);
    let product = flat.tr().mm(&flat);
    let product = match product.kind() {
        Kind::BFloat16 => product.to_kind(Kind::Float),
        _ => product,
    };
    product / (channels * height * width) as f64
}

/// Guided Gram matrix (Gatys et al. 2017) of a feature map [1, C, H, W] over a region: the map
/// weighted by the region's weights at this layer ([1, 1, H, W], 0..1), divided by C times the
/// region's area (the summed squared weights) instead of C·H·W. A region's statistics are then
/// a mean over the region, as large whatever its size, and a region covering everything gives
/// [`gram`].
pub fn guided_gram(features: &Tensor, region: &LayerMask) -> Tensor {
    let (_, _, height, width) = features.size4().expect("feature maps are 4-D");
    let weights = match features.kind() {
        Kind::BFloat16 | Kind::Float | Kind::Double => region.weights.to_kind(features.kind()),
        _ => region.weights.shallow_clone(),
    };
    gram(&(features * weights)) * ((height * width) as f64 / region.area)
}

/// Mean squared difference between two feature maps (computed in fp32 whatever their precision).
pub fn content_loss(features: &Tensor, target: &Tensor) -> Tensor {
    (features.to_kind(Kind::Float) - target)
        .square()
        .mean(Kind::Float)
}

/// [`content_loss`] with a weight per feature position (`weights`, [1, 1, H, W], broadcast over
/// the channels): the same mean, so weights of 1 everywhere give exactly `content_loss`.
pub fn weighted_content_loss(features: &Tensor, target: &Tensor, weights: &Tensor) -> Tensor {
    ((features.to_kind(Kind::Float) - target).square() * weights).mean(Kind::Float)
}

/// Mean squared difference between the Gram matrix of `features` and a target Gram matrix.
pub fn style_loss(features: &Tensor, target_gram: &Tensor) -> Tensor {
    (gram(features) - target_gram).square().mean(Kind::Float)
}

/// [`style_loss`] over a region: the guided Gram matrix against the target's.
pub fn guided_style_loss(features: &Tensor, region: &LayerMask, target_gram: &Tensor) -> Tensor {
    (guided_gram(features, region) - target_gram)
        .square()
        .mean(Kind::Float)
}

/// Squared differences between neighbouring pixels, summed over channels and averaged over
/// pixels. The image is in Caffe units (0–255 scale).
pub fn total_variation(image: &Tensor) -> Tensor {
    let (_, _, height, width) = image.size4().expect("images are 4-D");
    let dx = image.narrow(3, 1, width - 1) - image.narrow(3, 0, width - 1);
    let dy = image.narrow(2, 1, height - 1) - image.narrow(2, 0, height - 1);
    (dx.square().sum(Kind::Float) + dy.square().sum(Kind::Float)) / (height * width) as f64
}

/// Relative Frobenius distance ‖G − A‖ / ‖A‖ between two Gram matrices: 0 is identical style
/// statistics, 1 is as far as an all-zero image.
pub fn relative_gram_distance(gram_a: &Tensor, gram_target: &Tensor) -> f64 {
    let diff = (gram_a - gram_target).norm().double_value(&[]);
    let base = gram_target.norm().double_value(&[]);
    diff / base.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).reshape(shape)
    }

    #[test]
    fn gram_of_tiny_map_matches_hand_computation() {
        // Two channels over a 1×2 map: f0 = [1, 2], f1 = [3, 4].
        // F Fᵀ = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]], divided by C·H·W = 4.
        let g = gram(&t(&[1.0, 2.0, 3.0, 4.0], &[1, 2, 1, 2]));
        let expected = [1.25f32, 2.75, 2.75, 6.25];
        let got: Vec<f32> = g.flatten(0, -1).try_into().unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn bf16_and_fp16_maps_give_fp32_grams_close_to_fp32s() {
        // A channels-last map like the networks', with ReLU-like non-negative values.
        let map = Tensor::rand([1, 16, 24, 32], (Kind::Float, tch::Device::Cpu))
            .f_mul_scalar(50.0)
            .unwrap()
            .permute([0, 2, 3, 1])
            .contiguous()
            .permute([0, 3, 1, 2]);
        let exact = gram(&map.to_kind(Kind::BFloat16).to_kind(Kind::Float));
        for kind in [Kind::BFloat16, Kind::Half] {
            let g = gram(&map.to_kind(kind));
            assert_eq!(g.kind(), Kind::Float, "{kind:?}");
            let distance = relative_gram_distance(&g, &exact);
            assert!(distance < 1e-2, "{kind:?}: relative distance {distance}");
        }
        // fp16 widened first: a map whose Gram entries exceed fp16's range stays finite.
        let big = map.f_mul_scalar(100.0).unwrap().to_kind(Kind::Half);
        assert!(bool::try_from(gram(&big).isfinite().all()).unwrap());
    }

    #[test]
    fn guided_gram_is_the_regions_mean_statistics() {
        let map = Tensor::rand([1, 3, 4, 6], (Kind::Float, tch::Device::Cpu));
        // A region covering everything is the plain Gram matrix.
        let everything = LayerMask {
            weights: Tensor::ones([1, 1, 4, 6], (Kind::Float, tch::Device::Cpu)),
            area: 24.0,
        };
        assert!(relative_gram_distance(&guided_gram(&map, &everything), &gram(&map)) < 1e-6);
        // The left half as a region is the Gram matrix of the left half alone.
        let left = Tensor::cat(
            &[
                Tensor::ones([1, 1, 4, 3], (Kind::Float, tch::Device::Cpu)),
                Tensor::zeros([1, 1, 4, 3], (Kind::Float, tch::Device::Cpu)),
            ],
            3,
        );
        let region = LayerMask {
            weights: left,
            area: 12.0,
        };
        let half = gram(&map.narrow(3, 0, 3));
        assert!(relative_gram_distance(&guided_gram(&map, &region), &half) < 1e-6);
        assert!(guided_style_loss(&map, &region, &half).double_value(&[]) < 1e-10);
    }

    #[test]
    fn content_loss_is_mean_squared_difference() {
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
        let b = t(&[1.0, 0.0, 3.0, 7.0], &[1, 1, 2, 2]);
        // (0 + 4 + 0 + 9) / 4
        assert_eq!(content_loss(&a, &b).double_value(&[]), 3.25);
    }

    #[test]
    fn style_loss_compares_grams() {
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[1, 2, 1, 2]);
        let target = t(&[1.25, 2.75, 2.75, 6.25], &[2, 2]);
        assert_eq!(style_loss(&a, &target).double_value(&[]), 0.0);
        let shifted = &target + 1.0;
        assert_eq!(style_loss(&a, &shifted).double_value(&[]), 1.0);
    }

    #[test]
    fn total_variation_of_tiny_image() {
        // One channel, 2×2: [[0, 1], [3, 5]]. dx: 1, 2 → 1 + 4; dy: 3, 4 → 9 + 16. Sum 30 / 4 px.
        let image = t(&[0.0, 1.0, 3.0, 5.0], &[1, 1, 2, 2]);
        assert_eq!(total_variation(&image).double_value(&[]), 7.5);
    }

    #[test]
    fn relative_gram_distance_is_zero_for_equal_and_one_for_zero() {
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(relative_gram_distance(&a, &a), 0.0);
        assert!((relative_gram_distance(&a.zeros_like(), &a) - 1.0).abs() < 1e-12);
    }
}
