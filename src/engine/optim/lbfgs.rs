//! Limited-memory BFGS on tch tensors (tch has none), with a backtracking Armijo line search.
//!
//! The line search is what keeps it stable on style transfer: plain fixed-step L-BFGS (as in the
//! Lua neural-style) accepts any step, so one bad curvature estimate can throw the image to
//! infinity. Here a step is accepted only if it decreases the loss enough; a non-finite trial
//! shrinks the step tenfold.
//!
//! The search direction uses the compact representation of the L-BFGS matrix (Byrd, Nocedal and
//! Schnabel 1994) instead of the two-loop recursion. Both compute the same −H·g, but the two-loop
//! form is 4m dependent vector operations with a scalar read back after each (on a GPU: hundreds
//! of kernel launches and host synchronisations per iteration at m = 100), while the compact form
//! is two matrix-vector products over the stored pairs, a few m×m operations and one more
//! product, all queued on the device without reading anything back.

use tch::{Kind, Tensor};

use crate::engine::optim::{dot, Evaluation, Objective, Optimizer, StepOutcome};
use crate::error::Result;

/// Armijo sufficient-decrease constant.
const ARMIJO_C1: f64 = 1e-4;
/// A curvature pair with yᵀs below this carries no usable information and is skipped.
const MIN_CURVATURE: f64 = 1e-10;
/// Pairs the history holds before it first grows (it doubles up to the history size).
const INITIAL_CAPACITY: i64 = 8;

/// The curvature pairs s = Δpoint, y = Δgradient as rows of two matrices on the device, with
/// their inner products sᵢ·yⱼ and yᵢ·yⱼ kept up to date as pairs come and go.
struct History {
    /// [capacity, n] each; rows are slots of a ring once the capacity reaches the history size.
    s: Tensor,
    y: Tensor,
    /// [capacity, capacity] f64: `s_dot_y[i][j]` = sᵢ·yⱼ, `y_dot_y[i][j]` = yᵢ·yⱼ (by slot).
    s_dot_y: Tensor,
    y_dot_y: Tensor,
    /// Slots in age order, oldest first.
    order: Vec<i64>,
}

impl History {
    fn new(like: &Tensor, capacity: i64) -> Self {
        let n = like.numel() as i64;
        let options = (like.kind(), like.device());
        let small = (Kind::Double, like.device());
        History {
            s: Tensor::zeros([capacity, n], options),
            y: Tensor::zeros([capacity, n], options),
            s_dot_y: Tensor::zeros([capacity, capacity], small),
            y_dot_y: Tensor::zeros([capacity, capacity], small),
            order: Vec::new(),
        }
    }

    fn capacity(&self) -> i64 {
        self.s.size()[0]
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    /// The same pairs in a history of `capacity` slots (only grown before the ring wraps, so the
    /// slots are still in age order).
    fn grown(&self, capacity: i64) -> History {
        let grown = History::new(&self.s.get(0), capacity);
        let used = self.capacity();
        grown.s.narrow(0, 0, used).copy_(&self.s);
        grown.y.narrow(0, 0, used).copy_(&self.y);
        grown
            .s_dot_y
            .narrow(0, 0, used)
            .narrow(1, 0, used)
            .copy_(&self.s_dot_y);
        grown
            .y_dot_y
            .narrow(0, 0, used)
            .narrow(1, 0, used)
            .copy_(&self.y_dot_y);
        History {
            order: self.order.clone(),
            ..grown
        }
    }

    /// Stores a pair in the next free slot, or over the oldest when full.
    fn push(&mut self, s: &Tensor, y: &Tensor) {
        let slot = if (self.len() as i64) < self.capacity() {
            self.len() as i64
        } else {
            self.order.remove(0)
        };
        self.s.get(slot).copy_(s);
        self.y.get(slot).copy_(y);
        // New row and column of the inner products (stale slots are overwritten, unused are 0).
        let s_dot_new_y = self.s.mv(y).to_kind(Kind::Double);
        let new_s_dot_y = self.y.mv(s).to_kind(Kind::Double);
        let y_dot_new_y = self.y.mv(y).to_kind(Kind::Double);
        self.s_dot_y.select(1, slot).copy_(&s_dot_new_y);
        self.s_dot_y.select(0, slot).copy_(&new_s_dot_y);
        self.y_dot_y.select(1, slot).copy_(&y_dot_new_y);
        self.y_dot_y.select(0, slot).copy_(&y_dot_new_y);
        self.order.push(slot);
    }

    /// H·g for the L-BFGS inverse-Hessian estimate H with H₀ = γI, γ = sᵀy / yᵀy of the newest
    /// pair. With a = Sᵀg, b = Yᵀg, R the upper triangle of SᵀY (age order), D its diagonal:
    ///   u = R⁻¹a,  p = R⁻ᵀ((D + γYᵀY)u − γb),  H·g = γg + S·p − γY·u.
    fn times(&self, grad: &Tensor) -> Tensor {
        let device = grad.device();
        let slots = self.capacity();
        // The slots in age order are always a rotation of 0..slots, so the index tensor is made
        // on the device (a copy from the host would synchronise a GPU every iteration).
        let order = (Tensor::arange(self.len() as i64, (Kind::Int64, device)) + self.order[0])
            .remainder(slots);
        let age = |v: &Tensor| v.to_kind(Kind::Double).index_select(0, &order);
        let a = age(&self.s.mv(grad)).unsqueeze(1);
        let b = age(&self.y.mv(grad)).unsqueeze(1);
        let by_age = |m: &Tensor| m.index_select(0, &order).index_select(1, &order);
        let s_dot_y = by_age(&self.s_dot_y);
        let y_dot_y = by_age(&self.y_dot_y);
        let r = s_dot_y.triu(0);
        let d = s_dot_y.diagonal(0, 0, 1);
        let newest = self.len() as i64 - 1;
        let gamma = d.get(newest) / y_dot_y.get(newest).get(newest);
        let u = r.linalg_solve_triangular(&a, true, true, false);
        let w = &u * d.unsqueeze(1) + y_dot_y.mm(&u) * &gamma - &b * &gamma;
        let p = r
            .tr()
            .linalg_solve_triangular(&w, false, true, false)
            .squeeze_dim(1);
        // Back to slot order, zero for unused slots, in the gradient's precision.
        let scatter = |v: &Tensor| {
            Tensor::zeros([slots], (Kind::Double, device))
                .index_copy(0, &order, v)
                .to_kind(grad.kind())
        };
        let p_slots = scatter(&p);
        let u_slots = scatter(&u.squeeze_dim(1));
        let gamma = gamma.to_kind(grad.kind());
        grad * &gamma + self.s.tr().mv(&p_slots) - self.y.tr().mv(&u_slots) * &gamma
    }
}

pub struct Lbfgs {
    first_step: f64,
    history_size: usize,
    max_line_search: usize,
    step_scale: f64,
    /// The loss and gradient at the current point, kept between iterations.
    current: Option<Evaluation>,
    /// Curvature pairs; None until the first is accepted (and after a reset).
    history: Option<History>,
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
            history: None,
            evaluations: 0,
        }
    }

    fn pairs(&self) -> usize {
        self.history.as_ref().map_or(0, History::len)
    }

    /// −H·g, flattened.
    fn direction(&self, grad: &Tensor) -> Tensor {
        let flat = grad.reshape([-1]);
        match &self.history {
            Some(history) if history.len() > 0 => -history.times(&flat),
            _ => -flat,
        }
    }

    fn remember(&mut self, s: Tensor, y: Tensor) {
        let (s, y) = (s.reshape([-1]), y.reshape([-1]));
        // The one read-back of an iteration outside the evaluations: the pair is kept only if
        // its curvature is positive (the update then keeps H positive definite).
        let curvature = dot(&s, &y);
        if !(curvature > MIN_CURVATURE && curvature.is_finite()) {
            return;
        }
        let limit = self.history_size as i64;
        let history = match self.history.take() {
            Some(h) if h.s.size()[1] == s.numel() as i64 => h,
            _ => History::new(&s, INITIAL_CAPACITY.min(limit)),
        };
        let mut history =
            if history.len() as i64 == history.capacity() && history.capacity() < limit {
                history.grown((2 * history.capacity()).min(limit))
            } else {
                history
            };
        history.push(&s, &y);
        self.history = Some(history);
    }

    fn forget(&mut self) {
        self.history = None;
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
        if here.grad_max_abs == 0.0 {
            // A stationary point: there is no direction to search in.
            let parts = here.parts.clone();
            self.current = Some(here);
            return Ok(StepOutcome::Stalled(parts));
        }
        let mut direction = self.direction(&here.grad).view_as(&here.grad);
        let mut slope = dot(&here.grad, &direction);
        if !(slope < 0.0 && slope.is_finite()) {
            // Not a descent direction: the memory is misleading, fall back to steepest descent.
            self.forget();
            direction = -&here.grad;
            slope = -dot(&here.grad, &here.grad);
        }
        let mut step = if self.pairs() == 0 {
            // No curvature known yet: move no coordinate by more than `first_step`. (torch's
            // unit-L1 first step is ~1e-8 px on a 512 px image: a change reduced precision
            // cannot even measure, so the line search would never accept it.) The direction is
            // −g here, whose largest element the evaluation already read.
            (self.first_step / here.grad_max_abs.max(f64::MIN_POSITIVE)) * self.step_scale
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
                let parts = accepted.parts.clone();
                *point = new_point;
                self.current = Some(accepted);
                Ok(StepOutcome::Moved(parts))
            }
            None => {
                // Nothing decreased the loss: drop the memory so the next iteration restarts from
                // steepest descent, and stay where we are.
                self.forget();
                let parts = here.parts.clone();
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
        self.forget();
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
    use crate::engine::loss::LossParts;
    use tch::{Kind, Tensor};

    fn evaluation(loss: f64, grad: Tensor) -> Evaluation {
        let parts = LossParts {
            total: loss,
            ..Default::default()
        };
        Evaluation::new(parts, grad).unwrap()
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

    /// The textbook two-loop recursion over `pairs` (oldest first): the reference H·g.
    fn two_loop(pairs: &[(Vec<f64>, Vec<f64>)], g: &[f64]) -> Vec<f64> {
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let mut q = g.to_vec();
        let mut alphas = Vec::new();
        for (s, y) in pairs.iter().rev() {
            let alpha = dot(s, &q) / dot(s, y);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= alpha * y);
            alphas.push(alpha);
        }
        let (s, y) = pairs.last().unwrap();
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|q| *q *= gamma);
        for ((s, y), alpha) in pairs.iter().zip(alphas.into_iter().rev()) {
            let beta = dot(y, &q) / dot(s, y);
            q.iter_mut()
                .zip(s)
                .for_each(|(q, s)| *q += (alpha - beta) * s);
        }
        q
    }

    #[test]
    fn compact_form_equals_the_two_loop_recursion_as_the_history_grows_and_wraps() {
        let n = 12;
        // y = A·s with A symmetric positive definite keeps every curvature positive.
        let a = |s: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|i| (i as f64 + 1.0) * s[i] + 0.3 * s[(i + 1) % n] + 0.3 * s[(i + n - 1) % n])
                .collect()
        };
        let mut state = 7u64;
        let mut random = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        // 11 pairs: the history grows from 8 slots to 11, then wraps.
        let limit = 11;
        let mut optimiser = Lbfgs::new(limit, 1.0);
        let mut pairs = Vec::new();
        for round in 0..16 {
            let s: Vec<f64> = (0..n).map(|_| random()).collect();
            let y = a(&s);
            optimiser.remember(Tensor::from_slice(&s), Tensor::from_slice(&y));
            pairs.push((s, y));
            let kept = &pairs[pairs.len().saturating_sub(limit)..];
            let g: Vec<f64> = (0..n).map(|_| random()).collect();
            let expected = two_loop(kept, &g);
            let got = values(
                &optimiser
                    .history
                    .as_ref()
                    .unwrap()
                    .times(&Tensor::from_slice(&g)),
            );
            for (e, o) in expected.iter().zip(&got) {
                assert!(
                    (e - o).abs() < 1e-9 * (1.0 + e.abs()),
                    "round {round}: {e} vs {o}"
                );
            }
        }
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
