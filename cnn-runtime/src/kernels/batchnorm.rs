//! Batch normalisation in inference mode, using the running statistics.

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
    use crate::kernels::test_util::{assert_close, poisoned, random};
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
}
