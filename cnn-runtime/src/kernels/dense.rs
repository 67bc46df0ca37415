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

/// Backward pass of [`forward`] for one sample.
///
/// Shapes: `x`, `dx` are `[I]`; `w`, `dw` are `[O][I]`; `dy`, `db` are `[O]`. Differentiates
/// `*yo = bo + dot(wo, x)`:
/// - `dx[i] = Σ_o dy[o] · w[o][i]` (`dx = dyᵀW`), overwritten, or skipped when `None`;
/// - `dw[o][i] += dy[o] · x[i]` (`dw += dy xᵀ`);
/// - `db[o] += dy[o]`.
pub fn backward<const I: usize, const O: usize>(
    x: &[f32; I],
    w: &[[f32; I]; O],
    dy: &[f32; O],
    dx: Option<&mut [f32; I]>,
    dw: &mut [[f32; I]; O],
    db: &mut [f32; O],
) {
    for ((dwo, dbo), &dyo) in dw.iter_mut().zip(db.iter_mut()).zip(dy) {
        *dbo += dyo;
        axpy(dyo, x, dwo);
    }
    if let Some(dx) = dx {
        dx.fill(0.0);
        for (wo, &dyo) in w.iter().zip(dy) {
            axpy(dyo, wo, dx);
        }
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

/// `y += a · x`. Shapes: `x` and `y` are `[I]`.
fn axpy<const I: usize>(a: f32, x: &[f32; I], y: &mut [f32; I]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, poisoned, random, random_f64,
    };
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

    /// Runs the kernel's and the reference's backward passes on random data of the given sizes
    /// and compares. `dw` and `db` start from random values, to check they are accumulated into;
    /// `dx` starts as `NaN`, to check it is overwritten (or left alone when not asked for).
    fn check_backward<const I: usize, const O: usize>(seed: u64, with_dx: bool) {
        let mut rng = Rng::new(seed);
        let x = random::<[f32; I]>(&mut rng);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let dy = random::<[f32; O]>(&mut rng);
        let mut dw = random::<[[f32; I]; O]>(&mut rng);
        let mut db = random::<[f32; O]>(&mut rng);
        let (mut want_dw, mut want_db) = (flat(&*dw).to_vec(), db.to_vec());
        let mut dx = poisoned::<[f32; I]>();
        backward::<I, O>(&x, &w, &dy, with_dx.then_some(&mut *dx), &mut dw, &mut db);

        let mut want_dx = vec![f32::NAN; I];
        let want_dx_arg = with_dx.then_some(&mut want_dx[..]);
        reference::dense_backward(I, O, &x[..], flat(&*w), &dy[..], want_dx_arg, &mut want_dw, &mut want_db);
        if with_dx {
            assert_close(&dx[..], &want_dx);
        } else {
            assert!(dx.iter().all(|v| v.is_nan()), "dx written although not asked for");
        }
        assert_close(flat(&*dw), &want_dw);
        assert_close(&db[..], &want_db);
    }

    #[test]
    fn backward_matches_the_reference() {
        check_backward::<400, 120>(141, true);
        check_backward::<120, 84>(142, true);
        check_backward::<84, 10>(143, true);
        check_backward::<784, 32>(144, false);
        check_backward::<1, 3>(145, true);
        check_backward::<9, 4>(146, true);
        check_backward::<0, 2>(147, true);
    }

    #[test]
    fn backward_known_numbers() {
        let x = [1.0, 10.0];
        let w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let dy = [1.0, 0.5, -1.0];
        let mut dx = [f32::NAN; 2];
        let (mut dw, mut db) = ([[1.0; 2]; 3], [1.0; 3]);
        backward(&x, &w, &dy, Some(&mut dx), &mut dw, &mut db);
        assert_eq!(dx, [1.0 + 1.5 - 5.0, 2.0 + 2.0 - 6.0]);
        assert_eq!(dw, [[2.0, 11.0], [1.5, 6.0], [0.0, -9.0]]);
        assert_eq!(db, [2.0, 1.5, 0.0]);
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        for (i, o, seed) in [(7, 5, 151), (30, 12, 152), (1, 1, 153)] {
            let mut rng = Rng::new(seed);
            let (x, w, b, r) = (
                random_f64(&mut rng, i),
                random_f64(&mut rng, o * i),
                random_f64(&mut rng, o),
                random_f64(&mut rng, o),
            );
            let loss = |x: &[f64], w: &[f64], b: &[f64]| {
                let mut y = vec![f64::NAN; o];
                reference::dense(i, o, x, w, b, &mut y);
                dot_f64(&r, &y)
            };
            let (mut dx, mut dw, mut db) = (vec![f64::NAN; i], vec![0.0; o * i], vec![0.0; o]);
            reference::dense_backward(i, o, &x, &w, &r, Some(&mut dx), &mut dw, &mut db);
            assert_gradient("dx", &dx, &finite_differences(&x, |x| loss(x, &w, &b)));
            assert_gradient("dw", &dw, &finite_differences(&w, |w| loss(&x, w, &b)));
            assert_gradient("db", &db, &finite_differences(&b, |b| loss(&x, &w, b)));
        }
    }
}
