//! The total-variation term: squared differences between neighbouring pixels, a smoothness prior
//! against the high-frequency noise the style term alone leaves.

use tch::Tensor;

use super::{
    Features, Gain, Inputs, StageBuild, StageKind, Term, TermTargets, TileBuild, TiledBuild,
    TiledTerm,
};
use crate::error::Result;

pub struct TotalVariation;

impl Term for TotalVariation {
    fn name(&self) -> &'static str {
        "tv"
    }

    fn gain(&self) -> Gain {
        Gain::None
    }

    fn image_layers(&self, _inputs: &Inputs, _kind: StageKind) -> Result<Vec<usize>> {
        Ok(Vec::new())
    }

    fn whole(&self, _build: &StageBuild) -> Result<Box<dyn TermTargets>> {
        Ok(Box::new(Pixels))
    }

    fn tiled(&self, _build: &TiledBuild) -> Result<Box<dyn TiledTerm>> {
        Ok(Box::new(Pixels))
    }
}

/// The term needs nothing but the image's pixels, whole or in a tile.
struct Pixels;

impl TermTargets for Pixels {
    fn value(&self, _features: &Features, image: &Tensor) -> Result<Tensor> {
        Ok(super::total_variation(image))
    }
}

impl TiledTerm for Pixels {
    fn tile(&self, _build: &TileBuild) -> Result<Box<dyn TermTargets>> {
        Ok(Box::new(Pixels))
    }
}
