//! Zero padding of images: the input placed at row `pt`, column `pl` of a larger zero image; its
//! backward crops the gradient back to the input.

use cnn_spec::LayerPlan;
use ndarray::{s, Array4, ArrayView4, Axis};

use super::batch::chw;
use crate::kernels::reference::ZeropadDims;

/// The sizes of the padding of `plan`, a `ZeroPad` layer.
pub(crate) fn dims(plan: &LayerPlan) -> ZeropadDims {
    let ((c, h, w), (_, oh, ow)) = (chw(plan.input), chw(plan.output));
    ZeropadDims { c, h, w, pt: plan.pad.top, pl: plan.pad.left, oh, ow }
}

/// The images `x` (N, C, H, W) padded to (N, C, OH, OW).
pub(crate) fn forward(d: &ZeropadDims, x: ArrayView4<'_, f32>) -> Array4<f32> {
    let mut y = Array4::zeros((x.len_of(Axis(0)), d.c, d.oh, d.ow));
    y.slice_mut(s![.., .., d.pt..d.pt + d.h, d.pl..d.pl + d.w]).assign(&x);
    y
}

/// Backward pass of [`forward`]: the part of `dy` (N, C, OH, OW) that covers the input.
pub(crate) fn backward(d: &ZeropadDims, dy: ArrayView4<'_, f32>) -> Array4<f32> {
    let mut dx = Array4::zeros((dy.len_of(Axis(0)), d.c, d.h, d.w));
    dx.assign(&dy.slice(s![.., .., d.pt..d.pt + d.h, d.pl..d.pl + d.w]));
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::{assert_close, random};
    use crate::kernels::reference;
    use crate::rng::Rng;

    #[test]
    fn forward_and_backward_match_the_reference() {
        let mut rng = Rng::new(71);
        for (c, h, w, ph, pw) in [(1, 4, 4, 2, 2), (3, 5, 3, 1, 0), (2, 2, 6, 0, 3)] {
            let d = ZeropadDims { c, h, w, pt: ph, pl: pw, oh: h + 2 * ph, ow: w + 2 * pw };
            let x: Array4<f32> = random(&mut rng, (2, c, h, w));
            let dy: Array4<f32> = random(&mut rng, (2, c, d.oh, d.ow));
            let (y, dx) = (forward(&d, x.view()), backward(&d, dy.view()));
            for s in 0..2 {
                let mut want = vec![f32::NAN; c * d.oh * d.ow];
                reference::zeropad(&d, x.index_axis(Axis(0), s).as_slice().unwrap(), &mut want);
                assert_close(y.index_axis(Axis(0), s).as_slice().unwrap(), &want);
                let mut want = vec![f32::NAN; c * h * w];
                reference::zeropad_backward(&d, dy.index_axis(Axis(0), s).as_slice().unwrap(), &mut want);
                assert_close(dx.index_axis(Axis(0), s).as_slice().unwrap(), &want);
            }
        }
    }
}
