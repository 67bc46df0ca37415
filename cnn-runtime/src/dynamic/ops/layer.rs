//! One layer of a network run on a batch `(N, len)`: the dispatch from a [`LayerPlan`] and its
//! parameters to the op of its kind, forward (inference or training mode) and backward. The
//! activation option of `Conv2D` and `Dense` runs after the layer, and first in its backward pass.

use cnn_spec::{Activation, Layer, LayerPlan, PoolKind};
use ndarray::{Array2, ArrayView2};

use super::batch::{channels, images, into_rows};
use super::{activation, batchnorm, conv2d, dense, dropout, pool, zeropad};
use crate::dynamic::params::LayerParams;

/// A layer's place in a training step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InStep {
    /// The layer's position in the network, which seeds its dropout masks.
    pub(crate) index: usize,
    /// The seed of the step's dropout masks.
    pub(crate) dropout_seed: u64,
    /// The layer's softmax is left to the loss (fused softmax cross-entropy): skipped both ways.
    pub(crate) softmax_in_loss: bool,
    /// Whether the backward pass gives the gradient of the layer's input (the first layer with
    /// weights needs none).
    pub(crate) input_grad: bool,
}

/// What a layer's training forward pass gives: its output, and what its backward pass needs
/// besides its input and output.
#[derive(Debug)]
pub(crate) struct Record {
    /// The layer's output, `(N, len)`.
    pub(crate) output: Array2<f32>,
    saved: Saved,
}

/// What a backward pass needs beyond the layer's input and output.
#[derive(Debug)]
enum Saved {
    Nothing,
    /// Dropout's mask.
    Mask(Array2<f32>),
    /// BatchNorm's batch statistics.
    Stats(batchnorm::Stats),
}

/// The layer of `plan` with `params` on the batch `x`, in inference mode: BatchNorm with its
/// running statistics, Dropout the identity.
pub(crate) fn forward_inference(plan: &LayerPlan, params: &LayerParams, x: ArrayView2<'_, f32>) -> Array2<f32> {
    match (&plan.layer, params) {
        (Layer::Dropout { .. }, _) => x.to_owned(),
        (Layer::BatchNorm, LayerParams::BatchNorm(bn)) => {
            into_rows(batchnorm::forward_inference(channels(x, plan.input), bn))
        }
        _ => forward_stateless(plan, params, x, false),
    }
}

/// The layer of `plan` with `params` on the batch `x`, in training mode: BatchNorm with the
/// batch's statistics (updating its running ones in `params`), Dropout drawing its masks.
pub(crate) fn forward_train(
    plan: &LayerPlan,
    params: &mut LayerParams,
    x: ArrayView2<'_, f32>,
    step: InStep,
) -> Record {
    match (&plan.layer, params) {
        (Layer::Dropout { p }, _) => {
            let (output, mask) = dropout::forward_train(x, *p, step.dropout_seed, step.index);
            Record { output, saved: Saved::Mask(mask) }
        }
        (Layer::BatchNorm, LayerParams::BatchNorm(bn)) => {
            let (y, stats) = batchnorm::forward_train(channels(x, plan.input), bn);
            Record { output: into_rows(y), saved: Saved::Stats(stats) }
        }
        (_, params) => {
            Record { output: forward_stateless(plan, params, x, step.softmax_in_loss), saved: Saved::Nothing }
        }
    }
}

/// The layers that run alike in training and inference, then their activation (unless it is a
/// softmax left to the loss).
fn forward_stateless(
    plan: &LayerPlan,
    params: &LayerParams,
    x: ArrayView2<'_, f32>,
    softmax_in_loss: bool,
) -> Array2<f32> {
    let mut y = match (&plan.layer, params) {
        (&Layer::Conv2d { kernel, stride, .. }, LayerParams::Conv2d(w)) => {
            let d = conv2d::dims(plan, kernel, stride);
            into_rows(conv2d::forward(&d, images(x, plan.input), &w.weight, &w.bias))
        }
        (Layer::Dense { .. }, LayerParams::Dense(w)) => dense::forward(x, &w.weight, &w.bias),
        (&Layer::Pool { kind, size, stride }, _) => {
            let (d, x) = (pool::dims(plan, size, stride), images(x, plan.input));
            into_rows(match kind {
                PoolKind::Max => pool::max_forward(&d, x),
                PoolKind::Avg => pool::avg_forward(&d, x),
            })
        }
        (Layer::ZeroPad { .. }, _) => into_rows(zeropad::forward(&zeropad::dims(plan), images(x, plan.input))),
        // Flatten is a reshape, and a batch is already one row per sample.
        (Layer::Flatten | Layer::Activation(_), _) => x.to_owned(),
        _ => unreachable!("{}: parameters of another kind of layer", plan.name),
    };
    if let Some(act) = activation_of(plan, softmax_in_loss) {
        activation::forward(act, y.view_mut());
    }
    y
}

/// Backward pass of the layer of `plan` with `params`, given its input `x`, what its training
/// forward pass recorded and the gradient `dy` of its output: accumulates the gradients of its
/// parameters into `grads` and gives the gradient of its input (`None` when `step` asks for none).
pub(crate) fn backward(
    plan: &LayerPlan,
    params: &LayerParams,
    grads: &mut LayerParams,
    x: ArrayView2<'_, f32>,
    record: &Record,
    mut dy: Array2<f32>,
    step: InStep,
) -> Option<Array2<f32>> {
    if let Some(act) = activation_of(plan, step.softmax_in_loss) {
        activation::backward(act, record.output.view(), dy.view_mut());
    }
    let (input, output) = (plan.input, plan.output);
    match (&plan.layer, params, grads, &record.saved) {
        (&Layer::Conv2d { kernel, stride, .. }, LayerParams::Conv2d(w), LayerParams::Conv2d(g), _) => {
            let d = conv2d::dims(plan, kernel, stride);
            let (x, dy) = (images(x, input), images(dy.view(), output));
            conv2d::backward(&d, x, &w.weight, dy, step.input_grad, &mut g.weight, &mut g.bias).map(into_rows)
        }
        (Layer::Dense { .. }, LayerParams::Dense(w), LayerParams::Dense(g), _) => {
            dense::backward(x, &w.weight, dy.view(), step.input_grad, &mut g.weight, &mut g.bias)
        }
        (&Layer::Pool { kind, size, stride }, ..) => {
            let (d, dy) = (pool::dims(plan, size, stride), images(dy.view(), output));
            Some(into_rows(match kind {
                PoolKind::Max => pool::max_backward(&d, images(x, input), dy),
                PoolKind::Avg => pool::avg_backward(&d, dy),
            }))
        }
        (Layer::ZeroPad { .. }, ..) => {
            Some(into_rows(zeropad::backward(&zeropad::dims(plan), images(dy.view(), output))))
        }
        // The activation's backward pass ran above; a reshape passes its gradient through.
        (Layer::Flatten | Layer::Activation(_), ..) => Some(dy),
        (Layer::Dropout { .. }, _, _, Saved::Mask(mask)) => Some(dropout::backward(mask.view(), dy.view())),
        (Layer::BatchNorm, LayerParams::BatchNorm(bn), LayerParams::BatchNorm(g), Saved::Stats(stats)) => {
            let (x, dy) = (channels(x, input), channels(dy.view(), input));
            Some(into_rows(batchnorm::backward(x, &bn.gamma, stats, dy, &mut g.gamma, &mut g.beta)))
        }
        _ => unreachable!("{}: parameters or record of another kind of layer", plan.name),
    }
}

/// The activation the layer of `plan` applies (its option, or itself), unless it is a softmax
/// left to the loss.
fn activation_of(plan: &LayerPlan, softmax_in_loss: bool) -> Option<Activation> {
    plan.layer.activation().filter(|&act| !(softmax_in_loss && act == Activation::Softmax))
}
