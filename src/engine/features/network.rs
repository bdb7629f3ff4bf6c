//! The feature network a run uses (its backbone): VGG-19, the method's original, or
//! EfficientNet-Lite0, a light network for speed. Everything above this module sees one shape:
//! numbered feature layers with names, features of an image in Caffe space, a memory estimate.
//!
//! The image being optimised always lives in VGG's Caffe space (BGR on 0..255 minus the mean), so
//! the optimisers, the total-variation term and the detail band behave the same whatever the
//! backbone; Lite0's input is made from it inside the (differentiable) forward pass.

use std::path::PathBuf;

use tch::{Device, Tensor};

use crate::engine::device::precision::{Precision, PrecisionChoice};
use crate::engine::features::lite::{self, Lite0, Placement, LITE_LAYERS};
use crate::engine::features::vgg::{caffe_to_rgb, Layer, Vgg19};
use crate::engine::features::weights;
use crate::error::{Error, Result};

/// Which feature network a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backbone {
    #[default]
    Vgg19,
    Lite,
}

impl Backbone {
    pub fn parse(word: &str) -> Result<Backbone> {
        match word.trim() {
            "vgg19" => Ok(Backbone::Vgg19),
            "lite" => Ok(Backbone::Lite),
            other => Err(Error::arg(format!(
                "unknown backbone '{other}' (expected vgg19 or lite)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backbone::Vgg19 => "vgg19",
            Backbone::Lite => "lite",
        }
    }

    /// The network's name in messages for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Backbone::Vgg19 => "VGG-19",
            Backbone::Lite => "EfficientNet-Lite0",
        }
    }

    /// Index of a layer by name (`relu4_2` for VGG-19; `stem`, `block0` … `block15` for Lite0).
    pub fn layer_index(self, name: &str) -> Result<usize> {
        match self {
            Backbone::Vgg19 => Layer::parse(name).map(Layer::index),
            Backbone::Lite => lite::parse_lite_layer(name),
        }
    }

    pub fn layer_name(self, index: usize) -> String {
        match self {
            Backbone::Vgg19 => Layer::from_index(index).name(),
            Backbone::Lite => LITE_LAYERS[index].name.to_string(),
        }
    }

    /// The content layers `content_layers=auto` means.
    pub fn default_content_layers(self) -> &'static str {
        match self {
            Backbone::Vgg19 => "relu4_2",
            Backbone::Lite => "block7",
        }
    }

    /// The style layers `style_layers=auto` means: one per resolution, shallow to deep.
    pub fn default_style_layers(self) -> &'static str {
        match self {
            Backbone::Vgg19 => "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
            Backbone::Lite => "block0,block2,block4,block7,block10",
        }
    }

    /// The deepest layer a tiled stage uses. Coarse structure is settled by the lower scales,
    /// which run with every layer; at full resolution the shallow layers add the brush texture,
    /// and a small receptive field keeps the tiles' overlap small. VGG-19: relu3_1 (stride 4, a
    /// 24 px field; about a third of the cost of a pass to relu5_1). Lite0: block2, the layer of
    /// the same stride and about the same field (19 px); the next style layer, block4, sees
    /// 67 px and would need 40 px margins, so a 192 px tile would own only 64 px.
    pub fn tile_deepest(self) -> usize {
        match self {
            Backbone::Vgg19 => Layer::RELU3_1.index(),
            Backbone::Lite => 3,
        }
    }

    /// Input pixels one feature of layer `index` steps over.
    pub fn stride(self, index: usize) -> u32 {
        match self {
            Backbone::Vgg19 => 1 << Layer::from_index(index).pool_depth(),
            Backbone::Lite => LITE_LAYERS[index].stride,
        }
    }

    /// How far (in input pixels) the receptive field of a feature of layer `index` reaches to
    /// either side: the margin a tile's loss leaves out at its inner edges.
    pub fn receptive_radius(self, index: usize) -> u32 {
        match self {
            Backbone::Vgg19 => Layer::from_index(index).receptive_radius(),
            Backbone::Lite => lite::receptive_reach(index),
        }
    }

    /// Factors on the content and style weights that make the same weights (and strength) give
    /// about the same balance of photo and painting on this network as on VGG-19: Lite0's
    /// feature statistics are smaller, so its style term needs more weight to be heard.
    pub fn loss_gains(self) -> (f64, f64) {
        match self {
            Backbone::Vgg19 => (1.0, 1.0),
            Backbone::Lite => (1.0, 50.0),
        }
    }
}

/// The networks of a session, each loaded on first use: a model whose backbone is lite never
/// reads VGG-19 (a preview starts sooner and holds less memory).
pub struct Networks {
    device: Device,
    vgg: VggSlot,
    lite: Option<Lite0>,
}

/// VGG-19, or where to load it from once a run needs it.
enum VggSlot {
    Loaded(Vgg19),
    /// A weights file whose header [`crate::engine::features::weights::check`] found sound.
    Pending(PathBuf),
}

/// One network, borrowed for a stage's targets and evaluations.
#[derive(Clone, Copy)]
pub enum Network<'a> {
    Vgg(&'a Vgg19),
    Lite(&'a Lite0),
}

impl Networks {
    /// Networks around an already loaded VGG-19 (it keeps its device).
    pub fn new(vgg: Vgg19) -> Networks {
        Networks {
            device: vgg.device(),
            vgg: VggSlot::Loaded(vgg),
            lite: None,
        }
    }

    /// Networks on `device` that load VGG-19 from `vgg_weights` when it is first needed.
    pub fn lazy(vgg_weights: PathBuf, device: Device) -> Networks {
        Networks {
            device,
            vgg: VggSlot::Pending(vgg_weights),
            lite: None,
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Whether VGG-19's weights have been read (for tests and measurements).
    pub fn vgg_loaded(&self) -> bool {
        matches!(self.vgg, VggSlot::Loaded(_))
    }

    /// Loads what `backbone` needs (Lite0's weights from their default locations) and sets its
    /// precision; an error changes nothing.
    pub fn prepare(&mut self, backbone: Backbone, precision: PrecisionChoice) -> Result<()> {
        let device = self.device();
        match backbone {
            Backbone::Vgg19 => match &mut self.vgg {
                VggSlot::Loaded(vgg) => vgg.set_precision(precision.resolve(device)),
                VggSlot::Pending(path) => {
                    let convs = weights::load(path)?;
                    let vgg = Vgg19::new(convs, device, precision.resolve(device))?;
                    self.vgg = VggSlot::Loaded(vgg);
                    Ok(())
                }
            },
            Backbone::Lite => {
                let precision = lite::resolve_precision(precision, device);
                match &mut self.lite {
                    Some(lite) => lite.set_precision(precision),
                    None => {
                        let path: PathBuf = lite::resolve_path(None)?;
                        self.lite = Some(Lite0::load(&path, device, precision)?);
                        Ok(())
                    }
                }
            }
        }
    }

    /// The network of `backbone`, which [`Networks::prepare`] must have loaded.
    pub fn get(&self, backbone: Backbone) -> Result<Network<'_>> {
        let not_loaded = || Error::State(format!("the {} backbone is not loaded", backbone.name()));
        match backbone {
            Backbone::Vgg19 => match &self.vgg {
                VggSlot::Loaded(vgg) => Ok(Network::Vgg(vgg)),
                VggSlot::Pending(_) => Err(not_loaded()),
            },
            Backbone::Lite => self.lite.as_ref().map(Network::Lite).ok_or_else(not_loaded),
        }
    }
}

impl Network<'_> {
    pub fn device(&self) -> Device {
        match self {
            Network::Vgg(vgg) => vgg.device(),
            Network::Lite(lite) => lite.device(),
        }
    }

    pub fn precision(&self) -> Precision {
        match self {
            Network::Vgg(vgg) => vgg.precision(),
            Network::Lite(lite) => lite.precision(),
        }
    }

    pub fn compute_weight_bytes(&self) -> u64 {
        match self {
            Network::Vgg(vgg) => vgg.compute_weight_bytes(),
            Network::Lite(lite) => lite.compute_weight_bytes(),
        }
    }

    /// fp32 feature maps of `layers` (indices of this backbone) for `image` in Caffe space,
    /// differentiable with respect to it.
    pub fn features(&self, image: &Tensor, layers: &[usize]) -> Result<Vec<Tensor>> {
        self.features_placed(image, layers, None)
    }

    /// [`Network::features`] of `image`, a tile's window cut from its image at `placement`:
    /// computed as the whole image's features there are, up to the margins the tile leaves out.
    /// VGG-19's padding is the same everywhere (tile origins are on its pooling grid); Lite0's
    /// depends on where the window lies.
    pub fn tile_features(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Placement,
    ) -> Result<Vec<Tensor>> {
        self.features_placed(image, layers, Some(placement))
    }

    fn features_placed(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        match self {
            Network::Vgg(vgg) => vgg.features(image, &vgg_layers(layers)),
            Network::Lite(lite) => lite.features_placed(
                &lite::rgb_to_lite(&caffe_to_rgb(image)?)?,
                layers,
                placement,
            ),
        }
    }

    pub fn backbone(&self) -> Backbone {
        match self {
            Network::Vgg(_) => Backbone::Vgg19,
            Network::Lite(_) => Backbone::Lite,
        }
    }

    /// As [`Network::features`] (of a tile's window at `placement`, when there is one, as
    /// [`Network::tile_features`]) for the losses of an evaluation: VGG's maps stay in its
    /// precision ([`crate::engine::loss`] widens them where it must).
    pub fn loss_features(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        match self {
            Network::Vgg(vgg) => vgg.features_native(image, &vgg_layers(layers)),
            Network::Lite(_) => self.features_placed(image, layers, placement),
        }
    }

    /// Elements of the activations one evaluation keeps for its backward pass, up to layer
    /// `deepest`, at `width`×`height`: (conv outputs, pooled maps).
    pub fn activation_elements(&self, width: u32, height: u32, deepest: usize) -> (u64, u64) {
        match self {
            Network::Vgg(_) => Layer::from_index(deepest).activation_elements(width, height),
            Network::Lite(_) => (lite::activation_elements(width, height, deepest), 0),
        }
    }
}

/// VGG-19's layers by their indices in the network's layer list.
fn vgg_layers(indices: &[usize]) -> Vec<Layer> {
    indices.iter().map(|&i| Layer::from_index(i)).collect()
}
