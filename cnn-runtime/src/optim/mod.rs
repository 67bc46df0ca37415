//! Optimisers that update a model's parameter tensors from their gradients, with the semantics of
//! PyTorch's `torch.optim.SGD`, `Adam` and `AdamW` (their single-tensor implementation, the one
//! used on the CPU).
//!
//! A training step calls [`Optimizer::begin_step`] once, then [`Optimizer::update`] for every
//! trainable tensor, identified by its `slot`: its index in the order the model visits its
//! parameters. The per-tensor state (momentum buffers, moment estimates) is allocated on the first
//! update of each slot and reused afterwards, so that steps after the first allocate nothing.
//!
//! Hyperparameters are `f32`, but the scalars PyTorch derives from them in Python's double
//! precision (`1 − β₂`, the bias corrections, `1 − lr·wd`) are derived here in `f64` from the
//! decimal the `f32` was written as, so that `0.999` means what it means to PyTorch.

use alloc::vec::Vec;

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

/// Updates parameters from their gradients, one tensor at a time.
pub trait Optimizer: Send {
    /// Advances the step counter; called once per training step, before `update`s.
    fn begin_step(&mut self);
    /// Updates parameter tensor number `slot` (its index in the model's visit order) from its gradient.
    ///
    /// `params` and `grads` have the same length, which stays the same for a slot from one step to
    /// the next.
    fn update(&mut self, slot: usize, params: &mut [f32], grads: &[f32]);
}

/// The state of `slot` in `states`, allocated (`len` zeros) the first time the slot is updated,
/// with `true` when it has just been allocated.
///
/// # Panics
/// If the slot was updated before with another length.
fn slot_state(states: &mut Vec<Vec<f32>>, slot: usize, len: usize) -> (&mut [f32], bool) {
    if states.len() <= slot {
        states.resize_with(slot + 1, Vec::new);
    }
    let state = &mut states[slot];
    let fresh = state.is_empty() && len > 0;
    if fresh {
        *state = alloc::vec![0.0; len];
    }
    assert_eq!(state.len(), len, "optimiser slot {slot} had {} parameters, now {len}", state.len());
    (state, fresh)
}

/// # Panics
/// If `params` and `grads` differ in length.
fn check_lengths(slot: usize, params: &[f32], grads: &[f32]) {
    assert_eq!(params.len(), grads.len(), "slot {slot}: {} parameters but {} gradients", params.len(), grads.len());
}

/// The `f64` of the shortest decimal that rounds to `x`: the literal the user wrote (`0.999`
/// rather than `0.99900001287…`), as Python, and so PyTorch, holds it.
fn decimal(x: f32) -> f64 {
    use core::fmt::Write;

    /// A fixed buffer, enough for any `f32` printed with `{:e}` (`-1.1754944e-38` is 14 bytes).
    struct Buf {
        bytes: [u8; 32],
        len: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.bytes.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    if !x.is_finite() {
        return x as f64;
    }
    let mut buf = Buf { bytes: [0; 32], len: 0 };
    // `{:e}` prints the shortest digits that round-trip, and a short exponent even for 1e-30.
    match write!(buf, "{x:e}") {
        Ok(()) => core::str::from_utf8(&buf.bytes[..buf.len]).ok().and_then(|s| s.parse().ok()).unwrap_or(x as f64),
        Err(_) => x as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_recovers_the_literal() {
        assert_eq!(decimal(0.999), 0.999f64);
        assert_eq!(decimal(0.9), 0.9f64);
        assert_eq!(decimal(1e-8), 1e-8f64);
        assert_eq!(decimal(-3.25), -3.25f64);
        assert_eq!(decimal(0.0), 0.0);
        assert_eq!(decimal(f32::MIN_POSITIVE), 1.1754944e-38f64);
        assert_eq!(decimal(f32::MAX) as f32, f32::MAX);
        assert_eq!(decimal(f32::INFINITY), f64::INFINITY);
        for x in [0.1f32, 1.0 / 3.0, 123456.79, 7e-45] {
            assert_eq!(decimal(x) as f32, x);
        }
    }

    #[test]
    fn slot_state_is_allocated_once_and_in_any_order() {
        let mut states = Vec::new();
        let (s, fresh) = slot_state(&mut states, 2, 3);
        assert!(fresh);
        s[0] = 5.0;
        let ptr = s.as_ptr();
        assert!(slot_state(&mut states, 0, 1).1);
        let (s, fresh) = slot_state(&mut states, 2, 3);
        assert!(!fresh);
        assert_eq!((s.as_ptr(), s[0]), (ptr, 5.0));
    }

    #[test]
    #[should_panic(expected = "optimiser slot 0 had 3 parameters, now 4")]
    fn slot_state_rejects_a_new_length() {
        let mut states = Vec::new();
        slot_state(&mut states, 0, 3);
        slot_state(&mut states, 0, 4);
    }
}
