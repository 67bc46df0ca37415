//! 2-D convolution (cross-correlation, as in PyTorch) with zero padding and strides.
//!
//! Padding is never materialised: for every output row and kernel row the kernel works out once
//! which kernel positions fall on real input, and loops only over those, so the inner loops carry
//! no padding test.

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
    for ((yf, wf), &bf) in y.iter_mut().zip(w).zip(b) {
        for row in yf.iter_mut() {
            row.fill(bf);
        }
        for (xc, wc) in x.iter().zip(wf) {
            accumulate_channel::<H, W, KH, KW, SH, SW, PT, PL, OH, OW>(xc, wc, yf);
        }
    }
}

/// Backward pass of [`forward`] for one sample.
///
/// Shapes: `x`, `dx` are `[C][H][W]`; `w`, `dw` are `[F][C][KH][KW]` (OIHW); `db` is `[F]`; `dy`
/// is `[F][OH][OW]`. Differentiates `*yj += wv * xj` of `accumulate_row` and `row.fill(bf)`:
/// - `db[f] += Σ_{i,j} dy[f][i][j]`;
/// - `dw[f][c][u][v] += Σ_{i,j} dy[f][i][j] · x[c][i·SH + u − PT][j·SW + v − PL]` (the
///   correlation of `x` with `dy`), over in-range positions;
/// - `dx[c][i·SH + u − PT][j·SW + v − PL] += w[f][c][u][v] · dy[f][i][j]` (scatter: the forward
///   loop nest again, clipped the same way), starting from zero.
///
/// `dx` is overwritten, or skipped when `None` (the first layer needs no input gradient); `dw`
/// and `db` are accumulated into. Compile-time checks as for [`forward`].
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
    const {
        assert!(SH >= 1 && SW >= 1, "conv2d stride must be at least 1");
        assert!(OH >= 1 && OW >= 1, "conv2d output must not be empty");
        assert!((OH - 1) * SH < H + PT, "conv2d last window starts below the input");
        assert!((OW - 1) * SW < W + PL, "conv2d last window starts right of the input");
    }
    for ((dyf, dwf), dbf) in dy.iter().zip(dw.iter_mut()).zip(db.iter_mut()) {
        *dbf += dyf.iter().flatten().sum::<f32>();
        for (xc, dwc) in x.iter().zip(dwf.iter_mut()) {
            weight_grad_channel::<H, W, KH, KW, SH, SW, PT, PL, OH, OW>(xc, dyf, dwc);
        }
    }
    if let Some(dx) = dx {
        for row in dx.iter_mut().flatten() {
            row.fill(0.0);
        }
        for (dyf, wf) in dy.iter().zip(w) {
            for (dxc, wc) in dx.iter_mut().zip(wf) {
                input_grad_channel::<H, W, KH, KW, SH, SW, PT, PL, OH, OW>(wc, dyf, dxc);
            }
        }
    }
}

/// Adds one input channel's contribution to one output channel.
///
/// Shapes: `x` is `[H][W]`, `w` is `[KH][KW]`, `y` is `[OH][OW]`.
/// `y[i][j] += Σ_{u,v} w[u][v] · x[i·SH + u − PT][j·SW + v − PL]` over in-range positions.
fn accumulate_channel<
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
    x: &[[f32; W]; H],
    w: &[[f32; KW]; KH],
    y: &mut [[f32; OW]; OH],
) {
    for (i, y_row) in y.iter_mut().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            accumulate_row::<W, KW, SW, PL, OW>(&x[i * SH + u - PT], &w[u], y_row);
        }
    }
}

/// Adds one input row, correlated with one kernel row, to one output row.
///
/// Shapes: `x` is `[W]`, `w` is `[KW]`, `y` is `[OW]`.
/// `y[j] += Σ_v w[v] · x[j·SW + v − PL]` over in-range positions.
fn accumulate_row<const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
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
            *yj += wv * xj;
        }
    }
}

/// Weight gradient of one (output channel, input channel) pair: `accumulate_channel`'s loop nest
/// with the product differentiated with respect to the weight.
///
/// Shapes: `x` is `[H][W]`, `dy` is `[OH][OW]`, `dw` is `[KH][KW]`.
/// `dw[u][v] += Σ_{i,j} dy[i][j] · x[i·SH + u − PT][j·SW + v − PL]` over in-range positions.
fn weight_grad_channel<
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
    x: &[[f32; W]; H],
    dy: &[[f32; OW]; OH],
    dw: &mut [[f32; KW]; KH],
) {
    for (i, dy_row) in dy.iter().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            weight_grad_row::<W, KW, SW, PL, OW>(&x[i * SH + u - PT], dy_row, &mut dw[u]);
        }
    }
}

/// Weight gradient of one kernel row from one input row and one output-gradient row.
///
/// Shapes: `x` is `[W]`, `dy` is `[OW]`, `dw` is `[KW]`.
/// `dw[v] += Σ_j dy[j] · x[j·SW + v − PL]` over in-range positions (differentiates
/// `*yj += wv * xj` of `accumulate_row` with respect to `wv`).
fn weight_grad_row<const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
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
        *dwv += dy[j_lo..j_hi].iter().zip(xs).map(|(&dyj, &xj)| dyj * xj).sum::<f32>();
    }
}

/// Input gradient of one (output channel, input channel) pair, in scatter form: the loop nest of
/// `accumulate_channel` with the product differentiated with respect to the input.
///
/// Shapes: `w` is `[KH][KW]`, `dy` is `[OH][OW]`, `dx` is `[H][W]`.
/// `dx[i·SH + u − PT][j·SW + v − PL] += w[u][v] · dy[i][j]` over in-range positions.
fn input_grad_channel<
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
    w: &[[f32; KW]; KH],
    dy: &[[f32; OW]; OH],
    dx: &mut [[f32; W]; H],
) {
    for (i, dy_row) in dy.iter().enumerate() {
        let (u_lo, u_hi) = valid_taps(i * SH, PT, KH, H);
        for u in u_lo..u_hi {
            input_grad_row::<W, KW, SW, PL, OW>(&w[u], dy_row, &mut dx[i * SH + u - PT]);
        }
    }
}

/// Input gradient of one input row from one kernel row and one output-gradient row.
///
/// Shapes: `w` is `[KW]`, `dy` is `[OW]`, `dx` is `[W]`.
/// `dx[j·SW + v − PL] += w[v] · dy[j]` over in-range positions (differentiates
/// `*yj += wv * xj` of `accumulate_row` with respect to `xj`).
fn input_grad_row<const W: usize, const KW: usize, const SW: usize, const PL: usize, const OW: usize>(
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
            *dxj += wv * dyj;
        }
    }
}

/// The kernel taps `u_lo..u_hi` (out of `0..k`) of a window starting at `start` in the padded
/// input that land on the real input, i.e. `0 ≤ start + u − pad < n`. Requires `start < n + pad`.
fn valid_taps(start: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(start);
    let hi = k.min(n + pad - start);
    (lo, hi)
}

/// The outputs `j_lo..j_hi` (out of `0..out`) whose tap `v` lands on the real input, i.e.
/// `0 ≤ j·stride + v − pad < n`. Empty when `j_lo ≥ j_hi`.
fn valid_outputs(v: usize, pad: usize, stride: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(v).div_ceil(stride);
    let hi = if n + pad > v { out.min((n + pad - v - 1) / stride + 1) } else { 0 };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, Conv2dDims};
    use crate::kernels::test_util::{
        assert_close, assert_gradient, dot_f64, finite_differences, poisoned, random, random_f64,
    };
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel and the reference on random data of the given geometry and compares.
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
        let mut y = poisoned::<[[[f32; OW]; OH]; F]>();
        forward::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(&x, &w, &b, &mut y);

        let d = Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW };
        let mut want = vec![f32::NAN; F * OH * OW];
        reference::conv2d(&d, flat(&*x), flat(&*w), flat(&*b), &mut want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left outputs unset");
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

    /// Both the kernel and the reference, on one sample of known numbers.
    fn both<const H: usize, const W: usize, const SH: usize, const PT: usize, const OH: usize>(
        x: &[[[f32; W]; H]; 1],
        w: &[[[[f32; 2]; 2]; 1]; 1],
        b: f32,
    ) -> [Vec<f32>; 2] {
        let mut y = [[[f32::NAN; OH]; OH]; 1];
        forward::<1, H, W, 1, 2, 2, SH, SH, PT, PT, OH, OH>(x, w, &[b], &mut y);
        let d = Conv2dDims { c: 1, h: H, w: W, f: 1, kh: 2, kw: 2, sh: SH, sw: SH, pt: PT, pl: PT, oh: OH, ow: OH };
        let mut want = vec![f32::NAN; OH * OH];
        reference::conv2d(&d, flat(x), flat(w), &[b], &mut want);
        [flat(&y).to_vec(), want]
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
        let mut y = [[[f32::NAN]]; 2];
        forward::<2, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1>(&x, &w, &[0.0, 100.0], &mut y);
        assert_eq!(y, [[[21.0]], [[143.0]]]);
        let d = Conv2dDims { c: 2, h: 1, w: 1, f: 2, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pl: 0, oh: 1, ow: 1 };
        let mut want = [f32::NAN; 2];
        reference::conv2d(&d, flat(&x), flat(&w), &[0.0, 100.0], &mut want);
        assert_eq!(want, [21.0, 143.0]);
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
        let mut dw = random::<[[[[f32; KW]; KH]; C]; F]>(&mut rng);
        let mut db = random::<[f32; F]>(&mut rng);
        let (mut want_dw, mut want_db) = (flat(&*dw).to_vec(), db.to_vec());
        let mut dx = poisoned::<[[[f32; W]; H]; C]>();
        backward::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
            &x,
            &w,
            &dy,
            with_dx.then_some(&mut *dx),
            &mut dw,
            &mut db,
        );

        let d = Conv2dDims { c: C, h: H, w: W, f: F, kh: KH, kw: KW, sh: SH, sw: SW, pt: PT, pl: PL, oh: OH, ow: OW };
        let mut want_dx = vec![f32::NAN; C * H * W];
        let want_dx_arg = with_dx.then_some(&mut want_dx[..]);
        reference::conv2d_backward(&d, flat(&*x), flat(&*w), flat(&*dy), want_dx_arg, &mut want_dw, &mut want_db);
        if with_dx {
            assert!(want_dx.iter().all(|v| v.is_finite()), "reference left input gradients unset");
            assert_close(flat(&*dx), &want_dx);
        } else {
            assert!(flat(&*dx).iter().all(|v| v.is_nan()), "dx written although not asked for");
        }
        assert_close(flat(&*dw), &want_dw);
        assert_close(&db[..], &want_db);
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
    fn backward_known_numbers() {
        // One 2x2 filter over a 3x3 input, valid, with dy = 1 everywhere: every weight sees the
        // sum of the 2x2 block of x it slides over; dx counts how often w[u][v] covers a pixel.
        let mut dx = [[[f32::NAN; 3]; 3]; 1];
        let (mut dw, mut db) = ([[[[0.0; 2]; 2]; 1]; 1], [0.0]);
        backward::<1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2>(&X3, &W2, &[[[1.0; 2]; 2]], Some(&mut dx), &mut dw, &mut db);
        assert_eq!(dw, [[[[12.0, 16.0], [24.0, 28.0]]]]);
        assert_eq!(db, [4.0]);
        assert_eq!(dx, [[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]);
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
