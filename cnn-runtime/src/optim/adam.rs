//! Adam, with L2 weight decay (PyTorch's `Adam`) or decoupled weight decay (`AdamW`).

use alloc::vec::Vec;

use super::{check_lengths, decimal, slot_state, Optimizer};
use crate::train::par;

/// Adam, as PyTorch's `torch.optim.Adam`, or `torch.optim.AdamW` when `decoupled`. At step `t`:
///
/// ```text
/// p ← p·(1 − lr·wd)                   (decoupled, if wd ≠ 0)
/// g ← g + wd·p                         (not decoupled, if wd ≠ 0)
/// m ← β₁·m + (1 − β₁)·g                (as PyTorch: m + (1 − β₁)·(g − m))
/// v ← β₂·v + (1 − β₂)·g²
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// `t` counts [`Optimizer::begin_step`] calls and is shared by all slots, where PyTorch counts
/// steps per tensor: the two agree when every slot is updated at every step, as in training.
#[derive(Clone)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Decay rate β₁ of the first-moment (mean) estimate.
    pub beta1: f32,
    /// Decay rate β₂ of the second-moment (uncentred variance) estimate.
    pub beta2: f32,
    /// Added to the denominator for numerical stability, after the bias correction.
    pub eps: f32,
    /// Weight decay: an L2 penalty added to the gradient, or when `decoupled` a shrinking of the
    /// parameters by `lr·weight_decay` before the Adam step.
    pub weight_decay: f32,
    /// Decoupled weight decay (AdamW) rather than L2 regularisation (Adam).
    pub decoupled: bool,
    /// Steps begun so far.
    t: u64,
    /// First-moment estimate of each slot, empty until its first update.
    m: Vec<Vec<f32>>,
    /// Second-moment estimate of each slot, empty until its first update.
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam with learning rate `lr` and PyTorch's other defaults: betas (0.9, 0.999), eps 1e-8,
    /// no weight decay.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// AdamW with learning rate `lr` and PyTorch's other defaults: betas (0.9, 0.999), eps 1e-8,
    /// decoupled weight decay 0.01.
    pub fn adamw(lr: f32) -> Self {
        Adam { weight_decay: 0.01, decoupled: true, ..Adam::new(lr) }
    }

    /// With weight decay `weight_decay` (L2 for Adam, decoupled for AdamW).
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With decay rates `beta1` and `beta2` of the moment estimates.
    pub fn with_betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// With `eps` added to the denominator.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Steps begun so far (the `t` of the bias corrections).
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl core::fmt::Debug for Adam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(if self.decoupled { "AdamW" } else { "Adam" })
            .field("lr", &self.lr)
            .field("beta1", &self.beta1)
            .field("beta2", &self.beta2)
            .field("eps", &self.eps)
            .field("weight_decay", &self.weight_decay)
            .field("t", &self.t)
            .finish_non_exhaustive()
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.t += 1;
    }

    /// # Panics
    /// If no step has begun, or as [`Optimizer::update`].
    fn update(&mut self, slot: usize, params: &mut [f32], grads: &[f32]) {
        check_lengths(slot, params, grads);
        assert!(self.t > 0, "Adam::update before the first begin_step");
        // The scalars PyTorch computes in Python (double precision) and casts to f32 in the kernels.
        let (lr, beta1, beta2, wd) = (decimal(self.lr), decimal(self.beta1), decimal(self.beta2), self.weight_decay);
        let t = self.t as f64;
        let step_size = -(lr / (1.0 - beta1.powf(t))) as f32;
        let bias2_sqrt = (1.0 - beta2.powf(t)).sqrt() as f32;
        let (weight1, b2, weight2) = ((1.0 - beta1) as f32, self.beta2, (1.0 - beta2) as f32);
        let eps = self.eps;
        let shrink = (1.0 - lr * decimal(wd)) as f32;
        let (decay, l2) = (self.decoupled && wd != 0.0, !self.decoupled && wd != 0.0);
        let update = move |(params, grads, m, v): (&mut [f32], &[f32], &mut [f32], &mut [f32])| {
            for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
                if decay {
                    *p *= shrink;
                }
                let g = if l2 { g + wd * *p } else { g };
                // `lerp(m, g, w)` as PyTorch's CPU kernel computes it.
                *m = if weight1 < 0.5 { *m + weight1 * (g - *m) } else { g - (g - *m) * (1.0 - weight1) };
                *v = *v * b2 + weight2 * g * g;
                let denom = v.sqrt() / bias2_sqrt + eps;
                *p += step_size * *m / denom;
            }
        };
        let m = slot_state(&mut self.m, slot, params.len()).0;
        let v = slot_state(&mut self.v, slot, params.len()).0;
        par::blocks((params, grads, m, v), &update, |(), ()| ());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam in f64 over one scalar parameter, written out from the algorithm.
    fn adam_f64(mut p: f64, grads: &[f64], lr: f64, wd: f64, decoupled: bool) -> Vec<f64> {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let (mut m, mut v) = (0.0, 0.0);
        let mut out = Vec::new();
        for (i, &g) in grads.iter().enumerate() {
            let t = (i + 1) as i32;
            let mut g = g;
            if decoupled {
                p *= 1.0 - lr * wd;
            } else {
                g += wd * p;
            }
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            p -= lr / (1.0 - b1.powi(t)) * m / (v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps);
            out.push(p);
        }
        out
    }

    #[test]
    fn defaults_are_pytorchs() {
        let a = Adam::new(1e-3);
        assert_eq!((a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.decoupled), (1e-3, 0.9, 0.999, 1e-8, 0.0, false));
        let w = Adam::adamw(1e-3);
        assert_eq!((w.lr, w.beta1, w.beta2, w.eps, w.weight_decay, w.decoupled), (1e-3, 0.9, 0.999, 1e-8, 0.01, true));
        assert_eq!(Adam::adamw(1e-3).with_weight_decay(0.1).weight_decay, 0.1);
        assert!(format!("{w:?}").starts_with("AdamW { lr: 0.001"));
    }

    #[test]
    fn first_step_moves_each_weight_by_lr_times_the_sign_of_its_gradient() {
        let mut opt = Adam::new(0.01);
        let grads = [3.0f32, -0.2, 1e-3, -250.0, 0.0];
        let mut p = [1.0f32; 5];
        opt.begin_step();
        opt.update(0, &mut p, &grads);
        for (p, g) in p.iter().zip(grads) {
            // m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps).
            let want = 1.0 - 0.01 * g.signum() * (g != 0.0) as u8 as f32;
            assert!((p - want).abs() < 1e-6, "gradient {g}: {p} vs {want}");
        }
    }

    #[test]
    fn matches_the_algorithm_in_f64() {
        let grads = [0.5, -1.5, 2.0, 0.0, 1e-3, -0.7];
        for (mut opt, wd, decoupled) in [
            (Adam::new(0.01), 0.0, false),
            (Adam::new(0.01).with_weight_decay(0.1), 0.1, false),
            (Adam::adamw(0.01), 0.01, true),
            (Adam::adamw(0.05).with_weight_decay(0.5), 0.5, true),
        ] {
            let want = adam_f64(1.5, &grads, opt.lr as f64, wd, decoupled);
            let mut p = [1.5f32];
            for (t, (g, want)) in grads.iter().zip(want).enumerate() {
                opt.begin_step();
                opt.update(0, &mut p, &[*g as f32]);
                assert!((p[0] as f64 - want).abs() < 1e-6, "{opt:?} step {}: {} vs {want}", t + 1, p[0]);
            }
        }
    }

    #[test]
    fn adamw_decays_even_with_zero_gradient() {
        let mut opt = Adam::adamw(0.1).with_weight_decay(0.5);
        let mut p = [2.0f32, -4.0];
        for step in 1..=3 {
            opt.begin_step();
            opt.update(0, &mut p, &[0.0, 0.0]);
            // With m = v = 0 the Adam step is 0: only the decay p·(1 − 0.1·0.5) remains.
            let factor = 0.95f64.powi(step);
            assert!((p[0] as f64 - 2.0 * factor).abs() < 1e-6 && (p[1] as f64 + 4.0 * factor).abs() < 1e-6, "{p:?}");
        }
        // Adam's L2 decay, by contrast, goes through the moments: the first step is ±lr.
        let mut opt = Adam::new(0.1).with_weight_decay(0.5);
        let mut p = [2.0f32, -4.0];
        opt.begin_step();
        opt.update(0, &mut p, &[0.0, 0.0]);
        assert!((p[0] - 1.9).abs() < 1e-6 && (p[1] + 3.9).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn state_is_allocated_on_the_first_update_only() {
        let mut opt = Adam::new(0.1);
        let mut p = [0.0f32; 4];
        opt.begin_step();
        opt.update(0, &mut p, &[1.0; 4]);
        let (m, v) = (opt.m[0].as_ptr(), opt.v[0].as_ptr());
        for _ in 0..3 {
            opt.begin_step();
            opt.update(0, &mut p, &[1.0; 4]);
        }
        assert_eq!((opt.m[0].as_ptr(), opt.v[0].as_ptr(), opt.steps()), (m, v, 4));
    }

    #[test]
    #[should_panic(expected = "before the first begin_step")]
    fn update_before_begin_step_panics() {
        Adam::new(0.1).update(0, &mut [0.0], &[1.0]);
    }
}
