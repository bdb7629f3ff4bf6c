//! The optimisers, [`lbfgs`] (the default) and [`adam`], and what they share: the objective they
//! minimise and what one iteration reports.

pub mod adam;
pub mod lbfgs;

use tch::{Kind, Tensor};

use crate::engine::loss::LossParts;
use crate::error::Result;

/// The objective at one point: its value, its parts and its gradient (same shape as the point),
/// with the two facts about the gradient every optimiser checks, read back together with the loss
/// so that an evaluation costs one host synchronisation on a GPU.
pub struct Evaluation {
    pub parts: LossParts,
    pub grad: Tensor,
    /// Every gradient element is finite.
    pub grad_finite: bool,
    /// Largest |gradient element| (0 at a stationary point).
    pub grad_max_abs: f64,
}

impl Evaluation {
    /// Reads the gradient's facts from the device (one transfer).
    pub fn new(parts: LossParts, grad: Tensor) -> Result<Self> {
        let facts =
            crate::engine::device::readback::values(&Tensor::f_stack(&gradient_facts(&grad), 0)?)?;
        Ok(Evaluation {
            parts,
            grad,
            grad_finite: facts[0] != 0.0,
            grad_max_abs: facts[1],
        })
    }

    pub fn loss(&self) -> f64 {
        self.parts.total
    }

    /// True when the loss and every gradient element are finite.
    pub fn is_finite(&self) -> bool {
        self.parts.total.is_finite() && self.grad_finite
    }
}

/// [all elements finite (1 or 0), largest |element|] as f64 scalars on the gradient's device,
/// to be read back in one transfer with whatever else the caller needs.
pub fn gradient_facts(grad: &Tensor) -> [Tensor; 2] {
    [
        grad.isfinite().all().to_kind(Kind::Double),
        grad.abs().max().to_kind(Kind::Double),
    ]
}

/// Evaluates the objective at a point. An error (cancel, out of memory) aborts the iteration and
/// leaves the point and the optimiser as they were before it.
pub type Objective<'a> = dyn FnMut(&Tensor) -> Result<Evaluation> + 'a;

/// How one iteration ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    /// The point moved; the loss and its parts at the accepted point.
    Moved(LossParts),
    /// No acceptable step was found (converged or noisy); the point is unchanged.
    Stalled(LossParts),
    /// The objective was not finite at any point tried; the point is unchanged.
    NonFinite,
}

pub trait Optimizer: Send {
    /// Runs one iteration, updating `point` in place on success.
    fn iterate(&mut self, point: &mut Tensor, objective: &mut Objective) -> Result<StepOutcome>;
    /// Forgets everything learnt about the objective (new scale, rolled-back point, new targets).
    fn reset(&mut self);
    /// Multiplies all future step lengths by `factor` (the divergence guard shrinks them).
    fn scale_steps(&mut self, factor: f64);
    /// Objective evaluations made so far.
    fn evaluations(&self) -> u64;
}

/// Dot product of two same-shaped tensors, in f64 (one counted read-back).
pub fn dot(a: &Tensor, b: &Tensor) -> f64 {
    let product = a.reshape([-1]).dot(&b.reshape([-1]));
    crate::engine::device::readback::scalar(&product).unwrap_or(f64::NAN)
}
