//! Fully connected (linear) layer, weights `[out][in]` as in PyTorch.
//!
//! Compiled for each vector instruction set (see [`isa`](super::isa)). Both passes go through the
//! weights 4 rows at a time, so each vector of `x` (and `dx`) is loaded once for all of them; the
//! forward pass keeps 2 vector accumulators per output.
//!
//! [`forward_batch`] and [`backward_batch`] do the same for a batch of samples (the training step
//! calls them once per chunk of the batch) as small register-tiled matrix products: each weight
//! is read once per call rather than once per sample, which is what bounds the per-sample passes
//! of a large layer (TF2's 3136→1024 has 12.8 MB of weights).

use core::mem::MaybeUninit;

use super::isa::{dispatch, wrappers};
use super::simd::{load_part, store_part, Simd};

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
    // Plain loops, no closures: a closure is compiled without the wrapper's target features, so
    // the intrinsics in it would be calls (and `mul_add` a library call) where it is not inlined.
    let mut dots = [0.0; R];
    for ((dot, acc_r), wr) in dots.iter_mut().zip(&acc).zip(w) {
        let mut total = acc_r[0];
        for &a in &acc_r[1..] {
            total = s.add(total, a);
        }
        let mut tail = 0.0;
        for (&wk, &xk) in wr[i..].iter().zip(&x[i..]) {
            tail = s.mul_add(wk, xk, tail);
        }
        *dot = s.sum(total) + tail;
    }
    dots
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

// ---------------------------------------------------------------------------------------------
// Batched passes: a small register-tiled GEMM over a chunk of samples.
// ---------------------------------------------------------------------------------------------

/// Vectors [`dot_tile`] sums in one run of accumulators before adding them to its totals.
const SUM_BLOCK: usize = 32;
/// Inputs [`forward_tiles`] covers in one pass over a block of rows: 5 rows of 1,024 `f32` and
/// 4 samples take 36 KiB, which fit in the first-level cache (48 KiB on Zen 5).
const FORWARD_SPAN: usize = 1024;
/// Most samples [`weight_grad_rows`] takes at once (their output gradients for a block of rows are
/// copied together).
const GRAD_SAMPLES: usize = 64;
/// Most rows a block of [`weight_grad_rows`] holds.
const ROWS_MAX: usize = 8;
/// Bytes of weights [`input_grad_band`] keeps in the first-level cache: 128 rows of 3 vectors of
/// 16 `f32` (the AVX-512 tile).
const INPUT_GRAD_PANEL: usize = 24 * 1024;

/// Fully connected layer of a batch of samples: [`forward`] for each, `ys[n] = W xs[n] + b`.
///
/// Shapes: `xs` is `[N][I]`, `w` is `[O][I]`, `b` is `[O]`, `ys` is `[N][O]`, for any `N`.
///
/// A register-tiled matrix product: a tile of a few samples by a few outputs keeps one vector
/// accumulator per pair, vectorised along `I`, so each vector of weights loaded serves several
/// samples and each vector of inputs several outputs. The tiles go through the weights a block of
/// rows at a time, each block for every sample of the batch, so a weight is read from memory
/// once per call rather than once per sample. The sums are taken in a different order from
/// [`forward`]'s (runs of at most 32 products per lane, then added up), so results
/// differ from it by rounding.
///
/// # Panics
/// If `ys` does not hold as many samples as `xs`.
pub fn forward_batch<const I: usize, const O: usize>(
    xs: &[[f32; I]],
    w: &[[f32; I]; O],
    b: &[f32; O],
    ys: &mut [[f32; O]],
) {
    assert_eq!(xs.len(), ys.len(), "dense::forward_batch: samples of xs and ys differ");
    dispatch!(forward_batch_avx512, forward_batch_avx2, forward_batch_body::<I, O>(xs, w, b, ys))
}

wrappers!(
    forward_batch_avx512,
    forward_batch_avx2,
    forward_batch_body,
    [const I: usize, const O: usize],
    (xs: &[[f32; I]], w: &[[f32; I]; O], b: &[f32; O], ys: &mut [[f32; O]])
);

/// The body of [`forward_batch`], compiled once per path `S`: tiles of 4 samples by 5 outputs
/// (20 accumulators) with 32 vector registers (measured on Zen 5), 3 by 4 with 16 (on Zen 3: about
/// 1.1x faster than 2 by 4 and 2 by 6).
#[inline(always)]
fn forward_batch_body<S: Simd, const I: usize, const O: usize>(
    s: S,
    xs: &[[f32; I]],
    w: &[[f32; I]; O],
    b: &[f32; O],
    ys: &mut [[f32; O]],
) {
    if S::REGS >= 32 {
        forward_tiles::<S, I, O, 4, 5>(s, xs, w, b, ys);
    } else {
        forward_tiles::<S, I, O, 3, 4>(s, xs, w, b, ys);
    }
}

/// [`forward_batch`] in tiles of `N` samples by `R` outputs: for each block of `R` rows of `w`,
/// a span of at most [`FORWARD_SPAN`] columns at a time, every block of `N` samples (so the span
/// of the rows stays in the first-level cache meanwhile); the samples and rows left over go in
/// tiles one wide.
#[inline(always)]
fn forward_tiles<S: Simd, const I: usize, const O: usize, const N: usize, const R: usize>(
    s: S,
    xs: &[[f32; I]],
    w: &[[f32; I]; O],
    b: &[f32; O],
    ys: &mut [[f32; O]],
) {
    // The fewest spans of at most `FORWARD_SPAN`, of equal length rounded up to whole vectors.
    let span = I.div_ceil(I.div_ceil(FORWARD_SPAN).max(1)).next_multiple_of(S::LANES).max(S::LANES);
    let (x_blocks, x_rest) = xs.as_chunks::<N>();
    let (w_blocks, w_rest) = w.as_chunks::<R>();
    for (k, wb) in w_blocks.iter().enumerate() {
        let o = k * R;
        let mut start = 0;
        loop {
            let end = I.min(start + span);
            let (y_blocks, y_rest) = ys.as_chunks_mut::<N>();
            for (xb, yb) in x_blocks.iter().zip(y_blocks) {
                store_tile(&dot_tile::<S, I, N, R>(s, xb, wb, start, end), b, o, start, yb);
            }
            for (x, y) in x_rest.iter().zip(y_rest) {
                let dots = dot_tile::<S, I, 1, R>(s, core::array::from_ref(x), wb, start, end);
                store_tile(&dots, b, o, start, core::array::from_mut(y));
            }
            start = end;
            if start >= I {
                break;
            }
        }
    }
    for (k, wo) in w_rest.iter().enumerate() {
        let o = w_blocks.len() * R + k;
        let wo = core::array::from_ref(wo);
        let (y_blocks, y_rest) = ys.as_chunks_mut::<N>();
        for (xb, yb) in x_blocks.iter().zip(y_blocks) {
            store_tile(&dot_tile::<S, I, N, 1>(s, xb, wo, 0, I), b, o, 0, yb);
        }
        for (x, y) in x_rest.iter().zip(y_rest) {
            let dots = dot_tile::<S, I, 1, 1>(s, core::array::from_ref(x), wo, 0, I);
            store_tile(&dots, b, o, 0, core::array::from_mut(y));
        }
    }
}

/// `ys[n][o + r] = b[o + r] + dots[n][r]` for a tile of `N` samples by `R` outputs from `o`, for
/// the span of inputs from 0; `ys[n][o + r] += dots[n][r]` for a later span.
#[inline(always)]
fn store_tile<const O: usize, const N: usize, const R: usize>(
    dots: &[[f32; R]; N],
    b: &[f32; O],
    o: usize,
    start: usize,
    ys: &mut [[f32; O]; N],
) {
    let b = &b[o..o + R];
    for (y, d) in ys.iter_mut().zip(dots) {
        for ((yo, &bo), &dr) in y[o..o + R].iter_mut().zip(b).zip(d) {
            *yo = if start == 0 { bo + dr } else { *yo + dr };
        }
    }
}

/// The dot products `Σ_{start ≤ i < end} w[r][i] · x[n][i]` of `N` samples with `R` rows over a
/// span of inputs, one vector accumulator per pair. Shapes: `x` is `[N][I]`, `w` is `[R][I]`.
#[inline(always)]
fn dot_tile<S: Simd, const I: usize, const N: usize, const R: usize>(
    s: S,
    x: &[[f32; I]; N],
    w: &[[f32; I]; R],
    start: usize,
    end: usize,
) -> [[f32; R]; N] {
    let l = S::LANES;
    let mut total = [[s.zero(); R]; N];
    let mut xv = [s.zero(); N];
    let mut i = start;
    while i + l <= end {
        // A block of at most `SUM_BLOCK` vectors in fresh accumulators, then added to the totals:
        // so a long row is summed in short runs, and rounds about as well as with more lanes.
        let block_end = end.min(i + SUM_BLOCK * l);
        let mut acc = [[s.zero(); R]; N];
        while i + l <= block_end {
            for (v, xn) in xv.iter_mut().zip(x) {
                *v = s.load(&xn[i..]);
            }
            for (r, wr) in w.iter().enumerate() {
                let wv = s.load(&wr[i..]);
                for (acc_n, &xn) in acc.iter_mut().zip(&xv) {
                    acc_n[r] = s.fma(wv, xn, acc_n[r]);
                }
            }
            i += l;
        }
        for (total_n, acc_n) in total.iter_mut().zip(&acc) {
            for (t, &a) in total_n.iter_mut().zip(acc_n) {
                *t = s.add(*t, a);
            }
        }
    }
    // Spans end on whole vectors but the last, so the tail (fewer inputs than lanes) is the
    // row's: one more vector, zero-padded, of constant length.
    let tail = I % l;
    if tail > 0 && end == I {
        for (v, xn) in xv.iter_mut().zip(x) {
            *v = load_part(s, &xn[I - tail..]);
        }
        for (r, wr) in w.iter().enumerate() {
            let wv = load_part(s, &wr[I - tail..]);
            for (total_n, &xn) in total.iter_mut().zip(&xv) {
                total_n[r] = s.fma(wv, xn, total_n[r]);
            }
        }
    }
    let mut dots = [[0.0; R]; N];
    for (dots_n, total_n) in dots.iter_mut().zip(&total) {
        for (dot, &t) in dots_n.iter_mut().zip(total_n) {
            *dot = s.sum(t);
        }
    }
    dots
}

/// Backward pass of [`forward_batch`]: [`backward`] for each sample, the weight and bias
/// gradients summed over the batch.
///
/// Shapes: `xs`, `dxs` are `[N][I]`; `w`, `dw` are `[O][I]`; `dys` is `[N][O]`; `db` is `[O]`.
/// - `dxs[n] = dys[n]ᵀ W`, overwritten, or skipped when `None`;
/// - `dw += Σ_n dys[n] xs[n]ᵀ`;
/// - `db += Σ_n dys[n]`.
///
/// Both products are register-tiled and vectorised along `I`: `dw` a block of rows by a few
/// vectors at a time, loaded once, updated by every sample, and stored once; `dxs` a few samples
/// by a few vectors at a time, summed over all outputs. So the weights and their gradient are
/// each read (and `dw` written) once per call rather than once per sample. Every element is
/// summed in the same order as by calling [`backward`] on the samples in turn, so the results are
/// the same.
///
/// # Panics
/// If `dys` (or `dxs`) does not hold as many samples as `xs`.
pub fn backward_batch<const I: usize, const O: usize>(
    xs: &[[f32; I]],
    w: &[[f32; I]; O],
    dys: &[[f32; O]],
    dxs: Option<&mut [[f32; I]]>,
    dw: &mut [[f32; I]; O],
    db: &mut [f32; O],
) {
    assert_eq!(xs.len(), dys.len(), "dense::backward_batch: samples of xs and dys differ");
    if let Some(dxs) = &dxs {
        assert_eq!(xs.len(), dxs.len(), "dense::backward_batch: samples of xs and dxs differ");
    }
    dispatch!(backward_batch_avx512, backward_batch_avx2, backward_batch_body::<I, O>(xs, w, dys, dxs, dw, db))
}

wrappers!(
    backward_batch_avx512,
    backward_batch_avx2,
    backward_batch_body,
    [const I: usize, const O: usize],
    (
        xs: &[[f32; I]],
        w: &[[f32; I]; O],
        dys: &[[f32; O]],
        dxs: Option<&mut [[f32; I]]>,
        dw: &mut [[f32; I]; O],
        db: &mut [f32; O],
    )
);

/// The body of [`backward_batch`], compiled once per path `S`: with 32 vector registers, tiles of
/// 8 rows (of `dw`) or samples (of `dxs`) by 3 vectors (24 accumulators); with 16, 6 rows by 2
/// vectors and 4 samples by 2 vectors (sizes measured on Zen 5).
#[inline(always)]
fn backward_batch_body<S: Simd, const I: usize, const O: usize>(
    s: S,
    xs: &[[f32; I]],
    w: &[[f32; I]; O],
    dys: &[[f32; O]],
    dxs: Option<&mut [[f32; I]]>,
    dw: &mut [[f32; I]; O],
    db: &mut [f32; O],
) {
    for dy in dys {
        for (dbo, &dyo) in db.iter_mut().zip(dy) {
            *dbo += dyo;
        }
    }
    if S::REGS >= 32 {
        weight_grad_tiles::<S, I, O, 8, 3>(s, xs, dys, dw);
        if let Some(dxs) = dxs {
            input_grad_tiles::<S, I, O, 8, 3>(s, w, dys, dxs);
        }
    } else {
        weight_grad_tiles::<S, I, O, 6, 2>(s, xs, dys, dw);
        if let Some(dxs) = dxs {
            input_grad_tiles::<S, I, O, 4, 2>(s, w, dys, dxs);
        }
    }
}

/// `dw[o][i] += Σ_n dys[n][o] · xs[n][i]` in tiles of `R` rows by `V` vectors (then 1 vector,
/// then a zero-padded one); rows left over go one at a time. Each tile walks every sample, in
/// order.
#[inline(always)]
fn weight_grad_tiles<S: Simd, const I: usize, const O: usize, const R: usize, const V: usize>(
    s: S,
    xs: &[[f32; I]],
    dys: &[[f32; O]],
    dw: &mut [[f32; I]; O],
) {
    let (dw_blocks, dw_rest) = dw.as_chunks_mut::<R>();
    let rest_from = dw_blocks.len() * R;
    for (k, dwb) in dw_blocks.iter_mut().enumerate() {
        weight_grad_rows::<S, I, O, R, V>(s, xs, dys, k * R, dwb);
    }
    for (k, dwo) in dw_rest.iter_mut().enumerate() {
        weight_grad_rows::<S, I, O, 1, V>(s, xs, dys, rest_from + k, core::array::from_mut(dwo));
    }
}

/// The rows `o..o + R` of [`weight_grad_tiles`]. Shapes: `dw` is `[R][I]`.
#[inline(always)]
fn weight_grad_rows<S: Simd, const I: usize, const O: usize, const R: usize, const V: usize>(
    s: S,
    xs: &[[f32; I]],
    dys: &[[f32; O]],
    o: usize,
    dw: &mut [[f32; I]; R],
) {
    const { assert!(R <= ROWS_MAX) };
    let mut copy_buf = [MaybeUninit::<f32>::uninit(); GRAD_SAMPLES * ROWS_MAX];
    for (xs, dys) in xs.chunks(GRAD_SAMPLES).zip(dys.chunks(GRAD_SAMPLES)) {
        let dy = if const { rows_share_cache_sets(O) } {
            Panel { floats: copy_panel(dys, o, R, &mut copy_buf), pitch: R, offset: 0 }
        } else {
            Panel { floats: dys.as_flattened(), pitch: O, offset: o }
        };
        weight_grad_columns::<S, I, R, V>(s, xs, dy, dw);
    }
}

/// [`weight_grad_rows`] for the samples of `xs`, whose output gradients for the block's rows are
/// the rows of `dy`: tiles of `V` vectors of columns, then 1 vector, then a zero-padded one.
#[inline(always)]
fn weight_grad_columns<S: Simd, const I: usize, const R: usize, const V: usize>(
    s: S,
    xs: &[[f32; I]],
    dy: Panel<'_>,
    dw: &mut [[f32; I]; R],
) {
    let l = S::LANES;
    let mut i = 0;
    while i + V * l <= I {
        weight_grad_tile::<S, I, R, V>(s, xs, dy, i, dw);
        i += V * l;
    }
    while i + l <= I {
        weight_grad_tile::<S, I, R, 1>(s, xs, dy, i, dw);
        i += l;
    }
    // The tail, fewer columns than lanes, as one zero-padded vector (lane by lane the same
    // multiply-adds as scalars).
    if i < I {
        let mut acc = [s.zero(); R];
        for (a, dwr) in acc.iter_mut().zip(dw.iter()) {
            *a = load_part(s, &dwr[i..]);
        }
        for (n, x) in xs.iter().enumerate() {
            let xv = load_part(s, &x[i..]);
            for (a, &d) in acc.iter_mut().zip(dy.row(n, R)) {
                *a = s.fma(s.splat(d), xv, *a);
            }
        }
        for (&a, dwr) in acc.iter().zip(dw.iter_mut()) {
            store_part(s, a, &mut dwr[i..]);
        }
    }
}

/// `dw[r][i..i + V·LANES] += Σ_n dy[n][r] · xs[n][i..]`: `R · V` accumulators loaded once,
/// updated sample by sample, stored once.
#[inline(always)]
fn weight_grad_tile<S: Simd, const I: usize, const R: usize, const V: usize>(
    s: S,
    xs: &[[f32; I]],
    dy: Panel<'_>,
    i: usize,
    dw: &mut [[f32; I]; R],
) {
    let l = S::LANES;
    let mut acc = [[s.zero(); V]; R];
    for (acc_r, dwr) in acc.iter_mut().zip(dw.iter()) {
        for (v, a) in acc_r.iter_mut().enumerate() {
            *a = s.load(&dwr[i + v * l..]);
        }
    }
    let mut xv = [s.zero(); V];
    for (n, x) in xs.iter().enumerate() {
        for (v, xn) in xv.iter_mut().enumerate() {
            *xn = s.load(&x[i + v * l..]);
        }
        for (acc_r, &d) in acc.iter_mut().zip(dy.row(n, R)) {
            let d = s.splat(d);
            for (a, &xn) in acc_r.iter_mut().zip(&xv) {
                *a = s.fma(d, xn, *a);
            }
        }
    }
    for (dwr, acc_r) in dw.iter_mut().zip(&acc) {
        for (v, &a) in acc_r.iter().enumerate() {
            s.store(a, &mut dwr[i + v * l..]);
        }
    }
}

/// `dxs[n][i] = Σ_o dys[n][o] · w[o][i]` in bands of `V` vectors of columns (then 1 vector, then
/// a zero-padded one), each in tiles of `N` samples (samples left over go one at a time).
#[inline(always)]
fn input_grad_tiles<S: Simd, const I: usize, const O: usize, const N: usize, const V: usize>(
    s: S,
    w: &[[f32; I]; O],
    dys: &[[f32; O]],
    dxs: &mut [[f32; I]],
) {
    let l = S::LANES;
    let mut i = 0;
    while i + V * l <= I {
        input_grad_band::<S, I, O, N, V>(s, w, dys, dxs, i);
        i += V * l;
    }
    while i + l <= I {
        input_grad_band::<S, I, O, N, 1>(s, w, dys, dxs, i);
        i += l;
    }
    // The tail, fewer columns than lanes, as one zero-padded vector (lane by lane the same
    // multiply-adds as scalars).
    if i < I {
        let (dy_blocks, dy_rest) = dys.as_chunks::<N>();
        let (dx_blocks, dx_rest) = dxs.as_chunks_mut::<N>();
        for (dyb, dxb) in dy_blocks.iter().zip(dx_blocks) {
            input_grad_tail::<S, I, O, N>(s, w, dyb, i, dxb);
        }
        for (dy, dx) in dy_rest.iter().zip(dx_rest) {
            input_grad_tail::<S, I, O, 1>(s, w, core::array::from_ref(dy), i, core::array::from_mut(dx));
        }
    }
}

/// `dxs[n][i..] = Σ_o dys[n][o] · w[o][i..]` for `N` samples and the last columns from `i`, fewer
/// than a vector's lanes: the columns of `w` zero-padded to one vector.
#[inline(always)]
fn input_grad_tail<S: Simd, const I: usize, const O: usize, const N: usize>(
    s: S,
    w: &[[f32; I]; O],
    dys: &[[f32; O]; N],
    i: usize,
    dxs: &mut [[f32; I]; N],
) {
    let mut acc = [s.zero(); N];
    for (o, wo) in w.iter().enumerate() {
        let wv = load_part(s, &wo[i..]);
        for (a, dy) in acc.iter_mut().zip(dys) {
            *a = s.fma(s.splat(dy[o]), wv, *a);
        }
    }
    for (&a, dx) in acc.iter().zip(dxs) {
        store_part(s, a, &mut dx[i..]);
    }
}

/// The columns `i..i + V·LANES` of [`input_grad_tiles`]: a span of rows of `w` at a time (as many
/// as fit in [`INPUT_GRAD_PANEL`] bytes), copied into a contiguous panel, for every block of
/// samples, so the panel stays in the first-level cache meanwhile. (Read in place, the rows' `I`
/// floats apart, the span's cache lines would fall into a few cache sets and evict each other:
/// TF2's 3136 floats are 196 lines, so 384 rows share 16 of the 64 sets.)
#[inline(always)]
fn input_grad_band<S: Simd, const I: usize, const O: usize, const N: usize, const V: usize>(
    s: S,
    w: &[[f32; I]; O],
    dys: &[[f32; O]],
    dxs: &mut [[f32; I]],
    i: usize,
) {
    let width = V * S::LANES;
    let rows = (INPUT_GRAD_PANEL / (width * size_of::<f32>())).max(1);
    let mut panel_buf = [MaybeUninit::<f32>::uninit(); INPUT_GRAD_PANEL / size_of::<f32>()];
    let (dy_blocks, dy_rest) = dys.as_chunks::<N>();
    let mut start = 0;
    while start < O {
        let end = O.min(start + rows);
        let panel = if const { rows_share_cache_sets(I) } {
            Panel { floats: copy_panel(&w[start..end], i, width, &mut panel_buf), pitch: width, offset: 0 }
        } else {
            Panel { floats: w[start..end].as_flattened(), pitch: I, offset: i }
        };
        let (dx_blocks, dx_rest) = dxs.as_chunks_mut::<N>();
        for (dyb, dxb) in dy_blocks.iter().zip(dx_blocks) {
            input_grad_tile::<S, I, O, N, V>(s, panel, end - start, dyb, i, start, dxb);
        }
        for (dy, dx) in dy_rest.iter().zip(dx_rest) {
            let (dy, dx) = (core::array::from_ref(dy), core::array::from_mut(dx));
            input_grad_tile::<S, I, O, 1, V>(s, panel, end - start, dy, i, start, dx);
        }
        start = end;
    }
    if O == 0 {
        for dx in dxs {
            dx[i..i + width].fill(0.0);
        }
    }
}

/// Whether rows of `i` floats, one after another, put their cache lines into a quarter of the
/// first-level cache's sets or fewer (a pitch of a multiple of 4 lines of 64 bytes: TF2's 3136,
/// Keras' 256), so a panel of them read in place evicts itself. Evaluated at compile time.
const fn rows_share_cache_sets(i: usize) -> bool {
    i.is_multiple_of(64)
}

/// Rows read at a pitch: row `o` starts at `floats[o · pitch + offset]`. A panel of weights of
/// [`input_grad_band`] or the output gradients of [`weight_grad_rows`], either a contiguous copy or
/// the matrix itself.
#[derive(Clone, Copy)]
struct Panel<'a> {
    floats: &'a [f32],
    pitch: usize,
    offset: usize,
}

impl Panel<'_> {
    /// The first `len` floats of row `o`.
    #[inline(always)]
    fn row(&self, o: usize, len: usize) -> &[f32] {
        &self.floats[o * self.pitch + self.offset..][..len]
    }
}

/// The columns `i..i + width` of `rows`, row after row, in the first `rows.len() · width` floats
/// of `buf` (which must hold them).
#[inline(always)]
fn copy_panel<'a, const I: usize>(
    rows: &[[f32; I]],
    i: usize,
    width: usize,
    buf: &'a mut [MaybeUninit<f32>],
) -> &'a [f32] {
    let panel = &mut buf[..rows.len() * width];
    for (dst, row) in panel.chunks_exact_mut(width).zip(rows) {
        for (d, &v) in dst.iter_mut().zip(&row[i..i + width]) {
            *d = MaybeUninit::new(v);
        }
    }
    // SAFETY: the loop wrote all `rows.len()` chunks of `width` floats of `panel`;
    // `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { &*(panel as *const [MaybeUninit<f32>] as *const [f32]) }
}

/// `dxs[n][i..i + V·LANES] (+)= Σ_{o < rows} dys[n][start + o] · panel[o]` for `N` samples, the
/// panel holding the columns `i..i + V·LANES` of rows `start..` of `w`: `N · V` accumulators, from zero
/// for the span of rows from 0 and from `dxs` for a later one, summed over the rows in order,
/// then stored. So the sums are taken in the same order whatever the spans.
#[inline(always)]
fn input_grad_tile<S: Simd, const I: usize, const O: usize, const N: usize, const V: usize>(
    s: S,
    panel: Panel<'_>,
    rows: usize,
    dys: &[[f32; O]; N],
    i: usize,
    start: usize,
    dxs: &mut [[f32; I]; N],
) {
    let l = S::LANES;
    let mut acc = [[s.zero(); V]; N];
    if start > 0 {
        for (acc_n, dx) in acc.iter_mut().zip(dxs.iter()) {
            for (v, a) in acc_n.iter_mut().enumerate() {
                *a = s.load(&dx[i + v * l..]);
            }
        }
    }
    let mut wv = [s.zero(); V];
    for o in 0..rows {
        let wo = panel.row(o, V * l);
        for (v, wn) in wv.iter_mut().enumerate() {
            *wn = s.load(&wo[v * l..]);
        }
        for (acc_n, dy) in acc.iter_mut().zip(dys) {
            let d = s.splat(dy[start + o]);
            for (a, &wn) in acc_n.iter_mut().zip(&wv) {
                *a = s.fma(d, wn, *a);
            }
        }
    }
    for (dx, acc_n) in dxs.iter_mut().zip(&acc) {
        for (v, &a) in acc_n.iter().enumerate() {
            s.store(a, &mut dx[i + v * l..]);
        }
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
    use crate::tensor::{batch_flat, batch_flat_mut, flat};

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

    /// `n` samples of `[f32; I]` uniform in `[-1, 1)`.
    fn random_batch<const I: usize>(rng: &mut Rng, n: usize) -> Vec<[f32; I]> {
        let mut xs = vec![[0.0; I]; n];
        rng.fill_uniform(batch_flat_mut(&mut xs), -1.0, 1.0);
        xs
    }

    /// Runs [`forward_batch`] on every path (and the portable body on [`Arrays`]) on `n` random
    /// samples and compares with the reference, sample by sample.
    fn check_batch<const I: usize, const O: usize>(seed: u64, n: usize) {
        let mut rng = Rng::new(seed);
        let xs = random_batch::<I>(&mut rng, n);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let b = random::<[f32; O]>(&mut rng);
        // In `f64`: a sum of thousands of terms taken left to right in `f32` can be off by more
        // than the tolerance.
        let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let (w64, b64) = (wide(flat(&*w)), wide(&b[..]));
        let mut want = Vec::with_capacity(n * O);
        for x in &xs {
            let mut y = vec![f64::NAN; O];
            reference::dense(I, O, &wide(x), &w64, &b64, &mut y);
            want.extend(y.iter().map(|&v| v as f32));
        }
        eprintln!("forward_batch {I}→{O}, {n} samples");
        let run = |body: &dyn Fn(&mut [[f32; O]])| {
            let mut ys = vec![[f32::NAN; O]; n];
            body(&mut ys);
            assert_close(batch_flat(&ys), &want);
        };
        for_each_isa(|_| run(&|ys| forward_batch::<I, O>(&xs, &w, &b, ys)));
        run(&|ys| forward_batch_body::<_, I, O>(Arrays, &xs, &w, &b, ys));
    }

    /// Runs [`backward_batch`] on every path (and the portable body on [`Arrays`]) on `n` random
    /// samples, and compares with the reference's backward pass applied sample by sample and with
    /// [`backward`] applied sample by sample (which sums in the same order, so exactly). `dw` and
    /// `db` start from random values, to check they are accumulated into; `dxs` starts as `NaN`,
    /// to check it is overwritten (or left alone when not asked for).
    fn check_backward_batch<const I: usize, const O: usize>(seed: u64, n: usize, with_dx: bool) {
        let mut rng = Rng::new(seed);
        let xs = random_batch::<I>(&mut rng, n);
        let w = random::<[[f32; I]; O]>(&mut rng);
        let dys = random_batch::<O>(&mut rng, n);
        let dw0 = random::<[[f32; I]; O]>(&mut rng);
        let db0 = random::<[f32; O]>(&mut rng);
        let (mut want_dw, mut want_db) = (flat(&*dw0).to_vec(), db0.to_vec());
        let mut want_dx = vec![f32::NAN; n * I];
        for (k, (x, dy)) in xs.iter().zip(&dys).enumerate() {
            let dx = with_dx.then_some(&mut want_dx[k * I..(k + 1) * I]);
            reference::dense_backward(I, O, x, flat(&*w), dy, dx, &mut want_dw, &mut want_db);
        }
        eprintln!("backward_batch {I}→{O}, {n} samples, dx {with_dx}");
        type Body<'a, const I: usize, const O: usize> =
            &'a dyn Fn(Option<&mut [[f32; I]]>, &mut [[f32; I]; O], &mut [f32; O]);
        let run = |body: Body<I, O>, exact: bool| {
            let (mut dw, mut db) = (dw0.clone(), db0.clone());
            let mut dxs = vec![[f32::NAN; I]; n];
            body(with_dx.then_some(&mut dxs[..]), &mut dw, &mut db);
            if with_dx {
                assert_close(batch_flat(&dxs), &want_dx);
            } else {
                assert!(batch_flat(&dxs).iter().all(|v| v.is_nan()), "dx written although not asked for");
            }
            assert_close(flat(&*dw), &want_dw);
            assert_close(&db[..], &want_db);
            if exact {
                // The per-sample kernel, on the same path, sums every element in the same order.
                let (mut dw1, mut db1) = (dw0.clone(), db0.clone());
                let mut dxs1 = vec![[f32::NAN; I]; n];
                for ((x, dy), dx) in xs.iter().zip(&dys).zip(dxs1.iter_mut()) {
                    backward::<I, O>(x, &w, dy, with_dx.then_some(dx), &mut dw1, &mut db1);
                }
                let same = batch_flat(&dxs).iter().zip(batch_flat(&dxs1)).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "dx differs from the per-sample kernel's");
                assert!(flat(&*dw) == flat(&*dw1), "dw differs from the per-sample kernel's");
                assert!(db == db1, "db differs from the per-sample kernel's");
            }
        };
        for_each_isa(|_| run(&|dxs, dw, db| backward_batch::<I, O>(&xs, &w, &dys, dxs, dw, db), true));
        run(&|dxs, dw, db| backward_batch_body::<_, I, O>(Arrays, &xs, &w, &dys, dxs, dw, db), false);
    }

    #[test]
    fn batch_matches_the_reference() {
        for (k, n) in [1, 3, 8, 33].into_iter().enumerate() {
            let seed = 200 + 10 * k as u64;
            check_batch::<7, 5>(seed, n);
            check_batch::<400, 120>(seed + 1, n);
            check_batch::<120, 84>(seed + 2, n);
            check_batch::<84, 10>(seed + 3, n);
            check_batch::<256, 120>(seed + 4, n);
            check_batch::<33, 9>(seed + 5, n);
            check_batch::<1, 3>(seed + 6, n);
            check_batch::<0, 2>(seed + 7, n);
        }
        check_batch::<4000, 100>(249, 5);
        check_batch::<3136, 1024>(250, 5);
        check_batch::<1024, 10>(251, 33);
        check_batch::<4, 4>(252, 0);
    }

    #[test]
    fn backward_batch_matches_the_reference() {
        for (k, n) in [1, 3, 8, 33].into_iter().enumerate() {
            let seed = 300 + 10 * k as u64;
            check_backward_batch::<7, 5>(seed, n, true);
            check_backward_batch::<400, 120>(seed + 1, n, true);
            check_backward_batch::<120, 84>(seed + 2, n, true);
            check_backward_batch::<84, 10>(seed + 3, n, true);
            check_backward_batch::<256, 120>(seed + 4, n, false);
            check_backward_batch::<65, 9>(seed + 5, n, true);
            check_backward_batch::<1, 3>(seed + 6, n, true);
            check_backward_batch::<0, 2>(seed + 7, n, true);
            check_backward_batch::<9, 1>(seed + 8, n, false);
        }
        check_backward_batch::<3136, 1024>(350, 5, true);
        check_backward_batch::<1024, 10>(351, 33, true);
        check_backward_batch::<4, 4>(352, 0, true);
        // Rows (of the weights, of the output gradients) that share cache sets are copied first;
        // more samples than the weight gradient takes at once.
        check_backward_batch::<256, 120>(353, 9, true);
        check_backward_batch::<70, 64>(354, GRAD_SAMPLES + 6, true);
        check_backward_batch::<128, 192>(355, 2 * GRAD_SAMPLES + 1, true);
    }

    #[test]
    fn batch_known_numbers() {
        let xs = [[1.0, 10.0], [2.0, 0.0]];
        let w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = [0.5, -0.5, 100.0];
        let dys = [[1.0, 0.5, -1.0], [0.0, 1.0, 2.0]];
        for_each_isa(|_| {
            let mut ys = [[f32::NAN; 3]; 2];
            forward_batch(&xs, &w, &b, &mut ys);
            assert_eq!(ys, [[21.5, 42.5, 165.0], [2.5, 5.5, 110.0]]);
            let mut dxs = [[f32::NAN; 2]; 2];
            let (mut dw, mut db) = ([[1.0; 2]; 3], [1.0; 3]);
            backward_batch(&xs, &w, &dys, Some(&mut dxs), &mut dw, &mut db);
            assert_eq!(dxs, [[1.0 + 1.5 - 5.0, 2.0 + 2.0 - 6.0], [3.0 + 10.0, 4.0 + 12.0]]);
            assert_eq!(dw, [[2.0, 11.0], [1.5 + 2.0, 6.0], [0.0 + 4.0, -9.0]]);
            assert_eq!(db, [2.0, 2.5, 2.0]);
        });
    }

    #[test]
    #[should_panic(expected = "samples of xs and ys differ")]
    fn batch_sizes_must_agree() {
        forward_batch::<2, 1>(&[[0.0; 2]; 3], &[[0.0; 2]], &[0.0], &mut [[0.0]; 2]);
    }
}
