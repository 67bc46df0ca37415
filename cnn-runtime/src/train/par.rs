//! Work over a batch split into a fixed number of contiguous chunks, one per thread, run in
//! parallel with rayon. Chunk boundaries depend only on the batch size and the chunk count, so a
//! training step gives the same result for the same seed and thread count; nothing is allocated.

use core::ops::Range;

/// Something that can be cut at a sample index: batch slices, tuples of them, sample ranges.
pub trait Split: Sized + Send {
    /// Samples held (for a tuple, those of its first element).
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
            let half = states.len() / 2;
            let mid = parts.samples() * half / states.len();
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
    let half = chunks / 2;
    let mid = parts.samples() * half / chunks;
    let (left, right) = parts.split_at(mid);
    rayon::join(|| each(left, half, f), || each(right, chunks - half, f));
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
}
