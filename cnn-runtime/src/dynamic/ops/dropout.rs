//! Inverted dropout on a batch `(N, len)`, with the masks of the generated models: sample `s` of
//! the layer at position `layer` draws from `Rng::new(sample_seed(step_seed, layer, s))` through
//! [`kernels::dropout`], so both runtimes drop the same elements. Inference is the identity.

use ndarray::{Array2, ArrayView2};

use super::batch::{flat, flat_mut};
use crate::kernels::dropout;
use crate::rng::Rng;
use crate::train::sample_seed;

/// Drops a fraction `p` of `x` (N, len) for the step of `step_seed`: the output and the mask
/// (0 or `1 / (1 − p)` per element) for [`backward`].
pub(crate) fn forward_train(
    x: ArrayView2<'_, f32>,
    p: f32,
    step_seed: u64,
    layer: usize,
) -> (Array2<f32>, Array2<f32>) {
    let (mut y, mut mask) = (Array2::zeros(x.raw_dim()), Array2::zeros(x.raw_dim()));
    let samples = x.rows().into_iter().zip(mask.rows_mut()).zip(y.rows_mut());
    for (s, ((x, mut mask), mut y)) in samples.enumerate() {
        let mut rng = Rng::new(sample_seed(step_seed, layer as u64, s));
        dropout::forward_train(flat(&x), p, &mut rng, flat_mut(&mut mask), flat_mut(&mut y));
    }
    (y, mask)
}

/// Backward pass of [`forward_train`]: `dx = dy · mask`.
pub(crate) fn backward(mask: ArrayView2<'_, f32>, dy: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut dx = Array2::zeros(dy.raw_dim());
    dropout::backward(flat(&mask), flat(&dy), flat_mut(&mut dx));
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::random;

    #[test]
    fn masks_are_those_of_the_generated_step() {
        let mut rng = Rng::new(61);
        let x: Array2<f32> = random(&mut rng, (3, 50));
        let (y, mask) = forward_train(x.view(), 0.4, 99, 5);
        for s in 0..3 {
            let (mut want_mask, mut want_y) = (vec![f32::NAN; 50], vec![f32::NAN; 50]);
            let mut rng = Rng::new(sample_seed(99, 5, s));
            dropout::forward_train(&x.row(s).to_vec(), 0.4, &mut rng, &mut want_mask, &mut want_y);
            assert_eq!(mask.row(s).to_vec(), want_mask);
            assert_eq!(y.row(s).to_vec(), want_y);
        }
        assert!(mask.iter().any(|&m| m == 0.0) && mask.iter().any(|&m| m > 1.0));
        let dy: Array2<f32> = random(&mut rng, (3, 50));
        assert_eq!(backward(mask.view(), dy.view()), &dy * &mask);
    }
}
