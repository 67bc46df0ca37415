//! Helpers shared by the kernel tests: random tensors and approximate comparison.

use crate::rng::Rng;
use crate::tensor::{flat_mut, zeroed_box, Tensor};

/// A heap-allocated tensor `T` filled with values uniform in `[-1, 1)`.
pub(crate) fn random<T: Tensor>(rng: &mut Rng) -> Box<T> {
    let mut t = zeroed_box::<T>();
    rng.fill_uniform(flat_mut(&mut *t), -1.0, 1.0);
    t
}

/// A heap-allocated tensor `T` filled with `NaN`, to check that a kernel writes every output.
pub(crate) fn poisoned<T: Tensor>() -> Box<T> {
    let mut t = zeroed_box::<T>();
    flat_mut(&mut *t).fill(f32::NAN);
    t
}

/// Panics unless `got` and `want` have equal length and agree to about `1e-5`, relative to
/// `1 + |want|`. Two `NaN`s at the same position count as equal.
pub(crate) fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-5 * (1.0 + w.abs());
        assert!(same, "element {k}: got {g}, want {w}");
    }
}
