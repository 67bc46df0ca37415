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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{self, ZeropadDims};
    use crate::kernels::test_util::{poisoned, random};
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
}
