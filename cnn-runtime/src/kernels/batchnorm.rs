//! Batch normalisation: inference mode (running statistics) for one sample, and training mode
//! (batch statistics, PyTorch semantics) over a whole batch with its backward pass.

use super::math;

/// Default `eps` added to the variance before the square root (PyTorch's default).
pub const EPS: f32 = 1e-5;

/// Default weight of the newest batch when updating running statistics during training:
/// `running ← (1 − MOMENTUM) · running + MOMENTUM · batch` (PyTorch's default).
pub const MOMENTUM: f32 = 0.1;

/// Batch normalisation of one sample with fixed statistics.
///
/// Shapes: `x` and `y` are `[C][S]` (`S` = spatial size `H·W`; a dense input of `N` features is
/// seen as `[N][1]`); `gamma`, `beta`, `mean`, `var` are `[C]`.
/// `y[c][s] = gamma[c] · (x[c][s] − mean[c]) / √(var[c] + eps) + beta[c]`.
pub fn forward_inference<const C: usize, const S: usize>(
    x: &[[f32; S]; C],
    gamma: &[f32; C],
    beta: &[f32; C],
    mean: &[f32; C],
    var: &[f32; C],
    eps: f32,
    y: &mut [[f32; S]; C],
) {
    for c in 0..C {
        let scale = gamma[c] / math::sqrt(var[c] + eps);
        normalise_channel(&x[c], mean[c], scale, beta[c], &mut y[c]);
    }
}

/// Batch normalisation in training mode over a batch of `B = xs.len()` samples, as PyTorch's
/// `BatchNorm1d`/`BatchNorm2d` in `train()` mode.
///
/// Shapes: `xs` and `ys` are `[B][C][S]`; `gamma`, `beta`, `running_mean`, `running_var`,
/// `saved_mean`, `saved_invstd` are `[C]`. Per channel `c`, over the `n = B·S` values
/// `xs[b][c][s]`, with sums in `f64`:
/// - `mean = Σ x / n`, `var = Σ (x − mean)² / n` (biased, used to normalise);
/// - `invstd = 1 / √(var + eps)`;
/// - `ys[b][c][s] = gamma[c] · (xs[b][c][s] − mean) · invstd + beta[c]`;
/// - `running_mean ← (1 − momentum)·running_mean + momentum·mean`,
///   `running_var ← (1 − momentum)·running_var + momentum·var·n / max(n − 1, 1)` (unbiased; a
///   single value per channel leaves `var = 0` and divides by 1, not 0);
/// - `saved_mean = mean`, `saved_invstd = invstd`, kept for [`backward`].
///
/// # Panics
/// If the batch is empty or `ys` is not as long as `xs`.
#[allow(clippy::too_many_arguments)]
pub fn forward_train<const C: usize, const S: usize>(
    xs: &[[[f32; S]; C]],
    gamma: &[f32; C],
    beta: &[f32; C],
    running_mean: &mut [f32; C],
    running_var: &mut [f32; C],
    momentum: f32,
    eps: f32,
    ys: &mut [[[f32; S]; C]],
    saved_mean: &mut [f32; C],
    saved_invstd: &mut [f32; C],
) {
    assert!(!xs.is_empty(), "batchnorm training needs at least one sample");
    assert_eq!(ys.len(), xs.len(), "batchnorm output batch size");
    let n = (xs.len() * S) as f64;
    for c in 0..C {
        let mean = xs.iter().map(|x| x[c].iter().map(|&v| v as f64).sum::<f64>()).sum::<f64>() / n;
        let var = xs.iter().map(|x| x[c].iter().map(|&v| (v as f64 - mean) * (v as f64 - mean)).sum::<f64>());
        let var = var.sum::<f64>() / n;
        saved_mean[c] = mean as f32;
        saved_invstd[c] = (1.0 / math::sqrt_f64(var + eps as f64)) as f32;
        let scale = gamma[c] * saved_invstd[c];
        for (x, y) in xs.iter().zip(ys.iter_mut()) {
            normalise_channel(&x[c], saved_mean[c], scale, beta[c], &mut y[c]);
        }
        let unbiased = var * n / (n - 1.0).max(1.0);
        running_mean[c] = (1.0 - momentum) * running_mean[c] + momentum * saved_mean[c];
        running_var[c] = (1.0 - momentum) * running_var[c] + momentum * unbiased as f32;
    }
}

/// Backward pass of [`forward_train`], through the batch statistics.
///
/// Shapes: `xs`, `dys`, `dxs` are `[B][C][S]`; `gamma`, `saved_mean`, `saved_invstd`, `dgamma`,
/// `dbeta` are `[C]`. Differentiates `ys = gamma·(xs − mean)·invstd + beta` including the
/// dependence of `mean` and `invstd` on every `xs` of the batch. Per channel, with
/// `x̂ = (x − mean)·invstd`, `n = B·S` and sums in `f64` over the channel's `n` values:
/// - `dbeta[c] += Σ dy`, `dgamma[c] += Σ dy·x̂`;
/// - `dx = gamma·invstd · (dy − Σ dy / n − x̂ · Σ dy·x̂ / n)` (overwritten).
///
/// # Panics
/// If the batch is empty or `dys` or `dxs` is not as long as `xs`.
#[allow(clippy::too_many_arguments)]
pub fn backward<const C: usize, const S: usize>(
    xs: &[[[f32; S]; C]],
    gamma: &[f32; C],
    saved_mean: &[f32; C],
    saved_invstd: &[f32; C],
    dys: &[[[f32; S]; C]],
    dxs: &mut [[[f32; S]; C]],
    dgamma: &mut [f32; C],
    dbeta: &mut [f32; C],
) {
    assert!(!xs.is_empty(), "batchnorm training needs at least one sample");
    assert_eq!(dys.len(), xs.len(), "batchnorm output gradient batch size");
    assert_eq!(dxs.len(), xs.len(), "batchnorm input gradient batch size");
    let n = (xs.len() * S) as f64;
    for c in 0..C {
        let (mean, invstd) = (saved_mean[c], saved_invstd[c]);
        let mut sum_dy = 0.0f64;
        let mut sum_dy_xhat = 0.0f64;
        for (x, dy) in xs.iter().zip(dys) {
            for (&xv, &dyv) in x[c].iter().zip(&dy[c]) {
                sum_dy += dyv as f64;
                sum_dy_xhat += dyv as f64 * ((xv - mean) * invstd) as f64;
            }
        }
        dbeta[c] += sum_dy as f32;
        dgamma[c] += sum_dy_xhat as f32;
        let (mean_dy, mean_dy_xhat) = ((sum_dy / n) as f32, (sum_dy_xhat / n) as f32);
        let scale = gamma[c] * invstd;
        for ((x, dy), dx) in xs.iter().zip(dys).zip(dxs.iter_mut()) {
            for ((dxv, &xv), &dyv) in dx[c].iter_mut().zip(&x[c]).zip(&dy[c]) {
                *dxv = scale * (dyv - mean_dy - (xv - mean) * invstd * mean_dy_xhat);
            }
        }
    }
}

/// One channel: `y[s] = (x[s] − mean) · scale + beta`. Shapes: `x` and `y` are `[S]`.
fn normalise_channel<const S: usize>(x: &[f32; S], mean: f32, scale: f32, beta: f32, y: &mut [f32; S]) {
    for (ys, &xs) in y.iter_mut().zip(x) {
        *ys = (xs - mean) * scale + beta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, BatchNormArgs};
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, poisoned, random, random_f64,
    };
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel and the reference on random data of the given sizes and compares.
    fn check<const C: usize, const S: usize>(seed: u64, eps: f32) {
        let mut rng = Rng::new(seed);
        let x = random::<[[f32; S]; C]>(&mut rng);
        let gamma = random::<[f32; C]>(&mut rng);
        let beta = random::<[f32; C]>(&mut rng);
        let mean = random::<[f32; C]>(&mut rng);
        let mut var = [0.0; C];
        rng.fill_uniform(&mut var, 0.0, 4.0);
        let mut y = poisoned::<[[f32; S]; C]>();
        forward_inference(&x, &gamma, &beta, &mean, &var, eps, &mut y);

        let p = BatchNormArgs { gamma: &gamma[..], beta: &beta[..], mean: &mean[..], var: &var, eps };
        let mut want = vec![f32::NAN; C * S];
        reference::batchnorm_inference(C, S, &p, flat(&*x), &mut want);
        assert_close(flat(&*y), &want);
    }

    #[test]
    fn conv_and_dense_shapes() {
        check::<6, 576>(51, EPS);
        check::<16, 64>(52, EPS);
        check::<120, 1>(53, EPS);
        check::<3, 5>(54, 0.1);
    }

    #[test]
    fn known_numbers() {
        let x = [[1.0, 2.0], [3.0, 5.0]];
        let (gamma, beta, mean, var) = ([2.0, 0.5], [1.0, -1.0], [1.5, 4.0], [0.25, 4.0]);
        let want = [-1.0, 3.0, -1.25, -0.75];
        let mut y = [[f32::NAN; 2]; 2];
        forward_inference(&x, &gamma, &beta, &mean, &var, 0.0, &mut y);
        assert_eq!(flat(&y), want);
        let p = BatchNormArgs { gamma: &gamma, beta: &beta, mean: &mean, var: &var, eps: 0.0 };
        let mut r = [f32::NAN; 4];
        reference::batchnorm_inference(2, 2, &p, flat(&x), &mut r);
        assert_eq!(r, want);
    }

    #[test]
    fn eps_is_added_to_the_variance_inside_the_root() {
        // var 0.0 + eps 0.01 → divide by 0.1.
        let mut y = [[f32::NAN; 1]; 1];
        forward_inference(&[[1.0]], &[1.0], &[0.0], &[0.0], &[0.0], 0.01, &mut y);
        assert_close(&y[0], &[10.0]);
        let p = BatchNormArgs { gamma: &[1.0], beta: &[0.0], mean: &[0.0], var: &[0.0], eps: 0.01 };
        let mut r = [f32::NAN];
        reference::batchnorm_inference(1, 1, &p, &[1.0], &mut r);
        assert_close(&r, &[10.0]);
    }

    #[test]
    fn defaults_are_pytorchs() {
        assert_eq!(EPS, 1e-5);
        assert_eq!(MOMENTUM, 0.1);
    }

    /// A batch of `b` random samples `[C][S]`, values in `[-scale, scale) + shift`.
    fn random_batch<const C: usize, const S: usize>(rng: &mut Rng, b: usize, scale: f32) -> Vec<[[f32; S]; C]> {
        let mut xs = vec![[[0.0; S]; C]; b];
        rng.fill_uniform(xs.as_flattened_mut().as_flattened_mut(), -scale, scale);
        xs
    }

    /// Runs the training forward and backward kernels and the reference on a random batch of `b`
    /// samples and compares every output: `ys`, saved and running statistics, `dxs`, and the
    /// accumulated `dgamma`, `dbeta`.
    fn check_train<const C: usize, const S: usize>(seed: u64, b: usize) {
        let mut rng = Rng::new(seed);
        let xs = random_batch::<C, S>(&mut rng, b, 2.0);
        let dys = random_batch::<C, S>(&mut rng, b, 1.0);
        let (gamma, beta) = (random::<[f32; C]>(&mut rng), random::<[f32; C]>(&mut rng));
        let mut running_mean = random::<[f32; C]>(&mut rng);
        let mut running_var = [0.0; C];
        rng.fill_uniform(&mut running_var, 0.5, 1.5);
        let (mut dgamma, mut dbeta) = (random::<[f32; C]>(&mut rng), random::<[f32; C]>(&mut rng));
        let (mut r_rmean, mut r_rvar, mut r_dgamma, mut r_dbeta) =
            (running_mean.to_vec(), running_var.to_vec(), dgamma.to_vec(), dbeta.to_vec());

        let mut ys = vec![[[f32::NAN; S]; C]; b];
        let (mut saved_mean, mut saved_invstd) = ([f32::NAN; C], [f32::NAN; C]);
        forward_train(
            &xs,
            &gamma,
            &beta,
            &mut running_mean,
            &mut running_var,
            MOMENTUM,
            EPS,
            &mut ys,
            &mut saved_mean,
            &mut saved_invstd,
        );
        let mut dxs = vec![[[f32::NAN; S]; C]; b];
        backward(&xs, &gamma, &saved_mean, &saved_invstd, &dys, &mut dxs, &mut dgamma, &mut dbeta);

        let flat_of = |v: &[[[f32; S]; C]]| v.as_flattened().as_flattened().to_vec();
        let (x, dy) = (flat_of(&xs), flat_of(&dys));
        let (mut r_ys, mut r_mean, mut r_invstd) = (vec![f32::NAN; x.len()], vec![f32::NAN; C], vec![f32::NAN; C]);
        reference::batchnorm_train_forward(
            C,
            S,
            &x,
            &gamma[..],
            &beta[..],
            &mut r_rmean,
            &mut r_rvar,
            MOMENTUM,
            EPS,
            &mut r_ys,
            &mut r_mean,
            &mut r_invstd,
        );
        let mut r_dxs = vec![f32::NAN; x.len()];
        reference::batchnorm_train_backward(
            C,
            S,
            &x,
            &gamma[..],
            &r_mean,
            &r_invstd,
            &dy,
            &mut r_dxs,
            &mut r_dgamma,
            &mut r_dbeta,
        );
        assert_close(&flat_of(&ys), &r_ys);
        assert_close(&saved_mean, &r_mean);
        assert_close(&saved_invstd, &r_invstd);
        assert_close(&running_mean[..], &r_rmean);
        assert_close(&running_var[..], &r_rvar);
        assert_close(&flat_of(&dxs), &r_dxs);
        assert_close(&dgamma[..], &r_dgamma);
        assert_close(&dbeta[..], &r_dbeta);
    }

    #[test]
    fn training_matches_the_reference_for_a_batch_of_4() {
        check_train::<6, 576>(221, 4);
        check_train::<16, 64>(222, 4);
        check_train::<120, 1>(223, 4);
        check_train::<3, 5>(224, 4);
    }

    #[test]
    fn training_matches_the_reference_for_a_batch_of_1() {
        check_train::<6, 576>(225, 1);
        check_train::<3, 5>(226, 1);
        // One value per channel: zero variance, output beta, zero input gradient.
        check_train::<120, 1>(227, 1);
    }

    #[test]
    fn training_running_statistics_known_numbers() {
        // One channel, two samples of two values: 1, 2, 3, 6. Mean 3, biased variance
        // (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14 / 3.
        let xs = [[[1.0, 2.0]], [[3.0, 6.0]]];
        let (mut running_mean, mut running_var) = ([0.5], [2.0]);
        let mut ys = [[[f32::NAN; 2]; 1]; 2];
        let (mut mean, mut invstd) = ([f32::NAN], [f32::NAN]);
        forward_train(
            &xs,
            &[2.0],
            &[1.0],
            &mut running_mean,
            &mut running_var,
            0.1,
            0.0,
            &mut ys,
            &mut mean,
            &mut invstd,
        );
        assert_eq!(mean, [3.0]);
        assert_close(&invstd, &[1.0 / 3.5f32.sqrt()]);
        assert_close(&running_mean, &[0.9 * 0.5 + 0.1 * 3.0]);
        assert_close(&running_var, &[0.9 * 2.0 + 0.1 * 14.0 / 3.0]);
        let k = 2.0 / 3.5f32.sqrt();
        assert_close(ys.as_flattened().as_flattened(), &[1.0 - 2.0 * k, 1.0 - k, 1.0, 1.0 + 3.0 * k]);

        // Momentum 1 keeps only the batch; a single value per channel has variance 0, and the
        // unbiased update divides by max(n − 1, 1) = 1 instead of 0.
        let (mut running_mean, mut running_var) = ([0.5, 0.5], [2.0, 2.0]);
        let mut ys = [[[f32::NAN; 1]; 2]; 1];
        let (mut mean, mut invstd) = ([f32::NAN; 2], [f32::NAN; 2]);
        let (gamma, beta) = ([1.0, 1.0], [0.25, -0.25]);
        let xs = [[[4.0], [-1.0]]];
        forward_train(
            &xs,
            &gamma,
            &beta,
            &mut running_mean,
            &mut running_var,
            1.0,
            EPS,
            &mut ys,
            &mut mean,
            &mut invstd,
        );
        assert_eq!(running_mean, [4.0, -1.0]);
        assert_eq!(running_var, [0.0, 0.0]);
        assert_eq!(ys, [[[0.25], [-0.25]]]);
        assert_close(&invstd, &[1.0 / EPS.sqrt(); 2]);
    }

    /// The `f64` reference training backward against central finite differences of the `f64`
    /// reference training forward, over the whole batch, for the loss `Σ r ⊙ ys`.
    fn check_reference_gradients(c: usize, s: usize, b: usize, seed: u64) {
        let mut rng = Rng::new(seed);
        let xs = random_f64(&mut rng, b * c * s);
        let (gamma, beta) = (random_f64(&mut rng, c), random_f64(&mut rng, c));
        let r = random_f64(&mut rng, b * c * s);
        let eps = EPS as f64;
        let forward =
            |xs: &[f64], gamma: &[f64], beta: &[f64], ys: &mut [f64], mean: &mut [f64], invstd: &mut [f64]| {
                let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
                reference::batchnorm_train_forward(c, s, xs, gamma, beta, &mut rm, &mut rv, 0.1, eps, ys, mean, invstd);
            };
        let loss = |xs: &[f64], gamma: &[f64], beta: &[f64]| {
            let mut ys = vec![f64::NAN; xs.len()];
            forward(xs, gamma, beta, &mut ys, &mut vec![0.0; c], &mut vec![0.0; c]);
            dot_f64(&r, &ys)
        };
        let (mut ys, mut mean, mut invstd) = (vec![f64::NAN; xs.len()], vec![f64::NAN; c], vec![f64::NAN; c]);
        forward(&xs, &gamma, &beta, &mut ys, &mut mean, &mut invstd);
        let (mut dxs, mut dgamma, mut dbeta) = (vec![f64::NAN; xs.len()], vec![0.0; c], vec![0.0; c]);
        reference::batchnorm_train_backward(c, s, &xs, &gamma, &mean, &invstd, &r, &mut dxs, &mut dgamma, &mut dbeta);
        assert_gradient("dxs", &dxs, &finite_differences(&xs, |xs| loss(xs, &gamma, &beta)));
        assert_gradient("dgamma", &dgamma, &finite_differences(&gamma, |g| loss(&xs, g, &beta)));
        assert_gradient("dbeta", &dbeta, &finite_differences(&beta, |bt| loss(&xs, &gamma, bt)));
    }

    #[test]
    fn reference_training_backward_matches_finite_differences() {
        check_reference_gradients(3, 4, 4, 231);
        check_reference_gradients(2, 6, 1, 232);
        check_reference_gradients(5, 1, 6, 233);
        check_reference_gradients(2, 1, 2, 234);
        check_reference_gradients(2, 1, 1, 235);
    }
}
