//! Fully connected (linear) layer, weights `[out][in]` as in PyTorch.

/// Number of independent partial sums in [`dot`]; lets the compiler keep them in one vector.
const LANES: usize = 8;

/// Fully connected layer of one sample.
///
/// Shapes: `x` is `[I]`, `w` is `[O][I]`, `b` is `[O]`, `y` is `[O]`.
/// `y[o] = b[o] + Σ_i w[o][i] · x[i]`.
pub fn forward<const I: usize, const O: usize>(x: &[f32; I], w: &[[f32; I]; O], b: &[f32; O], y: &mut [f32; O]) {
    for ((yo, wo), &bo) in y.iter_mut().zip(w).zip(b) {
        *yo = bo + dot(wo, x);
    }
}

/// Dot product `Σ_i w[i] · x[i]`. Shapes: `w` and `x` are `[I]`.
///
/// Sums in [`LANES`] interleaved partial sums, then adds them and the tail, so the order of
/// additions (and hence rounding) differs from a plain left-to-right sum.
fn dot<const I: usize>(w: &[f32; I], x: &[f32; I]) -> f32 {
    let (w_chunks, w_tail) = w.as_chunks::<LANES>();
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (wc, xc) in w_chunks.iter().zip(x_chunks) {
        for ((a, &wk), &xk) in acc.iter_mut().zip(wc).zip(xc) {
            *a += wk * xk;
        }
    }
    let tail: f32 = w_tail.iter().zip(x_tail).map(|(&wk, &xk)| wk * xk).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{assert_close, poisoned, random};
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel and the reference on random data of the given sizes and compares.
    fn check<const I: usize, const O: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let x = random::<[f32; I]>(&mut rng);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let b = random::<[f32; O]>(&mut rng);
        let mut y = poisoned::<[f32; O]>();
        forward::<I, O>(&x, &w, &b, &mut y);
        let mut want = vec![f32::NAN; O];
        reference::dense(I, O, &x[..], flat(&*w), &b[..], &mut want);
        assert_close(&y[..], &want);
    }

    #[test]
    fn lenet_sizes() {
        check::<400, 120>(21);
        check::<120, 84>(22);
        check::<84, 10>(23);
    }

    #[test]
    fn sizes_around_the_lane_count() {
        check::<1, 3>(24);
        check::<7, 2>(25);
        check::<8, 5>(26);
        check::<9, 4>(27);
        check::<17, 1>(28);
    }

    #[test]
    fn known_numbers_weights_are_out_by_in() {
        // y[o] = b[o] + Σ_i w[o][i] x[i]; transposed weights would give [1·1 + 3·10 ...].
        let x = [1.0, 10.0];
        let w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = [0.5, -0.5, 100.0];
        let mut y = [f32::NAN; 3];
        forward(&x, &w, &b, &mut y);
        assert_eq!(y, [21.5, 42.5, 165.0]);
        let mut want = [f32::NAN; 3];
        reference::dense(2, 3, &x, flat(&w), &b, &mut want);
        assert_eq!(want, [21.5, 42.5, 165.0]);
    }

    #[test]
    fn zero_inputs_give_the_bias() {
        let mut y = [f32::NAN; 2];
        forward::<0, 2>(&[], &[[], []], &[1.0, 2.0], &mut y);
        assert_eq!(y, [1.0, 2.0]);
    }
}
