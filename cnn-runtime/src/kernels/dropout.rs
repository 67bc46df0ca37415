//! Inverted dropout in training mode: random elements are zeroed and the rest scaled up, so the
//! expected output equals the input and inference needs no rescaling (dropout is then the identity).

use crate::rng::Rng;

/// Inverted dropout of any tensor, flat, in training mode.
///
/// Shapes: `x`, `mask`, `y` are `[N]`. For each element, one draw `u = rng.next_f32()` in
/// `[0, 1)`: `mask[i] = 0` if `u < p` (probability `p`), else `1 / (1 − p)`; `y[i] = x[i] · mask[i]`.
/// The mask is kept for [`backward`]. `p = 0` gives `mask = 1` and `y = x`; `p = 1` zeroes
/// everything. One number is drawn per element whatever `p`, so the stream advances the same way.
///
/// `p` must be in `[0, 1]` (checked in debug builds); `mask` and `y` as long as `x`.
pub fn forward_train(x: &[f32], p: f32, rng: &mut Rng, mask: &mut [f32], y: &mut [f32]) {
    debug_assert!((0.0..=1.0).contains(&p), "dropout probability {p} outside [0, 1]");
    debug_assert!(mask.len() == x.len() && y.len() == x.len(), "dropout: lengths differ");
    let keep = 1.0 / (1.0 - p);
    for ((m, yi), &xi) in mask.iter_mut().zip(y.iter_mut()).zip(x) {
        *m = if rng.next_f32() < p { 0.0 } else { keep };
        *yi = xi * *m;
    }
}

/// Backward pass of [`forward_train`].
///
/// Shapes: `mask`, `dy`, `dx` are `[N]`. Differentiates `y[i] = x[i] · mask[i]`:
/// `dx[i] = dy[i] · mask[i]` (overwritten).
pub fn backward(mask: &[f32], dy: &[f32], dx: &mut [f32]) {
    debug_assert!(dy.len() == mask.len() && dx.len() == mask.len(), "dropout: lengths differ");
    for ((d, &g), &m) in dx.iter_mut().zip(dy).zip(mask) {
        *d = g * m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask of `n` elements drawn from `seed` with probability `p`, and the output for x = 1.
    fn mask_of(seed: u64, p: f32, n: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut mask, mut y) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        forward_train(&vec![1.0; n], p, &mut Rng::new(seed), &mut mask, &mut y);
        (mask, y)
    }

    #[test]
    fn mask_values_are_zero_or_the_inverse_keep_probability() {
        for p in [0.1, 0.25, 0.5, 0.8] {
            let (mask, y) = mask_of(241, p, 1000);
            let keep = 1.0 / (1.0 - p);
            assert!(mask.iter().all(|&m| m == 0.0 || m == keep), "p = {p}");
            assert_eq!(mask, y);
        }
    }

    #[test]
    fn fraction_of_zeros_is_about_p() {
        for (p, seed) in [(0.1, 242), (0.3, 243), (0.5, 244), (0.9, 245)] {
            let (mask, _) = mask_of(seed, p, 10_000);
            let zeros = mask.iter().filter(|&&m| m == 0.0).count() as f32 / 10_000.0;
            // Binomial standard deviation √(p(1−p)/n) ≤ 0.005; allow four of them.
            assert!((zeros - p).abs() < 0.02, "p = {p}: {zeros} zeroed");
            // Expected output equals the input (inverted dropout): the mask averages 1, with
            // standard deviation √(p / (1 − p) / n); allow five of them.
            let mean = mask.iter().sum::<f32>() / 10_000.0;
            assert!((mean - 1.0).abs() < 0.05 * (p / (1.0 - p)).sqrt(), "p = {p}: mean {mean}");
        }
    }

    #[test]
    fn same_seed_same_mask_other_seed_other_mask() {
        assert_eq!(mask_of(246, 0.5, 500), mask_of(246, 0.5, 500));
        assert_ne!(mask_of(246, 0.5, 500).0, mask_of(247, 0.5, 500).0);
    }

    #[test]
    fn p_zero_is_the_identity_and_p_one_zeroes_everything() {
        let mut x = vec![0.0; 300];
        Rng::new(248).fill_uniform(&mut x, -5.0, 5.0);
        let (mut mask, mut y) = (vec![f32::NAN; 300], vec![f32::NAN; 300]);
        forward_train(&x, 0.0, &mut Rng::new(249), &mut mask, &mut y);
        assert_eq!(y, x);
        assert!(mask.iter().all(|&m| m == 1.0));
        let mut dx = vec![f32::NAN; 300];
        backward(&mask, &x, &mut dx);
        assert_eq!(dx, x);

        forward_train(&x, 1.0, &mut Rng::new(249), &mut mask, &mut y);
        assert!(mask.iter().chain(&y).all(|&v| v == 0.0));
    }

    #[test]
    fn output_and_gradient_are_scaled_by_the_mask() {
        let x = [1.0, -2.0, 3.0, -4.0, 5.0, 6.0, 7.0, 8.0];
        let (mut mask, mut y) = ([f32::NAN; 8], [f32::NAN; 8]);
        forward_train(&x, 0.5, &mut Rng::new(250), &mut mask, &mut y);
        assert!(mask.contains(&0.0) && mask.contains(&2.0), "{mask:?}");
        let dy = [0.5, 1.0, -1.0, 2.0, 0.25, -0.5, 3.0, 1.5];
        let mut dx = [f32::NAN; 8];
        backward(&mask, &dy, &mut dx);
        for k in 0..8 {
            assert_eq!(y[k], x[k] * mask[k]);
            assert_eq!(dx[k], dy[k] * mask[k]);
        }
    }
}
