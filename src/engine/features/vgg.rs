//! The VGG-19 feature extractor (conv layers only, max pooling, Caffe preprocessing).
//!
//! One forward pass per evaluation, stopping at the deepest layer anyone asked for; the weights
//! never require gradients, so a backward pass computes only the image gradient.

use std::sync::Mutex;

use tch::{Device, Kind, Tensor};

use crate::engine::device::precision::Precision;
use crate::engine::device::readback;
use crate::engine::features::weights::{ConvWeights, CONV_LAYERS};
use crate::error::{Error, Result};

/// Caffe VGG mean pixel, in B, G, R order, on the 0–255 scale.
pub const CAFFE_MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];

/// A feature layer: the ReLU after conv layer `index` (0 = relu1_1 … 15 = relu5_4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer(usize);

impl Layer {
    pub const RELU1_1: Layer = Layer(0);
    pub const RELU2_1: Layer = Layer(2);
    pub const RELU3_1: Layer = Layer(4);
    pub const RELU4_1: Layer = Layer(8);
    pub const RELU4_2: Layer = Layer(9);
    pub const RELU5_1: Layer = Layer(12);

    /// Parses `relu4_2` (or the conv name `conv4_2`, meaning the ReLU after it).
    pub fn parse(name: &str) -> Result<Layer> {
        let wanted = name.trim().replacen("relu", "conv", 1);
        CONV_LAYERS
            .iter()
            .position(|(conv, _, _)| *conv == wanted)
            .map(Layer)
            .ok_or_else(|| {
                Error::arg(format!(
                    "unknown VGG-19 layer '{name}' (expected relu1_1 … relu5_4)"
                ))
            })
    }

    pub fn name(self) -> String {
        CONV_LAYERS[self.0].0.replacen("conv", "relu", 1)
    }

    pub fn channels(self) -> i64 {
        CONV_LAYERS[self.0].2
    }

    /// How many 2×2 poolings come before this layer: its feature map is 1/2^n of the input.
    pub fn pool_depth(self) -> u32 {
        POOL_AFTER.iter().filter(|&&p| p < self.0).count() as u32
    }

    /// Every layer from relu1_1 down to `self`, in network order.
    pub fn up_to(self) -> impl Iterator<Item = Layer> {
        (0..=self.0).map(Layer)
    }

    /// True when a 2×2 max pool follows this layer in the network.
    pub fn pools_after(self) -> bool {
        POOL_AFTER.contains(&self.0)
    }

    pub const fn index(self) -> usize {
        self.0
    }

    /// The layer at `index` in network order (0 = relu1_1 … 15 = relu5_4).
    pub fn from_index(index: usize) -> Layer {
        assert!(index < CONV_LAYERS.len(), "VGG-19 has no layer {index}");
        Layer(index)
    }

    /// Elements of the conv outputs (and of the pooled maps) one pass up to this layer makes at
    /// `width`×`height`, for the memory estimate.
    pub fn activation_elements(self, width: u32, height: u32) -> (u64, u64) {
        let (mut activations, mut pooled) = (0u64, 0u64);
        for layer in self.up_to() {
            let factor = 1u64 << layer.pool_depth();
            let pixels = (width as u64).div_ceil(factor) * (height as u64).div_ceil(factor);
            activations += layer.channels() as u64 * pixels;
            if layer.pools_after() && layer < self {
                pooled += layer.channels() as u64 * pixels / 4;
            }
        }
        (activations, pooled)
    }

    /// Receptive-field radius of this layer's features in pixels: 3×3 convolutions and 2×2
    /// poolings up to it (a tiled stage's margin, see [`crate::engine::plan::tiles`]).
    pub fn receptive_radius(self) -> u32 {
        let (mut field, mut jump) = (1u32, 1u32);
        for l in self.up_to() {
            field += 2 * jump;
            if l.pools_after() && l < self {
                field += jump;
                jump *= 2;
            }
        }
        field.div_ceil(2)
    }
}

/// Conv layers followed by a 2×2 max pool (the last ones of blocks 1–4; block 5's is never needed).
const POOL_AFTER: [usize; 4] = [1, 3, 7, 11];

pub struct Vgg19 {
    /// fp32 weights on the CPU, kept so that the precision or device can change.
    master: Vec<ConvWeights>,
    /// The weights the forward pass uses: on `device`, in the compute precision, channels-last.
    compute: Vec<(Tensor, Tensor)>,
    device: Device,
    precision: Precision,
}

impl Vgg19 {
    pub fn new(master: Vec<ConvWeights>, device: Device, precision: Precision) -> Result<Self> {
        if device.is_cuda() {
            // Each stage evaluates one fixed shape hundreds of times: let cuDNN time its
            // convolution algorithms once per shape and keep the fastest.
            tch::Cuda::cudnn_set_benchmark(true);
        }
        let mut model = Vgg19 {
            master,
            compute: Vec::new(),
            device,
            precision,
        };
        model.prepare_compute_weights()?;
        Ok(model)
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        if precision != self.precision {
            self.precision = precision;
            self.prepare_compute_weights()?;
        }
        Ok(())
    }

    fn prepare_compute_weights(&mut self) -> Result<()> {
        let kind = self.precision.kind();
        self.compute = self
            .master
            .iter()
            .map(|conv| {
                let weight =
                    to_channels_last(&conv.weight.f_to_device(self.device)?.f_to_kind(kind)?)?;
                let bias = conv.bias.f_to_device(self.device)?.f_to_kind(kind)?;
                Ok((weight, bias))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// Bytes of the compute weights (for the memory estimate).
    pub fn compute_weight_bytes(&self) -> u64 {
        let per_element = self.precision.kind().elt_size_in_bytes() as u64;
        self.master
            .iter()
            .map(|c| (c.weight.numel() + c.bias.numel()) as u64 * per_element)
            .sum()
    }

    /// Runs the network on `input` ([1, 3, H, W], Caffe space, fp32) and returns the fp32 feature
    /// maps of `layers`, in the order asked. The pass stops at the deepest requested layer.
    pub fn features(&self, input: &Tensor, layers: &[Layer]) -> Result<Vec<Tensor>> {
        self.features_native(input, layers)?
            .iter()
            .map(|f| Ok(f.f_to_kind(Kind::Float)?))
            .collect()
    }

    /// As [`VggNet::features`], but the maps stay in the network's precision (channels-last):
    /// the losses decide what to widen, which spares a full fp32 copy of every style map per
    /// evaluation in bf16.
    pub fn features_native(&self, input: &Tensor, layers: &[Layer]) -> Result<Vec<Tensor>> {
        let Some(deepest) = layers.iter().map(|l| l.0).max() else {
            return Ok(Vec::new());
        };
        let mut outputs: Vec<Option<Tensor>> = layers.iter().map(|_| None).collect();
        let mut x = to_channels_last(&input.f_to_kind(self.precision.kind())?)?;
        for (index, (weight, bias)) in self.compute.iter().enumerate().take(deepest + 1) {
            x = x
                .f_conv2d(weight, Some(bias), [1, 1], [1, 1], [1, 1], 1)?
                .f_relu_()?;
            for (slot, layer) in outputs.iter_mut().zip(layers) {
                if layer.0 == index {
                    *slot = Some(x.shallow_clone());
                }
            }
            if index < deepest && POOL_AFTER.contains(&index) {
                x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
            }
        }
        Ok(outputs
            .into_iter()
            .map(|o| o.expect("every requested layer is at most the deepest"))
            .collect())
    }
}

/// The same values laid out NHWC in memory: oneDNN (CPU) and cuDNN (tensor cores) run VGG's
/// convolutions faster in this layout.
fn to_channels_last(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_permute([0, 2, 3, 1])?
        .f_contiguous()?
        .f_permute([0, 3, 1, 2])?)
}

/// RGB in 0..1 ([1, 3, H, W]) to the network's input: BGR on 0..255 minus the Caffe mean.
pub fn rgb_to_caffe(rgb: &Tensor) -> Result<Tensor> {
    Ok(rgb
        .f_flip([1])?
        .f_mul_scalar(255.0)?
        .f_sub(&caffe_mean(rgb.device())?)?)
}

/// Inverse of [`rgb_to_caffe`] (no clamping).
pub fn caffe_to_rgb(caffe: &Tensor) -> Result<Tensor> {
    Ok(caffe
        .f_add(&caffe_mean(caffe.device())?)?
        .f_div_scalar(255.0)?
        .f_flip([1])?)
}

/// The Caffe mean ([1, 3, 1, 1] fp32) on `device`, uploaded once per device and kept for the
/// life of the process: Lite0 converts the image from Caffe space at every evaluation, and an
/// upload each time would be a host synchronisation each time on a GPU.
fn caffe_mean(device: Device) -> Result<Tensor> {
    static ON_DEVICES: Mutex<Vec<(Device, Tensor)>> = Mutex::new(Vec::new());
    let mut kept = ON_DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, mean)) = kept.iter().find(|(on, _)| *on == device) {
        return Ok(mean.shallow_clone());
    }
    let host = Tensor::f_from_slice(&CAFFE_MEAN_BGR)?
        .f_to_kind(Kind::Float)?
        .f_view([1, 3, 1, 1])?;
    let mean = readback::upload(&host, device)?;
    kept.push((device, mean.shallow_clone()));
    Ok(mean)
}
