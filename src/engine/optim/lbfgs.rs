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
//!
//! The host reads once per evaluation and no more (on a GPU each read waits for the queued work):
//! a trial's loss comes back with the scalars its decisions need, the direction's slope and the
//! step's curvature sᵀy, and a first iteration's start point with its first trial (whose step is
//! computed on the device from the start's gradient). An iteration whose first trial is accepted
//! reads once; each backtracking trial reads once more, since its step comes from the last
//! trial's loss.

use tch::{Kind, Tensor};

use crate::engine::optim::{
    dot, read_together, Evaluation, Objective, Optimizer, StepOutcome, UnreadEvaluation,
};
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

/// A point the line search tried, read back, with what the history needs of it if it is
/// accepted.
struct Trial {
    point: Tensor,
    evaluation: Evaluation,
    /// sᵀy of the step to it (s = Δpoint, y = Δgradient), read with its evaluation.
    curvature: f64,
}

/// What a line search knows before it starts when its first trial was read with the start
/// point: the slope, the first step and that trial.
struct FirstTrial {
    slope: f64,
    step: f64,
    trial: Trial,
}

/// How a line search along a descent direction ended: the trial it accepted, if any, and whether
/// any trial was finite.
struct SearchEnd {
    accepted: Option<Trial>,
    any_finite_trial: bool,
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

    /// Keeps the pair (s, y) if its curvature sᵀy is positive (the update then keeps H positive
    /// definite).
    fn remember(&mut self, s: Tensor, y: Tensor, curvature: f64) {
        if !(curvature > MIN_CURVATURE && curvature.is_finite()) {
            return;
        }
        let (s, y) = (s.reshape([-1]), y.reshape([-1]));
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

    fn evaluate(&mut self, objective: &mut Objective, point: &Tensor) -> Result<UnreadEvaluation> {
        self.evaluations += 1;
        objective(point)
    }

    /// The first step of steepest descent without curvature known: no coordinate moves by more
    /// than `first_step`. (torch's unit-L1 first step is ~1e-8 px on a 512 px image: a change
    /// reduced precision cannot even measure, so the line search would never accept it.)
    fn first_step(&self, grad_max_abs: f64) -> f64 {
        (self.first_step / grad_max_abs.max(f64::MIN_POSITIVE)) * self.step_scale
    }

    /// [`Lbfgs::first_step`] on the device, from the largest |gradient element| there (f64): the
    /// same f64 operations, so the same value (`max` differs only for NaN, where the start is not
    /// finite and its trial is discarded).
    fn first_step_on_device(&self, grad_max_abs: &Tensor) -> Result<Tensor> {
        Ok(
            Tensor::f_full([], self.first_step, (Kind::Double, grad_max_abs.device()))?
                .f_div(&grad_max_abs.f_clamp_min(f64::MIN_POSITIVE)?)?
                .f_mul_scalar(self.step_scale)?,
        )
    }

    /// The backtracking Armijo search from `point` (where the objective is `here`) along
    /// `direction`. Each trial is read back in one transfer with the scalars the decisions need:
    /// the step's curvature (for the history, if the trial is accepted) and, with the first
    /// trial, the direction's slope. `first`: the slope, the step and the first trial when they
    /// were read already (with the start point's evaluation). None when the slope is not a
    /// descent slope and the direction came from the memory (the trial is discarded; the caller
    /// falls back to steepest descent, whose slope this search then takes as it is).
    fn line_search(
        &mut self,
        point: &Tensor,
        objective: &mut Objective,
        here: &Evaluation,
        direction: &Tensor,
        first: Option<FirstTrial>,
    ) -> Result<Option<SearchEnd>> {
        // Read with the first trial, unless that was read already.
        let slope_on_device = first.is_none().then(|| dot(&here.grad, direction));
        let (mut known_slope, mut step, mut first_trial) = match first {
            Some(first) => (Some(first.slope), first.step, Some(first.trial)),
            None if self.pairs() == 0 => (None, self.first_step(here.grad_max_abs), None),
            None => (None, self.step_scale, None),
        };

        let mut accepted: Option<Trial> = None;
        let mut any_finite_trial = false;
        for _ in 0..self.max_line_search {
            let Trial {
                point: trial_point,
                evaluation: trial,
                curvature: step_curvature,
            } = match first_trial.take() {
                Some(trial) => trial,
                None => {
                    let trial_point = point + direction * step;
                    let unread = self.evaluate(objective, &trial_point)?;
                    let step_curvature =
                        dot(&(&trial_point - point), &(unread.grad() - &here.grad));
                    let mut read_along = vec![step_curvature];
                    if let (None, Some(slope)) = (known_slope, &slope_on_device) {
                        read_along.push(slope.shallow_clone());
                    }
                    let (trial, values) = unread.read_with(&read_along)?;
                    if known_slope.is_none() {
                        let slope = values[1];
                        if !(slope < 0.0 && slope.is_finite()) && self.pairs() > 0 {
                            return Ok(None);
                        }
                        known_slope = Some(slope);
                    }
                    Trial {
                        point: trial_point,
                        evaluation: trial,
                        curvature: values[0],
                    }
                }
            };
            let slope = known_slope.expect("read with the first trial");
            if !trial.is_finite() {
                step *= 0.1;
                continue;
            }
            any_finite_trial = true;
            let sufficient = here.loss() + ARMIJO_C1 * step * slope;
            if trial.loss() <= sufficient {
                accepted = Some(Trial {
                    point: trial_point,
                    evaluation: trial,
                    curvature: step_curvature,
                });
                break;
            }
            // Minimum of the quadratic through f(0), f'(0) and f(step), kept within [0.1, 0.5]·step.
            let curvature = trial.loss() - here.loss() - slope * step;
            let interpolated = -slope * step * step / (2.0 * curvature);
            let keep_best = accepted
                .as_ref()
                .is_none_or(|best| trial.loss() < best.evaluation.loss());
            if trial.loss() < here.loss() && keep_best {
                accepted = Some(Trial {
                    point: trial_point,
                    evaluation: trial,
                    curvature: step_curvature,
                });
            }
            step = interpolated.clamp(0.1 * step, 0.5 * step);
        }
        Ok(Some(SearchEnd {
            accepted,
            any_finite_trial,
        }))
    }

    /// The first iteration from a point not evaluated yet, with no curvature known (a new stage or
    /// tile visit, or after a reset): steepest descent, whose first trial is evaluated before the
    /// start point is read (its first step is computed on the device from the start's gradient),
    /// and both are read in one transfer with the slope and the step's curvature. The decisions
    /// are those of a start read first: a start that is not finite, or stationary, ends the
    /// iteration and its trial is discarded.
    fn iterate_from_unread_start(
        &mut self,
        point: &mut Tensor,
        objective: &mut Objective,
    ) -> Result<StepOutcome> {
        let start = self.evaluate(objective, point)?;
        let direction = -start.grad();
        let step_on_device = self.first_step_on_device(&start.grad_max_abs())?;
        // The host's f64 step multiplies an f32 direction as an f32 (libtorch's scalar rule);
        // the device's is made that f32 the same way.
        let trial_point = &*point + &direction * step_on_device.to_kind(direction.kind());
        // An error here leaves no start known: the next iteration evaluates it again.
        let trial = self.evaluate(objective, &trial_point)?;
        let step_curvature = dot(&(&trial_point - &*point), &(trial.grad() - start.grad()));
        let slope = dot(start.grad(), &direction);
        let (evaluations, values) =
            read_together(vec![start, trial], &[step_curvature, slope, step_on_device])?;
        let [here, trial]: [Evaluation; 2] = evaluations
            .try_into()
            .unwrap_or_else(|_| unreachable!("two evaluations were read"));
        if !here.is_finite() {
            return Ok(StepOutcome::NonFinite);
        }
        if here.grad_max_abs == 0.0 {
            return Ok(self.stall_at(here));
        }
        let first = FirstTrial {
            slope: values[1],
            step: values[2],
            trial: Trial {
                point: trial_point,
                evaluation: trial,
                curvature: values[0],
            },
        };
        match self.line_search(point, objective, &here, &direction, Some(first)) {
            Ok(end) => Ok(self.conclude(
                point,
                here,
                end.expect("without pairs the search takes any slope"),
            )),
            Err(error) => {
                self.current = Some(here);
                Err(error)
            }
        }
    }

    /// A stationary point: there is no direction to search in.
    fn stall_at(&mut self, here: Evaluation) -> StepOutcome {
        let parts = here.parts.clone();
        self.current = Some(here);
        StepOutcome::Stalled(parts)
    }

    /// Moves to the accepted trial, or stays where the search found nothing better.
    fn conclude(&mut self, point: &mut Tensor, here: Evaluation, end: SearchEnd) -> StepOutcome {
        match end.accepted {
            Some(trial) => {
                self.remember(
                    &trial.point - &*point,
                    &trial.evaluation.grad - &here.grad,
                    trial.curvature,
                );
                let parts = trial.evaluation.parts.clone();
                *point = trial.point;
                self.current = Some(trial.evaluation);
                StepOutcome::Moved(parts)
            }
            None => {
                // Nothing decreased the loss: drop the memory so the next iteration restarts from
                // steepest descent, and stay where we are.
                self.forget();
                let parts = here.parts.clone();
                self.current = Some(here);
                if end.any_finite_trial {
                    StepOutcome::Stalled(parts)
                } else {
                    StepOutcome::NonFinite
                }
            }
        }
    }
}

impl Optimizer for Lbfgs {
    fn iterate(&mut self, point: &mut Tensor, objective: &mut Objective) -> Result<StepOutcome> {
        let here = match self.current.take() {
            Some(evaluation) => evaluation,
            None if self.pairs() == 0 => return self.iterate_from_unread_start(point, objective),
            // Pairs kept without a current point (a non-finite start, no reset): read it first.
            None => self.evaluate(objective, point)?.read()?,
        };
        if !here.is_finite() {
            return Ok(StepOutcome::NonFinite);
        }
        if here.grad_max_abs == 0.0 {
            return Ok(self.stall_at(here));
        }
        let mut direction = self.direction(&here.grad).view_as(&here.grad);
        let end = loop {
            match self.line_search(point, objective, &here, &direction, None) {
                Ok(Some(end)) => break end,
                Ok(None) => {
                    // Not a descent direction: the memory is misleading, fall back to steepest
                    // descent.
                    self.forget();
                    direction = -&here.grad;
                }
                Err(error) => {
                    // Cancelled or failed mid-search: the point is untouched, keep what we knew.
                    self.current = Some(here);
                    return Err(error);
                }
            }
        };
        Ok(self.conclude(point, here, end))
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
    use tch::{Kind, Tensor};

    fn evaluation(loss: f64, grad: Tensor) -> UnreadEvaluation {
        UnreadEvaluation::new(&Tensor::from(loss), &[], grad).unwrap()
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
            let (s_tensor, y_tensor) = (Tensor::from_slice(&s), Tensor::from_slice(&y));
            let curvature = dot(&s_tensor, &y_tensor).double_value(&[]);
            optimiser.remember(s_tensor, y_tensor, curvature);
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
    fn the_first_step_made_on_the_device_moves_the_point_as_the_hosts_does() {
        // The first iteration from an unread start computes its step on the device: the same
        // f64 operations, and the same f32 multiply, must give the same trial point bit for bit.
        let direction = Tensor::randn([1000], (Kind::Float, tch::Device::Cpu)) * 37.0;
        let point = Tensor::randn([1000], (Kind::Float, tch::Device::Cpu)) * 100.0;
        let mut optimiser = Lbfgs::new(5, 1.0);
        optimiser.scale_steps(0.5f64.powi(3));
        for grad_max_abs in [0.0, 1e-300, 3.7e-9, 0.123_456_789, 1.0, 255.0, 7.3e12] {
            let host = optimiser.first_step(grad_max_abs);
            let device = optimiser
                .first_step_on_device(&Tensor::from(grad_max_abs))
                .unwrap();
            assert_eq!(device.double_value(&[]).to_bits(), host.to_bits());
            let from_host = &point + &direction * host;
            let from_device = &point + &direction * device.to_kind(direction.kind());
            assert!(from_host.equal(&from_device), "{grad_max_abs}");
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
