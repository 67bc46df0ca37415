//! Helpers shared by the op tests: random arrays and approximate comparison.

use ndarray::{Array, Dimension, ShapeBuilder};

use crate::rng::Rng;

/// An array of `shape` filled with values uniform in `[-1, 1)`.
pub(crate) fn random<Sh: ShapeBuilder>(rng: &mut Rng, shape: Sh) -> Array<f32, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    Array::from_shape_simple_fn(shape, || rng.uniform(-1.0, 1.0))
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
