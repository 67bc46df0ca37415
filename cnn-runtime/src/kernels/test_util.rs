//! Helpers shared by the kernel tests: random tensors and approximate comparison.

use crate::kernels::isa::{with_isa, Isa};
use crate::kernels::reference::Conv2dDims;
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
    assert_close_within(got, want, 1e-5);
}

/// [`assert_close`] with a tolerance of `tol` relative to `1 + |want|`, for sums long enough
/// that an `f32` kernel's rounding exceeds `1e-5`.
pub(crate) fn assert_close_within(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(same, "element {k}: got {g}, want {w}");
    }
}

/// `n` values uniform in `[-1, 1)` as `f64` (for finite-difference checks of the reference).
pub(crate) fn random_f64(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0) as f64).collect()
}

/// Step of the central finite differences.
const FD_STEP: f64 = 1e-6;

/// Central finite differences of the scalar function `loss` at `v`: one partial derivative
/// `(loss(v + h·e_k) − loss(v − h·e_k)) / 2h` per element of `v`.
pub(crate) fn finite_differences(v: &[f64], loss: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut p = v.to_vec();
    (0..v.len())
        .map(|k| {
            let at = p[k];
            p[k] = at + FD_STEP;
            let up = loss(&p);
            p[k] = at - FD_STEP;
            let down = loss(&p);
            p[k] = at;
            (up - down) / (2.0 * FD_STEP)
        })
        .collect()
}

/// `Σ r ⊙ y`: the scalar loss whose gradient with respect to `y` is `r`.
pub(crate) fn dot_f64(r: &[f64], y: &[f64]) -> f64 {
    assert_eq!(r.len(), y.len(), "lengths differ");
    r.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Panics unless the analytic gradient `got` matches the finite differences `want` to a relative
/// `1e-6` (relative to `|want|`, with a floor of `1e-2` so that tiny gradients compare absolutely).
pub(crate) fn assert_gradient(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    assert!(!got.is_empty(), "{what}: nothing to compare");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-6 * w.abs().max(1e-2);
        assert!((g - w).abs() <= tol, "{what} element {k}: analytic {g}, finite differences {w}");
    }
}

/// Runs `f` once on every kernel path this CPU has (see [`Isa::available`]), with the kernels on
/// this thread forced to that path; prints the path first, so a failing test's output names it.
pub(crate) fn for_each_isa(mut f: impl FnMut(Isa)) {
    for isa in Isa::available() {
        eprintln!("kernel path: {isa}");
        with_isa(isa, || f(isa));
    }
}

/// The convolution geometry `[c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow]`, in the order of the
/// kernels' const parameters.
pub(crate) fn conv_dims([c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow]: [usize; 12]) -> Conv2dDims {
    Conv2dDims { c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow }
}
