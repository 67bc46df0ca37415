//! Per-sample losses, each returning the loss of one sample and writing its gradient with respect
//! to the network's output.
//!
//! The gradients are those of the per-sample loss: a trainer that minimises the mean over a batch
//! scales them by `1 / batch` itself.
//!
//! # Softmax and cross-entropy
//! [`softmax_cross_entropy`] takes **logits** (the values before softmax) and fuses softmax with
//! the negative log-likelihood, as PyTorch's `nn.CrossEntropyLoss` does: it is exact and finite
//! for any finite logits, where `-ln(softmax(z)[label])` computed in two steps underflows to
//! `-ln(0) = ∞` once one logit leads by about 90. A network declared as ending in `softmax`
//! therefore trains through this fused path: the trainer runs it up to the logits, passes those
//! here, and uses softmax only when it predicts.

/// Which loss `fit` minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Softmax followed by the negative log-likelihood of the label, fused on the logits
    /// ([`softmax_cross_entropy`]), as PyTorch's `nn.CrossEntropyLoss`.
    CrossEntropy,
    /// Mean over the outputs of the squared difference to the one-hot target
    /// ([`mean_squared_error`]), as PyTorch's `nn.MSELoss`.
    MeanSquaredError,
    /// Half the sum of the squared differences to the one-hot target
    /// ([`half_sum_squared_error`]): the "total error" of the classic back-propagation tutorials.
    HalfSumSquaredError,
}

impl Loss {
    /// The loss of one sample whose class is `label`, writing its gradient with respect to
    /// `output` into `grad`.
    ///
    /// For [`Loss::CrossEntropy`], `output` must be the logits (see the [module docs](self)). The
    /// squared-error losses compare `output` with the one-hot vector of `label`, computed on the fly
    /// (no scratch memory).
    ///
    /// # Panics
    /// If `grad` and `output` differ in length or `label` is not an index of `output`.
    pub fn per_sample(&self, output: &[f32], label: usize, grad: &mut [f32]) -> f32 {
        check_label(output.len(), label);
        match self {
            Loss::CrossEntropy => softmax_cross_entropy(output, label, grad),
            Loss::MeanSquaredError => {
                let scale = 1.0 / output.len() as f32;
                squared_error(output, |i| one_hot(i, label), grad, scale, 2.0 * scale)
            }
            Loss::HalfSumSquaredError => squared_error(output, |i| one_hot(i, label), grad, 0.5, 1.0),
        }
    }
}

/// Softmax cross-entropy of one sample on its `logits`: `ln Σ exp(z) − z[label]`, computed with the
/// largest logit subtracted first so that it is finite for any finite logits. Writes
/// `softmax(z) − onehot(label)`, the gradient with respect to the logits, into `dlogits`.
///
/// # Panics
/// If `dlogits` and `logits` differ in length or `label` is not an index of `logits`.
pub fn softmax_cross_entropy(logits: &[f32], label: usize, dlogits: &mut [f32]) -> f32 {
    check_label(logits.len(), label);
    assert_eq!(
        dlogits.len(),
        logits.len(),
        "softmax_cross_entropy: {} logits but {} gradients",
        logits.len(),
        dlogits.len()
    );
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (d, &z) in dlogits.iter_mut().zip(logits) {
        *d = (z - max).exp();
        sum += *d;
    }
    // `sum ≥ 1` (the largest logit contributes exp(0)), so neither the division nor the logarithm
    // can overflow.
    let inv = 1.0 / sum;
    for d in dlogits.iter_mut() {
        *d *= inv;
    }
    dlogits[label] -= 1.0;
    sum.ln() - (logits[label] - max)
}

/// Mean squared error of one sample, `Σ (o − t)² / n` over the `n` outputs, as PyTorch's
/// `nn.MSELoss` with its default mean reduction. Writes the gradient `2 (o − t) / n` into
/// `doutput`.
///
/// # Panics
/// If `output`, `target` and `doutput` are not all of the same length.
pub fn mean_squared_error(output: &[f32], target: &[f32], doutput: &mut [f32]) -> f32 {
    assert_eq!(target.len(), output.len(), "mean_squared_error: {} outputs but {} targets", output.len(), target.len());
    let scale = 1.0 / output.len() as f32;
    squared_error(output, |i| target[i], doutput, scale, 2.0 * scale)
}

/// Half the sum of squared errors of one sample, `Σ ½ (t − o)²`: the "total error" of the classic
/// back-propagation tutorials. Writes the gradient `o − t` into `doutput`.
///
/// # Panics
/// If `output`, `target` and `doutput` are not all of the same length.
pub fn half_sum_squared_error(output: &[f32], target: &[f32], doutput: &mut [f32]) -> f32 {
    assert_eq!(
        target.len(),
        output.len(),
        "half_sum_squared_error: {} outputs but {} targets",
        output.len(),
        target.len()
    );
    squared_error(output, |i| target[i], doutput, 0.5, 1.0)
}

/// `loss_scale · Σ (o − t)²`, writing `grad_scale · (o − t)` into `grad`.
fn squared_error(
    output: &[f32],
    target: impl Fn(usize) -> f32,
    grad: &mut [f32],
    loss_scale: f32,
    grad_scale: f32,
) -> f32 {
    assert_eq!(grad.len(), output.len(), "squared error: {} outputs but {} gradients", output.len(), grad.len());
    let mut sum = 0.0f32;
    for (i, (g, &o)) in grad.iter_mut().zip(output).enumerate() {
        let diff = o - target(i);
        sum += diff * diff;
        *g = grad_scale * diff;
    }
    loss_scale * sum
}

fn one_hot(i: usize, label: usize) -> f32 {
    if i == label {
        1.0
    } else {
        0.0
    }
}

fn check_label(classes: usize, label: usize) {
    assert!(label < classes, "label {label} out of range for {classes} outputs");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss in f64 of `output` (as f64) for `label`, written independently of the code above.
    fn loss_f64(loss: Loss, output: &[f64], label: usize) -> f64 {
        let t = |i: usize| if i == label { 1.0 } else { 0.0 };
        match loss {
            Loss::CrossEntropy => {
                let max = output.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + output.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
                lse - output[label]
            }
            Loss::MeanSquaredError => {
                output.iter().enumerate().map(|(i, o)| (o - t(i)).powi(2)).sum::<f64>() / output.len() as f64
            }
            Loss::HalfSumSquaredError => output.iter().enumerate().map(|(i, o)| 0.5 * (t(i) - o).powi(2)).sum(),
        }
    }

    fn close(got: f32, want: f64, tol: f64) -> bool {
        (got as f64 - want).abs() <= tol * want.abs().max(1.0)
    }

    #[test]
    fn cross_entropy_known_value() {
        let mut d = [0.0; 3];
        let loss = softmax_cross_entropy(&[1.0, 2.0, 3.0], 2, &mut d);
        assert!(close(loss, 0.4076059644, 1e-6), "{loss}");
        // softmax([1, 2, 3]) = [0.0900306, 0.2447285, 0.6652410].
        let want = [0.09003057317, 0.24472847105, 0.66524095577 - 1.0];
        for (g, w) in d.iter().zip(want) {
            assert!(close(*g, w, 1e-6), "{d:?}");
        }
        // Uniform logits: ln(n), whatever the label.
        let loss = softmax_cross_entropy(&[0.5; 10], 7, &mut [0.0; 10]);
        assert!(close(loss, 10f64.ln(), 1e-6), "{loss}");
    }

    #[test]
    fn cross_entropy_gradient_sums_to_zero() {
        let logits = [0.3, -1.2, 2.5, 0.0, 4.1, -0.7];
        for label in 0..logits.len() {
            let mut d = [0.0; 6];
            softmax_cross_entropy(&logits, label, &mut d);
            let sum: f32 = d.iter().sum();
            assert!(sum.abs() < 1e-6, "label {label}: {d:?} sums to {sum}");
            assert!(d[label] < 0.0 && d.iter().enumerate().all(|(i, &g)| i == label || g > 0.0));
        }
    }

    #[test]
    fn cross_entropy_large_logits_stay_finite() {
        let logits = [1e4, -1e4, 0.0, 1e4 - 1.0];
        let mut d = [0.0; 4];
        // The leading logit is the label: the loss is ln(1 + e^-1) (plus e^-1e4 terms that vanish).
        let loss = softmax_cross_entropy(&logits, 0, &mut d);
        assert!(close(loss, (1.0 + (-1.0f64).exp()).ln(), 1e-6), "{loss}");
        assert!(d.iter().all(|g| g.is_finite()), "{d:?}");
        // A label 2e4 behind the leader: a loss of 2e4 + ln(1 + e^-1), not infinity.
        let loss = softmax_cross_entropy(&logits, 1, &mut d);
        assert!(loss.is_finite() && close(loss, 2e4 + (1.0 + (-1.0f64).exp()).ln(), 1e-6), "{loss}");
        assert!(d.iter().all(|g| g.is_finite()), "{d:?}");
        assert!((d[1] + 1.0).abs() < 1e-6 && d.iter().sum::<f32>().abs() < 1e-6, "{d:?}");
        let loss = softmax_cross_entropy(&[-1e4, -1e4], 0, &mut d[..2]);
        assert!(close(loss, 2f64.ln(), 1e-6), "{loss}");
    }

    #[test]
    fn mean_squared_error_by_hand() {
        let mut d = [0.0; 3];
        // Differences 0.5, −1, 2: squares 0.25 + 1 + 4 = 5.25, mean 1.75.
        let loss = mean_squared_error(&[1.5, 0.0, 3.0], &[1.0, 1.0, 1.0], &mut d);
        assert!(close(loss, 1.75, 1e-7), "{loss}");
        // 2·diff/3.
        for (g, w) in d.iter().zip([1.0 / 3.0, -2.0 / 3.0, 4.0 / 3.0]) {
            assert!(close(*g, w, 1e-7), "{d:?}");
        }
        // One-hot target of label 1 for outputs [0.2, 0.7, 0.1]: (0.04 + 0.09 + 0.01) / 3.
        let loss = Loss::MeanSquaredError.per_sample(&[0.2, 0.7, 0.1], 1, &mut d);
        assert!(close(loss, 0.14 / 3.0, 1e-6), "{loss}");
        for (g, w) in d.iter().zip([0.4 / 3.0, -0.6 / 3.0, 0.2 / 3.0]) {
            assert!(close(*g, w, 1e-6), "{d:?}");
        }
    }

    #[test]
    fn half_sum_squared_error_by_hand() {
        // Mazur's worked example: outputs 0.75136507 and 0.772928465, targets 0.01 and 0.99, total
        // error 0.298371109.
        let mut d = [0.0; 2];
        let loss = half_sum_squared_error(&[0.75136507, 0.7729285], &[0.01, 0.99], &mut d);
        assert!(close(loss, 0.298371109, 1e-6), "{loss}");
        assert!(close(d[0], 0.74136507, 1e-6) && close(d[1], -0.217071535, 1e-6), "{d:?}");
        let loss = Loss::HalfSumSquaredError.per_sample(&[0.2, 0.7, 0.1], 1, &mut [0.0; 3]);
        assert!(close(loss, 0.07, 1e-6), "{loss}");
    }

    #[test]
    fn per_sample_cross_entropy_is_the_fused_loss() {
        let logits = [0.1, -0.4, 1.3, 0.8];
        let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
        let la = Loss::CrossEntropy.per_sample(&logits, 3, &mut a);
        let lb = softmax_cross_entropy(&logits, 3, &mut b);
        assert_eq!((la, a), (lb, b));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let outputs: [&[f32]; 3] =
            [&[0.3, -1.2, 2.5, 0.0, 4.1, -0.7], &[0.2, 0.7, 0.1], &[-3.0, 8.0, 0.25, 1.5, -0.5, 0.0, 2.0, -6.0]];
        let h = 1e-6;
        for loss in [Loss::CrossEntropy, Loss::MeanSquaredError, Loss::HalfSumSquaredError] {
            for output in outputs {
                for label in 0..output.len() {
                    let mut grad = vec![0.0; output.len()];
                    let value = loss.per_sample(output, label, &mut grad);
                    let x: Vec<f64> = output.iter().map(|&o| o as f64).collect();
                    let exact = loss_f64(loss, &x, label);
                    assert!(close(value, exact, 1e-6), "{loss:?} {output:?} {label}: {value} vs {exact}");
                    for i in 0..x.len() {
                        let (mut plus, mut minus) = (x.clone(), x.clone());
                        plus[i] += h;
                        minus[i] -= h;
                        let numeric = (loss_f64(loss, &plus, label) - loss_f64(loss, &minus, label)) / (2.0 * h);
                        assert!(
                            (grad[i] as f64 - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                            "{loss:?} {output:?} label {label}, d/do[{i}]: {} vs {numeric}",
                            grad[i]
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "label 3 out of range")]
    fn label_out_of_range_panics() {
        Loss::MeanSquaredError.per_sample(&[0.0; 3], 3, &mut [0.0; 3]);
    }
}
