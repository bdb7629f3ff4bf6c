//! The backbones, behind one table and one trait. A [`Backbone`] (what `backbone=` names) picks
//! its row of the table: its names, its layers and their geometry, the layers `auto` means, its
//! loss gains, and how its network is loaded. A loaded network answers [`FeatureNetwork`]:
//! feature maps of an image, its device, precision and weight bytes. Adding a backbone is its
//! network's module, a variant here with its row and its `impl FeatureNetwork`.
//!
//! The image being optimised always lives in VGG's Caffe space (BGR on 0..255 minus the mean), so
//! the optimisers, the total-variation term and the detail band behave the same whatever the
//! backbone; another network's input is made from it inside its (differentiable) forward pass.

use std::path::{Path, PathBuf};

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

/// What the method needs to know of one backbone, loaded or not.
struct BackboneSpec {
    /// The option's word (`backbone=vgg19`).
    name: &'static str,
    /// The network's name in messages for people.
    display_name: &'static str,
    /// What `content_layers=auto` means.
    default_content_layers: &'static str,
    /// What `style_layers=auto` means: one layer per resolution, shallow to deep.
    default_style_layers: &'static str,
    /// The deepest layer a tiled stage uses (see the rows for why these).
    tile_deepest: usize,
    /// Factors on the content and style weights that make the same weights (and strength) give
    /// about the same balance of photo and painting as on VGG-19.
    loss_gains: (f64, f64),
    /// Index of a layer by its name.
    layer_index: fn(&str) -> Result<usize>,
    layer_name: fn(usize) -> String,
    /// Input pixels one feature of a layer steps over.
    stride: fn(usize) -> u32,
    /// How far (in input pixels) the receptive field of a feature of a layer reaches to either
    /// side: the margin a tile's loss leaves out at its inner edges.
    receptive_radius: fn(usize) -> u32,
    /// Elements of the activations one evaluation keeps for its backward pass, up to a layer, at
    /// a size: (conv outputs, pooled maps).
    activation_elements: fn(u32, u32, usize) -> (u64, u64),
    /// The precision a choice means for this network on a device.
    resolve_precision: fn(PrecisionChoice, Device) -> Precision,
    /// Where its weights are when the caller named no file.
    default_weights: fn() -> Result<PathBuf>,
    /// The network from its weights file, on a device in a precision.
    load: fn(&Path, Device, Precision) -> Result<Box<dyn FeatureNetwork>>,
}

/// VGG-19, the method's original.
static VGG19: BackboneSpec = BackboneSpec {
    name: "vgg19",
    display_name: "VGG-19",
    default_content_layers: "relu4_2",
    default_style_layers: "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
    // Coarse structure is settled by the lower scales, which run with every layer; at full
    // resolution the shallow layers add the brush texture, and a small receptive field keeps the
    // tiles' overlap small: relu3_1 (stride 4, a 24 px field; about a third of the cost of a pass
    // to relu5_1).
    tile_deepest: Layer::RELU3_1.index(),
    loss_gains: (1.0, 1.0),
    layer_index: |name| Layer::parse(name).map(Layer::index),
    layer_name: |index| Layer::from_index(index).name(),
    stride: |index| 1 << Layer::from_index(index).pool_depth(),
    receptive_radius: |index| Layer::from_index(index).receptive_radius(),
    activation_elements: |width, height, deepest| {
        Layer::from_index(deepest).activation_elements(width, height)
    },
    resolve_precision: PrecisionChoice::resolve,
    default_weights: || weights::resolve_path(None),
    load: |path, device, precision| {
        let convs = weights::load(path)?;
        Ok(Box::new(Vgg19::new(convs, device, precision)?))
    },
};

/// EfficientNet-Lite0, a light network for speed.
static LITE0: BackboneSpec = BackboneSpec {
    name: "lite",
    display_name: "EfficientNet-Lite0",
    default_content_layers: "block7",
    default_style_layers: "block0,block2,block4,block7,block10",
    // block2: the layer of relu3_1's stride with about its field (19 px); the next style layer,
    // block4, sees 67 px and would need 40 px margins, so a 192 px tile would own only 64 px.
    tile_deepest: 3,
    // Lite0's feature statistics are smaller: its style term needs more weight to be heard.
    loss_gains: (1.0, 50.0),
    layer_index: lite::parse_lite_layer,
    layer_name: |index| LITE_LAYERS[index].name.to_string(),
    stride: |index| LITE_LAYERS[index].stride,
    receptive_radius: lite::receptive_reach,
    activation_elements: |width, height, deepest| {
        (lite::activation_elements(width, height, deepest), 0)
    },
    resolve_precision: lite::resolve_precision,
    default_weights: || lite::resolve_path(None),
    load: |path, device, precision| Ok(Box::new(Lite0::load(path, device, precision)?)),
};

impl Backbone {
    /// Every backbone, in declaration order ([`Backbone::index`]).
    pub const ALL: [Backbone; 2] = [Backbone::Vgg19, Backbone::Lite];

    /// The backbone's row of the table: the one place that tells the backbones apart.
    fn spec(self) -> &'static BackboneSpec {
        match self {
            Backbone::Vgg19 => &VGG19,
            Backbone::Lite => &LITE0,
        }
    }

    /// Its position in [`Backbone::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parse(word: &str) -> Result<Backbone> {
        let word = word.trim();
        Backbone::ALL
            .into_iter()
            .find(|backbone| backbone.name() == word)
            .ok_or_else(|| {
                let names = Backbone::ALL.map(Backbone::name).join(" or ");
                Error::arg(format!("unknown backbone '{word}' (expected {names})"))
            })
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The network's name in messages for people.
    pub fn display_name(self) -> &'static str {
        self.spec().display_name
    }

    /// Index of a layer by name (`relu4_2` for VGG-19; `stem`, `block0` … `block15` for Lite0).
    pub fn layer_index(self, name: &str) -> Result<usize> {
        (self.spec().layer_index)(name)
    }

    pub fn layer_name(self, index: usize) -> String {
        (self.spec().layer_name)(index)
    }

    /// The content layers `content_layers=auto` means.
    pub fn default_content_layers(self) -> &'static str {
        self.spec().default_content_layers
    }

    /// The style layers `style_layers=auto` means: one per resolution, shallow to deep.
    pub fn default_style_layers(self) -> &'static str {
        self.spec().default_style_layers
    }

    /// The deepest layer a tiled stage uses: a small receptive field keeps the tiles' overlap
    /// small, and the lower scales, which run with every layer, have settled the coarse
    /// structure.
    pub fn tile_deepest(self) -> usize {
        self.spec().tile_deepest
    }

    /// Input pixels one feature of layer `index` steps over.
    pub fn stride(self, index: usize) -> u32 {
        (self.spec().stride)(index)
    }

    /// How far (in input pixels) the receptive field of a feature of layer `index` reaches to
    /// either side: the margin a tile's loss leaves out at its inner edges.
    pub fn receptive_radius(self, index: usize) -> u32 {
        (self.spec().receptive_radius)(index)
    }

    /// Elements of the activations one evaluation keeps for its backward pass, up to layer
    /// `deepest`, at `width`×`height`: (conv outputs, pooled maps).
    pub fn activation_elements(self, width: u32, height: u32, deepest: usize) -> (u64, u64) {
        (self.spec().activation_elements)(width, height, deepest)
    }

    /// Factors on the content and style weights that make the same weights (and strength) give
    /// about the same balance of photo and painting on this network as on VGG-19.
    pub fn loss_gains(self) -> (f64, f64) {
        self.spec().loss_gains
    }

    /// The precision `choice` means for this network on `device`.
    pub fn resolve_precision(self, choice: PrecisionChoice, device: Device) -> Precision {
        (self.spec().resolve_precision)(choice, device)
    }

    /// Where the weights are when the caller names no file.
    pub fn default_weights(self) -> Result<PathBuf> {
        (self.spec().default_weights)()
    }

    /// The network from the weights file at `path`, on `device` in `precision`.
    pub fn load(
        self,
        path: &Path,
        device: Device,
        precision: Precision,
    ) -> Result<Box<dyn FeatureNetwork>> {
        (self.spec().load)(path, device, precision)
    }
}

/// A loaded backbone, as a stage's targets and evaluations use it.
pub trait FeatureNetwork {
    fn backbone(&self) -> Backbone;

    fn device(&self) -> Device;

    fn precision(&self) -> Precision;

    /// Computes in `precision` from now on.
    fn set_precision(&mut self, precision: Precision) -> Result<()>;

    /// Bytes of the weights the forward pass uses (for the memory estimate).
    fn compute_weight_bytes(&self) -> u64;

    /// fp32 feature maps of `layers` (indices of this backbone) for `image` in Caffe space,
    /// differentiable with respect to it. With a `placement`, `image` is a tile's window of a
    /// larger image, and its features are the whole image's features there, up to the margins
    /// the tile leaves out: VGG-19's padding is the same everywhere (tile origins are on its
    /// pooling grid); Lite0's depends on where the window lies.
    fn features_at(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>>;

    /// As [`FeatureNetwork::features_at`], for the losses of an evaluation: the maps may stay in
    /// the network's precision ([`crate::engine::loss`] widens them where it must).
    fn loss_features(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        self.features_at(image, layers, placement)
    }
}

/// One loaded network, borrowed for a stage's targets and evaluations.
pub type Network<'a> = &'a dyn FeatureNetwork;

impl FeatureNetwork for Vgg19 {
    fn backbone(&self) -> Backbone {
        Backbone::Vgg19
    }

    fn device(&self) -> Device {
        Vgg19::device(self)
    }

    fn precision(&self) -> Precision {
        Vgg19::precision(self)
    }

    fn set_precision(&mut self, precision: Precision) -> Result<()> {
        Vgg19::set_precision(self, precision)
    }

    fn compute_weight_bytes(&self) -> u64 {
        Vgg19::compute_weight_bytes(self)
    }

    /// VGG-19 takes Caffe space as it is; the placement changes nothing.
    fn features_at(
        &self,
        image: &Tensor,
        layers: &[usize],
        _placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        self.features(image, &vgg_layers(layers))
    }

    /// The maps in VGG's own precision, as its forward pass leaves them.
    fn loss_features(
        &self,
        image: &Tensor,
        layers: &[usize],
        _placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        self.features_native(image, &vgg_layers(layers))
    }
}

/// VGG-19's layers by their indices in the network's layer list.
fn vgg_layers(indices: &[usize]) -> Vec<Layer> {
    indices.iter().map(|&i| Layer::from_index(i)).collect()
}

impl FeatureNetwork for Lite0 {
    fn backbone(&self) -> Backbone {
        Backbone::Lite
    }

    fn device(&self) -> Device {
        Lite0::device(self)
    }

    fn precision(&self) -> Precision {
        Lite0::precision(self)
    }

    fn set_precision(&mut self, precision: Precision) -> Result<()> {
        Lite0::set_precision(self, precision)
    }

    fn compute_weight_bytes(&self) -> u64 {
        Lite0::compute_weight_bytes(self)
    }

    /// Lite0's input made from the Caffe-space image inside the differentiable pass.
    fn features_at(
        &self,
        image: &Tensor,
        layers: &[usize],
        placement: Option<Placement>,
    ) -> Result<Vec<Tensor>> {
        self.features_placed(
            &lite::rgb_to_lite(&caffe_to_rgb(image)?)?,
            layers,
            placement,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backbone_is_listed_once_at_its_index_and_parses_by_its_name() {
        for (index, backbone) in Backbone::ALL.into_iter().enumerate() {
            assert_eq!(backbone.index(), index);
            assert_eq!(Backbone::parse(backbone.name()).unwrap(), backbone);
        }
        let err = Backbone::parse("resnet").unwrap_err().to_string();
        assert!(err.contains("expected vgg19 or lite"), "{err}");
    }
}
