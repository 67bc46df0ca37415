//! 2-D convolution by im2col and a matrix multiply, as PyTorch's CPU path did before fused
//! kernels: each sample's input patches are unrolled into a `(C·Kh·Kw, OH·OW)` matrix `col`, and
//! the output is `W (F, C·Kh·Kw) · col + b`. The backward pass differentiates that product:
//! `dW += dY · colᵀ`, `db += Σ dY`, `dcol = Wᵀ · dY`, scattered back onto the input (col2im).

use cnn_spec::LayerPlan;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array4, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut3, Axis, Slice};

use super::batch::{chw, flat, flat_mut, for_chunks, map_chunks};
use crate::kernels::reference::Conv2dDims;

/// The sizes of the convolution of `plan`, a `Conv2D` layer of `kernel` and `stride`: only the
/// top and left padding are needed, the output size implies the rest.
pub(crate) fn dims(plan: &LayerPlan, [kh, kw]: [usize; 2], [sh, sw]: [usize; 2]) -> Conv2dDims {
    let ((c, h, w), (f, oh, ow)) = (chw(plan.input), chw(plan.output));
    Conv2dDims { c, h, w, f, kh, kw, sh, sw, pt: plan.pad.top, pl: plan.pad.left, oh, ow }
}

/// Convolution of the images `x` (N, C, H, W) with `weight` (F, C, Kh, Kw) and `bias` (F):
/// images (N, F, OH, OW).
pub(crate) fn forward(d: &Conv2dDims, x: ArrayView4<'_, f32>, weight: &Array4<f32>, bias: &Array1<f32>) -> Array4<f32> {
    let w = weight_matrix(d, weight);
    let mut y = Array4::zeros((x.len_of(Axis(0)), d.f, d.oh, d.ow));
    for_chunks(y.view_mut(), |samples, mut ys| {
        let mut col = Array2::zeros(col_dim(d));
        for (x, y) in x.slice_axis(Axis(0), Slice::from(samples)).outer_iter().zip(ys.outer_iter_mut()) {
            im2col(d, x, &mut col);
            let mut y = y.into_shape_with_order((d.f, d.oh * d.ow)).expect("an output sample is contiguous");
            y.assign(&bias.view().insert_axis(Axis(1)));
            general_mat_mul(1.0, &w, &col, 1.0, &mut y);
        }
    });
    y
}

/// Backward pass of [`forward`] given its input `x` and the gradient `dy` of its output:
/// accumulates the weight and bias gradients into `dweight` and `dbias`, and gives the input's
/// gradient if `input_grad` is set.
pub(crate) fn backward(
    d: &Conv2dDims,
    x: ArrayView4<'_, f32>,
    weight: &Array4<f32>,
    dy: ArrayView4<'_, f32>,
    input_grad: bool,
    dweight: &mut Array4<f32>,
    dbias: &mut Array1<f32>,
) -> Option<Array4<f32>> {
    accumulate_param_grads(d, x, dy, dweight, dbias);
    input_grad.then(|| input_gradient(d, weight, dy))
}

/// `dW += Σ_s dY_s · col_sᵀ` and `db += Σ_s Σ dY_s`, each chunk of samples summed on its own
/// thread, the chunks then added in order.
fn accumulate_param_grads(
    d: &Conv2dDims,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    dweight: &mut Array4<f32>,
    dbias: &mut Array1<f32>,
) {
    let partials = map_chunks(x.len_of(Axis(0)), |samples| {
        let mut col = Array2::zeros(col_dim(d));
        let (mut dw, mut db) = (Array2::zeros((d.f, col.nrows())), Array1::zeros(d.f));
        let (xs, dys) =
            (x.slice_axis(Axis(0), Slice::from(samples.clone())), dy.slice_axis(Axis(0), Slice::from(samples)));
        for (x, dy) in xs.outer_iter().zip(dys.outer_iter()) {
            im2col(d, x, &mut col);
            let dy = output_matrix(d, dy);
            general_mat_mul(1.0, &dy, &col.t(), 1.0, &mut dw);
            db += &dy.sum_axis(Axis(1));
        }
        (dw, db)
    });
    let mut dweight =
        dweight.view_mut().into_shape_with_order((d.f, d.c * d.kh * d.kw)).expect("weights are contiguous");
    for (dw, db) in partials {
        dweight += &dw;
        *dbias += &db;
    }
}

/// `dX_s = col2im(Wᵀ · dY_s)` for every sample.
fn input_gradient(d: &Conv2dDims, weight: &Array4<f32>, dy: ArrayView4<'_, f32>) -> Array4<f32> {
    let w = weight_matrix(d, weight);
    let mut dx = Array4::zeros((dy.len_of(Axis(0)), d.c, d.h, d.w));
    for_chunks(dx.view_mut(), |samples, mut dxs| {
        let mut dcol = Array2::zeros(col_dim(d));
        for (dy, dx) in dy.slice_axis(Axis(0), Slice::from(samples)).outer_iter().zip(dxs.outer_iter_mut()) {
            general_mat_mul(1.0, &w.t(), &output_matrix(d, dy), 0.0, &mut dcol);
            col2im(d, &dcol, dx);
        }
    });
    dx
}

/// The shape of `col`: one row per weight of a filter `(c, u, v)`, one column per output position.
fn col_dim(d: &Conv2dDims) -> (usize, usize) {
    (d.c * d.kh * d.kw, d.oh * d.ow)
}

/// The weights (F, C, Kh, Kw) as the matrix (F, C·Kh·Kw).
fn weight_matrix<'a>(d: &Conv2dDims, weight: &'a Array4<f32>) -> ArrayView2<'a, f32> {
    weight.view().into_shape_with_order((d.f, d.c * d.kh * d.kw)).expect("weights are contiguous")
}

/// One output sample (F, OH, OW) as the matrix (F, OH·OW).
fn output_matrix<'a>(d: &Conv2dDims, y: ArrayView3<'a, f32>) -> ArrayView2<'a, f32> {
    y.into_shape_with_order((d.f, d.oh * d.ow)).expect("an output sample is contiguous")
}

/// The input row (or column) that tap `tap` of output position `out` reads, or `None` where it
/// falls on the zero padding.
fn input_index(out: usize, stride: usize, tap: usize, pad: usize, len: usize) -> Option<usize> {
    (out * stride + tap).checked_sub(pad).filter(|&r| r < len)
}

/// The rows of `col` with their tap `(c, u, v)`, in the order of the weights' `C·Kh·Kw` axis.
fn taps(d: &Conv2dDims) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    (0..d.c).flat_map(move |c| (0..d.kh).flat_map(move |u| (0..d.kw).map(move |v| (c, u, v))))
}

/// Unrolls the patches of one sample `x` (C, H, W) into `col`:
/// `col[(c, u, v)][(i, j)] = x[c][i·sh + u − pt][j·sw + v − pl]`, zero on the padding.
fn im2col(d: &Conv2dDims, x: ArrayView3<'_, f32>, col: &mut Array2<f32>) {
    let x = flat(&x);
    for ((c, u, v), row) in taps(d).zip(flat_mut(col).chunks_exact_mut(d.oh * d.ow)) {
        for (i, out) in row.chunks_exact_mut(d.ow).enumerate() {
            let Some(r) = input_index(i, d.sh, u, d.pt, d.h) else {
                out.fill(0.0);
                continue;
            };
            let x_row = &x[(c * d.h + r) * d.w..][..d.w];
            for (j, o) in out.iter_mut().enumerate() {
                *o = input_index(j, d.sw, v, d.pl, d.w).map_or(0.0, |s| x_row[s]);
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `dcol` onto the input element it was read
/// from, into `dx` (C, H, W), which it first zeroes.
fn col2im(d: &Conv2dDims, dcol: &Array2<f32>, dx: ArrayViewMut3<'_, f32>) {
    let mut dx = dx;
    let dx = flat_mut(&mut dx);
    dx.fill(0.0);
    for ((c, u, v), row) in taps(d).zip(flat(dcol).chunks_exact(d.oh * d.ow)) {
        for (i, grads) in row.chunks_exact(d.ow).enumerate() {
            let Some(r) = input_index(i, d.sh, u, d.pt, d.h) else { continue };
            let dx_row = &mut dx[(c * d.h + r) * d.w..][..d.w];
            for (j, &g) in grads.iter().enumerate() {
                if let Some(s) = input_index(j, d.sw, v, d.pl, d.w) {
                    dx_row[s] += g;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::{assert_close, random};
    use crate::kernels::reference;
    use crate::rng::Rng;

    /// Sizes with the output implied by stride and top/left padding (and a bottom/right
    /// padding of `extra` rows and columns).
    fn sizes(
        [c, h, w]: [usize; 3],
        f: usize,
        k: [usize; 2],
        s: [usize; 2],
        pad: [usize; 2],
        extra: usize,
    ) -> Conv2dDims {
        let oh = (h + 2 * pad[0] + extra - k[0]) / s[0] + 1;
        let ow = (w + 2 * pad[1] + extra - k[1]) / s[1] + 1;
        Conv2dDims { c, h, w, f, kh: k[0], kw: k[1], sh: s[0], sw: s[1], pt: pad[0], pl: pad[1], oh, ow }
    }

    fn cases() -> Vec<Conv2dDims> {
        vec![
            sizes([1, 8, 8], 4, [3, 3], [1, 1], [0, 0], 0),
            sizes([3, 9, 7], 5, [3, 2], [2, 1], [1, 0], 0),
            sizes([2, 10, 10], 3, [5, 5], [2, 3], [2, 2], 1),
            sizes([4, 6, 5], 2, [4, 3], [1, 2], [1, 1], 1),
            sizes([2, 5, 5], 3, [1, 1], [2, 2], [0, 0], 0),
        ]
    }

    #[test]
    fn forward_matches_the_reference() {
        let mut rng = Rng::new(11);
        for d in cases() {
            let n = 3;
            let x: Array4<f32> = random(&mut rng, (n, d.c, d.h, d.w));
            let w: Array4<f32> = random(&mut rng, (d.f, d.c, d.kh, d.kw));
            let b: Array1<f32> = random(&mut rng, d.f);
            let y = forward(&d, x.view(), &w, &b);
            assert_eq!(y.dim(), (n, d.f, d.oh, d.ow));
            for (x, y) in x.outer_iter().zip(y.outer_iter()) {
                let mut want = vec![0.0; d.f * d.oh * d.ow];
                reference::conv2d(&d, x.as_slice().unwrap(), w.as_slice().unwrap(), b.as_slice().unwrap(), &mut want);
                assert_close(y.as_slice().unwrap(), &want);
            }
        }
    }

    #[test]
    fn backward_matches_the_reference() {
        let mut rng = Rng::new(12);
        for d in cases() {
            let n = 4;
            let x: Array4<f32> = random(&mut rng, (n, d.c, d.h, d.w));
            let w: Array4<f32> = random(&mut rng, (d.f, d.c, d.kh, d.kw));
            let dy: Array4<f32> = random(&mut rng, (n, d.f, d.oh, d.ow));
            let (mut dw, mut db): (Array4<f32>, Array1<f32>) = (random(&mut rng, w.raw_dim()), random(&mut rng, d.f));
            let (mut want_dw, mut want_db) = (dw.clone(), db.clone());
            let dx = backward(&d, x.view(), &w, dy.view(), true, &mut dw, &mut db).unwrap();
            for s in 0..n {
                let mut want_dx = vec![f32::NAN; d.c * d.h * d.w];
                reference::conv2d_backward(
                    &d,
                    x.index_axis(Axis(0), s).as_slice().unwrap(),
                    w.as_slice().unwrap(),
                    dy.index_axis(Axis(0), s).as_slice().unwrap(),
                    Some(&mut want_dx),
                    want_dw.as_slice_mut().unwrap(),
                    want_db.as_slice_mut().unwrap(),
                );
                assert_close(dx.index_axis(Axis(0), s).as_slice().unwrap(), &want_dx);
            }
            assert_close(dw.as_slice().unwrap(), want_dw.as_slice().unwrap());
            assert_close(db.as_slice().unwrap(), want_db.as_slice().unwrap());
            let (mut dw2, mut db2) = (Array4::zeros(w.raw_dim()), Array1::zeros(d.f));
            assert!(backward(&d, x.view(), &w, dy.view(), false, &mut dw2, &mut db2).is_none());
        }
    }
}
