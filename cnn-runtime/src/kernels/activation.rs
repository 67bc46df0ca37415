//! Element-wise activations and softmax, applied in place to a tensor seen as a flat slice.
//!
//! Every kernel but softmax's backward pass is compiled for each vector instruction set (see
//! [`isa`](super::isa)); sigmoid, tanh and softmax call the vector exponential of the kernels'
//! `Simd` trait (`simd.rs`), within an ulp of the scalar one.

use super::isa::{dispatch, wrappers};
use super::simd::Simd;

/// `x ← f(x)` by vectors of `S::LANES`; the last, partial one is loaded with `pad` in the lanes
/// past the end (so `f` sees whole vectors only), whose results are dropped.
#[inline(always)]
fn map_in_place<S: Simd>(s: S, x: &mut [f32], pad: f32, mut f: impl FnMut(S::V) -> S::V) {
    let mut chunks = x.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        s.store(f(s.load(chunk)), chunk);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        s.store_partial(f(s.load_partial(tail, pad)), tail);
    }
}

/// `d ← f(y, d)` by vectors of `S::LANES` over `y` and `d` of the same length; the last, partial
/// vectors are loaded with zeros past the end, whose results are dropped.
#[inline(always)]
fn zip_in_place<S: Simd>(s: S, y: &[f32], d: &mut [f32], mut f: impl FnMut(S::V, S::V) -> S::V) {
    let mut ys = y.chunks_exact(S::LANES);
    let mut ds = d.chunks_exact_mut(S::LANES);
    for (y, d) in (&mut ys).zip(&mut ds) {
        s.store(f(s.load(y), s.load(d)), d);
    }
    let (y, d) = (ys.remainder(), ds.into_remainder());
    if !d.is_empty() {
        s.store_partial(f(s.load_partial(y, 0.0), s.load_partial(d, 0.0)), d);
    }
}

/// ReLU in place. Shape: `x` is any tensor, flat. `x ← max(x, 0)`; `NaN` stays `NaN`.
pub fn relu(x: &mut [f32]) {
    dispatch!(relu_avx512, relu_avx2, relu_body(x))
}

wrappers!(relu_avx512, relu_avx2, relu_body, [], (x: &mut [f32]));

/// The body of [`relu`], compiled once per path. Written with vectors because LLVM turns the
/// scalar `if v < 0 { 0 } else { v }` into a masked store of the zeros (see [`Simd::opaque`]),
/// which with the backward's took 10% of a LeNet-5 training step on a Zen 3. `max(0, v)` as x86's
/// `maxps` gives `v` when `v` is `NaN`, and keeps `−0`, like the select.
#[inline(always)]
fn relu_body<S: Simd>(s: S, x: &mut [f32]) {
    let zero = s.zero();
    map_in_place(s, x, 0.0, |v| s.max(zero, v));
}

/// Backward pass of [`relu`], in place on the gradient, from the forward's output.
///
/// Shapes: `y` (what [`relu`] left in its buffer) and `dy` are the same tensor, flat.
/// Differentiates `*v = 0.0` for `*v < 0.0`: `dy ← dy` if `y > 0`, else 0 (the derivative at
/// 0 is taken as 0, as in PyTorch).
pub fn relu_backward(y: &[f32], dy: &mut [f32]) {
    debug_assert_eq!(y.len(), dy.len(), "relu_backward: lengths differ");
    dispatch!(relu_backward_avx512, relu_backward_avx2, relu_backward_body(y, dy))
}

wrappers!(relu_backward_avx512, relu_backward_avx2, relu_backward_body, [], (y: &[f32], dy: &mut [f32]));

/// The body of [`relu_backward`], compiled once per path (`y > 0` is false for `NaN`); with
/// vectors and [`Simd::opaque`], to avoid the masked store (see [`relu_body`]).
#[inline(always)]
fn relu_backward_body<S: Simd>(s: S, y: &[f32], dy: &mut [f32]) {
    let zero = s.zero();
    zip_in_place(s, y, dy, |y, d| s.opaque(s.select_lt(zero, y, d, zero)));
}

/// Leaky ReLU in place. Shape: `x` is any tensor, flat. `x ← x` if `x ≥ 0`, else `slope · x`.
pub fn leaky_relu(x: &mut [f32], slope: f32) {
    dispatch!(leaky_relu_avx512, leaky_relu_avx2, leaky_relu_body(x, slope))
}

wrappers!(leaky_relu_avx512, leaky_relu_avx2, leaky_relu_body, [], (x: &mut [f32], slope: f32));

/// The body of [`leaky_relu`], compiled once per path.
#[inline(always)]
fn leaky_relu_body<S: Simd>(_: S, x: &mut [f32], slope: f32) {
    for v in x.iter_mut() {
        *v = if *v < 0.0 { *v * slope } else { *v };
    }
}

/// Backward pass of [`leaky_relu`], in place on the gradient, from the forward's output.
///
/// Shapes: `y` (what [`leaky_relu`] left in its buffer) and `dy` are the same tensor, flat.
/// Differentiates `*v *= slope` for `*v < 0.0`: `dy ← dy` if `y > 0`, else `slope · dy`. Valid
/// for `slope ≥ 0` (which the spec requires), where `y > 0` exactly when the input was.
pub fn leaky_relu_backward(y: &[f32], dy: &mut [f32], slope: f32) {
    debug_assert_eq!(y.len(), dy.len(), "leaky_relu_backward: lengths differ");
    dispatch!(leaky_relu_backward_avx512, leaky_relu_backward_avx2, leaky_relu_backward_body(y, dy, slope))
}

wrappers!(
    leaky_relu_backward_avx512,
    leaky_relu_backward_avx2,
    leaky_relu_backward_body,
    [],
    (y: &[f32], dy: &mut [f32], slope: f32)
);

/// The body of [`leaky_relu_backward`], compiled once per path (`y > 0` is false for `NaN`).
#[inline(always)]
fn leaky_relu_backward_body<S: Simd>(_: S, y: &[f32], dy: &mut [f32], slope: f32) {
    for (d, &yv) in dy.iter_mut().zip(y) {
        *d = if yv > 0.0 { *d } else { *d * slope };
    }
}

/// Logistic sigmoid in place. Shape: `x` is any tensor, flat. `x ← 1 / (1 + e^−x)`.
///
/// Evaluated as `1 / (1 + e^−|x|)` or `e^−|x| / (1 + e^−|x|)` so the exponential never
/// overflows: the result is in `[0, 1]` for every non-`NaN` input, including `±∞`, and within a
/// few ulps of the exact value where that is a normal `f32` (`x > −87.3`).
pub fn sigmoid(x: &mut [f32]) {
    dispatch!(sigmoid_avx512, sigmoid_avx2, sigmoid_body(x))
}

wrappers!(sigmoid_avx512, sigmoid_avx2, sigmoid_body, [], (x: &mut [f32]));

/// The body of [`sigmoid`], compiled once per path: both sides computed, the sign of `x` selects.
#[inline(always)]
fn sigmoid_body<S: Simd>(s: S, x: &mut [f32]) {
    let (zero, one) = (s.zero(), s.splat(1.0));
    map_in_place(
        s,
        x,
        0.0,
        #[inline(always)]
        |v| {
            let e = s.exp(s.sub(zero, s.abs(v)));
            let p = s.div(one, s.add(one, e));
            s.select_lt(v, zero, s.mul(e, p), p)
        },
    );
}

/// Backward pass of [`sigmoid`], in place on the gradient, from the forward's output.
///
/// Shapes: `y` (what [`sigmoid`] left in its buffer) and `dy` are the same tensor, flat.
/// Differentiates `x ← 1 / (1 + e^−x)`: `dy ← dy · y · (1 − y)`.
pub fn sigmoid_backward(y: &[f32], dy: &mut [f32]) {
    debug_assert_eq!(y.len(), dy.len(), "sigmoid_backward: lengths differ");
    dispatch!(sigmoid_backward_avx512, sigmoid_backward_avx2, sigmoid_backward_body(y, dy))
}

wrappers!(sigmoid_backward_avx512, sigmoid_backward_avx2, sigmoid_backward_body, [], (y: &[f32], dy: &mut [f32]));

/// The body of [`sigmoid_backward`], compiled once per path.
#[inline(always)]
fn sigmoid_backward_body<S: Simd>(_: S, y: &[f32], dy: &mut [f32]) {
    for (d, &yv) in dy.iter_mut().zip(y) {
        *d *= yv * (1.0 - yv);
    }
}

/// Hyperbolic tangent in place. Shape: `x` is any tensor, flat. `x ← tanh(x)`.
///
/// Cephes' `tanhf`, within a few ulps (relative) everywhere: `x + x³ · P(x²)` for `|x| < 0.625`
/// (so small values keep their relative accuracy, and `tanh(x) = x` below about `1e-4`), else
/// `±(1 − 2 / (e^2|x| + 1))`, which is `±1` once the exponential overflows. Odd: `tanh(−0) = −0`.
pub fn tanh(x: &mut [f32]) {
    dispatch!(tanh_avx512, tanh_avx2, tanh_body(x))
}

wrappers!(tanh_avx512, tanh_avx2, tanh_body, [], (x: &mut [f32]));

/// Below this `|x|`, [`tanh`] uses its polynomial; above, the exponential.
const TANH_SMALL: f32 = 0.625;
/// Cephes' `tanhf` polynomial: `tanh(x) ≈ x + x³ · P(x²)` on `|x| < 0.625`, highest degree first
/// (its coefficients rounded to `f32`).
const TANH_P: [f32; 5] = [-5.704_988_7e-3, 2.063_908_8e-2, -5.373_971_5e-2, 0.133_314_42, -0.333_332_8];

/// The body of [`tanh`], compiled once per path: both formulas computed on `|x|`, the size of `|x|`
/// selects, the sign of `x` is put back (a `NaN` takes the exponential's side and stays `NaN`).
#[inline(always)]
fn tanh_body<S: Simd>(s: S, x: &mut [f32]) {
    let (one, two) = (s.splat(1.0), s.splat(2.0));
    map_in_place(
        s,
        x,
        0.0,
        #[inline(always)]
        |v| {
            let a = s.abs(v);
            let z = s.mul(a, a);
            let mut p = s.splat(TANH_P[0]);
            for &c in &TANH_P[1..] {
                p = s.fma(p, z, s.splat(c));
            }
            let small = s.fma(s.mul(p, z), a, a);
            let e = s.exp(s.add(a, a));
            let large = s.sub(one, s.div(two, s.add(e, one)));
            s.copysign(s.select_lt(a, s.splat(TANH_SMALL), small, large), v)
        },
    );
}

/// Backward pass of [`tanh`], in place on the gradient, from the forward's output.
///
/// Shapes: `y` (what [`tanh`] left in its buffer) and `dy` are the same tensor, flat.
/// Differentiates `x ← tanh(x)`: `dy ← dy · (1 − y²)`.
pub fn tanh_backward(y: &[f32], dy: &mut [f32]) {
    debug_assert_eq!(y.len(), dy.len(), "tanh_backward: lengths differ");
    dispatch!(tanh_backward_avx512, tanh_backward_avx2, tanh_backward_body(y, dy))
}

wrappers!(tanh_backward_avx512, tanh_backward_avx2, tanh_backward_body, [], (y: &[f32], dy: &mut [f32]));

/// The body of [`tanh_backward`], compiled once per path.
#[inline(always)]
fn tanh_backward_body<S: Simd>(_: S, y: &[f32], dy: &mut [f32]) {
    for (d, &yv) in dy.iter_mut().zip(y) {
        *d *= 1.0 - yv * yv;
    }
}

/// Softmax in place. Shape: `x` is `[N]`. `x[k] ← e^(x[k] − m) / Σ_l e^(x[l] − m)`, `m = max x`.
///
/// Subtracting the maximum keeps every exponential in `[0, 1]` and the sum at least 1. Where
/// that still gives `NaN` without a `NaN` input, the limit is used instead: if some entries are
/// `+∞` they share the probability equally, and if every entry is `−∞` the result is uniform.
/// A `NaN` input makes every output `NaN`.
pub fn softmax(x: &mut [f32]) {
    dispatch!(softmax_avx512, softmax_avx2, softmax_body(x))
}

wrappers!(softmax_avx512, softmax_avx2, softmax_body, [], (x: &mut [f32]));

/// The body of [`softmax`], compiled once per path: the maximum, then the exponentials and their
/// sum in one pass of vectors (the padding lanes are `−∞`, whose exponential adds 0), then the
/// division (a loop the compiler vectorises).
#[inline(always)]
fn softmax_body<S: Simd>(s: S, x: &mut [f32]) {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum = if m.is_infinite() {
        indicator_of(x, m);
        x.iter().sum()
    } else {
        let (m, mut acc) = (s.splat(m), s.zero());
        map_in_place(
            s,
            x,
            f32::NEG_INFINITY,
            #[inline(always)]
            |v| {
                let e = s.exp(s.sub(v, m));
                acc = s.add(acc, e);
                e
            },
        );
        s.sum(acc)
    };
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// Backward pass of [`softmax`], in place on the gradient, from the forward's output.
///
/// Shapes: `y` (what [`softmax`] left in its buffer) and `dy` are `[N]`. Differentiates
/// `x[k] ← e^(x[k] − m) / Σ_l e^(x[l] − m)` (Jacobian `diag(y) − y yᵀ`):
/// `dy[k] ← y[k] · (dy[k] − Σ_l dy[l] · y[l])`.
pub fn softmax_backward(y: &[f32], dy: &mut [f32]) {
    debug_assert_eq!(y.len(), dy.len(), "softmax_backward: lengths differ");
    let dot: f32 = dy.iter().zip(y).map(|(&d, &yv)| d * yv).sum();
    for (d, &yv) in dy.iter_mut().zip(y) {
        *d = yv * (*d - dot);
    }
}

/// Replaces each entry of `x` by 1 if it equals `m`, else 0 (keeping `NaN`).
/// Shape: `x` is `[N]`.
fn indicator_of(x: &mut [f32], m: f32) {
    for v in x.iter_mut() {
        if !v.is_nan() {
            *v = if *v == m { 1.0 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, for_each_isa, random_f64,
    };
    use crate::rng::Rng;

    /// Random values in `[-scale, scale)`, plus the awkward ones.
    fn inputs(seed: u64, scale: f32) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let mut x = vec![0.0; 1000];
        rng.fill_uniform(&mut x, -scale, scale);
        x.extend([0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 100.0, -100.0, 1e30, -1e30]);
        x.extend([f32::INFINITY, f32::NEG_INFINITY]);
        x
    }

    /// Applies `kernel` to the inputs and `scalar` to each one and compares.
    fn check(kernel: impl Fn(&mut [f32]), scalar: impl Fn(f32) -> f32) {
        for (seed, scale) in [(31, 1.0), (32, 10.0), (33, 200.0)] {
            let mut x = inputs(seed, scale);
            let want: Vec<f32> = x.iter().map(|&v| scalar(v)).collect();
            kernel(&mut x);
            assert_close(&x, &want);
        }
    }

    #[test]
    fn element_wise_kernels_match_the_reference() {
        for_each_isa(|_| {
            check(relu, reference::relu);
            check(|x| leaky_relu(x, 0.01), |v| reference::leaky_relu(v, 0.01));
            check(sigmoid, reference::sigmoid);
            check(tanh, reference::tanh);
        });
    }

    #[test]
    fn known_numbers() {
        for_each_isa(|_| {
            let mut x = [-2.0, -0.5, 0.0, 3.0];
            relu(&mut x);
            assert_eq!(x, [0.0, 0.0, 0.0, 3.0]);
            let mut x = [-2.0, -0.5, 0.0, 3.0];
            leaky_relu(&mut x, 0.1);
            assert_eq!(x, [-0.2, -0.05, 0.0, 3.0]);
            let mut x = [0.0, 1.0, -1.0];
            sigmoid(&mut x);
            assert_close(&x, &[0.5, 0.731_058_6, 0.268_941_4]);
            let mut x = [0.0, 1.0, -0.5];
            tanh(&mut x);
            assert_close(&x, &[0.0, 0.761_594_2, -0.462_117_16]);
        });
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        for_each_isa(|_| {
            let mut x = [-100.0, 100.0, -1e30, 1e30, f32::NEG_INFINITY, f32::INFINITY, -88.0];
            sigmoid(&mut x);
            assert!(x.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{x:?}");
            assert!(x[0] < 1e-40 && x[2] == 0.0 && x[4] == 0.0);
            assert!(x[1] == 1.0 && x[3] == 1.0 && x[5] == 1.0);
            assert!((x[6] - 6.054_601e-39).abs() < 1e-43, "sigmoid(-88) = {}", x[6]);
        });
    }

    #[test]
    fn nan_propagates_through_element_wise_kernels() {
        for_each_isa(|_| {
            let kernels: [fn(&mut [f32]); 4] = [relu, sigmoid, tanh, |x| leaky_relu(x, 0.1)];
            for kernel in kernels {
                let mut x = [f32::NAN];
                kernel(&mut x);
                assert!(x[0].is_nan());
            }
        });
    }

    #[test]
    fn softmax_known_numbers() {
        for_each_isa(|_| {
            let mut x = [1.0, 2.0, 3.0];
            softmax(&mut x);
            let want = [0.090_030_57, 0.244_728_48, 0.665_240_94];
            assert_close(&x, &want);
            let mut r = [1.0, 2.0, 3.0];
            reference::softmax(&mut r);
            assert_close(&r, &want);
        });
    }

    #[test]
    fn softmax_matches_the_reference() {
        for_each_isa(|_| {
            for (seed, scale) in [(41, 1.0), (42, 30.0), (43, 1000.0)] {
                let mut x = vec![0.0; 50];
                Rng::new(seed).fill_uniform(&mut x, -scale, scale);
                let mut want = x.clone();
                softmax(&mut x);
                reference::softmax(&mut want);
                assert_close(&x, &want);
            }
        });
    }

    /// Softmax of `x` by the kernel, checked to be a probability vector and to match the reference.
    fn softmax_checked(x: &[f32]) -> Vec<f32> {
        let mut y = x.to_vec();
        softmax(&mut y);
        assert!(y.iter().all(|p| (0.0..=1.0).contains(p)), "{x:?} → {y:?}");
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{x:?} → {y:?}");
        let mut want = x.to_vec();
        reference::softmax(&mut want);
        assert_close(&y, &want);
        y
    }

    #[test]
    fn softmax_of_large_values_is_a_probability_vector() {
        for_each_isa(|_| {
            assert_close(&softmax_checked(&[1000.0, 1000.0]), &[0.5, 0.5]);
            assert_close(&softmax_checked(&[1000.0, 0.0, -1000.0]), &[1.0, 0.0, 0.0]);
            let y = softmax_checked(&[1000.0, 999.0, 998.0]);
            assert_close(&y, &[0.665_240_94, 0.244_728_48, 0.090_030_57]);
            softmax_checked(&[-1000.0, -1001.0, -3e38]);
            softmax_checked(&[3e38, -3e38]);
        });
    }

    #[test]
    fn softmax_limits_at_infinity() {
        for_each_isa(|_| {
            let inf = f32::INFINITY;
            assert_eq!(softmax_checked(&[inf, 0.0, inf, -inf]), [0.5, 0.0, 0.5, 0.0]);
            assert_eq!(softmax_checked(&[-inf, -inf, -inf, -inf]), [0.25; 4]);
            assert_eq!(softmax_checked(&[-inf, 2.0, -inf]), [0.0, 1.0, 0.0]);
            assert_eq!(softmax_checked(&[5.0]), [1.0]);
        });
    }

    #[test]
    fn softmax_with_nan_is_all_nan() {
        for_each_isa(|_| {
            for x in [[1.0, f32::NAN, 2.0], [f32::INFINITY, f32::NAN, 0.0], [f32::NAN; 3]] {
                let mut y = x;
                softmax(&mut y);
                assert!(y.iter().all(|v| v.is_nan()), "{x:?} → {y:?}");
                let mut r = x;
                reference::softmax(&mut r);
                assert!(r.iter().all(|v| v.is_nan()), "reference: {x:?} → {r:?}");
            }
        });
    }

    #[test]
    fn softmax_of_nothing_is_nothing() {
        for_each_isa(|_| {
            let mut x: [f32; 0] = [];
            softmax(&mut x);
        });
    }

    /// The relative error of `got` from `want` (0 if both are 0 or both `NaN`).
    fn relative_error(got: f32, want: f64) -> f64 {
        if (got.is_nan() && want.is_nan()) || f64::from(got) == want {
            0.0
        } else {
            (f64::from(got) - want).abs() / want.abs()
        }
    }

    /// Checks `kernel` against `exact` (in `f64`) on `xs`, to `tol` relative where the exact value
    /// is a normal `f32`, and to the smallest normal absolute below; prints the worst relative error.
    fn check_relative(what: &str, kernel: fn(&mut [f32]), exact: fn(f64) -> f64, xs: &[f32], tol: f64) {
        let mut y = xs.to_vec();
        kernel(&mut y);
        let mut worst = (0.0, 0.0);
        for (&x, &g) in xs.iter().zip(&y) {
            let want = exact(f64::from(x));
            let ok = if want.abs() >= f64::from(f32::MIN_POSITIVE) {
                let rel = relative_error(g, want);
                if rel > worst.0 {
                    worst = (rel, x);
                }
                rel <= tol
            } else {
                (f64::from(g) - want).abs() <= f64::from(f32::MIN_POSITIVE)
            };
            assert!(ok, "{what}({x:e}) = {g:e}, want {want:e} (relative error {:.2e})", relative_error(g, want));
        }
        eprintln!("{what}: worst relative error {:.2e} at {:e}", worst.0, worst.1);
    }

    /// A dense grid of `[−lim, lim]`, and every magnitude from the smallest subnormal to `lim` by
    /// a stride of bits, with both signs.
    fn dense(lim: f32) -> Vec<f32> {
        let n = 1 << 18;
        let mut xs: Vec<f32> = (0..=n).map(|k| lim * (2.0 * k as f32 / n as f32 - 1.0)).collect();
        for bits in (0..=lim.to_bits()).step_by(4099) {
            xs.extend([f32::from_bits(bits), -f32::from_bits(bits)]);
        }
        xs
    }

    #[test]
    fn sigmoid_and_tanh_are_accurate_to_a_few_ulps() {
        let sigmoid_f64 = |v: f64| 1.0 / (1.0 + (-v).exp());
        let xs = dense(110.0);
        for_each_isa(|_| {
            check_relative("sigmoid", sigmoid, sigmoid_f64, &xs, 4e-7);
            check_relative("tanh", tanh, f64::tanh, &xs, 4e-7);
        });
    }

    #[test]
    fn tanh_keeps_its_relative_accuracy_near_zero() {
        // Every 97th float from the smallest subnormal to 0.01, both signs; then the switch
        // between the polynomial and the exponential.
        let mut xs: Vec<f32> = Vec::new();
        for bits in (1..=0.01f32.to_bits()).step_by(97) {
            xs.extend([f32::from_bits(bits), -f32::from_bits(bits)]);
        }
        let mut at = TANH_SMALL.next_down().next_down();
        for _ in 0..5 {
            xs.extend([at, -at]);
            at = at.next_up();
        }
        for_each_isa(|_| {
            check_relative("tanh", tanh, f64::tanh, &xs, 3e-7);
            let mut y = [0.0, -0.0, 1e-30, -1e-30, 1e-5, -1e-5, 1e-3];
            tanh(&mut y);
            assert!(y[0].to_bits() == 0 && y[1].to_bits() == (-0.0f32).to_bits(), "{y:?}");
            assert!(y[2] == 1e-30 && y[3] == -1e-30 && y[4] == 1e-5 && y[5] == -1e-5, "{y:?}");
            assert!(relative_error(y[6], 1e-3f64.tanh()) < 1.5e-7, "{y:?}");
        });
    }

    /// An in-place kernel and its scalar reference.
    type Pair = (fn(&mut [f32]), fn(f32) -> f32);

    #[test]
    fn every_length_matches_the_reference() {
        // Every tail length of every path, so the partial vectors are covered.
        let mut all = vec![0.0; 40];
        Rng::new(51).fill_uniform(&mut all, -6.0, 6.0);
        for_each_isa(|_| {
            for n in 0..=all.len() {
                let x = &all[..n];
                let pairs: [Pair; 2] = [(sigmoid, reference::sigmoid), (tanh, reference::tanh)];
                for (kernel, scalar) in pairs {
                    let mut y = x.to_vec();
                    kernel(&mut y);
                    let want: Vec<f32> = x.iter().map(|&v| scalar(v)).collect();
                    assert_close(&y, &want);
                }
                let mut y = x.to_vec();
                softmax(&mut y);
                let mut want = x.to_vec();
                reference::softmax(&mut want);
                assert_close(&y, &want);
            }
        });
    }

    /// Runs `forward` then `backward` (the kernels) on random inputs and gradients, and compares
    /// with the reference derivative `scalar(y, dy)` applied to the same forward output.
    fn check_backward(
        forward: impl Fn(&mut [f32]),
        backward: impl Fn(&[f32], &mut [f32]),
        scalar: impl Fn(f32, f32) -> f32,
    ) {
        for (seed, scale) in [(161, 1.0), (162, 10.0), (163, 200.0)] {
            let mut y = inputs(seed, scale);
            forward(&mut y);
            let mut dy = vec![0.0; y.len()];
            Rng::new(seed + 100).fill_uniform(&mut dy, -1.0, 1.0);
            let want: Vec<f32> = y.iter().zip(&dy).map(|(&yv, &d)| scalar(yv, d)).collect();
            backward(&y, &mut dy);
            assert_close(&dy, &want);
        }
    }

    #[test]
    fn element_wise_backward_kernels_match_the_reference() {
        for_each_isa(|_| {
            check_backward(relu, relu_backward, reference::relu_backward);
            check_backward(
                |x| leaky_relu(x, 0.01),
                |y, d| leaky_relu_backward(y, d, 0.01),
                |y, d| reference::leaky_relu_backward(y, d, 0.01),
            );
            check_backward(
                |x| leaky_relu(x, 0.0),
                |y, d| leaky_relu_backward(y, d, 0.0),
                |y, d| reference::leaky_relu_backward(y, d, 0.0),
            );
            check_backward(sigmoid, sigmoid_backward, reference::sigmoid_backward);
            check_backward(tanh, tanh_backward, reference::tanh_backward);
        });
    }

    #[test]
    fn softmax_backward_matches_the_reference() {
        for (seed, n, scale) in [(171, 10, 1.0), (172, 50, 5.0), (173, 1, 1.0), (174, 3, 100.0)] {
            let mut rng = Rng::new(seed);
            let mut y = vec![0.0; n];
            rng.fill_uniform(&mut y, -scale, scale);
            softmax(&mut y);
            let mut dy = vec![0.0; n];
            rng.fill_uniform(&mut dy, -1.0, 1.0);
            let mut want = dy.clone();
            softmax_backward(&y, &mut dy);
            reference::softmax_backward(&y, &mut want);
            assert_close(&dy, &want);
        }
    }

    #[test]
    fn backward_known_numbers() {
        for_each_isa(|_| {
            let y = [0.0, 2.0, -0.5, 1e-30];
            let mut dy = [1.0, 2.0, 3.0, 4.0];
            relu_backward(&y, &mut dy);
            assert_eq!(dy, [0.0, 2.0, 0.0, 4.0]);
            let mut dy = [1.0, 2.0, 3.0, 4.0];
            leaky_relu_backward(&y, &mut dy, 0.1);
            assert_eq!(dy, [0.1, 2.0, 0.3, 4.0]);
            let mut dy = [2.0, 1.0];
            sigmoid_backward(&[0.5, 0.25], &mut dy);
            assert_eq!(dy, [0.5, 0.1875]);
            let mut dy = [2.0, 1.0];
            tanh_backward(&[0.5, -0.25], &mut dy);
            assert_eq!(dy, [1.5, 0.9375]);
            // y = (½, ¼, ¼), dy = (1, 0, 0): Σ dy·y = ½, so dx = (¼, −⅛, −⅛).
            let mut dy = [1.0, 0.0, 0.0];
            softmax_backward(&[0.5, 0.25, 0.25], &mut dy);
            assert_eq!(dy, [0.25, -0.125, -0.125]);
            // A constant gradient is lost in softmax: its outputs always sum to 1.
            let mut dy = [3.0; 4];
            softmax_backward(&[0.1, 0.2, 0.3, 0.4], &mut dy);
            assert!(dy.iter().all(|v| v.abs() < 1e-6), "{dy:?}");
        });
    }

    /// `n` values in `[-3, 3)` at least `0.01` away from zero (the kink of the ReLUs).
    fn away_from_zero(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        random_f64(&mut rng, n)
            .into_iter()
            .map(|v| 3.0 * v)
            .map(|v| if v.abs() < 0.01 { v + 0.02 } else { v })
            .collect()
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        type Pair = (fn(f64) -> f64, fn(f64, f64) -> f64, &'static str);
        let pairs: [Pair; 5] = [
            (reference::relu, reference::relu_backward, "relu"),
            (|v| reference::leaky_relu(v, 0.01), |y, d| reference::leaky_relu_backward(y, d, 0.01), "leaky relu"),
            (|v| reference::leaky_relu(v, 0.3), |y, d| reference::leaky_relu_backward(y, d, 0.3), "leaky relu 0.3"),
            (reference::sigmoid, reference::sigmoid_backward, "sigmoid"),
            (reference::tanh, reference::tanh_backward, "tanh"),
        ];
        for (k, (forward, backward, what)) in pairs.into_iter().enumerate() {
            let x = away_from_zero(181 + k as u64, 200);
            let r = random_f64(&mut Rng::new(191 + k as u64), x.len());
            let loss = |x: &[f64]| r.iter().zip(x).map(|(&rv, &xv)| rv * forward(xv)).sum::<f64>();
            let dx: Vec<f64> = x.iter().zip(&r).map(|(&xv, &rv)| backward(forward(xv), rv)).collect();
            assert_gradient(what, &dx, &finite_differences(&x, loss));
        }
        for (seed, n) in [(201, 1), (202, 5), (203, 40)] {
            let x = away_from_zero(seed, n);
            let r = random_f64(&mut Rng::new(seed + 10), n);
            let loss = |x: &[f64]| {
                let mut y = x.to_vec();
                reference::softmax(&mut y);
                dot_f64(&r, &y)
            };
            let mut y = x.clone();
            reference::softmax(&mut y);
            let mut dx = r.clone();
            reference::softmax_backward(&y, &mut dx);
            let fd = finite_differences(&x, loss);
            if n == 1 {
                // Softmax of one value is constant; both gradients are (nearly) zero.
                assert!(dx[0] == 0.0 && fd[0].abs() < 1e-9, "{dx:?} {fd:?}");
            } else {
                assert_gradient("softmax", &dx, &fd);
            }
        }
    }
}
