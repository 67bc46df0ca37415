//! Fully connected layer on a batch of flat samples: `Y = X · Wᵀ + b` with `W` (out, in), as
//! PyTorch's `nn.Linear`; its backward `dW += dYᵀ · X`, `db += Σ dY`, `dX = dY · W`. The batch is
//! split over the threads by rows.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};

use super::batch::{for_chunks, map_chunks};

/// The layer on `x` (N, in) with `weight` (out, in) and `bias` (out): (N, out).
pub(crate) fn forward(x: ArrayView2<'_, f32>, weight: &Array2<f32>, bias: &Array1<f32>) -> Array2<f32> {
    let mut y = Array2::zeros((x.nrows(), weight.nrows()));
    for_chunks(y.view_mut(), |samples, mut ys| {
        ys.assign(&bias.view().insert_axis(Axis(0)));
        general_mat_mul(1.0, &x.slice_axis(Axis(0), Slice::from(samples)), &weight.t(), 1.0, &mut ys);
    });
    y
}

/// Backward pass of [`forward`] given its input `x` and the gradient `dy` of its output:
/// accumulates the weight and bias gradients into `dweight` and `dbias`, and gives the input's
/// gradient if `input_grad` is set.
pub(crate) fn backward(
    x: ArrayView2<'_, f32>,
    weight: &Array2<f32>,
    dy: ArrayView2<'_, f32>,
    input_grad: bool,
    dweight: &mut Array2<f32>,
    dbias: &mut Array1<f32>,
) -> Option<Array2<f32>> {
    accumulate_param_grads(x, dy, dweight, dbias);
    input_grad.then(|| input_gradient(weight, dy))
}

/// `dW += dYᵀ · X` and `db += Σ dY`, each chunk of samples on its own thread, the chunks then
/// added in order.
fn accumulate_param_grads(
    x: ArrayView2<'_, f32>,
    dy: ArrayView2<'_, f32>,
    dweight: &mut Array2<f32>,
    dbias: &mut Array1<f32>,
) {
    let partials = map_chunks(x.nrows(), |samples| {
        let (x, dy) =
            (x.slice_axis(Axis(0), Slice::from(samples.clone())), dy.slice_axis(Axis(0), Slice::from(samples)));
        (dy.t().dot(&x), dy.sum_axis(Axis(0)))
    });
    for (dw, db) in partials {
        *dweight += &dw;
        *dbias += &db;
    }
}

/// `dX = dY · W`.
fn input_gradient(weight: &Array2<f32>, dy: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut dx = Array2::zeros((dy.nrows(), weight.ncols()));
    for_chunks(dx.view_mut(), |samples, mut dxs| {
        general_mat_mul(1.0, &dy.slice_axis(Axis(0), Slice::from(samples)), weight, 0.0, &mut dxs);
    });
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
        let mut rng = Rng::new(21);
        for (n, i, o) in [(1, 1, 1), (5, 7, 3), (16, 30, 10), (3, 64, 65)] {
            let x: Array2<f32> = random(&mut rng, (n, i));
            let w: Array2<f32> = random(&mut rng, (o, i));
            let b: Array1<f32> = random(&mut rng, o);
            let dy: Array2<f32> = random(&mut rng, (n, o));
            let y = forward(x.view(), &w, &b);
            let (mut dw, mut db): (Array2<f32>, Array1<f32>) = (random(&mut rng, (o, i)), random(&mut rng, o));
            let (mut want_dw, mut want_db) = (dw.clone(), db.clone());
            let dx = backward(x.view(), &w, dy.view(), true, &mut dw, &mut db).unwrap();
            for s in 0..n {
                let (xs, dys) = (x.row(s).to_vec(), dy.row(s).to_vec());
                let mut want_y = vec![f32::NAN; o];
                reference::dense(i, o, &xs, w.as_slice().unwrap(), b.as_slice().unwrap(), &mut want_y);
                assert_close(&y.row(s).to_vec(), &want_y);
                let mut want_dx = vec![f32::NAN; i];
                let (dw_ref, db_ref) = (want_dw.as_slice_mut().unwrap(), want_db.as_slice_mut().unwrap());
                reference::dense_backward(i, o, &xs, w.as_slice().unwrap(), &dys, Some(&mut want_dx), dw_ref, db_ref);
                assert_close(&dx.row(s).to_vec(), &want_dx);
            }
            assert_close(dw.as_slice().unwrap(), want_dw.as_slice().unwrap());
            assert_close(db.as_slice().unwrap(), want_db.as_slice().unwrap());
        }
    }

    #[test]
    fn no_input_gradient_when_not_asked() {
        let mut rng = Rng::new(22);
        let (x, w, dy): (Array2<f32>, Array2<f32>, Array2<f32>) =
            (random(&mut rng, (2, 3)), random(&mut rng, (4, 3)), random(&mut rng, (2, 4)));
        let (mut dw, mut db) = (Array2::zeros((4, 3)), Array1::zeros(4));
        assert!(backward(x.view(), &w, dy.view(), false, &mut dw, &mut db).is_none());
        assert_close(db.as_slice().unwrap(), &dy.sum_axis(Axis(0)).to_vec());
    }
}
