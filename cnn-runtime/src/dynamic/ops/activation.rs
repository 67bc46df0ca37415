//! Activations on a batch `(N, len)`, in place: the element-wise ones through the scalar functions
//! of [`reference`](crate::kernels::reference), softmax over each whole sample; backward passes
//! from the forward's output `y`, in place on the gradient.

use cnn_spec::Activation;
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use super::batch::{flat, flat_mut};
use crate::kernels::reference;

/// Applies `act` to every sample of `x` (N, len).
pub(crate) fn forward(act: Activation, mut x: ArrayViewMut2<'_, f32>) {
    match act {
        Activation::Relu => x.mapv_inplace(reference::relu),
        Activation::LeakyRelu { slope } => x.mapv_inplace(|v| reference::leaky_relu(v, slope)),
        Activation::Sigmoid => x.mapv_inplace(reference::sigmoid),
        Activation::Tanh => x.mapv_inplace(reference::tanh),
        Activation::Softmax => x.rows_mut().into_iter().for_each(|mut row| reference::softmax(flat_mut(&mut row))),
    }
}

/// Backward pass of [`forward`] from its output `y`, in place on the gradient `dy` (both N, len).
pub(crate) fn backward(act: Activation, y: ArrayView2<'_, f32>, mut dy: ArrayViewMut2<'_, f32>) {
    let through = |dy: &mut ArrayViewMut2<'_, f32>, grad: fn(f32, f32) -> f32| {
        Zip::from(dy).and(&y).for_each(|d, &y| *d = grad(y, *d));
    };
    match act {
        Activation::Relu => through(&mut dy, reference::relu_backward),
        Activation::Sigmoid => through(&mut dy, reference::sigmoid_backward),
        Activation::Tanh => through(&mut dy, reference::tanh_backward),
        Activation::LeakyRelu { slope } => {
            Zip::from(&mut dy).and(&y).for_each(|d, &y| *d = reference::leaky_relu_backward(y, *d, slope));
        }
        Activation::Softmax => {
            for (y, mut dy) in y.rows().into_iter().zip(dy.rows_mut()) {
                reference::softmax_backward(flat(&y), flat_mut(&mut dy));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ops::test_util::{assert_close, random};
    use crate::rng::Rng;
    use ndarray::Array2;

    const ALL: [Activation; 6] = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.01 },
        Activation::LeakyRelu { slope: 0.3 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
    ];

    /// The scalar reference's forward of one sample.
    fn reference_forward(act: Activation, x: &mut [f32]) {
        match act {
            Activation::Relu => x.iter_mut().for_each(|v| *v = reference::relu(*v)),
            Activation::LeakyRelu { slope } => x.iter_mut().for_each(|v| *v = reference::leaky_relu(*v, slope)),
            Activation::Sigmoid => x.iter_mut().for_each(|v| *v = reference::sigmoid(*v)),
            Activation::Tanh => x.iter_mut().for_each(|v| *v = reference::tanh(*v)),
            Activation::Softmax => reference::softmax(x),
        }
    }

    /// The reference's backward of one sample, in place on `dy`.
    fn reference_backward(act: Activation, y: &[f32], dy: &mut [f32]) {
        let each =
            |dy: &mut [f32], grad: &dyn Fn(f32, f32) -> f32| dy.iter_mut().zip(y).for_each(|(d, &y)| *d = grad(y, *d));
        match act {
            Activation::Relu => each(dy, &reference::relu_backward),
            Activation::LeakyRelu { slope } => each(dy, &|y, d| reference::leaky_relu_backward(y, d, slope)),
            Activation::Sigmoid => each(dy, &reference::sigmoid_backward),
            Activation::Tanh => each(dy, &reference::tanh_backward),
            Activation::Softmax => reference::softmax_backward(y, dy),
        }
    }

    #[test]
    fn forward_and_backward_match_the_reference_per_sample() {
        let mut rng = Rng::new(41);
        for act in ALL {
            let x: Array2<f32> = random(&mut rng, (4, 9)) * 5.0;
            let dy: Array2<f32> = random(&mut rng, (4, 9));
            let mut y = x.clone();
            forward(act, y.view_mut());
            let mut dx = dy.clone();
            backward(act, y.view(), dx.view_mut());
            for s in 0..4 {
                let mut want_y = x.row(s).to_vec();
                reference_forward(act, &mut want_y);
                assert_close(&y.row(s).to_vec(), &want_y);
                let mut want_dx = dy.row(s).to_vec();
                reference_backward(act, &want_y, &mut want_dx);
                assert_close(&dx.row(s).to_vec(), &want_dx);
            }
        }
    }

    #[test]
    fn softmax_is_per_sample_and_stable() {
        let mut x = Array2::from_shape_vec((2, 3), vec![1000.0, 1000.0, -1000.0, 1.0, 2.0, 3.0]).unwrap();
        forward(Activation::Softmax, x.view_mut());
        assert_close(&x.row(0).to_vec(), &[0.5, 0.5, 0.0]);
        assert!((x.row(1).sum() - 1.0).abs() < 1e-6);
    }
}
