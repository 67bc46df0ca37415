//! Batch normalisation of a batch seen as `(N, C, S)`: per channel of images (`S = H·W`) or per
//! feature of flat vectors (`S = 1`). Training uses the batch's statistics (biased variance to
//! normalise, unbiased for the running variance, as PyTorch) and saves the mean and inverse
//! standard deviation for the backward pass; inference uses the running statistics. The
//! arithmetic is that of [`kernels::batchnorm`](crate::kernels::batchnorm), so the dynamic and
//! generated models round alike.

use ndarray::{Array1, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, Zip};

use crate::dynamic::params::BatchNormState;
use crate::kernels::batchnorm::{EPS, MOMENTUM};

/// What a training forward pass saves for [`backward`], one value per channel.
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    /// The batch mean.
    pub(crate) mean: Array1<f32>,
    /// `1 / √(var + eps)` of the batch's (biased) variance.
    pub(crate) invstd: Array1<f32>,
}

/// Normalises `x` (N, C, S) with its own statistics, scaled by γ and shifted by β, and moves the
/// running statistics of `bn` towards them (momentum [`MOMENTUM`]). Sums are in `f64`.
///
/// # Panics
/// If the batch is empty (it has no statistics).
pub(crate) fn forward_train(x: ArrayView3<'_, f32>, bn: &mut BatchNormState) -> (Array3<f32>, Stats) {
    assert!(x.len_of(Axis(0)) > 0, "batchnorm training needs at least one sample");
    let channels = x.len_of(Axis(1));
    let n = (x.len_of(Axis(0)) * x.len_of(Axis(2))) as f64;
    let mut y = Array3::zeros(x.raw_dim());
    let mut stats = Stats { mean: Array1::zeros(channels), invstd: Array1::zeros(channels) };
    for c in 0..channels {
        let xc = x.index_axis(Axis(1), c);
        let mean = xc.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = xc.iter().map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean)).sum::<f64>() / n;
        stats.mean[c] = mean as f32;
        stats.invstd[c] = (1.0 / (var + f64::from(EPS)).sqrt()) as f32;
        let scale = bn.gamma[c] * stats.invstd[c];
        normalise(xc, stats.mean[c], scale, bn.beta[c], y.index_axis_mut(Axis(1), c));
        // A channel of one value has variance 0 and is divided by 1, not 0.
        let unbiased = var * n / (n - 1.0).max(1.0);
        bn.running_mean[c] = (1.0 - MOMENTUM) * bn.running_mean[c] + MOMENTUM * stats.mean[c];
        bn.running_var[c] = (1.0 - MOMENTUM) * bn.running_var[c] + MOMENTUM * unbiased as f32;
    }
    (y, stats)
}

/// Normalises `x` (N, C, S) with the running statistics of `bn`.
pub(crate) fn forward_inference(x: ArrayView3<'_, f32>, bn: &BatchNormState) -> Array3<f32> {
    let mut y = Array3::zeros(x.raw_dim());
    for c in 0..x.len_of(Axis(1)) {
        let scale = bn.gamma[c] / (bn.running_var[c] + EPS).sqrt();
        normalise(x.index_axis(Axis(1), c), bn.running_mean[c], scale, bn.beta[c], y.index_axis_mut(Axis(1), c));
    }
    y
}

/// Backward pass of [`forward_train`] through the batch statistics, given its input `x`, γ, the
/// saved `stats` and the gradient `dy` of its output: accumulates `dgamma += Σ dy·x̂` and
/// `dbeta += Σ dy` and gives `dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂))`, with
/// `x̂ = (x − mean)·invstd` and the sums in `f64`.
pub(crate) fn backward(
    x: ArrayView3<'_, f32>,
    gamma: &Array1<f32>,
    stats: &Stats,
    dy: ArrayView3<'_, f32>,
    dgamma: &mut Array1<f32>,
    dbeta: &mut Array1<f32>,
) -> Array3<f32> {
    let n = (x.len_of(Axis(0)) * x.len_of(Axis(2))) as f64;
    let mut dx = Array3::zeros(x.raw_dim());
    for c in 0..x.len_of(Axis(1)) {
        let (xc, dyc) = (x.index_axis(Axis(1), c), dy.index_axis(Axis(1), c));
        let (mean, invstd) = (stats.mean[c], stats.invstd[c]);
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
        Zip::from(&xc).and(&dyc).for_each(|&x, &dy| {
            sum_dy += f64::from(dy);
            sum_dy_xhat += f64::from(dy) * f64::from((x - mean) * invstd);
        });
        dbeta[c] += sum_dy as f32;
        dgamma[c] += sum_dy_xhat as f32;
        let (mean_dy, mean_dy_xhat) = ((sum_dy / n) as f32, (sum_dy_xhat / n) as f32);
        let scale = gamma[c] * invstd;
        Zip::from(dx.index_axis_mut(Axis(1), c)).and(&xc).and(&dyc).for_each(|dx, &x, &dy| {
            *dx = scale * (dy - mean_dy - (x - mean) * invstd * mean_dy_xhat);
        });
    }
    dx
}

/// One channel `(N, S)`: `y = (x − mean)·scale + beta`.
fn normalise(x: ArrayView2<'_, f32>, mean: f32, scale: f32, beta: f32, y: ArrayViewMut2<'_, f32>) {
    Zip::from(y).and(&x).for_each(|y, &x| *y = (x - mean) * scale + beta);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::{assert_close, random};
    use crate::kernels::reference::{self, BatchNormArgs};
    use crate::rng::Rng;

    fn state(rng: &mut Rng, c: usize) -> BatchNormState {
        let var: Array1<f32> = random(rng, c);
        BatchNormState {
            gamma: random(rng, c),
            beta: random(rng, c),
            running_mean: random(rng, c),
            running_var: var.mapv(|v| v.abs() + 0.5),
        }
    }

    #[test]
    fn training_matches_the_reference_forward_and_backward() {
        let mut rng = Rng::new(51);
        // Images (S = H·W) and flat features (S = 1); a single value per channel too.
        for (n, c, s) in [(4, 3, 6), (5, 7, 1), (1, 2, 4), (1, 3, 1)] {
            let x: Array3<f32> = random(&mut rng, (n, c, s));
            let dy: Array3<f32> = random(&mut rng, (n, c, s));
            let mut bn = state(&mut rng, c);
            let before = bn.clone();
            let (y, stats) = forward_train(x.view(), &mut bn);
            let mut want = before.clone();
            let (mut want_y, mut mean, mut invstd) = (vec![f32::NAN; n * c * s], vec![0.0; c], vec![0.0; c]);
            reference::batchnorm_train_forward(
                c,
                s,
                x.as_slice().unwrap(),
                want.gamma.as_slice().unwrap(),
                want.beta.as_slice().unwrap(),
                want.running_mean.as_slice_mut().unwrap(),
                want.running_var.as_slice_mut().unwrap(),
                MOMENTUM,
                EPS,
                &mut want_y,
                &mut mean,
                &mut invstd,
            );
            assert_close(y.as_slice().unwrap(), &want_y);
            assert_close(stats.mean.as_slice().unwrap(), &mean);
            assert_close(stats.invstd.as_slice().unwrap(), &invstd);
            assert_close(bn.running_mean.as_slice().unwrap(), want.running_mean.as_slice().unwrap());
            assert_close(bn.running_var.as_slice().unwrap(), want.running_var.as_slice().unwrap());

            let (mut dgamma, mut dbeta): (Array1<f32>, Array1<f32>) = (random(&mut rng, c), random(&mut rng, c));
            let (mut want_dgamma, mut want_dbeta) = (dgamma.to_vec(), dbeta.to_vec());
            let dx = backward(x.view(), &bn.gamma, &stats, dy.view(), &mut dgamma, &mut dbeta);
            let mut want_dx = vec![f32::NAN; n * c * s];
            reference::batchnorm_train_backward(
                c,
                s,
                x.as_slice().unwrap(),
                bn.gamma.as_slice().unwrap(),
                &mean,
                &invstd,
                dy.as_slice().unwrap(),
                &mut want_dx,
                &mut want_dgamma,
                &mut want_dbeta,
            );
            assert_close(dx.as_slice().unwrap(), &want_dx);
            assert_close(dgamma.as_slice().unwrap(), &want_dgamma);
            assert_close(dbeta.as_slice().unwrap(), &want_dbeta);
        }
    }

    #[test]
    fn inference_matches_the_reference() {
        let mut rng = Rng::new(52);
        for (n, c, s) in [(3, 4, 5), (2, 6, 1)] {
            let x: Array3<f32> = random(&mut rng, (n, c, s));
            let bn = state(&mut rng, c);
            let y = forward_inference(x.view(), &bn);
            let args = BatchNormArgs {
                gamma: bn.gamma.as_slice().unwrap(),
                beta: bn.beta.as_slice().unwrap(),
                mean: bn.running_mean.as_slice().unwrap(),
                var: bn.running_var.as_slice().unwrap(),
                eps: EPS,
            };
            for k in 0..n {
                let mut want = vec![f32::NAN; c * s];
                reference::batchnorm_inference(c, s, &args, x.index_axis(Axis(0), k).as_slice().unwrap(), &mut want);
                assert_close(y.index_axis(Axis(0), k).as_slice().unwrap(), &want);
            }
        }
    }
}
