//! Element-wise activations and softmax, applied in place to a tensor seen as a flat slice.

use super::math;

/// ReLU in place. Shape: `x` is any tensor, flat. `x ← max(x, 0)`; `NaN` stays `NaN`.
pub fn relu(x: &mut [f32]) {
    for v in x.iter_mut() {
        if *v < 0.0 {
            *v = 0.0;
        }
    }
}

/// Leaky ReLU in place. Shape: `x` is any tensor, flat. `x ← x` if `x ≥ 0`, else `slope · x`.
pub fn leaky_relu(x: &mut [f32], slope: f32) {
    for v in x.iter_mut() {
        if *v < 0.0 {
            *v *= slope;
        }
    }
}

/// Logistic sigmoid in place. Shape: `x` is any tensor, flat. `x ← 1 / (1 + e^−x)`.
///
/// Evaluated as `1 / (1 + e^−|x|)` or `e^−|x| / (1 + e^−|x|)` so the exponential never
/// overflows: the result is in `[0, 1]` for every non-`NaN` input, including `±∞`.
pub fn sigmoid(x: &mut [f32]) {
    for v in x.iter_mut() {
        let e = math::exp(-v.abs());
        let p = 1.0 / (1.0 + e);
        *v = if *v >= 0.0 { p } else { e * p };
    }
}

/// Hyperbolic tangent in place. Shape: `x` is any tensor, flat. `x ← tanh(x)`.
pub fn tanh(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = math::tanh(*v);
    }
}

/// Softmax in place. Shape: `x` is `[N]`. `x[k] ← e^(x[k] − m) / Σ_l e^(x[l] − m)`, `m = max x`.
///
/// Subtracting the maximum keeps every exponential in `[0, 1]` and the sum at least 1. Where
/// that still gives `NaN` without a `NaN` input, the limit is used instead: if some entries are
/// `+∞` they share the probability equally, and if every entry is `−∞` the result is uniform.
/// A `NaN` input makes every output `NaN`.
pub fn softmax(x: &mut [f32]) {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if m.is_infinite() {
        indicator_of(x, m);
    } else {
        for v in x.iter_mut() {
            *v = math::exp(*v - m);
        }
    }
    let sum: f32 = x.iter().sum();
    for v in x.iter_mut() {
        *v /= sum;
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
    use crate::kernels::test_util::assert_close;
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
        check(relu, reference::relu);
        check(|x| leaky_relu(x, 0.01), |v| reference::leaky_relu(v, 0.01));
        check(sigmoid, reference::sigmoid);
        check(tanh, reference::tanh);
    }

    #[test]
    fn known_numbers() {
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
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        let mut x = [-100.0, 100.0, -1e30, 1e30, f32::NEG_INFINITY, f32::INFINITY, -88.0];
        sigmoid(&mut x);
        assert!(x.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{x:?}");
        assert!(x[0] < 1e-40 && x[2] == 0.0 && x[4] == 0.0);
        assert!(x[1] == 1.0 && x[3] == 1.0 && x[5] == 1.0);
        assert!((x[6] - 6.054_601e-39).abs() < 1e-43, "sigmoid(-88) = {}", x[6]);
    }

    #[test]
    fn nan_propagates_through_element_wise_kernels() {
        let kernels: [fn(&mut [f32]); 4] = [relu, sigmoid, tanh, |x| leaky_relu(x, 0.1)];
        for kernel in kernels {
            let mut x = [f32::NAN];
            kernel(&mut x);
            assert!(x[0].is_nan());
        }
    }

    #[test]
    fn softmax_known_numbers() {
        let mut x = [1.0, 2.0, 3.0];
        softmax(&mut x);
        let want = [0.090_030_57, 0.244_728_48, 0.665_240_94];
        assert_close(&x, &want);
        let mut r = [1.0, 2.0, 3.0];
        reference::softmax(&mut r);
        assert_close(&r, &want);
    }

    #[test]
    fn softmax_matches_the_reference() {
        for (seed, scale) in [(41, 1.0), (42, 30.0), (43, 1000.0)] {
            let mut x = vec![0.0; 50];
            Rng::new(seed).fill_uniform(&mut x, -scale, scale);
            let mut want = x.clone();
            softmax(&mut x);
            reference::softmax(&mut want);
            assert_close(&x, &want);
        }
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
        assert_close(&softmax_checked(&[1000.0, 1000.0]), &[0.5, 0.5]);
        assert_close(&softmax_checked(&[1000.0, 0.0, -1000.0]), &[1.0, 0.0, 0.0]);
        let y = softmax_checked(&[1000.0, 999.0, 998.0]);
        assert_close(&y, &[0.665_240_94, 0.244_728_48, 0.090_030_57]);
        softmax_checked(&[-1000.0, -1001.0, -3e38]);
        softmax_checked(&[3e38, -3e38]);
    }

    #[test]
    fn softmax_limits_at_infinity() {
        let inf = f32::INFINITY;
        assert_eq!(softmax_checked(&[inf, 0.0, inf, -inf]), [0.5, 0.0, 0.5, 0.0]);
        assert_eq!(softmax_checked(&[-inf, -inf, -inf, -inf]), [0.25; 4]);
        assert_eq!(softmax_checked(&[-inf, 2.0, -inf]), [0.0, 1.0, 0.0]);
        assert_eq!(softmax_checked(&[5.0]), [1.0]);
    }

    #[test]
    fn softmax_with_nan_is_all_nan() {
        for x in [[1.0, f32::NAN, 2.0], [f32::INFINITY, f32::NAN, 0.0], [f32::NAN; 3]] {
            let mut y = x;
            softmax(&mut y);
            assert!(y.iter().all(|v| v.is_nan()), "{x:?} → {y:?}");
            let mut r = x;
            reference::softmax(&mut r);
            assert!(r.iter().all(|v| v.is_nan()), "reference: {x:?} → {r:?}");
        }
    }

    #[test]
    fn softmax_of_nothing_is_nothing() {
        let mut x: [f32; 0] = [];
        softmax(&mut x);
    }
}
