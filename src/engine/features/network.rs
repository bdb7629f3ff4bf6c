//! The networks of a session, each loaded on first use: a session whose backbone is lite never
//! reads VGG-19 (a preview starts sooner and holds less memory). What a backbone is and what a
//! loaded one answers is [`super::backbone`]'s.

use std::path::PathBuf;

use tch::Device;

use crate::engine::device::precision::PrecisionChoice;
use crate::engine::features::backbone::{Backbone, FeatureNetwork, Network};
use crate::engine::features::vgg::Vgg19;
use crate::error::{Error, Result};

/// The networks of a session: one slot per backbone, in [`Backbone::ALL`] order.
pub struct Networks {
    device: Device,
    slots: Vec<Slot>,
}

/// A backbone's network, or where to load it from once a run needs it.
enum Slot {
    Loaded(Box<dyn FeatureNetwork>),
    /// Not read yet: from this file (VGG-19's, whose header
    /// [`crate::engine::features::weights::check`] found sound when the session was opened), or
    /// from the backbone's default location (None).
    Pending(Option<PathBuf>),
}

impl Networks {
    /// Networks around an already loaded VGG-19 (it keeps its device).
    pub fn new(vgg: Vgg19) -> Networks {
        let mut networks = Networks::unloaded(vgg.device());
        networks.slots[Backbone::Vgg19.index()] = Slot::Loaded(Box::new(vgg));
        networks
    }

    /// Networks on `device` that load VGG-19 from `vgg_weights` when it is first needed.
    pub fn lazy(vgg_weights: PathBuf, device: Device) -> Networks {
        let mut networks = Networks::unloaded(device);
        networks.slots[Backbone::Vgg19.index()] = Slot::Pending(Some(vgg_weights));
        networks
    }

    fn unloaded(device: Device) -> Networks {
        Networks {
            device,
            slots: Backbone::ALL.map(|_| Slot::Pending(None)).into(),
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Whether VGG-19's weights have been read (for tests and measurements).
    pub fn vgg_loaded(&self) -> bool {
        matches!(self.slots[Backbone::Vgg19.index()], Slot::Loaded(_))
    }

    /// Loads what `backbone` needs and sets its precision; an error changes nothing.
    pub fn prepare(&mut self, backbone: Backbone, precision: PrecisionChoice) -> Result<()> {
        let device = self.device;
        let precision = backbone.resolve_precision(precision, device);
        let slot = &mut self.slots[backbone.index()];
        match slot {
            Slot::Loaded(network) => network.set_precision(precision),
            Slot::Pending(weights) => {
                let path = match weights {
                    Some(path) => path.clone(),
                    None => backbone.default_weights()?,
                };
                *slot = Slot::Loaded(backbone.load(&path, device, precision)?);
                Ok(())
            }
        }
    }

    /// The network of `backbone`, which [`Networks::prepare`] must have loaded.
    pub fn get(&self, backbone: Backbone) -> Result<Network<'_>> {
        match &self.slots[backbone.index()] {
            Slot::Loaded(network) => Ok(network.as_ref()),
            Slot::Pending(_) => Err(Error::State(format!(
                "the {} backbone is not loaded",
                backbone.name()
            ))),
        }
    }
}
