//! The temporal term of video stylisation: the result pulled towards the previous stylised frame
//! warped by optical flow, where the flow can be trusted ([`crate::engine::image::temporal`] holds
//! the target and its per-pixel weights). A pixel-space term: its weight takes neither the
//! strength nor the backbone's gain.

use tch::Tensor;

use super::{
    Features, Gain, Inputs, StageBuild, StageKind, Term, TermTargets, TileBuild, TiledBuild,
    TiledTerm,
};
use crate::engine::image::temporal::StageTemporal;
use crate::error::{Error, Result};

pub struct Temporal;

impl Term for Temporal {
    fn name(&self) -> &'static str {
        "temporal"
    }

    fn gain(&self) -> Gain {
        Gain::None
    }

    fn applies(&self, inputs: &Inputs) -> bool {
        inputs.temporal.is_some()
    }

    fn image_layers(&self, _inputs: &Inputs, _kind: StageKind) -> Result<Vec<usize>> {
        Ok(Vec::new())
    }

    fn whole(&self, build: &StageBuild) -> Result<Box<dyn TermTargets>> {
        Ok(Box::new(at_stage(build.inputs, build.stage, build.device)?))
    }

    fn tiled(&self, build: &TiledBuild) -> Result<Box<dyn TiledTerm>> {
        Ok(Box::new(at_stage(build.inputs, build.stage, build.device)?))
    }

    fn probe_key(&self, _inputs: &Inputs) -> String {
        "temporal".into()
    }
}

fn at_stage(
    inputs: &Inputs,
    stage: crate::engine::plan::schedule::Stage,
    device: tch::Device,
) -> Result<StageTemporal> {
    let target = inputs
        .temporal
        .ok_or_else(|| Error::Internal("the temporal term without a target".into()))?;
    target.at(stage.width, stage.height, device)
}

impl TermTargets for StageTemporal {
    fn value(&self, _features: &Features, image: &Tensor) -> Result<Tensor> {
        self.loss(image)
    }
}

impl TiledTerm for StageTemporal {
    fn tile(&self, build: &TileBuild) -> Result<Box<dyn TermTargets>> {
        Ok(Box::new(self.window(&build.tile.window)?))
    }
}
