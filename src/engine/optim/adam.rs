//! Adam on a single tensor: one objective evaluation per iteration, robust to noisy gradients,
//! but needs more iterations than L-BFGS for the same quality.

use tch::Tensor;

use crate::engine::optim::{Objective, Optimizer, StepOutcome};
use crate::error::Result;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

pub struct Adam {
    /// Step length in Caffe pixel units (0–255 scale).
    learning_rate: f64,
    step_scale: f64,
    moments: Option<(Tensor, Tensor)>,
    steps: i32,
    evaluations: u64,
}

impl Adam {
    pub fn new(learning_rate: f64) -> Self {
        Adam {
            learning_rate,
            step_scale: 1.0,
            moments: None,
            steps: 0,
            evaluations: 0,
        }
    }
}

impl Optimizer for Adam {
    fn iterate(&mut self, point: &mut Tensor, objective: &mut Objective) -> Result<StepOutcome> {
        self.evaluations += 1;
        let here = objective(point)?.read()?;
        if !here.is_finite() {
            return Ok(StepOutcome::NonFinite);
        }
        let grad = &here.grad;
        let (mean, square) = self
            .moments
            .get_or_insert_with(|| (grad.zeros_like(), grad.zeros_like()));
        *mean = &*mean * BETA1 + grad * (1.0 - BETA1);
        *square = &*square * BETA2 + grad.square() * (1.0 - BETA2);
        self.steps += 1;
        let mean_hat = &*mean / (1.0 - BETA1.powi(self.steps));
        let square_hat = &*square / (1.0 - BETA2.powi(self.steps));
        let update =
            mean_hat / (square_hat.sqrt() + EPSILON) * (self.learning_rate * self.step_scale);
        *point = &*point - update;
        Ok(StepOutcome::Moved(here.parts))
    }

    fn reset(&mut self) {
        self.moments = None;
        self.steps = 0;
    }

    fn scale_steps(&mut self, factor: f64) {
        self.step_scale *= factor;
    }

    fn evaluations(&self) -> u64 {
        self.evaluations
    }
}
