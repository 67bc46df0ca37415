//! 2-D max and average pooling, without padding, in floor mode (every window inside the input).
//!
//! Compiled with AVX2 and FMA where the CPU has them, on AVX-512 CPUs too (see [`isa`](super::isa)):
//! the strided loads and NaN-keeping maxima of these loops compile to mask-register code with
//! AVX-512 that is several times slower on Zen 5 than their AVX2 code. Only the forward passes
//! vectorise; the backward max pool finds each window's argmax with selects, not branches.

use super::isa::{dispatch, wrappers};
use super::simd::{load_part, store_part, Simd};

/// Max pooling of one sample.
///
/// Shapes: `x` is `[C][H][W]`, `y` is `[C][OH][OW]`.
/// `y[c][i][j] = max_{u<KH, v<KW} x[c][i·SH + u][j·SW + v]`, and `NaN` if any element of the
/// window is `NaN` (as PyTorch).
///
/// Compile-time checks: window and strides are at least 1, the output is not empty, and the last
/// window ends inside the input (`(OH − 1)·SH + KH ≤ H`, `(OW − 1)·SW + KW ≤ W`).
pub fn max_forward<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
) {
    check_geometry::<H, W, KH, KW, SH, SW, OH, OW>();
    dispatch!(_, max_forward_avx2, max_forward_body::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y))
}

wrappers!(
    _,
    max_forward_avx2,
    max_forward_body,
    [
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    ],
    (x: &[[[f32; W]; H]; C], y: &mut [[[f32; OW]; OH]; C])
);

/// The body of [`max_forward`], compiled once per path.
#[inline(always)]
fn max_forward_body<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    _: S,
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
) {
    fold_windows::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y, f32::NEG_INFINITY, max_or_nan);
}

/// Backward pass of [`max_forward`] for one sample: routes each window's gradient to the element
/// its maximum came from.
///
/// Shapes: `x`, `dx` are `[C][H][W]`; `dy` is `[C][OH][OW]`. Differentiates
/// `*yj = op(*yj, xj)` of `fold_windows` with `op = max_or_nan`: recomputes the argmax of each
/// window from `x`, i.e. the first maximal element in row-major window order (`max_or_nan` only
/// replaces on a strictly greater value), or the first `NaN` if the window has one, and does
/// `dx[c][i·SH + u*][j·SW + v*] += dy[c][i][j]`, starting from zero.
///
/// `dx` is overwritten: overlapping windows add up, and elements no window takes its maximum
/// from (including those no window covers, in floor mode) get 0. Compile-time checks as for
/// [`max_forward`].
pub fn max_backward<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f32; W]; H]; C],
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    check_geometry::<H, W, KH, KW, SH, SW, OH, OW>();
    dispatch!(_, max_backward_avx2, max_backward_body::<C, H, W, KH, KW, SH, SW, OH, OW>(x, dy, dx))
}

wrappers!(
    _,
    max_backward_avx2,
    max_backward_body,
    [
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    ],
    (x: &[[[f32; W]; H]; C], dy: &[[[f32; OW]; OH]; C], dx: &mut [[[f32; W]; H]; C])
);

/// The body of [`max_backward`], compiled once per path.
#[inline(always)]
fn max_backward_body<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    s: S,
    x: &[[[f32; W]; H]; C],
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    if const { KH == SH && KW == SW } {
        return max_backward_tiling::<S, C, H, W, KH, KW, OH, OW>(s, x, dy, dx);
    }
    for ((xc, dyc), dxc) in x.iter().zip(dy).zip(dx.iter_mut()) {
        for row in dxc.iter_mut() {
            row.fill(0.0);
        }
        for (i, dy_row) in dyc.iter().enumerate() {
            let rows: &[[f32; W]; KH] = xc[i * SH..i * SH + KH].try_into().expect("window inside the input");
            for (j, &g) in dy_row.iter().enumerate() {
                let (u, v) = window_argmax::<W, KH, KW>(rows, j * SW);
                dxc[i * SH + u][j * SW + v] += g;
            }
        }
    }
}

/// [`max_backward_body`] for windows that tile the input (strides equal to the window, as in
/// `MaxPool 2`): every element of `dx` lies in at most one window, so each is written once, `dy`
/// or 0, with no zeroing first and no read-modify-write. The argmax is the same as
/// [`window_argmax`]'s, as a flat window index.
#[inline(always)]
fn max_backward_tiling<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
>(
    s: S,
    x: &[[[f32; W]; H]; C],
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    for ((xc, dyc), dxc) in x.iter().zip(dy).zip(dx.iter_mut()) {
        let (covered, rest) = dxc.split_at_mut(OH * KH);
        for ((dy_row, rows), out) in dyc.iter().zip(xc.chunks_exact(KH)).zip(covered.chunks_exact_mut(KH)) {
            // Columns right of the last window (floor mode) take no gradient.
            for row in out.iter_mut() {
                row[OW * KW..].fill(0.0);
            }
            if let ([r0, r1], [o0, o1]) = (rows, &mut *out) {
                if KW == 2 {
                    max_backward_2x2::<S, W, OW>(s, r0, r1, dy_row, o0, o1);
                    continue;
                }
            }
            for (j, &g) in dy_row.iter().enumerate() {
                let left = j * KW;
                let (mut arg, mut m) = (0, rows[0][left]);
                for (u, row) in rows.iter().enumerate() {
                    for (v, &val) in row[left..left + KW].iter().enumerate() {
                        let take = !m.is_nan() && (val > m || val.is_nan());
                        arg = if take { u * KW + v } else { arg };
                        m = if take { val } else { m };
                    }
                }
                for (u, row) in out.iter_mut().enumerate() {
                    for (v, d) in row[left..left + KW].iter_mut().enumerate() {
                        *d = if arg == u * KW + v { g } else { 0.0 };
                    }
                }
            }
        }
        for row in rest {
            row.fill(0.0);
        }
    }
}

/// One row of 2x2 windows of [`max_backward_tiling`]: input rows `r0`, `r1` to gradient rows `o0`,
/// `o1`, `S::LANES` windows at a time (the last block partial). A window's four values come from
/// [`Simd::deinterleave`] of its two rows, the choices of `max_or_nan` are masks, and each gradient
/// goes to its element by a masked `and`. Scalar code here compiled to branches that ties (many
/// windows are all zero after a ReLU) mispredicted: 14% of a LeNet-5 training step on a Zen 3.
/// (Helpers are functions, not closures: a closure is not inlined into the `#[target_feature]`
/// wrapper, and its intrinsics become calls.)
#[inline(always)]
fn max_backward_2x2<S: Simd, const W: usize, const OW: usize>(
    s: S,
    r0: &[f32; W],
    r1: &[f32; W],
    dy: &[f32; OW],
    o0: &mut [f32; W],
    o1: &mut [f32; W],
) {
    let lanes = S::LANES;
    let (r0, r1, o0, o1) = (&r0[..2 * OW], &r1[..2 * OW], &mut o0[..2 * OW], &mut o1[..2 * OW]);
    for j in (0..OW).step_by(lanes) {
        let ((a, b), (c, d)) = (pairs(s, &r0[2 * j..]), pairs(s, &r1[2 * j..]));
        let g = s.pair_order(load_upto(s, &dy[j..]));
        let tb = takes(s, a, b);
        let m = s.blend(tb, b, a);
        let tc = takes(s, m, c);
        let m = s.blend(tc, c, m);
        let td = takes(s, m, d);
        let later_c = s.or(tc, td);
        let ga = s.and_not(s.or(tb, later_c), g);
        let gb = s.and_not(later_c, s.and(tb, g));
        let gc = s.and_not(td, s.and(tc, g));
        let gd = s.and(td, g);
        for (out, even, odd) in [(&mut o0[2 * j..], ga, gb), (&mut o1[2 * j..], gc, gd)] {
            let (lo, hi) = s.interleave(even, odd);
            let (out_lo, out_hi) = out.split_at_mut(lanes.min(out.len()));
            store_upto(s, lo, out_lo);
            store_upto(s, hi, out_hi);
        }
    }
}

/// The mask of the lanes where `max_or_nan` replaces the running maximum `m` by `v`.
#[inline(always)]
fn takes<S: Simd>(s: S, m: S::V, v: S::V) -> S::V {
    s.and_not(s.nan_mask(m), s.or(s.lt_mask(m, v), s.nan_mask(v)))
}

/// The even and odd elements of the first `2·LANES` elements of `row` (zeros past its end).
#[inline(always)]
fn pairs<S: Simd>(s: S, row: &[f32]) -> (S::V, S::V) {
    let (lo, hi) = row.split_at(S::LANES.min(row.len()));
    s.deinterleave(load_upto(s, lo), load_upto(s, hi))
}

/// The first `LANES` elements of `v`, or all of them and zeros.
#[inline(always)]
fn load_upto<S: Simd>(s: S, v: &[f32]) -> S::V {
    if v.len() >= S::LANES {
        s.load(v)
    } else {
        load_part(s, v)
    }
}

/// Writes the first lanes of `v` to the first `LANES` elements of `out`, or to all of it.
#[inline(always)]
fn store_upto<S: Simd>(s: S, v: S::V, out: &mut [f32]) {
    if out.len() >= S::LANES {
        s.store(v, out)
    } else {
        store_part(s, v, out)
    }
}

/// Average pooling of one sample.
///
/// Shapes: `x` is `[C][H][W]`, `y` is `[C][OH][OW]`.
/// `y[c][i][j] = (Σ_{u<KH, v<KW} x[c][i·SH + u][j·SW + v]) / (KH·KW)`.
///
/// Compile-time checks as for [`max_forward`].
pub fn avg_forward<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
) {
    check_geometry::<H, W, KH, KW, SH, SW, OH, OW>();
    dispatch!(_, avg_forward_avx2, avg_forward_body::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y))
}

wrappers!(
    _,
    avg_forward_avx2,
    avg_forward_body,
    [
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    ],
    (x: &[[[f32; W]; H]; C], y: &mut [[[f32; OW]; OH]; C])
);

/// The body of [`avg_forward`], compiled once per path.
#[inline(always)]
fn avg_forward_body<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    _: S,
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
) {
    fold_windows::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y, 0.0, |acc, v| acc + v);
    let n = (KH * KW) as f32;
    for y_row in y.iter_mut().flatten() {
        for yj in y_row.iter_mut() {
            *yj /= n;
        }
    }
}

/// Backward pass of [`avg_forward`] for one sample: spreads each window's gradient evenly over it.
///
/// Shapes: `dy` is `[C][OH][OW]`, `dx` is `[C][H][W]`. Differentiates the window sum of
/// `fold_windows` and `*yj /= n`: `dx[c][i·SH + u][j·SW + v] += dy[c][i][j] / (KH·KW)` for every
/// window `(i, j)` and every `(u, v)` in it, starting from zero.
///
/// `dx` is overwritten: overlapping windows add up, and elements no window covers (floor mode)
/// get 0. Compile-time checks as for [`max_forward`].
pub fn avg_backward<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    check_geometry::<H, W, KH, KW, SH, SW, OH, OW>();
    dispatch!(_, avg_backward_avx2, avg_backward_body::<C, H, W, KH, KW, SH, SW, OH, OW>(dy, dx))
}

wrappers!(
    _,
    avg_backward_avx2,
    avg_backward_body,
    [
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    ],
    (dy: &[[[f32; OW]; OH]; C], dx: &mut [[[f32; W]; H]; C])
);

/// The body of [`avg_backward`], compiled once per path.
#[inline(always)]
fn avg_backward_body<
    S: Simd,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    _: S,
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    let n = (KH * KW) as f32;
    for (dyc, dxc) in dy.iter().zip(dx.iter_mut()) {
        for row in dxc.iter_mut() {
            row.fill(0.0);
        }
        for (i, dy_row) in dyc.iter().enumerate() {
            for dx_row in &mut dxc[i * SH..i * SH + KH] {
                for v in 0..KW {
                    let dxs = dx_row[v..].iter_mut().step_by(SW);
                    for (dxj, &dyj) in dxs.zip(dy_row) {
                        *dxj += dyj / n;
                    }
                }
            }
        }
    }
}

/// The larger of `m` and `v`; `NaN` if either is `NaN`, so a `NaN` in a window is kept.
#[inline(always)]
fn max_or_nan(m: f32, v: f32) -> f32 {
    if v > m || v.is_nan() {
        v
    } else {
        m
    }
}

/// Folds every pooling window with `op`, starting from `init`, row by row.
///
/// Shapes: `x` is `[C][H][W]`, `y` is `[C][OH][OW]`.
/// `y[c][i][j] = op(…op(op(init, x[c][i·SH][j·SW]), x[c][i·SH][j·SW + 1])…)`, taking the window
/// row by row, left to right.
#[inline(always)]
fn fold_windows<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
    init: f32,
    op: impl Fn(f32, f32) -> f32,
) {
    for (xc, yc) in x.iter().zip(y.iter_mut()) {
        for (i, y_row) in yc.iter_mut().enumerate() {
            y_row.fill(init);
            for x_row in &xc[i * SH..i * SH + KH] {
                for v in 0..KW {
                    let xs = x_row[v..].iter().step_by(SW);
                    for (yj, &xj) in y_row.iter_mut().zip(xs) {
                        *yj = op(*yj, xj);
                    }
                }
            }
        }
    }
}

/// Where in the window of `rows` starting at column `left` its maximum comes from, as `(u, v)`:
/// its first maximal element in row-major order (the one [`max_or_nan`] keeps, as it replaces
/// only on a strictly greater value), or its first `NaN`. Branch-free: selects, constant bounds.
///
/// Shape: `rows` is `[KH][W]`; the window is `KH × KW` and lies inside it.
#[inline(always)]
fn window_argmax<const W: usize, const KH: usize, const KW: usize>(
    rows: &[[f32; W]; KH],
    left: usize,
) -> (usize, usize) {
    let (mut arg, mut m) = ((0, 0), rows[0][left]);
    for (u, row) in rows.iter().enumerate() {
        let window_row: &[f32; KW] = row[left..left + KW].try_into().expect("window inside the input");
        for (v, &val) in window_row.iter().enumerate() {
            let take = !m.is_nan() && (val > m || val.is_nan());
            arg = if take { (u, v) } else { arg };
            m = if take { val } else { m };
        }
    }
    arg
}

/// Compile-time checks of a pooling geometry: window and strides are at least 1, the output is
/// not empty, and the last window ends inside the input (`(OH − 1)·SH + KH ≤ H`,
/// `(OW − 1)·SW + KW ≤ W`).
fn check_geometry<
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>() {
    const {
        assert!(KH >= 1 && KW >= 1, "pool window must not be empty");
        assert!(SH >= 1 && SW >= 1, "pool stride must be at least 1");
        assert!(OH >= 1 && OW >= 1, "pool output must not be empty");
        assert!((OH - 1) * SH + KH <= H, "pool last window leaves the input at the bottom");
        assert!((OW - 1) * SW + KW <= W, "pool last window leaves the input on the right");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, PoolDims};
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, for_each_isa, poisoned, random, random_f64,
    };
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs both pools and both references on random data of the given geometry and compares.
    fn check<
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    >(
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let x = random::<[[[f32; W]; H]; C]>(&mut rng);
        let d = PoolDims { c: C, h: H, w: W, kh: KH, kw: KW, sh: SH, sw: SW, oh: OH, ow: OW };

        let mut y = poisoned::<[[[f32; OW]; OH]; C]>();
        max_forward::<C, H, W, KH, KW, SH, SW, OH, OW>(&x, &mut y);
        let mut want = vec![f32::NAN; C * OH * OW];
        reference::max_pool(&d, flat(&*x), &mut want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left outputs unset");
        assert_eq!(flat(&*y), &want[..], "max pool");

        let mut y = poisoned::<[[[f32; OW]; OH]; C]>();
        avg_forward::<C, H, W, KH, KW, SH, SW, OH, OW>(&x, &mut y);
        let mut want = vec![f32::NAN; C * OH * OW];
        reference::avg_pool(&d, flat(&*x), &mut want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left outputs unset");
        assert_close(flat(&*y), &want);
    }

    #[test]
    fn two_by_two_stride_two() {
        for_each_isa(|_| {
            check::<6, 24, 24, 2, 2, 2, 2, 12, 12>(11);
        });
    }

    #[test]
    fn three_by_three_stride_three_floor_mode() {
        for_each_isa(|_| {
            // 10x10 → 3x3: the last row and column of the input are never read.
            check::<2, 10, 10, 3, 3, 3, 3, 3, 3>(12);
        });
    }

    #[test]
    fn non_square_window() {
        for_each_isa(|_| {
            check::<3, 9, 8, 3, 2, 3, 2, 3, 4>(13);
        });
    }

    #[test]
    fn stride_one_overlapping() {
        for_each_isa(|_| {
            check::<2, 6, 5, 3, 3, 1, 1, 4, 3>(14);
        });
    }

    #[test]
    fn windows_narrower_than_the_stride() {
        // Column gaps between windows; the last window ends at the input's edge or short of it.
        check::<2, 8, 8, 2, 2, 2, 3, 4, 3>(16);
        check::<2, 8, 9, 2, 2, 2, 3, 4, 3>(17);
        check_backward::<2, 8, 8, 2, 2, 2, 3, 4, 3>(127);
        check_backward::<2, 8, 9, 2, 2, 2, 3, 4, 3>(128);
    }

    #[test]
    fn non_square_strides_and_odd_sizes() {
        for_each_isa(|_| {
            check::<1, 11, 7, 2, 3, 3, 2, 4, 3>(15);
        });
    }

    const X4: [[[f32; 4]; 4]; 1] =
        [[[1.0, -2.0, 3.0, 0.0], [4.0, 5.0, -6.0, 2.0], [-7.0, 8.0, 9.0, -1.0], [0.0, -3.0, 6.0, 10.0]]];
    const D4: PoolDims = PoolDims { c: 1, h: 4, w: 4, kh: 2, kw: 2, sh: 2, sw: 2, oh: 2, ow: 2 };

    #[test]
    fn known_numbers_max() {
        for_each_isa(|_| {
            let mut y = [[[f32::NAN; 2]; 2]; 1];
            max_forward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&X4, &mut y);
            assert_eq!(y, [[[5.0, 3.0], [8.0, 10.0]]]);
            let mut want = [f32::NAN; 4];
            reference::max_pool(&D4, flat(&X4), &mut want);
            assert_eq!(want, [5.0, 3.0, 8.0, 10.0]);
        });
    }

    #[test]
    fn known_numbers_avg() {
        for_each_isa(|_| {
            let mut y = [[[f32::NAN; 2]; 2]; 1];
            avg_forward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&X4, &mut y);
            assert_eq!(y, [[[2.0, -0.25], [-0.5, 6.0]]]);
            let mut want = [f32::NAN; 4];
            reference::avg_pool(&D4, flat(&X4), &mut want);
            assert_eq!(want, [2.0, -0.25, -0.5, 6.0]);
        });
    }

    #[test]
    fn known_numbers_overlapping_max() {
        for_each_isa(|_| {
            // 3x3 windows, stride 1, over the 4x4 input: four overlapping windows.
            let mut y = [[[f32::NAN; 2]; 2]; 1];
            max_forward::<1, 4, 4, 3, 3, 1, 1, 2, 2>(&X4, &mut y);
            assert_eq!(y, [[[9.0, 9.0], [9.0, 10.0]]]);
        });
    }

    #[test]
    fn max_propagates_nan_wherever_it_is_in_the_window() {
        for_each_isa(|_| {
            for pos in 0..4 {
                let mut x = X4;
                x[0][pos / 2][pos % 2] = f32::NAN;
                let mut y = [[[0.0; 2]; 2]; 1];
                max_forward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&x, &mut y);
                assert!(y[0][0][0].is_nan(), "NaN at window position {pos} was dropped");
                assert_eq!([y[0][0][1], y[0][1][0], y[0][1][1]], [3.0, 8.0, 10.0]);

                let mut want = [0.0; 4];
                reference::max_pool(&D4, flat(&x), &mut want);
                assert!(want[0].is_nan(), "reference dropped NaN at {pos}");
            }
        });
    }

    #[test]
    fn max_of_all_negative_infinity_is_negative_infinity() {
        for_each_isa(|_| {
            let x = [[[f32::NEG_INFINITY; 2]; 2]; 1];
            let mut y = [[[0.0; 1]; 1]; 1];
            max_forward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &mut y);
            assert_eq!(y[0][0][0], f32::NEG_INFINITY);
        });
    }

    /// Runs both pool backward passes and both reference backward passes on random data of the
    /// given geometry and compares; `dx` starts as `NaN` to check it is overwritten.
    fn check_backward<
        const C: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    >(
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let x = random::<[[[f32; W]; H]; C]>(&mut rng);
        let dy = random::<[[[f32; OW]; OH]; C]>(&mut rng);
        let d = PoolDims { c: C, h: H, w: W, kh: KH, kw: KW, sh: SH, sw: SW, oh: OH, ow: OW };

        let mut dx = poisoned::<[[[f32; W]; H]; C]>();
        max_backward::<C, H, W, KH, KW, SH, SW, OH, OW>(&x, &dy, &mut dx);
        let mut want = vec![f32::NAN; C * H * W];
        reference::max_pool_backward(&d, flat(&*x), flat(&*dy), &mut want);
        assert_close(flat(&*dx), &want);

        let mut dx = poisoned::<[[[f32; W]; H]; C]>();
        avg_backward::<C, H, W, KH, KW, SH, SW, OH, OW>(&dy, &mut dx);
        let mut want = vec![f32::NAN; C * H * W];
        reference::avg_pool_backward(&d, flat(&*dy), &mut want);
        assert_close(flat(&*dx), &want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left input gradients unset");
    }

    #[test]
    fn backward_matches_the_reference() {
        for_each_isa(|_| {
            check_backward::<6, 24, 24, 2, 2, 2, 2, 12, 12>(121);
            // 2x2 windows in floor mode: the last row and column are in no window.
            check_backward::<2, 7, 9, 2, 2, 2, 2, 3, 4>(127);
            // LeNet-5's two pools: a full vector of windows and a partial one, and a partial one alone.
            check_backward::<6, 28, 28, 2, 2, 2, 2, 14, 14>(128);
            check_backward::<16, 10, 10, 2, 2, 2, 2, 5, 5>(129);
            check_backward::<2, 10, 10, 3, 3, 3, 3, 3, 3>(122);
            check_backward::<2, 6, 5, 3, 3, 1, 1, 4, 3>(123);
            check_backward::<3, 9, 8, 3, 2, 3, 2, 3, 4>(124);
            check_backward::<1, 11, 7, 2, 3, 3, 2, 4, 3>(125);
        });
    }

    #[test]
    fn backward_floor_mode_leaves_uncovered_inputs_at_zero() {
        for_each_isa(|_| {
            // 3x3 windows, stride 3, over 10x10: row 9 and column 9 are in no window.
            let x = random::<[[[f32; 10]; 10]; 1]>(&mut Rng::new(126));
            let dy = [[[1.0; 3]; 3]; 1];
            let mut dmax = [[[f32::NAN; 10]; 10]; 1];
            max_backward::<1, 10, 10, 3, 3, 3, 3, 3, 3>(&x, &dy, &mut dmax);
            let mut davg = [[[f32::NAN; 10]; 10]; 1];
            avg_backward::<1, 10, 10, 3, 3, 3, 3, 3, 3>(&dy, &mut davg);
            for dx in [&dmax, &davg] {
                assert!((0..10).all(|k| dx[0][9][k] == 0.0 && dx[0][k][9] == 0.0), "{dx:?}");
            }
            assert_eq!(flat(&dmax).iter().filter(|&&v| v == 1.0).count(), 9);
            assert!(dmax[0][..9].iter().all(|row| row[..9].iter().all(|&v| v == 0.0 || v == 1.0)));
            assert!(davg[0][..9].iter().all(|row| row[..9].iter().all(|&v| v == 1.0 / 9.0)));
        });
    }

    #[test]
    fn max_backward_known_numbers() {
        for_each_isa(|_| {
            let dy = [[[1.0, 2.0], [3.0, 4.0]]];
            let mut dx = [[[f32::NAN; 4]; 4]; 1];
            max_backward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&X4, &dy, &mut dx);
            // Maxima 5, 3, 8, 10 at (1,1), (0,2), (2,1), (3,3).
            let want = [[[0.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 4.0]]];
            assert_eq!(dx, want);
            // Overlapping 3x3 windows, stride 1: three windows share the 9 at (2,2).
            let mut dx = [[[f32::NAN; 4]; 4]; 1];
            max_backward::<1, 4, 4, 3, 3, 1, 1, 2, 2>(&X4, &dy, &mut dx);
            let mut want = [[[0.0; 4]; 4]; 1];
            (want[0][2][2], want[0][3][3]) = (6.0, 4.0);
            assert_eq!(dx, want);
        });
    }

    #[test]
    fn max_backward_routes_ties_to_the_element_the_forward_value_came_from() {
        for_each_isa(|_| {
            // Ties of equal value, and of 0.0 against -0.0 (equal, but distinguishable by sign): the
            // forward's value is the first one in row-major order, and so is the gradient's target.
            let cases = [
                ([[1.0f32, 1.0], [1.0, 1.0]], (0, 0)),
                ([[0.0, 2.0], [2.0, 2.0]], (0, 1)),
                ([[-1.0, -3.0], [-1.0, -2.0]], (0, 0)),
                ([[-0.0, 0.0], [-5.0, 0.0]], (0, 0)),
                ([[-5.0, 0.0], [-0.0, 0.0]], (0, 1)),
            ];
            for (window, (r, s)) in cases {
                let x = [window];
                let mut y = [[[f32::NAN; 1]; 1]; 1];
                max_forward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &mut y);
                let from = window[r][s];
                assert!(y[0][0][0] == from && y[0][0][0].is_sign_negative() == from.is_sign_negative());
                let mut dx = [[[f32::NAN; 2]; 2]; 1];
                max_backward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &[[[1.0]]], &mut dx);
                let mut want = [[[0.0; 2]; 2]; 1];
                want[0][r][s] = 1.0;
                assert_eq!(dx, want, "window {window:?}");
                let mut r_dx = [f32::NAN; 4];
                let d = PoolDims { c: 1, h: 2, w: 2, kh: 2, kw: 2, sh: 2, sw: 2, oh: 1, ow: 1 };
                reference::max_pool_backward(&d, flat(&x), &[1.0], &mut r_dx);
                assert_eq!(r_dx, *flat(&want), "reference, window {window:?}");
            }
        });
    }

    #[test]
    fn max_backward_routes_nan_windows_to_the_first_nan() {
        for_each_isa(|_| {
            let x = [[[1.0, f32::NAN], [f32::NAN, 9.0]]];
            let mut dx = [[[f32::NAN; 2]; 2]; 1];
            max_backward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &[[[1.0]]], &mut dx);
            assert_eq!(dx, [[[0.0, 1.0], [0.0, 0.0]]]);
            let x = [[[f32::NEG_INFINITY; 2]; 2]];
            max_backward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &[[[1.0]]], &mut dx);
            assert_eq!(dx, [[[1.0, 0.0], [0.0, 0.0]]]);
        });
    }

    /// `n` distinct values in `[-1, 1]`, shuffled: no ties, and every gap much larger than the
    /// finite-difference step, so no perturbation moves a window's argmax.
    fn distinct_f64(rng: &mut Rng, n: usize) -> Vec<f64> {
        let mut v: Vec<f64> = (0..n).map(|k| -1.0 + 2.0 * k as f64 / n as f64).collect();
        for k in (1..n).rev() {
            v.swap(k, rng.below(k + 1));
        }
        v
    }

    /// The `f64` reference backward passes against central finite differences of the `f64`
    /// reference forward passes, for the loss `Σ r ⊙ y`.
    fn check_reference_gradients(d: PoolDims, seed: u64) {
        let mut rng = Rng::new(seed);
        let x = distinct_f64(&mut rng, d.c * d.h * d.w);
        let r = random_f64(&mut rng, d.c * d.oh * d.ow);
        for max in [true, false] {
            let loss = |x: &[f64]| {
                let mut y = vec![f64::NAN; r.len()];
                if max {
                    reference::max_pool(&d, x, &mut y);
                } else {
                    reference::avg_pool(&d, x, &mut y);
                }
                dot_f64(&r, &y)
            };
            let mut dx = vec![f64::NAN; x.len()];
            if max {
                reference::max_pool_backward(&d, &x, &r, &mut dx);
            } else {
                reference::avg_pool_backward(&d, &r, &mut dx);
            }
            let what = if max { "max pool dx" } else { "avg pool dx" };
            assert_gradient(what, &dx, &finite_differences(&x, loss));
        }
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        let d = |c, h, w, kh, kw, sh, sw, oh, ow| PoolDims { c, h, w, kh, kw, sh, sw, oh, ow };
        check_reference_gradients(d(2, 8, 8, 2, 2, 2, 2, 4, 4), 131);
        check_reference_gradients(d(2, 10, 10, 3, 3, 3, 3, 3, 3), 132);
        check_reference_gradients(d(2, 6, 5, 3, 3, 1, 1, 4, 3), 133);
        check_reference_gradients(d(3, 9, 8, 3, 2, 3, 2, 3, 4), 134);
    }
}
