//! The style-prediction network: MobileNetV2 (width 1.0, batch norms folded into the convs) up
//! to its 1280-channel head, a global mean, and a 1×1 "bottleneck" conv to the 100-number style
//! vector.
//!
//! Exactly as the ONNX graph (`arbitrary_predict.onnx`): input RGB in 0..1 as it is (the TFLite
//! model has no preprocessing before its first conv); a 3×3 stride-2 stem (32 channels, ReLU6);
//! 17 inverted-residual blocks, each an optional 1×1 expansion (×6, ReLU6), a 3×3 depthwise conv
//! (ReLU6) and a linear 1×1 projection, plus the block's input where stride 1 keeps the
//! channels; a 1×1 head (1280, ReLU6); the mean over all positions; the bottleneck conv (no
//! activation). Padding is TensorFlow's "SAME" (zeros; a stride-2 conv over an even size pads
//! only after, as the graph's fixed pads (0, 1) do at 256×256), so any size works.

use tch::{Device, Kind, Tensor};

use super::{ConvWeights, Tensors, STYLE_VECTOR_LEN};
use crate::engine::features::lite::same_padding;
use crate::error::Result;

/// The smallest side the predictor accepts.
pub const MIN_SIDE: i64 = 16;

/// Blocks: (expansion, output channels, stride), after a 32-channel stem.
const BLOCKS: [(i64, i64, i64); 17] = [
    (1, 16, 1),
    (6, 24, 2),
    (6, 24, 1),
    (6, 32, 2),
    (6, 32, 1),
    (6, 32, 1),
    (6, 64, 2),
    (6, 64, 1),
    (6, 64, 1),
    (6, 64, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 160, 2),
    (6, 160, 1),
    (6, 160, 1),
    (6, 320, 1),
];

struct Block {
    expand: Option<ConvWeights>,
    depthwise: ConvWeights,
    project: ConvWeights,
    stride: i64,
    residual: bool,
}

/// MobileNetV2 style prediction.
pub struct StylePredictor {
    stem: ConvWeights,
    blocks: Vec<Block>,
    head: ConvWeights,
    bottleneck: ConvWeights,
}

impl StylePredictor {
    pub(crate) fn from_tensors(t: &mut Tensors) -> std::result::Result<StylePredictor, String> {
        let stem = ConvWeights::take(t, "predict.stem", [32, 3, 3, 3])?;
        let mut blocks = Vec::new();
        let mut cin = 32;
        for (i, &(expansion, cout, stride)) in BLOCKS.iter().enumerate() {
            let mid = cin * expansion;
            let name = format!("predict.blocks.{i}");
            let expand = if expansion != 1 {
                Some(ConvWeights::take(
                    t,
                    &format!("{name}.expand"),
                    [mid, cin, 1, 1],
                )?)
            } else {
                None
            };
            blocks.push(Block {
                expand,
                depthwise: ConvWeights::take(t, &format!("{name}.depthwise"), [mid, 1, 3, 3])?,
                project: ConvWeights::take(t, &format!("{name}.project"), [cout, mid, 1, 1])?,
                stride,
                residual: stride == 1 && cin == cout,
            });
            cin = cout;
        }
        Ok(StylePredictor {
            stem,
            blocks,
            head: ConvWeights::take(t, "predict.head", [1280, 320, 1, 1])?,
            bottleneck: ConvWeights::take(t, "predict.bottleneck", [STYLE_VECTOR_LEN, 1280, 1, 1])?,
        })
    }

    pub(crate) fn prepare(&mut self, device: Device, kind: Kind, cl: bool) -> Result<()> {
        self.stem.prepare(device, kind, cl)?;
        for b in &mut self.blocks {
            if let Some(e) = &mut b.expand {
                e.prepare(device, kind, cl)?;
            }
            b.depthwise.prepare(device, kind, cl)?;
            b.project.prepare(device, kind, cl)?;
        }
        self.head.prepare(device, kind, cl)?;
        self.bottleneck.prepare(device, kind, cl)
    }

    /// [N, 3, H, W] RGB 0..1 → [N, 100] fp32.
    pub(crate) fn forward(&self, input: &Tensor, kind: Kind) -> Result<Tensor> {
        let mut x = same_conv(&self.stem, &input.f_to_kind(kind)?, 3, 2, 1)?.f_relu6_()?;
        for b in &self.blocks {
            let mut y = match &b.expand {
                Some(e) => same_conv(e, &x, 1, 1, 1)?.f_relu6_()?,
                None => x.shallow_clone(),
            };
            let channels = y.size()[1];
            y = same_conv(&b.depthwise, &y, 3, b.stride, channels)?.f_relu6_()?;
            y = same_conv(&b.project, &y, 1, 1, 1)?;
            if b.residual {
                y = y.f_add_(&x)?;
            }
            x = y;
        }
        let x = same_conv(&self.head, &x, 1, 1, 1)?.f_relu6_()?;
        let pooled = x
            .f_to_kind(Kind::Float)?
            .f_mean_dim([2i64, 3].as_slice(), true, Kind::Float)?
            .f_to_kind(kind)?;
        let v = same_conv(&self.bottleneck, &pooled, 1, 1, 1)?;
        Ok(v.f_flatten(1, -1)?.f_to_kind(Kind::Float)?)
    }
}

/// A conv with TensorFlow "SAME" zero padding for the size it sees.
fn same_conv(
    conv: &ConvWeights,
    x: &Tensor,
    kernel: i64,
    stride: i64,
    groups: i64,
) -> Result<Tensor> {
    let size = x.size();
    let (top, bottom) = same_padding(size[2], kernel, stride);
    let (left, right) = same_padding(size[3], kernel, stride);
    conv.conv(x, stride, groups, [left, right, top, bottom])
}
