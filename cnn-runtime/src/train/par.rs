//! Work over a batch split into a fixed number of contiguous chunks, one per thread, run in
//! parallel with rayon. Chunk boundaries depend only on the batch size and the chunk count, so a
//! training step gives the same result for the same seed and thread count; nothing is allocated.
//! Elementwise passes over large tensors (gradient reduction, optimiser updates) run in blocks.

use core::ops::Range;

/// Something that can be cut at a sample index: batch slices, tuples of them, sample ranges.
pub trait Split: Sized + Send {
    /// Samples (or elements) held (for a tuple, those of its first element).
    fn samples(&self) -> usize;
    /// The first `mid` samples, and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl<T: Sync> Split for &[T] {
    fn samples(&self) -> usize {
        self.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

impl<T: Send> Split for &mut [T] {
    fn samples(&self) -> usize {
        self.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

impl Split for Range<usize> {
    fn samples(&self) -> usize {
        self.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        (self.start..self.start + mid, self.start + mid..self.end)
    }
}

macro_rules! split_tuple {
    ($($name:ident)+) => {
        impl<$($name: Split),+> Split for ($($name,)+) {
            #[allow(non_snake_case)]
            fn samples(&self) -> usize {
                let ($($name,)+) = self;
                [$($name.samples()),+][0]
            }
            #[allow(non_snake_case)]
            fn split_at(self, mid: usize) -> (Self, Self) {
                let ($($name,)+) = self;
                $(let $name = $name.split_at(mid);)+
                (($($name.0,)+), ($($name.1,)+))
            }
        }
    };
}
split_tuple!(A B);
split_tuple!(A B C);
split_tuple!(A B C D);

/// Calls `f(chunk, state)` for `states.len()` contiguous chunks of `parts`, in parallel; chunk `i`
/// gets `states[i]` (its own gradient accumulator, say). Chunks differ in size by at most one sample.
pub fn for_chunks<P, S, F>(parts: P, states: &mut [S], f: &F)
where
    P: Split,
    S: Send,
    F: Fn(P, &mut S) + Sync,
{
    match states {
        [] => {}
        [only] => f(parts, only),
        _ => {
            let (mid, half) = split_point(parts.samples(), states.len());
            let (left, right) = parts.split_at(mid);
            let (s_left, s_right) = states.split_at_mut(half);
            rayon::join(|| for_chunks(left, s_left, f), || for_chunks(right, s_right, f));
        }
    }
}

/// Calls `f(chunk)` for `chunks` contiguous chunks of `parts`, in parallel.
pub fn each<P, F>(parts: P, chunks: usize, f: &F)
where
    P: Split,
    F: Fn(P) + Sync,
{
    if chunks <= 1 || parts.samples() <= 1 {
        return f(parts);
    }
    let (mid, half) = split_point(parts.samples(), chunks);
    let (left, right) = parts.split_at(mid);
    rayon::join(|| each(left, half, f), || each(right, chunks - half, f));
}

/// Where [`for_chunks`] and [`each`] cut `samples` samples shared by `chunks` chunks: the first
/// `mid` samples go to the first `half` chunks.
fn split_point(samples: usize, chunks: usize) -> (usize, usize) {
    let half = chunks / 2;
    (samples * half / chunks, half)
}

/// Calls `f` with the sample range of each chunk [`for_chunks`] makes of `samples` samples in
/// `chunks` chunks, one after the other, first to last (or last to first with `reverse`).
pub fn chunk_ranges(samples: Range<usize>, chunks: usize, reverse: bool, f: &mut dyn FnMut(Range<usize>)) {
    if chunks <= 1 {
        return f(samples);
    }
    let (mid, half) = split_point(samples.len(), chunks);
    let (left, right) = Split::split_at(samples, mid);
    let (first, second) =
        if reverse { ((right, chunks - half), (left, half)) } else { ((left, half), (right, chunks - half)) };
    chunk_ranges(first.0, first.1, reverse, f);
    chunk_ranges(second.0, second.1, reverse, f);
}

/// Elements per block of [`blocks`]: a tensor this small is not worth a second thread.
pub const BLOCK: usize = 1 << 14;

/// `f` over blocks of at most [`BLOCK`] elements of `parts` (a tensor and its companions, say
/// parameters, gradients and moments), in parallel, the results folded with `combine`. Elementwise
/// work gives the same result as one pass over the whole.
pub fn blocks<P, R, F>(parts: P, f: &F, combine: fn(R, R) -> R) -> R
where
    P: Split,
    R: Send,
    F: Fn(P) -> R + Sync,
{
    if parts.samples() <= BLOCK {
        return f(parts);
    }
    let mid = parts.samples() / 2;
    let (left, right) = parts.split_at(mid);
    let (l, r) = rayon::join(|| blocks(left, f, combine), || blocks(right, f, combine));
    combine(l, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn chunks_cover_every_sample_once_in_order() {
        for (n, t) in [(64, 2), (65, 3), (1, 4), (7, 7), (10, 1)] {
            let mut out = vec![0usize; n];
            let mut seen = vec![Vec::new(); t];
            for_chunks((0..n, &mut out[..]), &mut seen, &|(range, out): (Range<usize>, &mut [usize]), s| {
                for (i, o) in range.clone().zip(out.iter_mut()) {
                    *o = i + 1;
                }
                s.push(range);
            });
            assert_eq!(out, (1..=n).collect::<Vec<_>>());
            let sizes: Vec<usize> = seen.iter().map(|r| r.iter().map(|r| r.len()).sum()).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        }
    }

    #[test]
    fn each_visits_all_samples() {
        let xs: Vec<u32> = (0..100).collect();
        let mut ys = vec![0u32; 100];
        let calls = Mutex::new(0);
        each((&xs[..], &mut ys[..]), 4, &|(x, y): (&[u32], &mut [u32])| {
            *calls.lock().unwrap() += 1;
            for (a, b) in x.iter().zip(y) {
                *b = a * 2;
            }
        });
        assert_eq!(ys, xs.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(*calls.lock().unwrap(), 4);
    }

    #[test]
    fn blocks_cover_every_element_once() {
        for n in [0, 1, BLOCK, BLOCK + 1, 5 * BLOCK + 3] {
            let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let mut dst = vec![0.0f32; n];
            let count = blocks(
                (&mut dst[..], &src[..]),
                &|(d, s): (&mut [f32], &[f32])| {
                    assert!(d.len() <= BLOCK);
                    d.iter_mut().zip(s).for_each(|(d, s)| *d += s + 1.0);
                    d.len()
                },
                |a, b| a + b,
            );
            assert_eq!(count, n);
            assert!(dst.iter().enumerate().all(|(i, &d)| d == i as f32 + 1.0));
        }
    }

    #[test]
    fn chunk_ranges_are_the_chunks_of_for_chunks() {
        for (n, t) in [(64, 2), (65, 3), (1, 4), (7, 7), (10, 1), (50, 2), (3, 5)] {
            let mut seen = vec![Vec::new(); t];
            for_chunks(0..n, &mut seen, &|range, s| s.push(range));
            let chunks: Vec<Range<usize>> = seen.into_iter().flatten().collect();
            let mut forward = Vec::new();
            chunk_ranges(0..n, t, false, &mut |r| forward.push(r));
            let mut backward = Vec::new();
            chunk_ranges(0..n, t, true, &mut |r| backward.push(r));
            backward.reverse();
            assert_eq!(forward, chunks, "{n} samples, {t} chunks");
            assert_eq!(backward, chunks, "{n} samples, {t} chunks, reversed");
        }
    }
}
