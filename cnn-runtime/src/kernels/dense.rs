//! Fully connected (linear) layer, weights `[out][in]` as in PyTorch.
//!
//! Compiled for each vector instruction set (see [`isa`](super::isa)). Both passes go through the
//! weights 4 rows at a time, so each vector of `x` (and `dx`) is loaded once for all of them; the
//! forward pass keeps 2 vector accumulators per output.

use super::isa::{dispatch, wrappers};
use super::simd::Simd;

/// Outputs the forward pass computes at once.
const ROWS: usize = 4;
/// Vector accumulators per output in the forward pass.
const VECTORS: usize = 2;

/// Fully connected layer of one sample.
///
/// Shapes: `x` is `[I]`, `w` is `[O][I]`, `b` is `[O]`, `y` is `[O]`.
/// `y[o] = b[o] + Σ_i w[o][i] · x[i]`.
///
/// The sum is taken in several interleaved partial sums (twice as many as the path's vectors have
/// lanes), then added up, so its rounding differs from a plain left-to-right sum and between
/// paths.
pub fn forward<const I: usize, const O: usize>(x: &[f32; I], w: &[[f32; I]; O], b: &[f32; O], y: &mut [f32; O]) {
    dispatch!(forward_avx512, forward_avx2, forward_body::<I, O>(x, w, b, y))
}

wrappers!(
    forward_avx512,
    forward_avx2,
    forward_body,
    [const I: usize, const O: usize],
    (x: &[f32; I], w: &[[f32; I]; O], b: &[f32; O], y: &mut [f32; O])
);

/// The body of [`forward`], compiled once per path `S`.
#[inline(always)]
fn forward_body<S: Simd, const I: usize, const O: usize>(
    s: S,
    x: &[f32; I],
    w: &[[f32; I]; O],
    b: &[f32; O],
    y: &mut [f32; O],
) {
    let (w_blocks, w_rest) = w.as_chunks::<ROWS>();
    let (y_blocks, y_rest) = y.as_chunks_mut::<ROWS>();
    let (b_blocks, b_rest) = b.as_chunks::<ROWS>();
    for ((wb, yb), bb) in w_blocks.iter().zip(y_blocks).zip(b_blocks) {
        *yb = dots::<S, I, ROWS>(s, wb, x);
        for (yo, &bo) in yb.iter_mut().zip(bb) {
            *yo += bo;
        }
    }
    for ((wo, yo), &bo) in w_rest.iter().zip(y_rest).zip(b_rest) {
        *yo = bo + dots::<S, I, 1>(s, core::array::from_ref(wo), x)[0];
    }
}

/// The dot products `Σ_i w[r][i] · x[i]` of `R` rows with `x`. Shapes: `w` is `[R][I]`, `x` is
/// `[I]`.
///
/// Each row sums in [`VECTORS`] vector accumulators over chunks of `VECTORS` vectors, then one
/// vector at a time, then the scalar tail.
#[inline(always)]
fn dots<S: Simd, const I: usize, const R: usize>(s: S, w: &[[f32; I]; R], x: &[f32; I]) -> [f32; R] {
    let l = S::LANES;
    let step = VECTORS * l;
    let mut acc = [[s.zero(); VECTORS]; R];
    let mut i = 0;
    while i + step <= I {
        let xs: [S::V; VECTORS] = core::array::from_fn(|n| s.load(&x[i + n * l..]));
        for (acc_r, wr) in acc.iter_mut().zip(w) {
            for (n, (a, &xn)) in acc_r.iter_mut().zip(&xs).enumerate() {
                *a = s.fma(s.load(&wr[i + n * l..]), xn, *a);
            }
        }
        i += step;
    }
    while i + l <= I {
        let xv = s.load(&x[i..]);
        for (acc_r, wr) in acc.iter_mut().zip(w) {
            acc_r[0] = s.fma(s.load(&wr[i..]), xv, acc_r[0]);
        }
        i += l;
    }
    core::array::from_fn(|r| {
        let total = acc[r].iter().skip(1).fold(acc[r][0], |t, &a| s.add(t, a));
        let tail = w[r][i..].iter().zip(&x[i..]).fold(0.0, |t, (&wk, &xk)| s.mul_add(wk, xk, t));
        s.sum(total) + tail
    })
}

/// Backward pass of [`forward`] for one sample.
///
/// Shapes: `x`, `dx` are `[I]`; `w`, `dw` are `[O][I]`; `dy`, `db` are `[O]`. Differentiates
/// `y[o] = b[o] + Σ_i w[o][i] · x[i]`:
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
    dispatch!(backward_avx512, backward_avx2, backward_body::<I, O>(x, w, dy, dx, dw, db))
}

wrappers!(
    backward_avx512,
    backward_avx2,
    backward_body,
    [const I: usize, const O: usize],
    (
        x: &[f32; I],
        w: &[[f32; I]; O],
        dy: &[f32; O],
        dx: Option<&mut [f32; I]>,
        dw: &mut [[f32; I]; O],
        db: &mut [f32; O],
    )
);

/// The body of [`backward`], compiled once per path `S`.
#[inline(always)]
fn backward_body<S: Simd, const I: usize, const O: usize>(
    s: S,
    x: &[f32; I],
    w: &[[f32; I]; O],
    dy: &[f32; O],
    dx: Option<&mut [f32; I]>,
    dw: &mut [[f32; I]; O],
    db: &mut [f32; O],
) {
    for (dbo, &dyo) in db.iter_mut().zip(dy) {
        *dbo += dyo;
    }
    for (dwo, &dyo) in dw.iter_mut().zip(dy) {
        axpy(s, dyo, x, dwo);
    }
    let Some(dx) = dx else { return };
    dx.fill(0.0);
    let (w_blocks, w_rest) = w.as_chunks::<ROWS>();
    let (dy_blocks, dy_rest) = dy.as_chunks::<ROWS>();
    for (wb, dyb) in w_blocks.iter().zip(dy_blocks) {
        rows_input_grad::<S, I, ROWS>(s, wb, dyb, dx);
    }
    for (wo, dyo) in w_rest.iter().zip(dy_rest) {
        rows_input_grad::<S, I, 1>(s, core::array::from_ref(wo), core::array::from_ref(dyo), dx);
    }
}

/// `dx += Σ_r dy[r] · w[r]` for `R` rows, loading each vector of `dx` once for all of them.
/// Shapes: `w` is `[R][I]`, `dy` is `[R]`, `dx` is `[I]`.
#[inline(always)]
fn rows_input_grad<S: Simd, const I: usize, const R: usize>(s: S, w: &[[f32; I]; R], dy: &[f32; R], dx: &mut [f32; I]) {
    let l = S::LANES;
    let d: [S::V; R] = core::array::from_fn(|r| s.splat(dy[r]));
    let mut i = 0;
    while i + l <= I {
        let mut dxv = s.load(&dx[i..]);
        for (wr, &dr) in w.iter().zip(&d) {
            dxv = s.fma(dr, s.load(&wr[i..]), dxv);
        }
        s.store(dxv, &mut dx[i..]);
        i += l;
    }
    for k in i..I {
        for (wr, &dr) in w.iter().zip(dy) {
            dx[k] = s.mul_add(dr, wr[k], dx[k]);
        }
    }
}

/// `y += a · x`. Shapes: `x` and `y` are `[I]`.
///
/// Stores are aligned to the vector size (a scalar head first), since `y` is read and written:
/// a vector store across two cache lines costs about two.
#[inline(always)]
fn axpy<S: Simd, const I: usize>(s: S, a: f32, x: &[f32; I], y: &mut [f32; I]) {
    let l = S::LANES;
    let av = s.splat(a);
    let mut i = y.as_ptr().align_offset(l * size_of::<f32>()).min(I);
    for (yi, &xi) in y[..i].iter_mut().zip(&x[..i]) {
        *yi = s.mul_add(a, xi, *yi);
    }
    while i + l <= I {
        let sum = s.fma(av, s.load(&x[i..]), s.load(&y[i..]));
        s.store(sum, &mut y[i..]);
        i += l;
    }
    for (yi, &xi) in y[i..].iter_mut().zip(&x[i..]) {
        *yi = s.mul_add(a, xi, *yi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference;
    use crate::kernels::simd::Arrays;
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, for_each_isa, poisoned, random, random_f64,
    };
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel on every path and the reference on random data of the given sizes and
    /// compares.
    fn check<const I: usize, const O: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let x = random::<[f32; I]>(&mut rng);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let b = random::<[f32; O]>(&mut rng);
        let mut want = vec![f32::NAN; O];
        reference::dense(I, O, &x[..], flat(&*w), &b[..], &mut want);
        for_each_isa(|_| {
            let mut y = poisoned::<[f32; O]>();
            forward::<I, O>(&x, &w, &b, &mut y);
            assert_close(&y[..], &want);
        });
        // The portable path of targets other than x86-64.
        let mut y = poisoned::<[f32; O]>();
        forward_body::<_, I, O>(Arrays, &x, &w, &b, &mut y);
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
    fn sizes_around_the_vector_widths() {
        // Whole chunks of 2 vectors, single vectors and scalar tails of 4, 8 and 16 lanes, and
        // blocks of 4 rows with 1 to 3 left over.
        check::<15, 5>(29);
        check::<16, 6>(30);
        check::<33, 7>(31);
        check::<63, 8>(32);
        check::<65, 9>(33);
        check::<3136, 3>(34);
        check_backward::<15, 5>(35, true);
        check_backward::<16, 6>(36, true);
        check_backward::<33, 7>(37, true);
        check_backward::<63, 8>(38, false);
        check_backward::<65, 9>(39, true);
    }

    #[test]
    fn known_numbers_weights_are_out_by_in() {
        // y[o] = b[o] + Σ_i w[o][i] x[i]; transposed weights would give [1·1 + 3·10 ...].
        let x = [1.0, 10.0];
        let w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = [0.5, -0.5, 100.0];
        for_each_isa(|_| {
            let mut y = [f32::NAN; 3];
            forward(&x, &w, &b, &mut y);
            assert_eq!(y, [21.5, 42.5, 165.0]);
        });
        let mut want = [f32::NAN; 3];
        reference::dense(2, 3, &x, flat(&w), &b, &mut want);
        assert_eq!(want, [21.5, 42.5, 165.0]);
    }

    #[test]
    fn zero_inputs_give_the_bias() {
        for_each_isa(|_| {
            let mut y = [f32::NAN; 2];
            forward::<0, 2>(&[], &[[], []], &[1.0, 2.0], &mut y);
            assert_eq!(y, [1.0, 2.0]);
        });
    }

    /// Runs the kernel's and the reference's backward passes on random data of the given sizes
    /// and compares. `dw` and `db` start from random values, to check they are accumulated into;
    /// `dx` starts as `NaN`, to check it is overwritten (or left alone when not asked for).
    fn check_backward<const I: usize, const O: usize>(seed: u64, with_dx: bool) {
        let mut rng = Rng::new(seed);
        let x = random::<[f32; I]>(&mut rng);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let dy = random::<[f32; O]>(&mut rng);
        let dw0 = random::<[[f32; I]; O]>(&mut rng);
        let db0 = random::<[f32; O]>(&mut rng);
        let (mut want_dw, mut want_db) = (flat(&*dw0).to_vec(), db0.to_vec());
        let mut want_dx = vec![f32::NAN; I];
        let want_dx_arg = with_dx.then_some(&mut want_dx[..]);
        reference::dense_backward(I, O, &x[..], flat(&*w), &dy[..], want_dx_arg, &mut want_dw, &mut want_db);
        for_each_isa(|_| {
            let (mut dw, mut db) = (dw0.clone(), db0.clone());
            let mut dx = poisoned::<[f32; I]>();
            backward::<I, O>(&x, &w, &dy, with_dx.then_some(&mut *dx), &mut dw, &mut db);
            if with_dx {
                assert_close(&dx[..], &want_dx);
            } else {
                assert!(dx.iter().all(|v| v.is_nan()), "dx written although not asked for");
            }
            assert_close(flat(&*dw), &want_dw);
            assert_close(&db[..], &want_db);
        });
        // The portable path of targets other than x86-64.
        let (mut dw, mut db) = (dw0.clone(), db0.clone());
        let mut dx = poisoned::<[f32; I]>();
        backward_body::<_, I, O>(Arrays, &x, &w, &dy, with_dx.then_some(&mut *dx), &mut dw, &mut db);
        if with_dx {
            assert_close(&dx[..], &want_dx);
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
        for_each_isa(|_| {
            let mut dx = [f32::NAN; 2];
            let (mut dw, mut db) = ([[1.0; 2]; 3], [1.0; 3]);
            backward(&x, &w, &dy, Some(&mut dx), &mut dw, &mut db);
            assert_eq!(dx, [1.0 + 1.5 - 5.0, 2.0 + 2.0 - 6.0]);
            assert_eq!(dw, [[2.0, 11.0], [1.5, 6.0], [0.0, -9.0]]);
            assert_eq!(db, [2.0, 1.5, 0.0]);
        });
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
