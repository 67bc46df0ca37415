use alloc::boxed::Box;

use super::{PairVisitor, ParamId, Params};
use crate::tensor::zeroed_box;

/// The state of `BatchNorm` over `C` channels (or features).
#[derive(Clone)]
pub struct BatchNormParams<const C: usize> {
    /// Learned scale, starts at 1.
    pub gamma: Box<[f32; C]>,
    /// Learned shift, starts at 0.
    pub beta: Box<[f32; C]>,
    /// Running mean of the batches seen in training, starts at 0; used at inference.
    pub running_mean: Box<[f32; C]>,
    /// Running (unbiased) variance, starts at 1; used at inference.
    pub running_var: Box<[f32; C]>,
}

impl<const C: usize> BatchNormParams<C> {
    /// The identity normalisation PyTorch and Keras start from.
    pub fn new() -> Self {
        let mut p = <Self as Params>::zeroed();
        p.gamma.fill(1.0);
        p.running_var.fill(1.0);
        p
    }
}

impl<const C: usize> Default for BatchNormParams<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize> Params for BatchNormParams<C> {
    fn zeroed() -> Self {
        BatchNormParams {
            gamma: zeroed_box(),
            beta: zeroed_box(),
            running_mean: zeroed_box(),
            running_var: zeroed_box(),
        }
    }

    fn visit_pair(&mut self, other: &Self, layer: &'static str, f: &mut PairVisitor<'_>) {
        f(ParamId { layer, tensor: "weight", trainable: true }, &mut *self.gamma, &*other.gamma);
        f(ParamId { layer, tensor: "bias", trainable: true }, &mut *self.beta, &*other.beta);
        f(ParamId { layer, tensor: "running_mean", trainable: false }, &mut *self.running_mean, &*other.running_mean);
        f(ParamId { layer, tensor: "running_var", trainable: false }, &mut *self.running_var, &*other.running_var);
    }

    // PyTorch's state_dict names: weight (gamma), bias (beta), running_mean, running_var.
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &[f32])) {
        f(ParamId { layer, tensor: "weight", trainable: true }, &*self.gamma);
        f(ParamId { layer, tensor: "bias", trainable: true }, &*self.beta);
        f(ParamId { layer, tensor: "running_mean", trainable: false }, &*self.running_mean);
        f(ParamId { layer, tensor: "running_var", trainable: false }, &*self.running_var);
    }

    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &mut [f32])) {
        f(ParamId { layer, tensor: "weight", trainable: true }, &mut *self.gamma);
        f(ParamId { layer, tensor: "bias", trainable: true }, &mut *self.beta);
        f(ParamId { layer, tensor: "running_mean", trainable: false }, &mut *self.running_mean);
        f(ParamId { layer, tensor: "running_var", trainable: false }, &mut *self.running_var);
    }
}

/// Shows the channel count: `BatchNormParams { channels: 6 }`.
impl<const C: usize> core::fmt::Debug for BatchNormParams<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BatchNormParams").field("channels", &C).finish()
    }
}
