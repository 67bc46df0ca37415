//! A batch as it flows between layers: a `(N, len)` matrix, one sample per row in CHW order. The
//! ops view it in the shape they work on ((N, C, H, W) images, (N, C, S) channels) without
//! copying, and split its samples over rayon's threads in contiguous chunks.

use core::ops::Range;

use cnn_spec::Shape;
use ndarray::{Array, Array2, ArrayRef, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut, Axis, Dimension};
use rayon::prelude::*;

/// Every array the dynamic runtime makes (batches, parameters) is in standard layout, which is
/// what lets a reshape be a view.
const STANDARD_LAYOUT: &str = "the dynamic runtime keeps its arrays in standard (row-major) layout";

/// `C, H, W` of an image shape; a flat shape of `n` (which image ops never get in a checked
/// network) as `n, 1, 1`.
pub(crate) fn chw(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Flat { n } => (n, 1, 1),
    }
}

/// The batch `x` as images `(N, C, H, W)` of `shape`.
pub(crate) fn images(x: ArrayView2<'_, f32>, shape: Shape) -> ArrayView4<'_, f32> {
    let (c, h, w) = chw(shape);
    x.into_shape_with_order((x.nrows(), c, h, w)).expect(STANDARD_LAYOUT)
}

/// The batch `x` as `(N, C, S)`: the channels of images (features of flat vectors) and the `S`
/// values of each (`H·W`, or 1).
pub(crate) fn channels(x: ArrayView2<'_, f32>, shape: Shape) -> ArrayView3<'_, f32> {
    x.into_shape_with_order((x.nrows(), shape.channels(), shape.spatial())).expect(STANDARD_LAYOUT)
}

/// An op's output `(N, …)` as a batch: one row per sample.
pub(crate) fn into_rows<D: Dimension>(y: Array<f32, D>) -> Array2<f32> {
    let n = y.len_of(Axis(0));
    let len = y.shape()[1..].iter().product::<usize>();
    y.into_shape_with_order((n, len)).expect(STANDARD_LAYOUT)
}

/// A sample, or the whole of a standard-layout array, as a flat slice.
pub(crate) fn flat<D: Dimension>(a: &ArrayRef<f32, D>) -> &[f32] {
    a.as_slice().expect(STANDARD_LAYOUT)
}

/// A sample, or the whole of a standard-layout array, as a flat mutable slice.
pub(crate) fn flat_mut<D: Dimension>(a: &mut ArrayRef<f32, D>) -> &mut [f32] {
    a.as_slice_mut().expect(STANDARD_LAYOUT)
}

/// Samples per parallel job: the batch cut into one contiguous chunk per rayon thread, so the
/// order in which partial gradients are added up depends only on the batch size and thread count.
fn chunk_len(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(1)
}

/// Runs `job` in parallel on contiguous chunks of the samples of `out` (its first axis), with
/// each chunk's sample range (to slice the inputs with) and its part of `out`.
pub(crate) fn for_chunks<D: Dimension>(
    mut out: ArrayViewMut<'_, f32, D>,
    job: impl Fn(Range<usize>, ArrayViewMut<'_, f32, D>) + Sync,
) {
    let len = chunk_len(out.len_of(Axis(0)));
    let parts: Vec<_> = out.axis_chunks_iter_mut(Axis(0), len).enumerate().collect();
    parts.into_par_iter().for_each(|(k, part)| {
        let start = k * len;
        let range = start..start + part.len_of(Axis(0));
        job(range, part);
    });
}

/// Runs `job` in parallel on contiguous chunks of `0..n` and gives its results in chunk order.
pub(crate) fn map_chunks<T: Send>(n: usize, job: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let len = chunk_len(n);
    (0..n.div_ceil(len)).into_par_iter().map(|k| job(k * len..((k + 1) * len).min(n))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn chunks_cover_every_sample_once_in_order() {
        for n in [0, 1, 2, 7, 64] {
            let mut out = Array2::<f32>::zeros((n, 3));
            for_chunks(out.view_mut(), |range, mut part| {
                assert_eq!(range.len(), part.nrows());
                for (s, mut row) in range.zip(part.rows_mut()) {
                    row.fill(s as f32);
                }
            });
            let want = Array2::from_shape_fn((n, 3), |(s, _)| s as f32);
            assert_eq!(out, want);
            let seen = Mutex::new(Vec::new());
            let ranges = map_chunks(n, |r| {
                seen.lock().unwrap().extend(r.clone());
                r
            });
            assert_eq!(ranges.into_iter().flatten().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
            assert_eq!(seen.into_inner().unwrap().len(), n);
        }
    }

    #[test]
    fn views_keep_chw_order() {
        let x = Array2::from_shape_fn((2, 12), |(s, k)| (s * 100 + k) as f32);
        let im = images(x.view(), Shape::image(3, 2, 2));
        assert_eq!(im[[1, 2, 1, 0]], 110.0);
        let ch = channels(x.view(), Shape::image(3, 2, 2));
        assert_eq!(ch[[1, 2, 2]], 110.0);
        assert_eq!(into_rows(im.to_owned()), x);
        assert_eq!(chw(Shape::flat(5)), (5, 1, 1));
    }
}
