//! The style transformer network with conditional instance normalisation.
//!
//! Exactly as the ONNX graph (`arbitrary_transform.onnx`), on RGB in 0..1:
//!
//! - contract: reflect-pad 4, 9×9 conv 3→8; reflect-pad 1, 3×3 stride-2 conv 8→16; reflect-pad 1,
//!   3×3 stride-2 conv 16→32; each with a bias (batch norm folded) and ReLU.
//! - 5 residual blocks: x + N₂(conv₂(pad(ReLU(N₁(conv₁(pad(x))))))), 3×3 convs 32→32.
//! - expand: nearest ×2, reflect-pad 1, 3×3 conv 32→16, N, ReLU; nearest ×2, reflect-pad 1, 3×3
//!   conv 16→8, N, ReLU; reflect-pad 4, 9×9 conv 8→3, N, sigmoid.
//!
//! N is the conditional instance norm: per picture and channel, the mean μ and the (biased)
//! variance σ² over all positions, then x·s + (β − μ·s) with s = γ / √(σ² + ε), ε = 1e-5, where
//! γ and β are affine maps (100 → C) of the style vector. Norms are computed in fp32 whatever the
//! conv precision.
//!
//! Any size of at least 8×8 works: the convs are fully convolutional and the norms global. Where a
//! side is not a multiple of 4 the stride-2 convs round up (⌈n/2⌉, as the graph's padding does)
//! and the upsampled result is cropped back to the input's size.

use tch::{Device, Kind, Tensor};

use super::{ConvWeights, Tensors, STYLE_VECTOR_LEN};
use crate::error::Result;

/// The smallest side the transformer accepts (a 9×9 conv reflect-pads 4 px, and the quarter
/// resolution must be at least 2 px for the residual blocks' 1 px reflection).
pub const MIN_SIDE: i64 = 8;

/// The affine maps of the style vector to a norm's scale γ and offset β.
struct CondNorm {
    gamma: (Tensor, Tensor),
    beta: (Tensor, Tensor),
}

struct Layer {
    conv: ConvWeights,
    kernel: i64,
    stride: i64,
    norm: Option<CondNorm>,
}

/// The transformer network.
pub struct Transformer {
    contract: Vec<Layer>,
    residual: Vec<(Layer, Layer)>,
    expand: Vec<Layer>,
    eps: f64,
}

impl Transformer {
    pub(crate) fn from_tensors(t: &mut Tensors) -> std::result::Result<Transformer, String> {
        let mut layer = |name: &str, cin: i64, cout: i64, kernel: i64, stride: i64, norm: bool| {
            let conv = ConvWeights::take(t, name, [cout, cin, kernel, kernel])?;
            let norm = if norm {
                let mut affine = |role: &str| -> std::result::Result<(Tensor, Tensor), String> {
                    Ok((
                        t.take(&format!("{name}.{role}.weight"), &[cout, STYLE_VECTOR_LEN])?,
                        t.take(&format!("{name}.{role}.bias"), &[cout])?,
                    ))
                };
                Some(CondNorm {
                    gamma: affine("gamma")?,
                    beta: affine("beta")?,
                })
            } else {
                None
            };
            Ok::<Layer, String>(Layer {
                conv,
                kernel,
                stride,
                norm,
            })
        };
        let contract = vec![
            layer("transform.contract.1", 3, 8, 9, 1, false)?,
            layer("transform.contract.2", 8, 16, 3, 2, false)?,
            layer("transform.contract.3", 16, 32, 3, 2, false)?,
        ];
        let mut residual = Vec::new();
        for r in 1..=5 {
            residual.push((
                layer(&format!("transform.residual.{r}.1"), 32, 32, 3, 1, true)?,
                layer(&format!("transform.residual.{r}.2"), 32, 32, 3, 1, true)?,
            ));
        }
        let expand = vec![
            layer("transform.expand.1", 32, 16, 3, 1, true)?,
            layer("transform.expand.2", 16, 8, 3, 1, true)?,
            layer("transform.expand.3", 8, 3, 9, 1, true)?,
        ];
        let eps = t.take("transform.norm_eps", &[1])?.double_value(&[0]);
        if !(eps > 0.0 && eps < 1e-2) {
            return Err(format!("transform.norm_eps is {eps}"));
        }
        Ok(Transformer {
            contract,
            residual,
            expand,
            eps,
        })
    }

    fn layers_mut(&mut self) -> impl Iterator<Item = &mut Layer> {
        self.contract
            .iter_mut()
            .chain(self.residual.iter_mut().flat_map(|(a, b)| [a, b]))
            .chain(self.expand.iter_mut())
    }

    pub(crate) fn prepare(&mut self, device: Device, kind: Kind, cl: bool) -> Result<()> {
        for layer in self.layers_mut() {
            layer.conv.prepare(device, kind, cl)?;
            if let Some(norm) = &mut layer.norm {
                for (w, b) in [&mut norm.gamma, &mut norm.beta] {
                    // The norms run in fp32: only the device changes.
                    *w = w.f_to_device(device)?;
                    *b = b.f_to_device(device)?;
                }
            }
        }
        Ok(())
    }

    /// content [N, 3, H, W] RGB 0..1, vector [N or 1, 100] fp32 → [N, 3, H, W] fp32 in 0..1.
    pub(crate) fn forward(&self, content: &Tensor, vector: &Tensor, kind: Kind) -> Result<Tensor> {
        let size = content.size();
        let (height, width) = (size[2], size[3]);
        let mut x = content.f_to_kind(kind)?;
        for layer in &self.contract {
            x = self.apply(layer, &x, vector, kind)?.f_relu_()?;
        }
        for (first, second) in &self.residual {
            let h = self.apply(first, &x, vector, kind)?.f_relu_()?;
            let h = self.apply(second, &h, vector, kind)?;
            x = x.f_add(&h)?;
        }
        for (i, layer) in self.expand.iter().enumerate() {
            if i < 2 {
                let s = x.size();
                x = x.f_upsample_nearest2d([s[2] * 2, s[3] * 2], 2.0, 2.0)?;
            }
            x = self.apply(layer, &x, vector, kind)?;
            x = if i < 2 { x.f_relu_()? } else { x.f_sigmoid()? };
        }
        let x = x.f_to_kind(Kind::Float)?;
        let out = x.size();
        if out[2] == height && out[3] == width {
            Ok(x)
        } else {
            Ok(x.f_narrow(2, 0, height)?
                .f_narrow(3, 0, width)?
                .f_contiguous()?)
        }
    }

    /// Reflect padding, the conv and (where the layer has one) its conditional norm.
    fn apply(&self, layer: &Layer, x: &Tensor, vector: &Tensor, kind: Kind) -> Result<Tensor> {
        let r = layer.kernel / 2;
        let padded = x.f_reflection_pad2d([r, r, r, r])?;
        let y = layer.conv.conv(&padded, layer.stride, 1, [0; 4])?;
        let Some(norm) = &layer.norm else {
            return Ok(y);
        };
        let y = y.f_to_kind(Kind::Float)?;
        let affine = |(w, b): &(Tensor, Tensor)| -> Result<Tensor> {
            let channels = w.size()[0];
            Ok(vector
                .f_matmul(&w.f_tr()?)?
                .f_add(b)?
                .f_view([-1, channels, 1, 1])?)
        };
        let (gamma, beta) = (affine(&norm.gamma)?, affine(&norm.beta)?);
        let dims = [2i64, 3];
        let mean = y.f_mean_dim(dims.as_slice(), true, Kind::Float)?;
        let variance =
            y.f_sub(&mean)?
                .f_square()?
                .f_mean_dim(dims.as_slice(), true, Kind::Float)?;
        let scale = gamma.f_mul(&variance.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        let offset = beta.f_sub(&mean.f_mul(&scale)?)?;
        Ok(y.f_mul(&scale)?.f_add(&offset)?.f_to_kind(kind)?)
    }
}
