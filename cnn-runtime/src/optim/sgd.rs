//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay.

use alloc::vec::Vec;

use super::{check_lengths, decimal, slot_state, Optimizer};
use crate::train::par;

/// Stochastic gradient descent, as PyTorch's `torch.optim.SGD`:
///
/// ```text
/// g ← g + wd·p                                   (if wd ≠ 0)
/// b ← g on a slot's first update, else μ·b + (1 − dampening)·g   (if μ ≠ 0)
/// g ← g + μ·b if nesterov, else b                (if μ ≠ 0)
/// p ← p − lr·g
/// ```
#[derive(Clone)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor μ (0: none).
    pub momentum: f32,
    /// Dampening of the gradient added to the momentum buffer (not applied on the first step).
    pub dampening: f32,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient (`g += wd·p`).
    pub weight_decay: f32,
    /// Momentum buffer of each slot; empty until its first update (and forever without momentum).
    buffers: Vec<Vec<f32>>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`: no momentum, no dampening, no weight decay.
    pub fn new(lr: f32) -> Self {
        Sgd { lr, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0, buffers: Vec::new() }
    }

    /// With momentum factor `momentum`.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// With dampening `dampening` of the gradient added to the momentum buffer.
    pub fn with_dampening(mut self, dampening: f32) -> Self {
        self.dampening = dampening;
        self
    }

    /// With Nesterov momentum.
    ///
    /// # Panics
    /// Unless momentum is positive and dampening zero, as PyTorch requires (set the momentum first:
    /// `Sgd::new(0.1).with_momentum(0.9).nesterov()`).
    pub fn nesterov(mut self) -> Self {
        assert!(
            self.momentum > 0.0 && self.dampening == 0.0,
            "Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})",
            self.momentum,
            self.dampening
        );
        self.nesterov = true;
        self
    }

    /// With L2 weight decay `weight_decay` added to the gradient.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl core::fmt::Debug for Sgd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sgd")
            .field("lr", &self.lr)
            .field("momentum", &self.momentum)
            .field("dampening", &self.dampening)
            .field("nesterov", &self.nesterov)
            .field("weight_decay", &self.weight_decay)
            .finish_non_exhaustive()
    }
}

impl Optimizer for Sgd {
    fn begin_step(&mut self) {}

    fn update(&mut self, slot: usize, params: &mut [f32], grads: &[f32]) {
        check_lengths(slot, params, grads);
        let (lr, wd) = (self.lr, self.weight_decay);
        if self.momentum == 0.0 {
            let update = move |(params, grads): (&mut [f32], &[f32])| {
                for (p, &g) in params.iter_mut().zip(grads) {
                    let g = if wd != 0.0 { g + wd * *p } else { g };
                    *p += -lr * g;
                }
            };
            return par::blocks((params, grads), &update, |(), ()| ());
        }
        let (momentum, nesterov) = (self.momentum, self.nesterov);
        // Python computes `1 - dampening` in double precision; PyTorch casts it to f32.
        let keep = (1.0 - decimal(self.dampening)) as f32;
        let (buffer, first) = slot_state(&mut self.buffers, slot, params.len());
        let update = move |(params, grads, buffer): (&mut [f32], &[f32], &mut [f32])| {
            for ((p, &g), b) in params.iter_mut().zip(grads).zip(buffer) {
                let g = if wd != 0.0 { g + wd * *p } else { g };
                *b = if first { g } else { *b * momentum + keep * g };
                let step = if nesterov { g + momentum * *b } else { *b };
                *p += -lr * step;
            }
        };
        par::blocks((params, grads, buffer), &update, |(), ()| ());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sgd_steps_against_the_gradient() {
        let mut opt = Sgd::new(0.5);
        let mut p = [1.0, -2.0, 0.0];
        opt.begin_step();
        opt.update(0, &mut p, &[0.2, -0.4, 1.0]);
        assert_eq!(p, [0.9, -1.8, -0.5]);
        // No state without momentum.
        assert!(opt.buffers.is_empty());
    }

    #[test]
    fn momentum_buffer_is_the_gradient_then_a_running_sum() {
        let mut opt = Sgd::new(0.1).with_momentum(0.9);
        let mut p = [1.0f32, 2.0];
        // Step 1: b = g (no dampening, no decay of an empty buffer); p −= lr·b.
        opt.begin_step();
        opt.update(0, &mut p, &[1.0, -1.0]);
        assert_eq!(opt.buffers[0], [1.0, -1.0]);
        assert_eq!(p, [0.9, 2.1]);
        // Step 2: b = 0.9·b + g.
        opt.begin_step();
        opt.update(0, &mut p, &[0.5, 0.5]);
        assert!((opt.buffers[0][0] - 1.4).abs() < 1e-6 && (opt.buffers[0][1] + 0.4).abs() < 1e-6);
        assert!((p[0] - 0.76).abs() < 1e-6 && (p[1] - 2.14).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn dampening_is_skipped_on_the_first_step() {
        let mut opt = Sgd::new(1.0).with_momentum(0.5).with_dampening(0.5);
        let mut p = [0.0f32];
        opt.begin_step();
        opt.update(0, &mut p, &[2.0]);
        assert_eq!((opt.buffers[0][0], p[0]), (2.0, -2.0));
        opt.begin_step();
        opt.update(0, &mut p, &[2.0]);
        // b = 0.5·2 + (1 − 0.5)·2 = 2.
        assert_eq!((opt.buffers[0][0], p[0]), (2.0, -4.0));
    }

    #[test]
    fn nesterov_with_weight_decay_by_hand() {
        let mut opt = Sgd::new(0.1).with_momentum(0.9).nesterov().with_weight_decay(0.01);
        let (mut p, g) = (2.0f64, [0.5f64, -0.25, 1.0]);
        let mut ours = [2.0f32];
        let mut b = 0.0f64;
        for (t, g) in g.into_iter().enumerate() {
            opt.begin_step();
            opt.update(0, &mut ours, &[g as f32]);
            let g = g + 0.01 * p;
            b = if t == 0 { g } else { 0.9 * b + g };
            p -= 0.1 * (g + 0.9 * b);
            assert!((ours[0] as f64 - p).abs() < 1e-6, "step {}: {} vs {p}", t + 1, ours[0]);
        }
    }

    #[test]
    fn slots_have_their_own_buffers() {
        let mut opt = Sgd::new(1.0).with_momentum(0.5);
        let (mut a, mut b) = ([0.0f32; 2], [0.0f32; 3]);
        opt.begin_step();
        opt.update(1, &mut b, &[1.0; 3]);
        opt.update(0, &mut a, &[2.0; 2]);
        opt.begin_step();
        opt.update(0, &mut a, &[2.0; 2]);
        opt.update(1, &mut b, &[1.0; 3]);
        assert_eq!((a, b), ([-5.0; 2], [-2.5; 3]));
    }

    #[test]
    #[should_panic(expected = "Nesterov momentum requires a momentum")]
    fn nesterov_without_momentum_panics() {
        let _ = Sgd::new(0.1).nesterov();
    }
}
