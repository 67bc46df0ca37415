//! 2-D convolution (cross-correlation, as in PyTorch) with zero padding and strides.
//!
//! Three implementations, chosen per call from the constant geometry:
//!
//! - **Channels** (forward, output channels a multiple of 16, any stride; `conv2d/channels.rs`): one
//!   vector accumulator per output position and vector of output channels, so only real outputs
//!   are computed.
//! - **Tiled** (stride 1, the hot case): the input is copied once into zero-padded planes on the
//!   stack, laid out so that every output, real or padding, is a fixed offset into its plane:
//!   with a row pitch `rw` at least the padded width, output `(i, j)` of tap `(u, v)` reads plane
//!   position `(i + u)·rw + j + v`. Flat output positions `i·rw + j` are then computed in chunks of
//!   a few vectors for a block of output channels at once, every accumulator a vector register,
//!   with no padding test and no remainder loop (positions with `j ≥ OW` are computed and
//!   dropped). The input gradient is the same correlation, of the padded output gradient with the
//!   flipped kernel; the weight gradient correlates the same planes with the output gradient,
//!   one vector accumulator per (filter, kernel column), summed across lanes once.
//! - **General** (other strides, or planes larger than the stack scratch): for every output row
//!   and kernel row the kernel works out once which kernel positions fall on real input, and
//!   loops only over those, so the inner loops carry no padding test.
//!
//! Both are compiled for each vector instruction set (see [`isa`](super::isa)); the tiled path uses
//! up to 160 KiB of stack.

use core::mem::MaybeUninit;

mod channels;

use super::isa::{dispatch, wrappers};
use super::reference::Conv2dDims;
use super::simd::Simd;

/// Floats of stack scratch for the padded input planes of the tiled path (128 KiB).
const PLANES_MAX: usize = 32 * 1024;
/// Floats of stack scratch for one block of flat outputs (or output gradients) of the tiled path
/// (32 KiB).
const BLOCK_MAX: usize = 8 * 1024;
/// Most vectors of flat positions a tile of the tiled forward path holds per output channel.
const NV_MAX: usize = 6;

/// 2-D convolution of one sample.
///
/// Shapes: `x` is `[C][H][W]`, `w` is `[F][C][KH][KW]` (OIHW), `b` is `[F]`, `y` is
/// `[F][OH][OW]`.
///
/// `y[f][i][j] = b[f] + Σ_{c,u,v} w[f][c][u][v] · x[c][i·SH + u − PT][j·SW + v − PL]`, where
/// input positions outside `[0, H) × [0, W)` read as zero. `PT`/`PL` are the top/left zero
/// padding; bottom/right padding is implied by `OH`/`OW`.
///
/// Compile-time checks: strides are at least 1, the output is not empty, and the last window
/// starts inside the padded input (`(OH − 1)·SH < H + PT`, `(OW − 1)·SW < W + PL`).
///
/// ```
/// use cnn_runtime::kernels::conv2d::forward;
/// let x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
/// let w = [[[[1.0, 0.0], [0.0, 1.0]]]];
/// let mut y = [[[0.0; 2]; 2]];
/// forward::<1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2>(&x, &w, &[0.5], &mut y);
/// assert_eq!(y, [[[6.5, 8.5], [12.5, 14.5]]]);
/// ```
///
/// A window starting below the padded input is rejected when the call is compiled:
///
/// ```compile_fail
/// use cnn_runtime::kernels::conv2d::forward;
/// let x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
/// let w = [[[[1.0, 0.0], [0.0, 1.0]]]];
/// let mut y = [[[0.0; 2]; 4]];
/// forward::<1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 4, 2>(&x, &w, &[0.5], &mut y);
/// ```
pub fn forward<
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
    x: &[[[f32; W]; H]; C],
    w: &[[[[f32; KW]; KH]; C]; F],
    b: &[f32; F],
    y: &mut [[[f32; OW]; OH]; F],
) {
    const {
        assert!(SH >= 1 && SW >= 1, "conv2d stride must be at least 1");
        assert!(OH >= 1 && OW >= 1, "conv2d output must not be empty");
        assert!((OH - 1) * SH < H + PT, "conv2d last window starts below the input");
        assert!((OW - 1) * SW < W + PL, "conv2d last window starts right of the input");
    }
    dispatch!(forward_avx512, forward_avx2, forward_body::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(x, w, b, y))
}

wrappers!(
    forward_avx512,
    forward_avx2,
    forward_body,
    [
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
    ],
    (x: &[[[f32; W]; H]; C], w: &[[[[f32; KW]; KH]; C]; F], b: &[f32; F], y: &mut [[[f32; OW]; OH]; F])
);

/// The body of [`forward`], compiled once per path `S`.
#[inline(always)]
fn forward_body<
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
    x: &[[[f32; W]; H]; C],
    w: &[[[[f32; KW]; KH]; C]; F],
    b: &[f32; F],
    y: &mut [[[f32; OW]; OH]; F],
) {
    // Decided at compile time, so only the path taken is compiled.
    if const { channels::fits(dims::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(), S::LANES, S::REGS) } {
        let wt = |f: usize, c: usize, u: usize, v: usize| w[f][c][u][v];
        channels::forward::<S, C, H, W, F, KH, KW, SH, SW, OH, OW>(s, x, (PT, PL), wt, b, y);
        return;
    }
    if const { SH == 1 && SW == 1 && correlate_fits(C, W, F, OH, OW, KH, KW, PL, S::LANES, S::REGS) } {
        let shape = const { tile_shape(F, Flat::positions(W, OH, OW, KW, PL), S::LANES, S::REGS) };
        let wt = |f: usize, c: usize, u: usize, v: usize| w[f][c][u][v];
        correlate::<S, C, H, W, F, OH, OW, KH, KW>(s, x, PT, PL, shape, wt, b, y);
        return;
    }
    for ((yf, wf), &bf) in y.iter_mut().zip(w).zip(b) {
        for row in yf.iter_mut() {
            row.fill(bf);
        }
        for (xc, wc) in x.iter().zip(wf) {
            accumulate_channel::<S, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(s, xc, wc, yf);
        }
    }
}

/// Backward pass of [`forward`] for one sample.
///
/// Shapes: `x`, `dx` are `[C][H][W]`; `w`, `dw` are `[F][C][KH][KW]` (OIHW); `db` is `[F]`; `dy`
/// is `[F][OH][OW]`. Differentiates `y[f][i][j] = b[f] + Σ_{c,u,v} w[f][c][u][v] · x[c][i·SH + u −
/// PT][j·SW + v − PL]`:
/// - `db[f] += Σ_{i,j} dy[f][i][j]`;
/// - `dw[f][c][u][v] += Σ_{i,j} dy[f][i][j] · x[c][i·SH + u − PT][j·SW + v − PL]` (the
///   correlation of `x` with `dy`), over in-range positions;
/// - `dx[c][i·SH + u − PT][j·SW + v − PL] += w[f][c][u][v] · dy[f][i][j]` (scatter: the forward
///   loop nest again, clipped the same way), starting from zero.
///
/// `dx` is overwritten, or skipped when `None` (the first layer needs no input gradient); `dw`
/// and `db` are accumulated into. Compile-time checks as for [`forward`]. The same as
/// [`backward_batch`] of one sample.
pub fn backward<
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
    x: &[[[f32; W]; H]; C],
    w: &[[[[f32; KW]; KH]; C]; F],
    dy: &[[[f32; OW]; OH]; F],
    dx: Option<&mut [[[f32; W]; H]; C]>,
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    let dx = dx.map(core::slice::from_mut);
    backward_batch::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
        core::slice::from_ref(x),
        w,
        core::slice::from_ref(dy),
        dx,
        dw,
        db,
    );
}

/// Backward pass of [`forward`] for a batch of samples: [`backward`] for each, the weight and
/// bias gradients summed over the batch.
///
/// Shapes: `xs`, `dxs` are `[N][C][H][W]`; `dys` is `[N][F][OH][OW]`; the rest as for
/// [`backward`]. Where the output channels fill whole vectors (see [`forward`]'s channel path),
/// the weight gradient is accumulated over the whole batch in vector registers and added to `dw`
/// once, so its rounding differs from calling [`backward`] sample by sample.
///
/// # Panics
/// If `dys` (or `dxs`) does not hold as many samples as `xs`.
pub fn backward_batch<
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
    xs: &[[[[f32; W]; H]; C]],
    w: &[[[[f32; KW]; KH]; C]; F],
    dys: &[[[[f32; OW]; OH]; F]],
    dxs: Option<&mut [[[[f32; W]; H]; C]]>,
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    const {
        assert!(SH >= 1 && SW >= 1, "conv2d stride must be at least 1");
        assert!(OH >= 1 && OW >= 1, "conv2d output must not be empty");
        assert!((OH - 1) * SH < H + PT, "conv2d last window starts below the input");
        assert!((OW - 1) * SW < W + PL, "conv2d last window starts right of the input");
    }
    assert_eq!(xs.len(), dys.len(), "conv2d::backward_batch: {} inputs but {} output gradients", xs.len(), dys.len());
    if let Some(dxs) = &dxs {
        assert_eq!(
            xs.len(),
            dxs.len(),
            "conv2d::backward_batch: {} inputs but {} input gradients",
            xs.len(),
            dxs.len()
        );
    }
    dispatch!(
        backward_avx512,
        backward_avx2,
        backward_body::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(xs, w, dys, dxs, dw, db)
    )
}

wrappers!(
    backward_avx512,
    backward_avx2,
    backward_body,
    [
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
    ],
    (
        xs: &[[[[f32; W]; H]; C]],
        w: &[[[[f32; KW]; KH]; C]; F],
        dys: &[[[[f32; OW]; OH]; F]],
        dxs: Option<&mut [[[[f32; W]; H]; C]]>,
        dw: &mut [[[[f32; KW]; KH]; C]; F],
        db: &mut [f32; F],
    )
);

/// The body of [`backward_batch`], compiled once per path `S`.
#[inline(always)]
fn backward_body<
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
    w: &[[[[f32; KW]; KH]; C]; F],
    dys: &[[[[f32; OW]; OH]; F]],
    dxs: Option<&mut [[[[f32; W]; H]; C]]>,
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    // Each path decided at compile time, so only the one taken is compiled.
    if const {
        flat_weight_grad_wastes(C, W, F, OH, OW, KH, KW, SH, SW, PL, S::LANES, S::REGS)
            && channels::weight_grad_fits(dims::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(), S::LANES, S::REGS)
    } {
        channels::weight_grad::<S, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(s, xs, dys, dw, db);
    } else {
        for (x, dy) in xs.iter().zip(dys) {
            weight_grad_sample::<S, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(s, x, dy, dw, db);
        }
    }
    let Some(dxs) = dxs else { return };
    for (dy, dx) in dys.iter().zip(dxs) {
        input_grad_sample::<S, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(s, w, dy, dx);
    }
}

/// Whether the tiled weight gradient does not apply, or would spend a fifth of its work or more on
/// positions past the end of the output rows. Where it wastes less it is as fast as the channel
/// path (measured on Zen 3: TF2's conv2, 12% wasted, 61 against 55 GFLOP/s for the backward pass),
/// so the channel path is for the layers where it wastes more (LeNet-5's conv2: 26%). Evaluated
/// at compile time.
#[allow(clippy::too_many_arguments)]
const fn flat_weight_grad_wastes(
    c: usize,
    w: usize,
    f: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pl: usize,
    lanes: usize,
    regs: usize,
) -> bool {
    !(sh == 1 && sw == 1 && weight_grad_fits(c, w, f, oh, ow, kh, kw, pl, lanes, regs))
        || 5 * oh * ow < 4 * Flat::new(w, oh, ow, kh, kw, pl, lanes).pc
}

/// The weight and bias gradients of one sample (see [`backward`]).
#[inline(always)]
fn weight_grad_sample<
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
    x: &[[[f32; W]; H]; C],
    dy: &[[[f32; OW]; OH]; F],
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    if const { SH == 1 && SW == 1 && weight_grad_fits(C, W, F, OH, OW, KH, KW, PL, S::LANES, S::REGS) } {
        weight_grad_tiled::<S, C, H, W, F, KH, KW, OH, OW>(s, x, dy, PT, PL, dw, db);
    } else {
        for ((dyf, dwf), dbf) in dy.iter().zip(dw.iter_mut()).zip(db.iter_mut()) {
            *dbf += sum(s, dyf.as_flattened());
            for (xc, dwc) in x.iter().zip(dwf.iter_mut()) {
                weight_grad_channel::<S, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(s, xc, dyf, dwc);
            }
        }
    }
}

/// The input gradient of one sample (see [`backward`]), overwriting `dx`.
#[inline(always)]
fn input_grad_sample<
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
    w: &[[[[f32; KW]; KH]; C]; F],
    dy: &[[[f32; OW]; OH]; F],
    dx: &mut [[[f32; W]; H]; C],
) {
    // dx[c][r][t] = Σ_{f,u,v} w[f][c][u][v] · dy[f][r + PT − u][t + PL − v]: the stride-1
    // correlation of dy, padded by KH − 1 − PT and KW − 1 − PL, with the flipped kernel.
    // (Saturating: these constants are evaluated even where the block never runs, when the
    // padding exceeds the kernel.)
    let flipped_pad = const { (KH.saturating_sub(PT + 1), KW.saturating_sub(PL + 1)) };
    let wt = |c: usize, f: usize, u: usize, v: usize| w[f][c][KH - 1 - u][KW - 1 - v];
    if const { channel_input_grad(dims::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(), S::LANES, S::REGS) } {
        channels::forward::<S, F, OH, OW, C, KH, KW, 1, 1, H, W>(s, dy, flipped_pad, wt, &[0.0; C], dx);
        return;
    }
    if const {
        SH == 1
            && SW == 1
            && PT < KH
            && PL < KW
            && correlate_fits(F, OW, C, H, W, KH, KW, KW - 1 - PL, S::LANES, S::REGS)
    } {
        let shape =
            const { tile_shape(C, Flat::positions(OW, H, W, KW, KW.saturating_sub(PL + 1)), S::LANES, S::REGS) };
        correlate::<S, F, OH, OW, C, H, W, KH, KW>(s, dy, flipped_pad.0, flipped_pad.1, shape, wt, &[0.0; C], dx);
        return;
    }
    for row in dx.iter_mut().flatten() {
        row.fill(0.0);
    }
    for (dyf, wf) in dy.iter().zip(w) {
        for (dxc, wc) in dx.iter_mut().zip(wf) {
            input_grad_channel::<S, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(s, wc, dyf, dxc);
        }
    }
}

/// Whether the input gradient takes the channel path: the forward's [`channels::fits`] for the
/// stride-1 correlation of the output gradients (the layer's outputs as input channels, its
/// inputs as output channels) with the flipped kernel. So the input channels must fill vectors
/// (TF2's conv2, 32 of them; not LeNet-5's, 6). Evaluated at compile time.
const fn channel_input_grad(d: Conv2dDims, lanes: usize, regs: usize) -> bool {
    let Conv2dDims { c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow } = d;
    sh == 1 && sw == 1 && pt < kh && pl < kw && {
        let flipped =
            Conv2dDims { c: f, h: oh, w: ow, f: c, kh, kw, sh, sw, pt: kh - 1 - pt, pl: kw - 1 - pl, oh: h, ow: w };
        channels::fits(flipped, lanes, regs)
    }
}

/// The geometry of a layer given by the kernels' const parameters, for the compile-time rules.
#[allow(clippy::too_many_arguments)]
const fn dims<
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
>() -> Conv2dDims {
    Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW }
}

/// Layout of the zero-padded flat planes of the tiled path, for a stride-1 correlation of inputs
/// `iw` wide with a `kh × kw` kernel and left padding `pl`, giving `oh × ow` outputs, computed in
/// chunks of `t` positions (the top padding `pt` only shifts where rows are copied).
///
/// Input `(r, c)` sits at plane position `(pt + r)·rw + pl + c`, everything else is zero, and
/// output `(i, j)` is flat position `i·rw + j`, whose tap `(u, v)` is plane position
/// `i·rw + j + u·rw + v`. The pitch `rw` holds a padded row (`rw ≥ pl + iw`), and a read past the
/// end of a row lands in the next row's left padding (`j + v − rw < pl`, so
/// `rw ≥ ow + kw − 1 − pl`), which is zero.
#[derive(Clone, Copy)]
struct Flat {
    /// Row pitch of planes and flat outputs.
    rw: usize,
    /// Flat positions computed: `(oh − 1)·rw + ow` rounded up to a multiple of the chunk.
    pc: usize,
    /// Plane size: one past the last position any chunk reads.
    ps: usize,
}

impl Flat {
    #[inline(always)]
    const fn new(iw: usize, oh: usize, ow: usize, kh: usize, kw: usize, pl: usize, t: usize) -> Flat {
        let rw = Flat::pitch(iw, ow, kw, pl);
        let pc = Flat::positions(iw, oh, ow, kw, pl).div_ceil(t) * t;
        let ps = pc + (kh - 1) * rw + kw - 1;
        Flat { rw, pc, ps }
    }

    /// The flat positions up to the last output: `(oh − 1)·rw + ow`.
    const fn positions(iw: usize, oh: usize, ow: usize, kw: usize, pl: usize) -> usize {
        (oh - 1) * Flat::pitch(iw, ow, kw, pl) + ow
    }

    /// The row pitch `rw`: the smallest that holds a padded row and wraps into zeros.
    const fn pitch(iw: usize, ow: usize, kw: usize, pl: usize) -> usize {
        let wrap = (ow + kw - 1).saturating_sub(pl);
        if pl + iw > wrap {
            pl + iw
        } else {
            wrap
        }
    }

    /// Copies `x` (`ci` planes) into `planes` (`ci · ps` zeros) at their padded positions; rows
    /// no chunk reads are left out.
    #[inline(always)]
    fn fill<const CI: usize, const IH: usize, const IW: usize>(
        &self,
        x: &[[[f32; IW]; IH]; CI],
        pt: usize,
        pl: usize,
        planes: &mut [f32],
    ) {
        for (xc, plane) in x.iter().zip(planes.chunks_exact_mut(self.ps)) {
            for (r, row) in xc.iter().enumerate() {
                let start = (pt + r) * self.rw + pl;
                if start >= self.ps {
                    break;
                }
                let n = IW.min(self.ps - start);
                plane[start..start + n].copy_from_slice(&row[..n]);
            }
        }
    }
}

/// The first `n` elements of `buf`, set to zero.
#[inline(always)]
fn zeroed<const N: usize>(buf: &mut [MaybeUninit<f32>; N], n: usize) -> &mut [f32] {
    let part = &mut buf[..n];
    part.fill(MaybeUninit::new(0.0));
    // SAFETY: every element of `part` was just initialised, and `MaybeUninit<f32>` has the layout
    // of `f32`.
    unsafe { &mut *(part as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Most output channels a block of the tiled correlation holds.
const FB_MAX: usize = 8;

/// The tile of the tiled correlation for `co` output channels and `positions` flat outputs per
/// channel on a path of `lanes` lanes and `regs` registers, as (output channels per block,
/// vectors of positions per chunk). Evaluated at compile time, so the tile's loops have constant
/// bounds.
///
/// Every tap of a chunk loads `nv` vectors and broadcasts `fb` weights for `fb · nv` FMAs into as
/// many accumulators, which must fit the registers with the loads (`fb · nv + nv + 1 ≤ regs`).
/// A tap costs about `max(6, fb · nv / 2, (fb + nv) / 2)` cycles (FMA latency with some slack,
/// two FMAs and two loads a cycle), and a chunk costs that for every tap whatever part of it is
/// past the last position: the shape minimises the total over all blocks and chunks, preferring
/// the larger tile on a tie.
const fn tile_shape(co: usize, positions: usize, lanes: usize, regs: usize) -> (usize, usize) {
    let candidates = [8, 6, 4, 3, 2, 1];
    let (mut best, mut best_cost) = ((1, 1), u64::MAX);
    let mut k = 0;
    while k < candidates.len() {
        let fb = candidates[k];
        k += 1;
        if fb > FB_MAX || !co.is_multiple_of(fb) {
            continue;
        }
        let mut nv = 1;
        while nv <= NV_MAX && fb * nv + nv < regs {
            let chunks = positions.div_ceil(nv * lanes);
            // Twice the cycles per tap, to stay in integers.
            let mut tap = fb * nv;
            if tap < 12 {
                tap = 12;
            }
            if fb + nv > tap {
                tap = fb + nv;
            }
            let cost = ((co / fb) * chunks * tap) as u64;
            if cost < best_cost || (cost == best_cost && fb * nv > best.0 * best.1) {
                (best, best_cost) = ((fb, nv), cost);
            }
            nv += 1;
        }
    }
    best
}

/// The tiled stride-1 correlation: `y[o][i][j] = init[o] + Σ_{c,u,v} wt(o, c, u, v) · x[c][i + u
/// − pt][j + v − pl]`, where positions outside `x` read as zero, in blocks of `fb` output
/// channels (dividing `CO`, at most [`FB_MAX`]) and chunks of `nv` vectors of positions (at most
/// [`NV_MAX`]): the [`tile_shape`], a constant once inlined. The planes and an output block must
/// fit the stack scratch ([`correlate_fits`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn correlate<
    S: Simd,
    const CI: usize,
    const IH: usize,
    const IW: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
>(
    s: S,
    x: &[[[f32; IW]; IH]; CI],
    pt: usize,
    pl: usize,
    (fb, nv): (usize, usize),
    wt: impl Fn(usize, usize, usize, usize) -> f32,
    init: &[f32; CO],
    y: &mut [[[f32; OW]; OH]; CO],
) {
    let l = S::LANES;
    let t = nv * l;
    let g = Flat::new(IW, OH, OW, KH, KW, pl, t);
    let mut planes_buf = [MaybeUninit::<f32>::uninit(); PLANES_MAX];
    let planes = zeroed(&mut planes_buf, CI * g.ps);
    g.fill(x, pt, pl, planes);
    let mut out_buf = [MaybeUninit::<f32>::uninit(); BLOCK_MAX];
    let out = zeroed(&mut out_buf, fb * g.pc);

    for o0 in (0..CO).step_by(fb) {
        for p0 in (0..g.pc).step_by(t) {
            let mut acc = [[s.zero(); NV_MAX]; FB_MAX];
            for (k, acc_k) in acc[..fb].iter_mut().enumerate() {
                let start = s.splat(init[o0 + k]);
                for a in &mut acc_k[..nv] {
                    *a = start;
                }
            }
            for (c, plane) in planes.chunks_exact(g.ps).enumerate() {
                for u in 0..KH {
                    let row = &plane[p0 + u * g.rw..][..KW - 1 + t];
                    for v in 0..KW {
                        let mut xs = [s.zero(); NV_MAX];
                        for (n, xn) in xs[..nv].iter_mut().enumerate() {
                            *xn = s.load(&row[v + n * l..]);
                        }
                        for (k, acc_k) in acc[..fb].iter_mut().enumerate() {
                            let wv = s.splat(wt(o0 + k, c, u, v));
                            for (a, &xn) in acc_k[..nv].iter_mut().zip(&xs[..nv]) {
                                *a = s.fma(wv, xn, *a);
                            }
                        }
                    }
                }
            }
            for (k, acc_k) in acc[..fb].iter().enumerate() {
                for (n, &a) in acc_k[..nv].iter().enumerate() {
                    s.store(a, &mut out[k * g.pc + p0 + n * l..]);
                }
            }
        }
        for (k, yo) in y[o0..o0 + fb].iter_mut().enumerate() {
            let out_k = &out[k * g.pc..];
            for (i, y_row) in yo.iter_mut().enumerate() {
                y_row.copy_from_slice(&out_k[i * g.rw..i * g.rw + OW]);
            }
        }
    }
}

/// Whether [`correlate`] of `ci` input planes `iw` wide into `co` planes of `oh × ow` with a
/// `kh × kw` kernel and left padding `pl` fits the stack scratch, with the [`tile_shape`] for
/// `lanes` lanes and `regs` registers. Evaluated at compile time.
#[allow(clippy::too_many_arguments)]
const fn correlate_fits(
    ci: usize,
    iw: usize,
    co: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    pl: usize,
    lanes: usize,
    regs: usize,
) -> bool {
    let (fb, nv) = tile_shape(co, Flat::positions(iw, oh, ow, kw, pl), lanes, regs);
    let g = Flat::new(iw, oh, ow, kh, kw, pl, nv * lanes);
    ci * g.ps <= PLANES_MAX && fb * g.pc <= BLOCK_MAX
}

/// Most output channels a block of the tiled weight gradient holds.
const WB_MAX: usize = 4;

/// Output channels per block of the tiled weight gradient: the largest of 4, 2 dividing `f` whose
/// `fb · (kw + 1)` accumulators and loads fit the registers, else 1. Evaluated at compile time.
const fn weight_block(f: usize, kw: usize, regs: usize) -> usize {
    if f.is_multiple_of(4) && 4 * (kw + 1) < regs {
        4
    } else if f.is_multiple_of(2) && 2 * (kw + 1) < regs {
        2
    } else {
        1
    }
}

/// The tiled weight and bias gradients of a stride-1 convolution (see [`backward`]), in blocks of
/// `fb` output channels ([`weight_block`], a constant once inlined). The planes and a block of
/// output gradients must fit the stack scratch ([`weight_grad_fits`]).
///
/// `dw[f][c][u][v] += Σ_p dyf[f][p] · plane[c][p + u·rw + v]`, where `dyf` is `dy` laid out at
/// the flat positions of [`Flat`] with zeros elsewhere: per (block, channel, kernel row), one
/// vector accumulator per (filter, kernel column) over all positions, summed across lanes once.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weight_grad_tiled<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
>(
    s: S,
    x: &[[[f32; W]; H]; C],
    dy: &[[[f32; OW]; OH]; F],
    pt: usize,
    pl: usize,
    dw: &mut [[[[f32; KW]; KH]; C]; F],
    db: &mut [f32; F],
) {
    let fb = const { weight_block(F, KW, S::REGS) };
    let l = S::LANES;
    let g = Flat::new(W, OH, OW, KH, KW, pl, l);
    let mut planes_buf = [MaybeUninit::<f32>::uninit(); PLANES_MAX];
    let planes = zeroed(&mut planes_buf, C * g.ps);
    g.fill(x, pt, pl, planes);
    let mut dyf_buf = [MaybeUninit::<f32>::uninit(); BLOCK_MAX];
    let dyf = zeroed(&mut dyf_buf, fb * g.pc);

    for o0 in (0..F).step_by(fb) {
        for (k, dyo) in dy[o0..o0 + fb].iter().enumerate() {
            let dyf_k = &mut dyf[k * g.pc..(k + 1) * g.pc];
            for (i, row) in dyo.iter().enumerate() {
                dyf_k[i * g.rw..i * g.rw + OW].copy_from_slice(row);
            }
            db[o0 + k] += sum(s, dyf_k);
        }
        for (c, plane) in planes.chunks_exact(g.ps).enumerate() {
            for u in 0..KH {
                let mut acc = [[s.zero(); KW]; WB_MAX];
                for p0 in (0..g.pc).step_by(l) {
                    let row = &plane[p0 + u * g.rw..][..KW - 1 + l];
                    let mut dys = [s.zero(); WB_MAX];
                    for (k, d) in dys[..fb].iter_mut().enumerate() {
                        *d = s.load(&dyf[k * g.pc + p0..]);
                    }
                    for v in 0..KW {
                        let xv = s.load(&row[v..]);
                        for (acc_k, &d) in acc[..fb].iter_mut().zip(&dys[..fb]) {
                            acc_k[v] = s.fma(d, xv, acc_k[v]);
                        }
                    }
                }
                for (k, acc_k) in acc[..fb].iter().enumerate() {
                    for (dwv, &a) in dw[o0 + k][c][u].iter_mut().zip(acc_k) {
                        *dwv += s.sum(a);
                    }
                }
            }
        }
    }
}

/// Whether [`weight_grad_tiled`] of `c` input planes `w` wide and `f` output-gradient planes of
/// `oh × ow` with a `kh × kw` kernel and left padding `pl` fits the stack scratch, for `lanes`
/// lanes and `regs` registers. Evaluated at compile time.
#[allow(clippy::too_many_arguments)]
const fn weight_grad_fits(
    c: usize,
    w: usize,
    f: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    pl: usize,
    lanes: usize,
    regs: usize,
) -> bool {
    let g = Flat::new(w, oh, ow, kh, kw, pl, lanes);
    c * g.ps <= PLANES_MAX && weight_block(f, kw, regs) * g.pc <= BLOCK_MAX
}

/// `Σ v`, in four vector partial sums, then the tail.
#[inline(always)]
fn sum<S: Simd>(s: S, v: &[f32]) -> f32 {
    let l = S::LANES;
    let mut acc = [s.zero(); 4];
    let mut chunks = v.chunks_exact(4 * l);
    for chunk in &mut chunks {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = s.add(*a, s.load(&chunk[k * l..]));
        }
    }
    let mut rest = chunks.remainder().chunks_exact(l);
    for chunk in &mut rest {
        acc[0] = s.add(acc[0], s.load(chunk));
    }
    let total = s.add(s.add(acc[0], acc[1]), s.add(acc[2], acc[3]));
    s.sum(total) + rest.remainder().iter().sum::<f32>()
}

/// Adds one input channel's contribution to one output channel.
///
/// Shapes: `x` is `[H][W]`, `w` is `[KH][KW]`, `y` is `[OH][OW]`.
/// `y[i][j] += Σ_{u,v} w[u][v] · x[i·SH + u − PT][j·SW + v − PL]` over in-range positions.
#[inline(always)]
fn accumulate_channel<
    S: Simd,
    const H: usize,
    const W: usize,
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
    x: &[[f32; W]; H],
    w: &[[f32; KW]; KH],
    y: &mut [[f32; OW]; OH],
) {
    for (i, y_row) in y.iter_mut().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            accumulate_row::<S, W, KW, SW, PL, OW>(s, &x[i * SH + u - PT], &w[u], y_row);
        }
    }
}

/// Adds one input row, correlated with one kernel row, to one output row.
///
/// Shapes: `x` is `[W]`, `w` is `[KW]`, `y` is `[OW]`.
/// `y[j] += Σ_v w[v] · x[j·SW + v − PL]` over in-range positions.
#[inline(always)]
fn accumulate_row<S: Simd, const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
    s: S,
    x: &[f32; W],
    w: &[f32; KW],
    y: &mut [f32; OW],
) {
    for (v, &wv) in w.iter().enumerate() {
        let (j_lo, j_hi) = valid_outputs(v, PL, SW, W, OW);
        if j_lo >= j_hi {
            continue;
        }
        let xs = x[j_lo * SW + v - PL..].iter().step_by(SW);
        for (yj, &xj) in y[j_lo..j_hi].iter_mut().zip(xs) {
            *yj = s.mul_add(wv, xj, *yj);
        }
    }
}

/// Weight gradient of one (output channel, input channel) pair: `accumulate_channel`'s loop nest
/// with the product differentiated with respect to the weight.
///
/// Shapes: `x` is `[H][W]`, `dy` is `[OH][OW]`, `dw` is `[KH][KW]`.
/// `dw[u][v] += Σ_{i,j} dy[i][j] · x[i·SH + u − PT][j·SW + v − PL]` over in-range positions.
#[inline(always)]
fn weight_grad_channel<
    S: Simd,
    const H: usize,
    const W: usize,
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
    x: &[[f32; W]; H],
    dy: &[[f32; OW]; OH],
    dw: &mut [[f32; KW]; KH],
) {
    for (i, dy_row) in dy.iter().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            weight_grad_row::<S, W, KW, SW, PL, OW>(s, &x[i * SH + u - PT], dy_row, &mut dw[u]);
        }
    }
}

/// Weight gradient of one kernel row from one input row and one output-gradient row.
///
/// Shapes: `x` is `[W]`, `dy` is `[OW]`, `dw` is `[KW]`.
/// `dw[v] += Σ_j dy[j] · x[j·SW + v − PL]` over in-range positions (differentiates
/// `*yj += wv · xj` of `accumulate_row` with respect to `wv`).
#[inline(always)]
fn weight_grad_row<S: Simd, const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
    s: S,
    x: &[f32; W],
    dy: &[f32; OW],
    dw: &mut [f32; KW],
) {
    for (v, dwv) in dw.iter_mut().enumerate() {
        let (j_lo, j_hi) = valid_outputs(v, PL, SW, W, OW);
        if j_lo >= j_hi {
            continue;
        }
        let xs = x[j_lo * SW + v - PL..].iter().step_by(SW);
        *dwv += dy[j_lo..j_hi].iter().zip(xs).fold(0.0, |acc, (&dyj, &xj)| s.mul_add(dyj, xj, acc));
    }
}

/// Input gradient of one (output channel, input channel) pair, in scatter form: the loop nest of
/// `accumulate_channel` with the product differentiated with respect to the input.
///
/// Shapes: `w` is `[KH][KW]`, `dy` is `[OH][OW]`, `dx` is `[H][W]`.
/// `dx[i·SH + u − PT][j·SW + v − PL] += w[u][v] · dy[i][j]` over in-range positions.
#[inline(always)]
fn input_grad_channel<
    S: Simd,
    const H: usize,
    const W: usize,
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
    w: &[[f32; KW]; KH],
    dy: &[[f32; OW]; OH],
    dx: &mut [[f32; W]; H],
) {
    for (i, dy_row) in dy.iter().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            input_grad_row::<S, W, KW, SW, PL, OW>(s, &w[u], dy_row, &mut dx[i * SH + u - PT]);
        }
    }
}

/// Input gradient of one input row from one kernel row and one output-gradient row.
///
/// Shapes: `w` is `[KW]`, `dy` is `[OW]`, `dx` is `[W]`.
/// `dx[j·SW + v − PL] += w[v] · dy[j]` over in-range positions (differentiates
/// `*yj += wv · xj` of `accumulate_row` with respect to `xj`).
#[inline(always)]
fn input_grad_row<S: Simd, const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
    s: S,
    w: &[f32; KW],
    dy: &[f32; OW],
    dx: &mut [f32; W],
) {
    for (v, &wv) in w.iter().enumerate() {
        let (j_lo, j_hi) = valid_outputs(v, PL, SW, W, OW);
        if j_lo >= j_hi {
            continue;
        }
        let dxs = dx[j_lo * SW + v - PL..].iter_mut().step_by(SW);
        for (dxj, &dyj) in dxs.zip(&dy[j_lo..j_hi]) {
            *dxj = s.mul_add(wv, dyj, *dxj);
        }
    }
}

/// The kernel taps `u_lo..u_hi` (out of `0..k`) of a window starting at `start` in the padded
/// input that land on the real input, i.e. `0 ≤ start + u − pad < n`. Requires `start < n + pad`.
#[inline(always)]
fn valid_taps(start: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(start);
    let hi = k.min(n + pad - start);
    (lo, hi)
}

/// The outputs `j_lo..j_hi` (out of `0..out`) whose tap `v` lands on the real input, i.e.
/// `0 ≤ j·stride + v − pad < n`. Empty when `j_lo ≥ j_hi`.
#[inline(always)]
fn valid_outputs(v: usize, pad: usize, stride: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(v).div_ceil(stride);
    let hi = if n + pad > v { out.min((n + pad - v - 1) / stride + 1) } else { 0 };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, Conv2dDims};
    use crate::kernels::simd::Arrays;
    use crate::kernels::test_util::{
        assert_close, assert_close_within, assert_gradient, conv_dims, dot_f64, finite_differences, for_each_isa,
        poisoned, random, random_f64,
    };
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel on every path and the reference on random data of the given geometry and
    /// compares.
    fn check<
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
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let x = random::<[[[f32; W]; H]; C]>(&mut rng);
        let w = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let b = random::<[f32; F]>(&mut rng);
        let d = Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW };
        let mut want = vec![f32::NAN; F * OH * OW];
        reference::conv2d(&d, flat(&*x), flat(&*w), flat(&*b), &mut want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left outputs unset");
        for_each_isa(|_| {
            let mut y = poisoned::<[[[f32; OW]; OH]; F]>();
            forward::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(&x, &w, &b, &mut y);
            assert_close(flat(&*y), &want);
        });
        // The portable path of targets other than x86-64.
        let mut y = poisoned::<[[[f32; OW]; OH]; F]>();
        forward_body::<_, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(Arrays, &x, &w, &b, &mut y);
        assert_close(flat(&*y), &want);
    }

    #[test]
    fn lenet_conv1_valid() {
        check::<1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 24, 24>(1);
    }

    #[test]
    fn padding_2_keeps_28x28() {
        check::<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28>(2);
    }

    #[test]
    fn lenet_conv2_many_channels() {
        check::<6, 12, 12, 16, 5, 5, 1, 1, 0, 0, 8, 8>(3);
    }

    #[test]
    fn stride_2_last_window_in_implied_bottom_padding() {
        // Windows start at 0, 2, 4, 6: the last one covers rows 6..9 of a 7-row input.
        check::<2, 7, 7, 3, 3, 3, 2, 2, 0, 0, 4, 4>(4);
    }

    #[test]
    fn non_square_kernel_input_stride_and_padding() {
        // 3@7x9, kernel 3x2, stride 2x1, padding 1x0: OH = (7+2-3)/2+1 = 4, OW = (9-2)/1+1 = 8.
        check::<3, 7, 9, 4, 3, 2, 2, 1, 1, 0, 4, 8>(5);
    }

    #[test]
    fn same_padding_with_even_kernel() {
        // K = 4, top/left pad 1, bottom/right pad 2 implied by OH = OW = input size.
        check::<2, 6, 6, 2, 4, 4, 1, 1, 1, 1, 6, 6>(6);
    }

    #[test]
    fn kernel_wider_than_input_and_large_padding() {
        // Windows of 5 over a 3-wide input padded by 3: some windows hang over both sides.
        check::<2, 3, 3, 2, 5, 5, 1, 2, 3, 3, 4, 2>(7);
    }

    #[test]
    fn one_by_one_kernel() {
        check::<5, 4, 3, 7, 1, 1, 1, 1, 0, 0, 4, 3>(8);
    }

    #[test]
    fn tf2_layers() {
        check::<1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 28, 28>(9);
        check::<32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 14, 14>(10);
    }

    #[test]
    fn stride_1_odd_channel_counts_and_thin_outputs() {
        // Blocks of 6, 2 and 1 output channels; one output row; outputs wider than the input.
        check::<3, 9, 11, 6, 3, 3, 1, 1, 1, 0, 9, 9>(11);
        check::<2, 5, 5, 10, 3, 3, 1, 1, 0, 0, 3, 3>(12);
        check::<2, 5, 7, 7, 3, 2, 1, 1, 1, 1, 1, 8>(13);
        check::<1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1>(14);
    }

    #[test]
    fn stride_1_outputs_short_of_the_input_and_padding_of_a_whole_kernel() {
        // Rows and columns of the input no window reaches.
        check::<2, 10, 10, 4, 3, 3, 1, 1, 0, 0, 5, 6>(15);
        // Padding as wide as the kernel: windows of zeros only.
        check::<1, 4, 4, 2, 2, 2, 1, 1, 2, 2, 6, 6>(16);
    }

    #[test]
    fn channel_path_strides_padding_and_several_chunks() {
        // Stride 2 down, padding on every side, a short last tile.
        check::<4, 9, 11, 16, 3, 5, 2, 1, 1, 2, 5, 11>(31);
        check::<8, 6, 6, 32, 3, 3, 1, 1, 1, 1, 6, 6>(32);
        // 48 channels: blocks of three AVX2 vectors, and more positions than one chunk holds.
        check::<3, 20, 20, 48, 5, 5, 1, 1, 0, 0, 16, 16>(33);
        // Windows that end short of the input (the input is read in place, unpadded).
        check::<2, 12, 12, 16, 5, 5, 2, 2, 0, 0, 4, 4>(34);
    }

    #[test]
    fn stride_1_too_large_for_the_stack_scratch() {
        // 40 padded 34x34 planes, then 8 flat 66x64 outputs: the general path.
        check::<40, 32, 32, 2, 3, 3, 1, 1, 1, 1, 32, 32>(17);
        check::<1, 64, 64, 8, 3, 3, 1, 1, 1, 1, 64, 64>(18);
    }

    /// The reference and the kernel on every path, on one sample of known numbers.
    fn both<const H: usize, const W: usize, const SH: usize, const PT: usize, const OH: usize>(
        x: &[[[f32; W]; H]; 1],
        w: &[[[[f32; 2]; 2]; 1]; 1],
        b: f32,
    ) -> Vec<Vec<f32>> {
        let d = Conv2dDims { c: 1, h: H, w: W, f: 1, kh: 2, kw: 2, sh: SH, sw: SH, pt: PT, pl: PT, oh: OH, ow: OH };
        let mut want = vec![f32::NAN; OH * OH];
        reference::conv2d(&d, flat(x), flat(w), &[b], &mut want);
        let mut all = vec![want];
        for_each_isa(|_| {
            let mut y = [[[f32::NAN; OH]; OH]; 1];
            forward::<1, H, W, 1, 2, 2, SH, SH, PT, PT, OH, OH>(x, w, &[b], &mut y);
            all.push(flat(&y).to_vec());
        });
        all
    }

    const X3: [[[f32; 3]; 3]; 1] = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
    const W2: [[[[f32; 2]; 2]; 1]; 1] = [[[[1.0, 2.0], [3.0, 4.0]]]];

    #[test]
    fn known_numbers_valid_no_kernel_flip() {
        // y[0][0] = 1·1 + 2·2 + 3·4 + 4·5 + 0.5; a flipped kernel would give 23.5.
        for y in both::<3, 3, 1, 0, 2>(&X3, &W2, 0.5) {
            assert_eq!(y, [37.5, 47.5, 67.5, 77.5]);
        }
    }

    #[test]
    fn known_numbers_padding_and_stride() {
        // Padding 1 on every side, stride 2: the first window sees only x[0][0] under w[1][1].
        for y in both::<3, 3, 2, 1, 2>(&X3, &W2, 0.5) {
            assert_eq!(y, [4.5, 18.5, 36.5, 77.5]);
        }
    }

    #[test]
    fn known_numbers_weights_are_oihw() {
        // Two input channels, two filters, 1x1: y[f] = Σ_c w[f][c] x[c].
        let x = [[[1.0f32]], [[10.0]]];
        let w = [[[[1.0f32]], [[2.0]]], [[[3.0]], [[4.0]]]];
        for_each_isa(|_| {
            let mut y = [[[f32::NAN]]; 2];
            forward::<2, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1>(&x, &w, &[0.0, 100.0], &mut y);
            assert_eq!(y, [[[21.0]], [[143.0]]]);
        });
        let d = Conv2dDims { c: 2, h: 1, w: 1, f: 2, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pl: 0, oh: 1, ow: 1 };
        let mut want = [f32::NAN; 2];
        reference::conv2d(&d, flat(&x), flat(&w), &[0.0, 100.0], &mut want);
        assert_eq!(want, [21.0, 143.0]);
    }

    #[test]
    fn tile_shapes_fit_the_registers_and_divide_the_channels() {
        for (lanes, regs) in [(4, 16), (8, 16), (16, 32)] {
            for co in [1, 2, 3, 5, 6, 7, 16, 32, 64, 120] {
                for positions in [1, 15, 100, 136, 196, 222, 838, 5000] {
                    let (fb, nv) = tile_shape(co, positions, lanes, regs);
                    assert!(fb <= FB_MAX && (1..=NV_MAX).contains(&nv), "{co} {positions}: {fb} {nv}");
                    assert!(co % fb == 0 && fb * nv + nv < regs, "{co} {positions}: {fb} {nv}");
                }
            }
        }
    }

    #[test]
    fn clipping_helpers() {
        // Window at padded row 0 with pad 2 and a 5-tap kernel over 28 rows: taps 2..5.
        assert_eq!(valid_taps(0, 2, 5, 28), (2, 5));
        // Window at padded row 26 (pad 2): taps hitting rows 24..28 are 0..4.
        assert_eq!(valid_taps(26, 2, 5, 28), (0, 4));
        // Tap 0 with pad 1, stride 2, 3 inputs, 2 outputs: j·2 − 1 ∈ [0, 3) ⇒ j = 1.
        assert_eq!(valid_outputs(0, 1, 2, 3, 2), (1, 2));
        // Tap 4 with no padding over 3 inputs lands nowhere.
        let (lo, hi) = valid_outputs(4, 0, 1, 3, 3);
        assert!(lo >= hi);
    }

    /// Runs the kernel's and the reference's backward passes on random data of the given geometry
    /// and compares. `dw` and `db` start from random values, to check they are accumulated into;
    /// `dx` starts as `NaN`, to check it is overwritten (or left alone when not asked for).
    fn check_backward<
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
        seed: u64,
        with_dx: bool,
    ) {
        let mut rng = Rng::new(seed);
        let x = random::<[[[f32; W]; H]; C]>(&mut rng);
        let w = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let dy = random::<[[[f32; OW]; OH]; F]>(&mut rng);
        let dw0 = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let db0 = random::<[f32; F]>(&mut rng);

        let d = Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW };
        let (mut want_dw, mut want_db) = (flat(&*dw0).to_vec(), db0.to_vec());
        let mut want_dx = vec![f32::NAN; C * H * W];
        let want_dx_arg = with_dx.then_some(&mut want_dx[..]);
        reference::conv2d_backward(&d, flat(&*x), flat(&*w), flat(&*dy), want_dx_arg, &mut want_dw, &mut want_db);
        for_each_isa(|_| {
            let (mut dw, mut db) = (dw0.clone(), db0.clone());
            let mut dx = poisoned::<[[[f32; W]; H]; C]>();
            backward::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
                &x,
                &w,
                &dy,
                with_dx.then_some(&mut *dx),
                &mut dw,
                &mut db,
            );
            if with_dx {
                assert!(want_dx.iter().all(|v| v.is_finite()), "reference left input gradients unset");
                assert_close(flat(&*dx), &want_dx);
            } else {
                assert!(flat(&*dx).iter().all(|v| v.is_nan()), "dx written although not asked for");
            }
            assert_close(flat(&*dw), &want_dw);
            assert_close(&db[..], &want_db);
        });
        // The portable path of targets other than x86-64.
        let (mut dw, mut db) = (dw0.clone(), db0.clone());
        let mut dx = poisoned::<[[[f32; W]; H]; C]>();
        let dx_arg = with_dx.then_some(core::slice::from_mut(&mut *dx));
        let (xs, dys) = (core::slice::from_ref(&*x), core::slice::from_ref(&*dy));
        backward_body::<_, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(Arrays, xs, &w, dys, dx_arg, &mut dw, &mut db);
        if with_dx {
            assert_close(flat(&*dx), &want_dx);
        }
        assert_close(flat(&*dw), &want_dw);
        assert_close(&db[..], &want_db);
    }

    /// Runs [`backward_batch`] on every path over `N` random samples and compares with the
    /// reference's backward pass of each in turn.
    fn check_backward_batch<
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
        const N: usize,
    >(
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let xs = random::<[[[[f32; W]; H]; C]; N]>(&mut rng);
        let w = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let dys = random::<[[[[f32; OW]; OH]; F]; N]>(&mut rng);
        let dw0 = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let db0 = random::<[f32; F]>(&mut rng);
        let d = Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW };
        // In f64: the batch's sums are long enough for an f32 reference's own rounding to show.
        let wide = |v: &[f32]| v.iter().map(|&e| f64::from(e)).collect::<Vec<_>>();
        let narrow = |v: &[f64]| v.iter().map(|&e| e as f32).collect::<Vec<_>>();
        let (mut dw64, mut db64, w64) = (wide(flat(&*dw0)), wide(&db0[..]), wide(flat(&*w)));
        let mut dxs64 = vec![f64::NAN; N * C * H * W];
        for ((x, dy), dx) in xs.iter().zip(dys.iter()).zip(dxs64.chunks_exact_mut(C * H * W)) {
            reference::conv2d_backward(&d, &wide(flat(x)), &w64, &wide(flat(dy)), Some(dx), &mut dw64, &mut db64);
        }
        let (want_dxs, want_dw, want_db) = (narrow(&dxs64), narrow(&dw64), narrow(&db64));
        for_each_isa(|_| {
            let (mut dw, mut db) = (dw0.clone(), db0.clone());
            let mut dxs = poisoned::<[[[[f32; W]; H]; C]; N]>();
            backward_batch::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
                &xs[..],
                &w,
                &dys[..],
                Some(&mut dxs[..]),
                &mut dw,
                &mut db,
            );
            // The input gradient sums up to 1,200 products here (48 channels of 5x5), the weight
            // gradient every position of every sample (up to 392): their f32 rounding reaches
            // about 1e-5, an error in a tap or a sample is far larger.
            assert_close_within(flat(&*dxs), &want_dxs, 3e-5);
            assert_close_within(flat(&*dw), &want_dw, 3e-5);
            assert_close_within(&db[..], &want_db, 3e-5);
        });
    }

    #[test]
    fn backward_batch_sums_the_gradients_of_its_samples() {
        // The channel path (16, 32 and 48 output channels, stride 2, padding) and the others.
        check_backward_batch::<6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10, 3>(151);
        check_backward_batch::<4, 9, 11, 16, 3, 5, 2, 1, 1, 2, 5, 11, 2>(152);
        check_backward_batch::<3, 18, 18, 48, 5, 5, 1, 1, 0, 0, 14, 14, 2>(153);
        check_backward_batch::<8, 6, 6, 32, 3, 3, 1, 1, 1, 1, 6, 6, 4>(154);
        check_backward_batch::<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28, 3>(155);
        check_backward_batch::<2, 7, 7, 3, 3, 3, 2, 2, 0, 0, 4, 4, 3>(156);
    }

    #[test]
    fn channel_weight_gradient_only_where_the_tiled_one_wastes_a_fifth() {
        // On AVX2: LeNet-5's conv2 (26% wasted) and stride 2 take the channel path, TF2's conv2
        // (12%) the tiled one.
        assert!(flat_weight_grad_wastes(6, 14, 16, 10, 10, 5, 5, 1, 1, 0, 8, 16));
        assert!(flat_weight_grad_wastes(4, 11, 16, 5, 11, 3, 5, 2, 1, 2, 8, 16));
        assert!(!flat_weight_grad_wastes(32, 14, 64, 14, 14, 5, 5, 1, 1, 2, 8, 16));
        assert!(flat_weight_grad_wastes(3, 18, 48, 14, 14, 5, 5, 1, 1, 0, 8, 16));
    }

    #[test]
    fn channel_input_gradient_where_the_input_channels_fill_vectors() {
        // On AVX2: TF2's conv2 (32 input channels), not LeNet-5's conv2 (6) nor stride 2.
        assert!(channel_input_grad(conv_dims([32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 14, 14]), 8, 16));
        assert!(!channel_input_grad(conv_dims([6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10]), 8, 16));
        assert!(!channel_input_grad(conv_dims([16, 9, 9, 16, 3, 3, 2, 2, 0, 0, 4, 4]), 8, 16));
        // The shapes of the test below that take it.
        assert!(channel_input_grad(conv_dims([16, 9, 7, 9, 3, 2, 1, 1, 1, 0, 9, 6]), 8, 16));
        assert!(channel_input_grad(conv_dims([32, 6, 6, 4, 4, 4, 1, 1, 1, 1, 6, 6]), 8, 16));
        assert!(channel_input_grad(conv_dims([16, 18, 18, 16, 5, 5, 1, 1, 0, 0, 14, 14]), 8, 16));
    }

    #[test]
    fn input_gradient_on_the_channel_path() {
        // Unpadded (the flipped kernel pads by KW − 1), one-sided, and the implied bottom and right
        // padding of an even kernel; several chunks of positions.
        check_backward::<16, 9, 7, 9, 3, 2, 1, 1, 1, 0, 9, 6>(161, true);
        check_backward::<32, 6, 6, 4, 4, 4, 1, 1, 1, 1, 6, 6>(162, true);
        check_backward::<16, 18, 18, 16, 5, 5, 1, 1, 0, 0, 14, 14>(163, true);
        check_backward_batch::<16, 9, 7, 9, 3, 2, 1, 1, 1, 0, 9, 6, 3>(164);
    }

    #[test]
    #[should_panic(expected = "2 inputs but 1 output gradients")]
    fn backward_batch_rejects_mismatched_batches() {
        let xs = [[[[0.0f32; 3]; 3]; 1]; 2];
        let dys = [[[[0.0f32; 2]; 2]; 1]; 1];
        let (mut dw, mut db) = ([[[[0.0f32; 2]; 2]; 1]; 1], [0.0f32; 1]);
        backward_batch::<1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2>(&xs, &dw.clone(), &dys, None, &mut dw, &mut db);
    }

    #[test]
    fn backward_lenet_conv1_without_input_gradient() {
        check_backward::<1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 24, 24>(101, false);
        check_backward::<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28>(102, false);
    }

    #[test]
    fn backward_lenet_conv2() {
        check_backward::<6, 12, 12, 16, 5, 5, 1, 1, 0, 0, 8, 8>(103, true);
        check_backward::<6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10>(104, true);
    }

    #[test]
    fn backward_stride_2_with_implied_bottom_padding() {
        check_backward::<2, 7, 7, 3, 3, 3, 2, 2, 0, 0, 4, 4>(105, true);
        // Stride 2 with top/left padding 1 and a different implied bottom/right padding (0 and 1).
        check_backward::<2, 8, 7, 3, 3, 3, 2, 2, 1, 1, 4, 4>(106, true);
    }

    #[test]
    fn backward_non_square_kernel_input_stride_and_padding() {
        check_backward::<3, 7, 9, 4, 3, 2, 2, 1, 1, 0, 4, 8>(107, true);
    }

    #[test]
    fn backward_same_padding_with_even_kernel() {
        check_backward::<2, 6, 6, 2, 4, 4, 1, 1, 1, 1, 6, 6>(108, true);
    }

    #[test]
    fn backward_kernel_wider_than_input_and_one_by_one() {
        check_backward::<2, 3, 3, 2, 5, 5, 1, 2, 3, 3, 4, 2>(109, true);
        check_backward::<5, 4, 3, 7, 1, 1, 1, 1, 0, 0, 4, 3>(110, true);
    }

    #[test]
    fn backward_tf2_layers() {
        check_backward::<1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 28, 28>(131, false);
        check_backward::<32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 14, 14>(132, true);
    }

    #[test]
    fn backward_stride_1_odd_shapes() {
        check_backward::<3, 9, 11, 6, 3, 3, 1, 1, 1, 0, 9, 9>(133, true);
        check_backward::<2, 5, 5, 10, 3, 3, 1, 1, 0, 0, 3, 3>(134, true);
        check_backward::<2, 5, 7, 7, 3, 2, 1, 1, 1, 1, 1, 8>(135, true);
        check_backward::<3, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1>(136, true);
        check_backward::<2, 10, 10, 4, 3, 3, 1, 1, 0, 0, 5, 6>(137, true);
        check_backward::<1, 4, 4, 2, 2, 2, 1, 1, 2, 2, 6, 6>(138, true);
        check_backward::<4, 16, 16, 16, 8, 8, 1, 1, 3, 4, 16, 16>(139, true);
    }

    #[test]
    fn backward_stride_1_too_large_for_the_stack_scratch() {
        check_backward::<40, 32, 32, 2, 3, 3, 1, 1, 1, 1, 32, 32>(140, true);
        check_backward::<1, 64, 64, 8, 3, 3, 1, 1, 1, 1, 64, 64>(141, true);
    }

    #[test]
    fn backward_known_numbers() {
        // One 2x2 filter over a 3x3 input, valid, with dy = 1 everywhere: every weight sees the
        // sum of the 2x2 block of x it slides over; dx counts how often w[u][v] covers a pixel.
        for_each_isa(|_| {
            let mut dx = [[[f32::NAN; 3]; 3]; 1];
            let (mut dw, mut db) = ([[[[0.0; 2]; 2]; 1]; 1], [0.0]);
            backward::<1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2>(&X3, &W2, &[[[1.0; 2]; 2]], Some(&mut dx), &mut dw, &mut db);
            assert_eq!(dw, [[[[12.0, 16.0], [24.0, 28.0]]]]);
            assert_eq!(db, [4.0]);
            assert_eq!(dx, [[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]);
        });
    }

    /// The `f64` reference backward against central finite differences of the `f64` reference
    /// forward, for the loss `Σ r ⊙ y`.
    fn check_reference_gradients(d: Conv2dDims, seed: u64) {
        let mut rng = Rng::new(seed);
        let x = random_f64(&mut rng, d.c * d.h * d.w);
        let w = random_f64(&mut rng, d.f * d.c * d.kh * d.kw);
        let b = random_f64(&mut rng, d.f);
        let r = random_f64(&mut rng, d.f * d.oh * d.ow);
        let loss = |x: &[f64], w: &[f64], b: &[f64]| {
            let mut y = vec![f64::NAN; r.len()];
            reference::conv2d(&d, x, w, b, &mut y);
            dot_f64(&r, &y)
        };
        let (mut dx, mut dw, mut db) = (vec![f64::NAN; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
        reference::conv2d_backward(&d, &x, &w, &r, Some(&mut dx), &mut dw, &mut db);
        assert_gradient("dx", &dx, &finite_differences(&x, |x| loss(x, &w, &b)));
        assert_gradient("dw", &dw, &finite_differences(&w, |w| loss(&x, w, &b)));
        assert_gradient("db", &db, &finite_differences(&b, |b| loss(&x, &w, b)));
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        let d = |c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow| Conv2dDims { c, h, w, f, kh, kw, sh, sw, pt, pl, oh, ow };
        check_reference_gradients(d(1, 8, 8, 2, 5, 5, 1, 1, 0, 0, 4, 4), 111);
        check_reference_gradients(d(2, 8, 7, 3, 3, 3, 2, 2, 1, 1, 4, 4), 112);
        check_reference_gradients(d(3, 7, 9, 2, 3, 2, 2, 1, 1, 0, 4, 8), 113);
        check_reference_gradients(d(2, 6, 6, 2, 4, 4, 1, 1, 1, 1, 6, 6), 114);
        check_reference_gradients(d(2, 3, 3, 2, 5, 5, 1, 2, 3, 3, 4, 2), 115);
    }
}
