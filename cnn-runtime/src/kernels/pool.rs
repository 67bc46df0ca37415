//! 2-D max and average pooling, without padding, in floor mode (every window inside the input).

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
    fold_windows::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y, f32::NEG_INFINITY, max_or_nan);
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
    fold_windows::<C, H, W, KH, KW, SH, SW, OH, OW>(x, y, 0.0, |acc, v| acc + v);
    let n = (KH * KW) as f32;
    for y_row in y.iter_mut().flatten() {
        for yj in y_row.iter_mut() {
            *yj /= n;
        }
    }
}

/// The larger of `m` and `v`; `NaN` if either is `NaN`, so a `NaN` in a window is kept.
#[inline]
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
    const {
        assert!(KH >= 1 && KW >= 1, "pool window must not be empty");
        assert!(SH >= 1 && SW >= 1, "pool stride must be at least 1");
        assert!(OH >= 1 && OW >= 1, "pool output must not be empty");
        assert!((OH - 1) * SH + KH <= H, "pool last window leaves the input at the bottom");
        assert!((OW - 1) * SW + KW <= W, "pool last window leaves the input on the right");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, PoolDims};
    use crate::kernels::test_util::{assert_close, poisoned, random};
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
        check::<6, 24, 24, 2, 2, 2, 2, 12, 12>(11);
    }

    #[test]
    fn three_by_three_stride_three_floor_mode() {
        // 10x10 → 3x3: the last row and column of the input are never read.
        check::<2, 10, 10, 3, 3, 3, 3, 3, 3>(12);
    }

    #[test]
    fn non_square_window() {
        check::<3, 9, 8, 3, 2, 3, 2, 3, 4>(13);
    }

    #[test]
    fn stride_one_overlapping() {
        check::<2, 6, 5, 3, 3, 1, 1, 4, 3>(14);
    }

    #[test]
    fn non_square_strides_and_odd_sizes() {
        check::<1, 11, 7, 2, 3, 3, 2, 4, 3>(15);
    }

    const X4: [[[f32; 4]; 4]; 1] =
        [[[1.0, -2.0, 3.0, 0.0], [4.0, 5.0, -6.0, 2.0], [-7.0, 8.0, 9.0, -1.0], [0.0, -3.0, 6.0, 10.0]]];
    const D4: PoolDims = PoolDims { c: 1, h: 4, w: 4, kh: 2, kw: 2, sh: 2, sw: 2, oh: 2, ow: 2 };

    #[test]
    fn known_numbers_max() {
        let mut y = [[[f32::NAN; 2]; 2]; 1];
        max_forward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&X4, &mut y);
        assert_eq!(y, [[[5.0, 3.0], [8.0, 10.0]]]);
        let mut want = [f32::NAN; 4];
        reference::max_pool(&D4, flat(&X4), &mut want);
        assert_eq!(want, [5.0, 3.0, 8.0, 10.0]);
    }

    #[test]
    fn known_numbers_avg() {
        let mut y = [[[f32::NAN; 2]; 2]; 1];
        avg_forward::<1, 4, 4, 2, 2, 2, 2, 2, 2>(&X4, &mut y);
        assert_eq!(y, [[[2.0, -0.25], [-0.5, 6.0]]]);
        let mut want = [f32::NAN; 4];
        reference::avg_pool(&D4, flat(&X4), &mut want);
        assert_eq!(want, [2.0, -0.25, -0.5, 6.0]);
    }

    #[test]
    fn known_numbers_overlapping_max() {
        // 3x3 windows, stride 1, over the 4x4 input: four overlapping windows.
        let mut y = [[[f32::NAN; 2]; 2]; 1];
        max_forward::<1, 4, 4, 3, 3, 1, 1, 2, 2>(&X4, &mut y);
        assert_eq!(y, [[[9.0, 9.0], [9.0, 10.0]]]);
    }

    #[test]
    fn max_propagates_nan_wherever_it_is_in_the_window() {
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
    }

    #[test]
    fn max_of_all_negative_infinity_is_negative_infinity() {
        let x = [[[f32::NEG_INFINITY; 2]; 2]; 1];
        let mut y = [[[0.0; 1]; 1]; 1];
        max_forward::<1, 2, 2, 2, 2, 2, 2, 1, 1>(&x, &mut y);
        assert_eq!(y[0][0][0], f32::NEG_INFINITY);
    }
}
