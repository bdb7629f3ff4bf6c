//! Limited-memory BFGS on tch tensors (tch has none), with a backtracking Armijo line search.
//!
//! The line search is what keeps it stable on style transfer: plain fixed-step L-BFGS (as in the
//! Lua neural-style) accepts any step, so one bad curvature estimate can throw the image to
//! infinity. Here a step is accepted only if it decreases the loss enough; a non-finite trial
//! shrinks the step tenfold.

use std::collections::VecDeque;

use tch::Tensor;

use crate::engine::optim::{dot, Evaluation, Objective, Optimizer, StepOutcome};
use crate::error::Result;

/// Armijo sufficient-decrease constant.
const ARMIJO_C1: f64 = 1e-4;
/// A curvature pair with yᵀs below this carries no usable information and is skipped.
const MIN_CURVATURE: f64 = 1e-10;

pub struct Lbfgs {
    first_step: f64,
    history_size: usize,
    max_line_search: usize,
    step_scale: f64,
    /// The loss and gradient at the current point, kept between iterations.
    current: Option<Evaluation>,
    /// Curvature pairs, oldest first: s = Δpoint, y = Δgradient, rho = 1 / yᵀs.
    pairs: VecDeque<(Tensor, Tensor, f64)>,
    evaluations: u64,
}

impl Lbfgs {
    /// `first_step` is the largest change of any coordinate on a first iteration (before any
    /// curvature is known); the line search may shorten it.
    pub fn new(history_size: usize, first_step: f64) -> Self {
        Lbfgs {
            first_step,
            history_size: history_size.max(1),
            max_line_search: 8,
            step_scale: 1.0,
            current: None,
            pairs: VecDeque::new(),
            evaluations: 0,
        }
    }

    /// The two-loop recursion: −H·g with H the L-BFGS inverse-Hessian estimate.
    fn direction(&self, grad: &Tensor) -> Tensor {
        let mut q = grad.copy();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let alpha = rho * dot(s, &q);
            q -= y * alpha;
            alphas.push(alpha);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            // Scale the initial Hessian by the newest pair: the step then has the right units.
            q *= dot(s, y) / dot(y, y);
        }
        for ((s, y, rho), alpha) in self.pairs.iter().zip(alphas.into_iter().rev()) {
            let beta = rho * dot(y, &q);
            q += s * (alpha - beta);
        }
        -q
    }

    fn remember(&mut self, s: Tensor, y: Tensor) {
        let curvature = dot(&s, &y);
        if curvature > MIN_CURVATURE && curvature.is_finite() {
            if self.pairs.len() == self.history_size {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / curvature));
        }
    }

    fn evaluate(&mut self, objective: &mut Objective, point: &Tensor) -> Result<Evaluation> {
        self.evaluations += 1;
        objective(point)
    }
}

impl Optimizer for Lbfgs {
    fn iterate(&mut self, point: &mut Tensor, objective: &mut Objective) -> Result<StepOutcome> {
        let here = match self.current.take() {
            Some(evaluation) => evaluation,
            None => self.evaluate(objective, point)?,
        };
        if !here.is_finite() {
            return Ok(StepOutcome::NonFinite);
        }
        if here.grad.abs().max().double_value(&[]) == 0.0 {
            // A stationary point: there is no direction to search in.
            let parts = here.parts;
            self.current = Some(here);
            return Ok(StepOutcome::Stalled(parts));
        }
        let mut direction = self.direction(&here.grad);
        let mut slope = dot(&here.grad, &direction);
        if !(slope < 0.0 && slope.is_finite()) {
            // Not a descent direction: the memory is misleading, fall back to steepest descent.
            self.pairs.clear();
            direction = -&here.grad;
            slope = -dot(&here.grad, &here.grad);
        }
        let mut step = if self.pairs.is_empty() {
            // No curvature known yet: move no coordinate by more than `first_step`. (torch's
            // unit-L1 first step is ~1e-8 px on a 512 px image: a change reduced precision
            // cannot even measure, so the line search would never accept it.)
            let largest = direction.abs().max().double_value(&[]);
            (self.first_step / largest.max(f64::MIN_POSITIVE)) * self.step_scale
        } else {
            self.step_scale
        };

        let mut best_trial: Option<(Tensor, Evaluation)> = None;
        let mut any_finite_trial = false;
        for _ in 0..self.max_line_search {
            let trial_point = &*point + &direction * step;
            let trial = match self.evaluate(objective, &trial_point) {
                Ok(trial) => trial,
                Err(error) => {
                    // Cancelled or failed mid-search: the point is untouched, keep what we knew.
                    self.current = Some(here);
                    return Err(error);
                }
            };
            if !trial.is_finite() {
                step *= 0.1;
                continue;
            }
            any_finite_trial = true;
            let sufficient = here.loss() + ARMIJO_C1 * step * slope;
            if trial.loss() <= sufficient {
                best_trial = Some((trial_point, trial));
                break;
            }
            // Minimum of the quadratic through f(0), f'(0) and f(step), kept within [0.1, 0.5]·step.
            let curvature = trial.loss() - here.loss() - slope * step;
            let interpolated = -slope * step * step / (2.0 * curvature);
            let keep_best = best_trial
                .as_ref()
                .is_none_or(|(_, b)| trial.loss() < b.loss());
            if trial.loss() < here.loss() && keep_best {
                best_trial = Some((trial_point, trial));
            }
            step = interpolated.clamp(0.1 * step, 0.5 * step);
        }

        match best_trial {
            Some((new_point, accepted)) => {
                self.remember(&new_point - &*point, &accepted.grad - &here.grad);
                let parts = accepted.parts;
                *point = new_point;
                self.current = Some(accepted);
                Ok(StepOutcome::Moved(parts))
            }
            None => {
                // Nothing decreased the loss: drop the memory so the next iteration restarts from
                // steepest descent, and stay where we are.
                self.pairs.clear();
                let parts = here.parts;
                self.current = Some(here);
                if any_finite_trial {
                    Ok(StepOutcome::Stalled(parts))
                } else {
                    Ok(StepOutcome::NonFinite)
                }
            }
        }
    }

    fn reset(&mut self) {
        self.current = None;
        self.pairs.clear();
    }

    fn scale_steps(&mut self, factor: f64) {
        self.step_scale *= factor;
    }

    fn evaluations(&self) -> u64 {
        self.evaluations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::loss_parts::LossParts;
    use tch::{Kind, Tensor};

    fn evaluation(loss: f64, grad: Tensor) -> Evaluation {
        Evaluation {
            parts: LossParts {
                total: loss,
                ..Default::default()
            },
            grad,
        }
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.reshape([-1])).unwrap()
    }

    fn minimise(
        start: &[f64],
        iterations: usize,
        mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    ) -> Vec<f64> {
        let mut point = Tensor::from_slice(start);
        let mut optimiser = Lbfgs::new(10, 1.0);
        let mut objective = |p: &Tensor| {
            let (loss, grad) = f(&values(p));
            Ok(evaluation(loss, Tensor::from_slice(&grad)))
        };
        for _ in 0..iterations {
            optimiser.iterate(&mut point, &mut objective).unwrap();
        }
        values(&point)
    }

    #[test]
    fn reaches_rosenbrock_minimum() {
        let rosenbrock = |p: &[f64]| {
            let (x, y) = (p[0], p[1]);
            let loss = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let grad = vec![
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            (loss, grad)
        };
        let end = minimise(&[-1.2, 1.0], 200, rosenbrock);
        assert!(
            (end[0] - 1.0).abs() < 1e-5 && (end[1] - 1.0).abs() < 1e-5,
            "ended at {end:?}"
        );
    }

    #[test]
    fn reaches_quadratic_minimum() {
        // f(x) = ½ Σ aᵢ xᵢ² − Σ bᵢ xᵢ, minimum at xᵢ = bᵢ / aᵢ.
        let a: Vec<f64> = (1..=20).map(|i| i as f64).collect();
        let b: Vec<f64> = (1..=20).map(|i| (i as f64).sin() * 3.0).collect();
        let quadratic = |p: &[f64]| {
            let loss = p
                .iter()
                .zip(&a)
                .zip(&b)
                .map(|((x, a), b)| 0.5 * a * x * x - b * x)
                .sum();
            let grad = p
                .iter()
                .zip(&a)
                .zip(&b)
                .map(|((x, a), b)| a * x - b)
                .collect();
            (loss, grad)
        };
        let end = minimise(&[0.0; 20], 60, quadratic);
        for ((x, a), b) in end.iter().zip(&a).zip(&b) {
            assert!((x - b / a).abs() < 1e-6, "{x} vs {}", b / a);
        }
    }

    #[test]
    fn a_zero_gradient_is_a_stall_not_a_blow_up() {
        let mut point = Tensor::from_slice(&[3.0f64]);
        let mut optimiser = Lbfgs::new(5, 1.0);
        let mut objective = |p: &Tensor| Ok(evaluation(1.0, p.zeros_like()));
        let outcome = optimiser.iterate(&mut point, &mut objective).unwrap();
        assert!(matches!(outcome, StepOutcome::Stalled(_)), "{outcome:?}");
        assert_eq!(values(&point), vec![3.0]);
    }

    #[test]
    fn non_finite_everywhere_is_reported_and_point_kept() {
        let mut point = Tensor::from_slice(&[1.0f64, 2.0]);
        let mut optimiser = Lbfgs::new(5, 1.0);
        let mut objective = |p: &Tensor| Ok(evaluation(f64::NAN, p.ones_like()));
        let outcome = optimiser.iterate(&mut point, &mut objective).unwrap();
        assert_eq!(outcome, StepOutcome::NonFinite);
        assert_eq!(values(&point), vec![1.0, 2.0]);
    }

    #[test]
    fn a_blow_up_in_the_line_search_shrinks_the_step() {
        // f = x² but "explodes" for |x| > 1.5: the first full step from x = 1 overshoots into it.
        let mut point = Tensor::from_slice(&[1.0f64]).to_kind(Kind::Double);
        let mut optimiser = Lbfgs::new(5, 1.0);
        optimiser.scale_steps(1e6);
        let mut objective = |p: &Tensor| {
            let x = values(p)[0];
            let loss = if x.abs() > 1.5 { f64::INFINITY } else { x * x };
            Ok(evaluation(loss, Tensor::from_slice(&[2.0 * x])))
        };
        let outcome = optimiser.iterate(&mut point, &mut objective).unwrap();
        assert!(matches!(outcome, StepOutcome::Moved(_)), "{outcome:?}");
        assert!(values(&point)[0].abs() < 1.0);
    }
}
