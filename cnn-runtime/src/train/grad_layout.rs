//! Where a training step keeps the gradients flowing back. Each thread takes its chunk of the
//! batch down through every layer of a segment without waiting for the others, and the layers'
//! per-sample gradients differ in length; so a chunk's gradients live in a region of their own,
//! `stride` (the longest per-sample length) floats per sample from the chunk's first sample, in
//! which each layer's gradients lie contiguous. Nothing one chunk writes can then overlap another
//! chunk's region. Steps that need the whole batch contiguous (the loss, BatchNorm) convert in
//! place with [`compact`] and [`expand`].

use crate::train::par::{chunk_ranges, Split};

/// A gradient buffer cut at sample boundaries of `stride` floats, for [`par::for_chunks`](crate::train::par::for_chunks).
pub struct PerSample<'a> {
    data: &'a mut [f32],
    stride: usize,
}

impl<'a> PerSample<'a> {
    /// `data` seen as samples of `stride` floats (`stride` > 0).
    pub fn new(data: &'a mut [f32], stride: usize) -> Self {
        PerSample { data, stride }
    }

    /// The floats of the samples held.
    pub fn into_slice(self) -> &'a mut [f32] {
        self.data
    }
}

impl Split for PerSample<'_> {
    fn samples(&self) -> usize {
        self.data.len() / self.stride
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (left, right) = self.data.split_at_mut(mid * self.stride);
        (PerSample { data: left, stride: self.stride }, PerSample { data: right, stride: self.stride })
    }
}

/// Rearranges `buf` (`stride` floats per sample) from chunk regions, each holding its samples'
/// `len` floats one after the other, into all samples' `len` floats one after the other from the
/// start: the whole batch as one contiguous tensor. The chunks are those of
/// [`par::for_chunks`](crate::train::par::for_chunks) with `chunks` chunks.
pub fn compact(buf: &mut [f32], chunks: usize, stride: usize, len: usize) {
    let samples = buf.len() / stride;
    // Front to back: a chunk moves down, onto floats that earlier chunks have already moved.
    chunk_ranges(0..samples, chunks, false, &mut |range| {
        if range.start > 0 {
            buf.copy_within(range.start * stride..range.start * stride + range.len() * len, range.start * len);
        }
    });
}

/// The inverse of [`compact`]: the batch's contiguous `len` floats per sample back into chunk regions.
pub fn expand(buf: &mut [f32], chunks: usize, stride: usize, len: usize) {
    let samples = buf.len() / stride;
    // Back to front: a chunk moves up, onto floats that later chunks have already moved.
    chunk_ranges(0..samples, chunks, true, &mut |range| {
        if range.start > 0 {
            buf.copy_within(range.start * len..range.end * len, range.start * stride);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::par::for_chunks;

    /// Chunk layout written by each chunk through `PerSample`, as the generated backward does.
    fn chunked(samples: usize, chunks: usize, stride: usize, len: usize) -> Vec<f32> {
        let mut buf = vec![f32::NAN; samples * stride];
        let mut states = vec![(); chunks];
        for_chunks((0..samples, PerSample::new(&mut buf, stride)), &mut states, &|(range, region), _| {
            let region = region.into_slice();
            for (j, s) in range.enumerate() {
                for k in 0..len {
                    region[j * len + k] = (s * 1000 + k) as f32;
                }
            }
        });
        buf
    }

    #[test]
    fn compact_and_expand_convert_between_chunk_regions_and_one_tensor() {
        for (samples, chunks, stride, len) in [(64, 2, 10, 3), (65, 3, 7, 7), (5, 4, 4, 1), (50, 2, 9, 5), (9, 1, 6, 2)]
        {
            let mut buf = chunked(samples, chunks, stride, len);
            let before = buf.clone();
            compact(&mut buf, chunks, stride, len);
            let contiguous: Vec<f32> =
                (0..samples).flat_map(|s| (0..len).map(move |k| (s * 1000 + k) as f32)).collect();
            assert_eq!(buf[..samples * len], contiguous[..], "{samples} samples, {chunks} chunks");
            expand(&mut buf, chunks, stride, len);
            let same = buf.iter().zip(&before).all(|(a, b)| a == b || b.is_nan());
            assert!(same, "{samples} samples, {chunks} chunks: expand undoes compact");
        }
    }
}
