//! Max and average pooling over windows of each plane, floor mode (every window inside the
//! input), as Keras and PyTorch. Max pooling's gradient goes to the first maximum of each window
//! in row-major order (or its first `NaN`), as in
//! [`reference::max_pool_backward`](crate::kernels::reference::max_pool_backward).

use cnn_spec::LayerPlan;
use ndarray::{Array4, ArrayView4, Axis, Slice};

use super::batch::{chw, flat, flat_mut, for_chunks};
use crate::kernels::reference::PoolDims;

/// The sizes of the pooling of `plan`, a `MaxPool` or `AvgPool` layer of window `size` and `stride`.
pub(crate) fn dims(plan: &LayerPlan, [kh, kw]: [usize; 2], [sh, sw]: [usize; 2]) -> PoolDims {
    let ((c, h, w), (_, oh, ow)) = (chw(plan.input), chw(plan.output));
    PoolDims { c, h, w, kh, kw, sh, sw, oh, ow }
}

/// Max pooling of the images `x` (N, C, H, W): (N, C, OH, OW). A window holding a `NaN` gives `NaN`.
pub(crate) fn max_forward(d: &PoolDims, x: ArrayView4<'_, f32>) -> Array4<f32> {
    per_plane(x, (d.oh, d.ow), |_, x, y| {
        for (k, out) in y.iter_mut().enumerate() {
            *out = x[first_max(d, x, k / d.ow, k % d.ow)];
        }
    })
}

/// Backward pass of [`max_forward`] given its input `x` and the gradient `dy` of its output:
/// each window's gradient added onto its first maximum.
pub(crate) fn max_backward(d: &PoolDims, x: ArrayView4<'_, f32>, dy: ArrayView4<'_, f32>) -> Array4<f32> {
    let dy = flat(&dy);
    per_plane(x, (d.h, d.w), |p, x, dx| {
        for (k, &g) in dy[p * d.oh * d.ow..][..d.oh * d.ow].iter().enumerate() {
            dx[first_max(d, x, k / d.ow, k % d.ow)] += g;
        }
    })
}

/// Average pooling of the images `x` (N, C, H, W): (N, C, OH, OW).
pub(crate) fn avg_forward(d: &PoolDims, x: ArrayView4<'_, f32>) -> Array4<f32> {
    let count = (d.kh * d.kw) as f32;
    per_plane(x, (d.oh, d.ow), |_, x, y| {
        for (k, out) in y.iter_mut().enumerate() {
            *out = window(d, k / d.ow, k % d.ow).map(|at| x[at]).sum::<f32>() / count;
        }
    })
}

/// Backward pass of [`avg_forward`] given the gradient `dy` of its output: each window's
/// gradient shared equally by its elements.
pub(crate) fn avg_backward(d: &PoolDims, dy: ArrayView4<'_, f32>) -> Array4<f32> {
    let count = (d.kh * d.kw) as f32;
    per_plane(dy, (d.h, d.w), |_, dy, dx| {
        for (k, &g) in dy.iter().enumerate() {
            window(d, k / d.ow, k % d.ow).for_each(|at| dx[at] += g / count);
        }
    })
}

/// The flat indices in an input plane of the window of output `(i, j)`, in row-major order.
fn window(d: &PoolDims, i: usize, j: usize) -> impl Iterator<Item = usize> + '_ {
    (0..d.kh).flat_map(move |u| (0..d.kw).map(move |v| (i * d.sh + u) * d.w + j * d.sw + v))
}

/// The flat index in the plane `x` of the first maximum of the window of output `(i, j)` in
/// row-major order, or of its first `NaN`.
fn first_max(d: &PoolDims, x: &[f32], i: usize, j: usize) -> usize {
    window(d, i, j)
        .reduce(|best, at| if !x[best].is_nan() && (x[at] > x[best] || x[at].is_nan()) { at } else { best })
        .unwrap_or(0)
}

/// New images of planes `rows x cols`, one per plane of the images `x`, each written by
/// `f(plane index, input plane, output plane)` (planes flat, indexed `sample · C + channel`),
/// the samples split over the threads.
fn per_plane(
    x: ArrayView4<'_, f32>,
    (rows, cols): (usize, usize),
    f: impl Fn(usize, &[f32], &mut [f32]) + Sync,
) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let mut y = Array4::zeros((n, c, rows, cols));
    for_chunks(y.view_mut(), |samples, mut ys| {
        let first = samples.start * c;
        let xs = x.slice_axis(Axis(0), Slice::from(samples));
        let planes = flat(&xs).chunks_exact(h * w).zip(flat_mut(&mut ys).chunks_exact_mut(rows * cols));
        for (k, (x, y)) in planes.enumerate() {
            f(first + k, x, y);
        }
    });
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::{assert_close, random};
    use crate::kernels::reference;
    use crate::rng::Rng;

    fn sizes(c: usize, h: usize, w: usize, k: [usize; 2], s: [usize; 2]) -> PoolDims {
        PoolDims {
            c,
            h,
            w,
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            oh: (h - k[0]) / s[0] + 1,
            ow: (w - k[1]) / s[1] + 1,
        }
    }

    fn cases() -> Vec<PoolDims> {
        vec![
            sizes(2, 8, 8, [2, 2], [2, 2]),
            sizes(3, 7, 9, [3, 3], [3, 3]),
            sizes(1, 9, 8, [3, 2], [2, 1]),
            sizes(2, 6, 6, [3, 3], [1, 1]),
            sizes(4, 5, 5, [1, 1], [2, 2]),
        ]
    }

    /// Runs `op` on each sample of `x` as flat slices into an output of `per_sample` elements.
    fn per_sample(x: &Array4<f32>, per_sample: usize, op: impl Fn(usize, &[f32], &mut [f32])) -> Vec<f32> {
        let mut out = vec![f32::NAN; x.len_of(Axis(0)) * per_sample];
        for (s, chunk) in out.chunks_mut(per_sample).enumerate() {
            op(s, x.index_axis(Axis(0), s).as_slice().unwrap(), chunk);
        }
        out
    }

    #[test]
    fn max_pool_matches_the_reference_forward_and_backward() {
        let mut rng = Rng::new(31);
        for d in cases() {
            let mut x: Array4<f32> = random(&mut rng, (3, d.c, d.h, d.w));
            // Ties and NaN, to check which element of a window gets the gradient.
            x[[0, 0, 0, 0]] = x[[0, 0, 0, d.w - 1]];
            x[[1, 0, 1, 1]] = 2.0;
            x[[1, 0, 1, 0]] = 2.0;
            x[[2, 0, 0, 1]] = f32::NAN;
            let dy: Array4<f32> = random(&mut rng, (3, d.c, d.oh, d.ow));
            let y = max_forward(&d, x.view());
            let want = per_sample(&x, d.c * d.oh * d.ow, |_, x, y| reference::max_pool(&d, x, y));
            assert_close(y.as_slice().unwrap(), &want);
            let dx = max_backward(&d, x.view(), dy.view());
            let want = per_sample(&x, d.c * d.h * d.w, |s, x, dx| {
                reference::max_pool_backward(&d, x, dy.index_axis(Axis(0), s).as_slice().unwrap(), dx)
            });
            assert_close(dx.as_slice().unwrap(), &want);
        }
    }

    #[test]
    fn avg_pool_matches_the_reference_forward_and_backward() {
        let mut rng = Rng::new(32);
        for d in cases() {
            let x: Array4<f32> = random(&mut rng, (3, d.c, d.h, d.w));
            let dy: Array4<f32> = random(&mut rng, (3, d.c, d.oh, d.ow));
            let y = avg_forward(&d, x.view());
            let want = per_sample(&x, d.c * d.oh * d.ow, |_, x, y| reference::avg_pool(&d, x, y));
            assert_close(y.as_slice().unwrap(), &want);
            let dx = avg_backward(&d, dy.view());
            let want = per_sample(&dy, d.c * d.h * d.w, |_, dy, dx| reference::avg_pool_backward(&d, dy, dx));
            assert_close(dx.as_slice().unwrap(), &want);
        }
    }
}
