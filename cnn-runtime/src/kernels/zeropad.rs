//! Zero padding: the input placed inside a larger, zero-filled output.

/// Zero padding of one sample.
///
/// Shapes: `x` is `[C][H][W]`, `y` is `[C][OH][OW]`.
/// `y[c][i + PT][j + PL] = x[c][i][j]`; every other element of `y` is zero. Bottom/right padding
/// is `OH − H − PT` and `OW − W − PL`.
///
/// Compile-time check: the input fits (`H + PT ≤ OH`, `W + PL ≤ OW`).
pub fn forward<
    const C: usize,
    const H: usize,
    const W: usize,
    const PT: usize,
    const PL: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f32; W]; H]; C],
    y: &mut [[[f32; OW]; OH]; C],
) {
    const {
        assert!(H + PT <= OH, "zeropad output too short for the input and top padding");
        assert!(W + PL <= OW, "zeropad output too narrow for the input and left padding");
    }
    for (xc, yc) in x.iter().zip(y.iter_mut()) {
        for row in yc.iter_mut() {
            row.fill(0.0);
        }
        for (x_row, y_row) in xc.iter().zip(&mut yc[PT..PT + H]) {
            y_row[PL..PL + W].copy_from_slice(x_row);
        }
    }
}

/// Backward pass of [`forward`] for one sample: the gradient cropped back to the input.
///
/// Shapes: `dy` is `[C][OH][OW]`, `dx` is `[C][H][W]`. Differentiates
/// `y_row[PL..PL + W].copy_from_slice(x_row)`: `dx[c][i][j] = dy[c][i + PT][j + PL]`
/// (overwritten); the gradient of the zero border is dropped.
///
/// Compile-time check as for [`forward`].
pub fn backward<
    const C: usize,
    const H: usize,
    const W: usize,
    const PT: usize,
    const PL: usize,
    const OH: usize,
    const OW: usize,
>(
    dy: &[[[f32; OW]; OH]; C],
    dx: &mut [[[f32; W]; H]; C],
) {
    const {
        assert!(H + PT <= OH, "zeropad output too short for the input and top padding");
        assert!(W + PL <= OW, "zeropad output too narrow for the input and left padding");
    }
    for (dyc, dxc) in dy.iter().zip(dx.iter_mut()) {
        for (dy_row, dx_row) in dyc[PT..PT + H].iter().zip(dxc.iter_mut()) {
            dx_row.copy_from_slice(&dy_row[PL..PL + W]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, ZeropadDims};
    use crate::kernels::test_util::{assert_gradient, dot_f64, finite_differences, poisoned, random, random_f64};
    use crate::rng::Rng;
    use crate::tensor::flat;

    /// Runs the kernel and the reference on random data of the given geometry and compares.
    fn check<
        const C: usize,
        const H: usize,
        const W: usize,
        const PT: usize,
        const PL: usize,
        const OH: usize,
        const OW: usize,
    >(
        seed: u64,
    ) {
        let x = random::<[[[f32; W]; H]; C]>(&mut Rng::new(seed));
        let mut y = poisoned::<[[[f32; OW]; OH]; C]>();
        forward::<C, H, W, PT, PL, OH, OW>(&x, &mut y);
        let d = ZeropadDims { c: C, h: H, w: W, pt: PT, pl: PL, oh: OH, ow: OW };
        let mut want = vec![f32::NAN; C * OH * OW];
        reference::zeropad(&d, flat(&*x), &mut want);
        assert_eq!(flat(&*y), &want[..]);
    }

    #[test]
    fn matches_the_reference() {
        check::<1, 28, 28, 2, 2, 32, 32>(61);
        check::<3, 5, 7, 1, 0, 9, 8>(62);
        check::<2, 4, 4, 0, 0, 4, 4>(63);
        check::<2, 3, 2, 0, 3, 3, 5>(64);
    }

    #[test]
    fn known_numbers() {
        let x = [[[1.0, 2.0], [3.0, 4.0]]];
        let want = [[
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 2.0, 0.0],
            [0.0, 0.0, 3.0, 4.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]];
        let mut y = [[[f32::NAN; 5]; 4]; 1];
        forward::<1, 2, 2, 1, 2, 4, 5>(&x, &mut y);
        assert_eq!(y, want);
        let d = ZeropadDims { c: 1, h: 2, w: 2, pt: 1, pl: 2, oh: 4, ow: 5 };
        let mut r = [f32::NAN; 20];
        reference::zeropad(&d, flat(&x), &mut r);
        assert_eq!(r, *flat(&want));
    }

    /// Runs the kernel's and the reference's backward passes on random data of the given
    /// geometry and compares (exactly: both only copy).
    fn check_backward<
        const C: usize,
        const H: usize,
        const W: usize,
        const PT: usize,
        const PL: usize,
        const OH: usize,
        const OW: usize,
    >(
        seed: u64,
    ) {
        let dy = random::<[[[f32; OW]; OH]; C]>(&mut Rng::new(seed));
        let mut dx = poisoned::<[[[f32; W]; H]; C]>();
        backward::<C, H, W, PT, PL, OH, OW>(&dy, &mut dx);
        let d = ZeropadDims { c: C, h: H, w: W, pt: PT, pl: PL, oh: OH, ow: OW };
        let mut want = vec![f32::NAN; C * H * W];
        reference::zeropad_backward(&d, flat(&*dy), &mut want);
        assert!(want.iter().all(|v| v.is_finite()), "reference left input gradients unset");
        assert_eq!(flat(&*dx), &want[..]);
    }

    #[test]
    fn backward_matches_the_reference() {
        check_backward::<1, 28, 28, 2, 2, 32, 32>(211);
        check_backward::<3, 5, 7, 1, 0, 9, 8>(212);
        check_backward::<2, 4, 4, 0, 0, 4, 4>(213);
        check_backward::<2, 3, 2, 0, 3, 3, 5>(214);
    }

    #[test]
    fn backward_known_numbers() {
        let dy = [[
            [1.0, 2.0, 3.0, 4.0, 5.0],
            [6.0, 7.0, 8.0, 9.0, 10.0],
            [11.0, 12.0, 13.0, 14.0, 15.0],
            [16.0, 17.0, 18.0, 19.0, 20.0],
        ]];
        let mut dx = [[[f32::NAN; 2]; 2]; 1];
        backward::<1, 2, 2, 1, 2, 4, 5>(&dy, &mut dx);
        assert_eq!(dx, [[[8.0, 9.0], [13.0, 14.0]]]);
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        let d = ZeropadDims { c: 2, h: 3, w: 4, pt: 1, pl: 2, oh: 5, ow: 7 };
        let mut rng = Rng::new(215);
        let (x, r) = (random_f64(&mut rng, 2 * 3 * 4), random_f64(&mut rng, 2 * 5 * 7));
        let loss = |x: &[f64]| {
            let mut y = vec![f64::NAN; r.len()];
            reference::zeropad(&d, x, &mut y);
            dot_f64(&r, &y)
        };
        let mut dx = vec![f64::NAN; x.len()];
        reference::zeropad_backward(&d, &r, &mut dx);
        assert_gradient("dx", &dx, &finite_differences(&x, loss));
    }
}
