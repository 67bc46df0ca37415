//! The forward convolution vectorised over output channels, for layers whose output channels fill
//! whole vectors (a multiple of [`CHANNEL_QUANTUM`]: LeNet-5's conv2, the TF2 network's layers),
//! and the same loop for the input gradient of stride-1 layers whose input channels do (TF2's
//! conv2): the correlation of the output gradients with the flipped, transposed kernel.
//!
//! Each vector accumulator holds `LANES` output channels of one output position, so only real
//! outputs are computed: the flat path ([`correlate`](super::correlate)) also computes the
//! `KW − 1` positions past the end of every output row, a third of its work at 10x10 with a 5x5
//! kernel. A tile of `P` positions by `FV` vectors of channels takes, for every input channel and
//! tap, `P` broadcast inputs and `FV` vectors of weights, which each block of `FV · LANES` output
//! channels has packed output-channel-innermost (`[C][KH][KW][FV·LANES]`, once per call). Tiles
//! store position-major into a small chunk buffer, which is transposed into the channel-major
//! output. Any stride: a position's window starts at `i·SH·rw + j·SW` in the (padded) planes.

use core::mem::MaybeUninit;

use super::{dims, zeroed};
use crate::kernels::reference::Conv2dDims;
use crate::kernels::simd::Simd;

/// Output channels must be a multiple of this for the channel path: one AVX-512 vector, two AVX2
/// vectors, four SSE2 vectors.
const CHANNEL_QUANTUM: usize = 16;
/// Most positions a tile holds.
const P_MAX: usize = 14;
/// Most vectors of output channels a tile holds.
const FV_MAX: usize = 4;
/// Floats of stack scratch for the zero-padded input planes (128 KiB).
const PLANES_MAX: usize = 32 * 1024;
/// Floats of stack scratch for one block's packed weights (128 KiB: the input gradient of TF2's
/// conv2 packs 64 channels by 25 taps by 16).
const PACKED_MAX: usize = 32 * 1024;
/// Floats of stack scratch for a chunk of position-major outputs (4 KiB).
const CHUNK_MAX: usize = 1024;
/// Floats of stack scratch for a sample's output gradients of one block of channels (32 KiB).
const DY_MAX: usize = 8 * 1024;
/// Fewest products per output for the channel path: with fewer (a single input channel) the
/// per-output costs, the tile's setup and the transposition, outweigh what the flat path wastes.
const TAPS_MIN: usize = 50;

/// The input planes the windows read: `rw` wide and `rows` high, holding the input at row `pt`
/// and column `pl`, zero elsewhere (or the input itself when no window leaves it).
#[derive(Clone, Copy)]
struct Planes {
    rw: usize,
    rows: usize,
    padded: bool,
}

impl Planes {
    const fn new(d: Conv2dDims) -> Planes {
        let Conv2dDims { h, w, kh, kw, sh, sw, pt, pl, oh, ow, .. } = d;
        let (rw, rows) = (max(pl + w, (ow - 1) * sw + kw), max(pt + h, (oh - 1) * sh + kh));
        Planes { rw, rows, padded: rw != w || rows != h || pt > 0 || pl > 0 }
    }

    /// Floats of one plane.
    const fn size(&self) -> usize {
        self.rw * self.rows
    }
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The tile for `f` output channels on a path of `lanes` lanes and `regs` registers, as
/// (positions, vectors of channels): the most FMAs per load (`P · FV` of them for `P + FV`
/// loads) whose accumulators, weights and one broadcast fit the registers (`P · FV + FV + 1 ≤
/// regs`), `FV` dividing the channel vectors. Evaluated at compile time.
const fn tile(f: usize, lanes: usize, regs: usize) -> (usize, usize) {
    let (mut best, mut best_score) = ((1, 1), 0);
    let mut fv = 1;
    while fv <= FV_MAX {
        if (f / lanes).is_multiple_of(fv) && regs > fv + 1 {
            let mut p = (regs - fv - 1) / fv;
            if p > P_MAX {
                p = P_MAX;
            }
            // FMAs per load, scaled to stay in integers.
            let score = 1000 * p * fv / (p + fv);
            if p > 0 && score > best_score {
                (best, best_score) = ((p, fv), score);
            }
        }
        fv += 1;
    }
    best
}

/// Positions a chunk holds: the most whole tiles that fit [`CHUNK_MAX`].
const fn chunk_positions(f: usize, lanes: usize, regs: usize) -> usize {
    let (p, fv) = tile(f, lanes, regs);
    CHUNK_MAX / (fv * lanes) / p * p
}

/// Whether the channel path takes this geometry on a path of `lanes` lanes and `regs` registers:
/// the output channels fill whole vectors, and the planes, a block's packed weights and a chunk of
/// at least one tile fit the stack scratch. Evaluated at compile time.
pub(super) const fn fits(d: Conv2dDims, lanes: usize, regs: usize) -> bool {
    let Conv2dDims { c, f, kh, kw, .. } = d;
    if !f.is_multiple_of(CHANNEL_QUANTUM) || !CHANNEL_QUANTUM.is_multiple_of(lanes) || c * kh * kw < TAPS_MIN {
        return false;
    }
    let g = Planes::new(d);
    let (p, fv) = tile(f, lanes, regs);
    let fb = fv * lanes;
    (!g.padded || c * g.size() <= PLANES_MAX) && c * kh * kw * fb <= PACKED_MAX && p * fb <= CHUNK_MAX
}

/// `y[f][i][j] = b[f] + Σ_{c,u,v} wt(f, c, u, v) · x[c][i·SH + u − pt][j·SW + v − pl]` (zero
/// outside `x`), for a geometry [`fits`] accepts with padding `(pt, pl)`.
///
/// `wt(f, c, u, v)` is the weight of output channel `f`, input channel `c` and tap `(u, v)`: the
/// layer's own weights for the forward pass, flipped and transposed for the input gradient.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    s: S,
    x: &[[[f32; W]; H]; C],
    (pt, pl): (usize, usize),
    wt: impl Fn(usize, usize, usize, usize) -> f32,
    b: &[f32; F],
    y: &mut [[[f32; OW]; OH]; F],
) {
    let g = Planes::new(Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt, pl, oh: OH, ow: OW });
    let (p, fv) = const { tile(F, S::LANES, S::REGS) };
    let fb = fv * S::LANES;
    let mut planes_buf = [MaybeUninit::<f32>::uninit(); PLANES_MAX];
    let planes = planes::<C, H, W>(x, g, (pt, pl), &mut planes_buf);
    let mut packed_buf = [MaybeUninit::<f32>::uninit(); PACKED_MAX];
    let mut chunk_buf = [MaybeUninit::<f32>::uninit(); CHUNK_MAX];
    let chunk_len = const { chunk_positions(F, S::LANES, S::REGS) };
    let chunk = zeroed(&mut chunk_buf, chunk_len * fb);
    let positions = OH * OW;
    let y = y.as_flattened_mut().as_flattened_mut();
    for f0 in (0..F).step_by(fb) {
        let packed = pack::<C, KH, KW>(&wt, f0, fb, &mut packed_buf);
        let bias = load_vectors(s, &b[f0..f0 + fb], fv);
        for q0 in (0..positions).step_by(chunk_len) {
            let nq = chunk_len.min(positions - q0);
            for t0 in (0..nq).step_by(p) {
                let tile_out = &mut chunk[t0 * fb..];
                if t0 + p <= nq {
                    tile_at::<S, C, KH, KW, SH, SW, OW>(s, planes, g, packed, &bias, q0 + t0, (p, fv), tile_out);
                } else {
                    // Chunks hold whole tiles: only the last tile of all is short.
                    let np = const { (OH * OW) % tile(F, S::LANES, S::REGS).0 };
                    tile_at::<S, C, KH, KW, SH, SW, OW>(s, planes, g, packed, &bias, q0 + t0, (np, fv), tile_out);
                }
            }
            for (k, yf) in y[f0 * positions..].chunks_exact_mut(positions).take(fb).enumerate() {
                for (yq, cq) in yf[q0..q0 + nq].iter_mut().zip(chunk.chunks_exact(fb)) {
                    *yq = cq[k];
                }
            }
        }
    }
}

/// Whether [`weight_grad`] takes this geometry: as [`fits`], with a sample's output gradients for
/// a block of channels, position-major, in the stack scratch. Evaluated at compile time.
pub(super) const fn weight_grad_fits(d: Conv2dDims, lanes: usize, regs: usize) -> bool {
    fits(d, lanes, regs) && d.oh * d.ow * tile(d.f, lanes, regs).1 * lanes <= DY_MAX
}

/// The weight and bias gradients of a batch, added to `dw` and `db`:
/// `dw[f][c][u][v] += Σ_{n,i,j} dys[n][f][i][j] · xs[n][c][i·SH + u − PT][j·SW + v − PL]` (zero
/// outside `x`), `db[f] += Σ_{n,i,j} dys[n][f][i][j]`, for a geometry [`weight_grad_fits`] accepts.
///
/// The forward's tile turned around: `T` weights (consecutive taps of a kernel row) by `FV`
/// vectors of output channels, accumulated over every position of every sample, with one
/// broadcast input per tap and position and `FV` vectors of the sample's output gradient per
/// position (transposed to position-major once a sample). No horizontal sums, and no position
/// outside the output: the sums over the batch stay in a position-major buffer of the block's
/// weights, transposed into `dw` once.
#[inline(always)]
pub(super) fn weight_grad<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const OH: usize,
    const OW: usize,
>(
    s: S,
    xs: &[[[[f32; W]; H]; C]],
    dys: &[[[[f32; OW]; OH]; F]],
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    let g = const { Planes::new(dims::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>()) };
    let fv = const { tile(F, S::LANES, S::REGS).1 };
    let fb = fv * S::LANES;
    let taps = C * KH * KW;
    let positions = OH * OW;
    let mut planes_buf = [MaybeUninit::<f32>::uninit(); PLANES_MAX];
    let mut sums_buf = [MaybeUninit::<f32>::uninit(); PACKED_MAX];
    let mut dyt_buf = [MaybeUninit::<f32>::uninit(); DY_MAX];
    for f0 in (0..F).step_by(fb) {
        let sums = zeroed(&mut sums_buf, taps * fb);
        for (x, dy) in xs.iter().zip(dys) {
            let planes = planes::<C, H, W>(x, g, (PT, PL), &mut planes_buf);
            let dy = &dy.as_flattened().as_flattened()[f0 * positions..(f0 + fb) * positions];
            for (k, dyk) in dy.chunks_exact(positions).enumerate() {
                db[f0 + k] += super::sum(s, dyk);
            }
            let dyt = transpose_into(dy, positions, fb, &mut dyt_buf);
            // A tile takes consecutive taps of one kernel row, so that they are constant offsets
            // from one place in the planes.
            let tv = const { min(tile(F, S::LANES, S::REGS).0, KW) };
            for c in 0..C {
                for u in 0..KH {
                    let row = c * g.size() + u * g.rw;
                    let sums_row = &mut sums[(c * KH + u) * KW * fb..][..KW * fb];
                    for v0 in (0..KW).step_by(tv) {
                        let nt = if v0 + tv <= KW { tv } else { const { KW % min(tile(F, S::LANES, S::REGS).0, KW) } };
                        let sums_tile = &mut sums_row[v0 * fb..][..nt * fb];
                        grad_tile::<S, OH, OW, SH, SW>(s, planes, g, dyt, (row + v0, nt, fv), sums_tile);
                    }
                }
            }
        }
        for (k, dwf) in dw[f0..f0 + fb].iter_mut().enumerate() {
            for (d, sum_t) in dwf.as_flattened_mut().as_flattened_mut().iter_mut().zip(sums.chunks_exact(fb)) {
                *d += sum_t[k];
            }
        }
    }
}

/// `rows` (`[fb][n]`, channel-major) transposed to position-major (`[n][fb]`) in `buf`.
#[inline(always)]
fn transpose_into<'a>(rows: &[f32], n: usize, fb: usize, buf: &'a mut [MaybeUninit<f32>; DY_MAX]) -> &'a [f32] {
    let out = &mut buf[..n * fb];
    for (k, row) in rows.chunks_exact(n).take(fb).enumerate() {
        for (q, &v) in row.iter().enumerate() {
            out[q * fb + k] = MaybeUninit::new(v);
        }
    }
    // SAFETY: `rows` holds `fb` rows of `n` (the caller's slice is `fb · n` long), so the loops
    // wrote `out[q · fb + k]` for every `q < n` and `k < fb`; `MaybeUninit<f32>` has the layout of
    // `f32`.
    unsafe { &*(out as *const [MaybeUninit<f32>] as *const [f32]) }
}

/// `nt` consecutive taps of a kernel row, at `tap..tap + nt` from a window's start in `planes`,
/// by `fv` vectors of the block's channels: `sums[k][n] += Σ_{i,j} dyt[i·OW + j][n] ·
/// planes[window(i, j) + tap + k]` (`sums` is `[nt][fv · LANES]`).
#[inline(always)]
fn grad_tile<S: Simd, const OH: usize, const OW: usize, const SH: usize, const SW: usize>(
    s: S,
    planes: &[f32],
    g: Planes,
    dyt: &[f32],
    (tap, nt, fv): (usize, usize, usize),
    sums: &mut [f32],
) {
    let l = S::LANES;
    let fb = fv * l;
    let mut acc = [[s.zero(); FV_MAX]; P_MAX];
    for (k, acc_k) in acc[..nt].iter_mut().enumerate() {
        *acc_k = load_vectors(s, &sums[k * fb..][..fb], fv);
    }
    for i in 0..OH {
        for j in 0..OW {
            let start = i * SH * g.rw + j * SW + tap;
            let dv = load_vectors(s, &dyt[(i * OW + j) * fb..][..fb], fv);
            for (k, acc_k) in acc[..nt].iter_mut().enumerate() {
                let xk = s.splat(input_at(planes, start + k));
                for (a, &dn) in acc_k[..fv].iter_mut().zip(&dv[..fv]) {
                    *a = s.fma(xk, dn, *a);
                }
            }
        }
    }
    store_rows(s, &acc[..nt], fv, sums);
}

/// `fv` consecutive vectors from `src`.
#[inline(always)]
fn load_vectors<S: Simd>(s: S, src: &[f32], fv: usize) -> [S::V; FV_MAX] {
    let mut v = [s.zero(); FV_MAX];
    for (n, vn) in v[..fv].iter_mut().enumerate() {
        *vn = s.load(&src[n * S::LANES..]);
    }
    v
}

/// A tile's rows of `fv` accumulator vectors into `out`, one row after another.
#[inline(always)]
fn store_rows<S: Simd>(s: S, rows: &[[S::V; FV_MAX]], fv: usize, out: &mut [f32]) {
    let fb = fv * S::LANES;
    for (k, row) in rows.iter().enumerate() {
        for (n, &a) in row[..fv].iter().enumerate() {
            s.store(a, &mut out[k * fb + n * S::LANES..]);
        }
    }
}

/// The input planes of `x` laid out as `g` says: copied into `buf` with their padding, or `x`
/// itself.
#[inline(always)]
fn planes<'a, const C: usize, const H: usize, const W: usize>(
    x: &'a [[[f32; W]; H]; C],
    g: Planes,
    (pt, pl): (usize, usize),
    buf: &'a mut [MaybeUninit<f32>; PLANES_MAX],
) -> &'a [f32] {
    if !g.padded {
        return x.as_flattened().as_flattened();
    }
    let planes = zeroed(buf, C * g.size());
    for (xc, plane) in x.iter().zip(planes.chunks_exact_mut(g.size())) {
        for (r, row) in xc.iter().enumerate() {
            let start = (pt + r) * g.rw + pl;
            plane[start..start + W].copy_from_slice(row);
        }
    }
    planes
}

/// The weights of output channels `f0..f0 + fb` as `packed[c][u][v][k] = wt(f0 + k, c, u, v)`,
/// in the first `C · KH · KW · fb` floats of `buf`.
#[inline(always)]
fn pack<'a, const C: usize, const KH: usize, const KW: usize>(
    wt: &impl Fn(usize, usize, usize, usize) -> f32,
    f0: usize,
    fb: usize,
    buf: &'a mut [MaybeUninit<f32>; PACKED_MAX],
) -> &'a [f32] {
    let packed = &mut buf[..C * KH * KW * fb];
    for (t, taps) in packed.chunks_exact_mut(fb).enumerate() {
        let (c, u, v) = (t / (KH * KW), t / KW % KH, t % KW);
        for (k, wk) in taps.iter_mut().enumerate() {
            *wk = MaybeUninit::new(wt(f0 + k, c, u, v));
        }
    }
    // SAFETY: the loops wrote every element of `packed` (`C · KH · KW` chunks of `fb`);
    // `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { &*(packed as *const [MaybeUninit<f32>] as *const [f32]) }
}

/// One tile: positions `q..q + np` (output-major order, `np ≤ P_MAX`) by `fv` vectors of the
/// block's channels, stored position-major (`fv · LANES` floats a position) into `out`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_at<
    S: Simd,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OW: usize,
>(
    s: S,
    planes: &[f32],
    g: Planes,
    packed: &[f32],
    bias: &[S::V; FV_MAX],
    q: usize,
    (np, fv): (usize, usize),
    out: &mut [f32],
) {
    let l = S::LANES;
    let fb = fv * l;
    // Where each position's window starts in a plane.
    let mut starts = [0usize; P_MAX];
    for (k, start) in starts[..np].iter_mut().enumerate() {
        let (i, j) = ((q + k) / OW, (q + k) % OW);
        *start = i * SH * g.rw + j * SW;
    }
    let mut acc = [[s.zero(); FV_MAX]; P_MAX];
    for acc_k in &mut acc[..np] {
        acc_k[..fv].copy_from_slice(&bias[..fv]);
    }
    let ps = g.size();
    for c in 0..C {
        let plane = &planes[c * ps..(c + 1) * ps];
        let packed_c = &packed[c * KH * KW * fb..(c + 1) * KH * KW * fb];
        for u in 0..KH {
            for v in 0..KW {
                let tap = u * g.rw + v;
                let wv = load_vectors(s, &packed_c[(u * KW + v) * fb..][..fb], fv);
                for (acc_k, &start) in acc[..np].iter_mut().zip(&starts[..np]) {
                    let xk = s.splat(input_at(plane, start + tap));
                    for (a, &wn) in acc_k[..fv].iter_mut().zip(&wv[..fv]) {
                        *a = s.fma(xk, wn, *a);
                    }
                }
            }
        }
    }
    store_rows(s, &acc[..np], fv, out);
}

/// `plane[i]`, for an `i` inside the plane (or the planes, read as one): the windows of output
/// positions of a geometry [`Planes`] laid out, which end at most `(OH − 1)·SH + KH − 1` rows and
/// `(OW − 1)·SW + KW − 1` columns in, inside its `rows × rw`.
#[inline(always)]
fn input_at(plane: &[f32], i: usize) -> f32 {
    debug_assert!(i < plane.len());
    // SAFETY: `i < plane.len()`: a window start is `i·SH·rw + j·SW` for an output `(i, j)`, and a
    // tap adds `u·rw + v` with `u < KH`, `v < KW`; `Planes::new` makes `rows ≥ (OH − 1)·SH + KH`
    // and `rw ≥ (OW − 1)·SW + KW`, so the sum is below `rows · rw`, the plane's length (the planes
    // are `rows · rw` each, or the input itself when that equals `H · W`); the weight gradient adds
    // `c · rows · rw` for a channel `c < C` to index all `C` planes at once.
    unsafe { *plane.get_unchecked(i) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::conv_dims;

    #[test]
    fn tiles_fit_the_registers_and_divide_the_channel_vectors() {
        for (lanes, regs) in [(4, 16), (8, 16), (16, 32)] {
            for f in [16, 32, 48, 64, 128] {
                let (p, fv) = tile(f, lanes, regs);
                assert!((1..=P_MAX).contains(&p) && (1..=FV_MAX).contains(&fv), "{f} on {lanes} lanes: {p}x{fv}");
                assert!(p * fv + fv < regs, "{f} on {lanes} lanes: {p}x{fv} spills");
                assert_eq!((f / lanes) % fv, 0, "{f} on {lanes} lanes: {fv} vectors do not divide");
                assert!(chunk_positions(f, lanes, regs) >= p);
            }
        }
        // AVX2, 16 channels: two vectors by six positions, twelve accumulators.
        assert_eq!(tile(16, 8, 16), (6, 2));
    }

    #[test]
    fn takes_layers_with_whole_vectors_of_channels_and_enough_taps() {
        // LeNet-5 conv2 and the TF2 network's conv2 on AVX2; not conv1 (one input channel), not 6
        // output channels.
        assert!(fits(conv_dims([6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10]), 8, 16));
        assert!(fits(conv_dims([32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 14, 14]), 8, 16));
        assert!(!fits(conv_dims([1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 28, 28]), 8, 16));
        assert!(!fits(conv_dims([1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28]), 8, 16));
        // Planes beyond the stack scratch.
        assert!(!fits(conv_dims([64, 32, 32, 16, 3, 3, 1, 1, 1, 1, 32, 32]), 8, 16));
    }

    #[test]
    fn planes_are_read_in_place_only_when_no_window_leaves_the_input() {
        assert!(!Planes::new(conv_dims([1, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10])).padded);
        assert!(Planes::new(conv_dims([1, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14])).padded);
        // Stride 2 whose last window ends short of the input: still in place, pitch the input's.
        let g = Planes::new(conv_dims([1, 12, 12, 16, 5, 5, 2, 2, 0, 0, 4, 4]));
        assert!(!g.padded);
        assert_eq!((g.rw, g.rows), (12, 12));
    }
}
