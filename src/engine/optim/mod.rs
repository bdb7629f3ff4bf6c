//! The optimisers, [`lbfgs`] (the default) and [`adam`], and what they share: the objective they
//! minimise and what one iteration reports.

pub mod adam;
pub mod lbfgs;

use tch::{Kind, Tensor};

use crate::engine::device::readback;
use crate::engine::loss::LossParts;
use crate::error::Result;

/// An evaluation whose scalars are still on the device: the gradient, and the loss, its parts and
/// the two facts about the gradient every optimiser checks, stacked to be read back in one
/// transfer. The optimiser reads it together with the scalars of its own decisions (the search
/// direction's slope, the curvature of a step), so that an iteration costs one host
/// synchronisation on a GPU, not one per quantity.
pub struct UnreadEvaluation {
    grad: Tensor,
    /// f64 on the gradient's device: [total, each term in `names` order, every gradient element
    /// finite (1 or 0), largest |gradient element|].
    scalars: Tensor,
    names: Vec<&'static str>,
    /// A test hook made this evaluation's loss read as NaN.
    poisoned: bool,
}

impl UnreadEvaluation {
    /// `total` and each named term's value (one-element tensors of any float kind) and the
    /// gradient; nothing is read yet.
    pub fn new(total: &Tensor, terms: &[(&'static str, Tensor)], grad: Tensor) -> Result<Self> {
        let [finite, max_abs] = gradient_facts(&grad);
        let scalars: Vec<Tensor> = std::iter::once(total)
            .chain(terms.iter().map(|(_, value)| value))
            .map(|t| t.to_kind(Kind::Double))
            .chain([finite, max_abs])
            .collect();
        Ok(UnreadEvaluation {
            scalars: Tensor::f_stack(&scalars, 0)?,
            names: terms.iter().map(|(name, _)| *name).collect(),
            grad,
            poisoned: false,
        })
    }

    pub fn grad(&self) -> &Tensor {
        &self.grad
    }

    /// Makes the loss read as NaN (the test hooks' poisoned evaluations).
    pub fn poison_loss(&mut self) {
        self.poisoned = true;
    }

    /// The largest |gradient element| as a one-element f64 tensor on the device: what
    /// [`Evaluation::grad_max_abs`] will read.
    pub fn grad_max_abs(&self) -> Tensor {
        self.scalars.get(self.names.len() as i64 + 2)
    }

    /// Reads the evaluation back (one transfer).
    pub fn read(self) -> Result<Evaluation> {
        Ok(self.read_with(&[])?.0)
    }

    /// Reads the evaluation and `extra` (one-element tensors on the same device, any float kind)
    /// back in one transfer; the extra values come back as f64 in their order.
    pub fn read_with(self, extra: &[Tensor]) -> Result<(Evaluation, Vec<f64>)> {
        let (mut evaluations, values) = read_together(vec![self], extra)?;
        Ok((evaluations.remove(0), values))
    }

    /// The evaluation from its scalars as read back, in [`UnreadEvaluation::scalars`] order.
    fn with_values(self, values: &[f64]) -> Evaluation {
        let n = self.names.len();
        let total = if self.poisoned { f64::NAN } else { values[0] };
        Evaluation {
            parts: LossParts {
                total,
                terms: self
                    .names
                    .iter()
                    .copied()
                    .zip(values[1..=n].iter().copied())
                    .collect(),
            },
            grad: self.grad,
            grad_finite: values[n + 1] != 0.0,
            grad_max_abs: values[n + 2],
        }
    }
}

/// Reads `evaluations` and `extra` (one-element tensors on their device, any float kind) back in
/// one transfer; the extra values come back as f64 in their order.
pub fn read_together(
    evaluations: Vec<UnreadEvaluation>,
    extra: &[Tensor],
) -> Result<(Vec<Evaluation>, Vec<f64>)> {
    let values = match (evaluations.as_slice(), extra) {
        ([only], []) => readback::values(&only.scalars)?,
        _ => {
            let all: Vec<Tensor> = evaluations
                .iter()
                .map(|e| e.scalars.shallow_clone())
                .chain(extra.iter().map(|t| t.to_kind(Kind::Double).reshape([1])))
                .collect();
            readback::values(&Tensor::f_cat(&all, 0)?)?
        }
    };
    let mut rest = values.as_slice();
    let evaluations = evaluations
        .into_iter()
        .map(|unread| {
            let (own, after) = rest.split_at(unread.names.len() + 3);
            rest = after;
            unread.with_values(own)
        })
        .collect();
    Ok((evaluations, rest.to_vec()))
}

/// The objective at one point, read back: its value, its parts and its gradient (same shape as
/// the point), with the two facts about the gradient every optimiser checks.
pub struct Evaluation {
    pub parts: LossParts,
    pub grad: Tensor,
    /// Every gradient element is finite.
    pub grad_finite: bool,
    /// Largest |gradient element| (0 at a stationary point).
    pub grad_max_abs: f64,
}

impl Evaluation {
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
fn gradient_facts(grad: &Tensor) -> [Tensor; 2] {
    [
        grad.isfinite().all().to_kind(Kind::Double),
        grad.abs().max().to_kind(Kind::Double),
    ]
}

/// Evaluates the objective at a point, leaving its scalars on the device for the optimiser to
/// read with its own. An error (cancel, out of memory) aborts the iteration and leaves the point
/// and the optimiser as they were before it.
pub type Objective<'a> = dyn FnMut(&Tensor) -> Result<UnreadEvaluation> + 'a;

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

/// Dot product of two same-shaped tensors as a one-element tensor on their device (f32 for f32
/// tensors), to be read back with an evaluation.
pub fn dot(a: &Tensor, b: &Tensor) -> Tensor {
    a.reshape([-1]).dot(&b.reshape([-1]))
}
