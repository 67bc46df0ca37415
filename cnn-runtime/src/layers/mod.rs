//! The parameters of the layers that hold weights, each allocated on the heap, never on the stack,
//! with the layouts PyTorch uses (OIHW convolution kernels, `[out][in]` dense weights).

mod batchnorm;
mod conv2d;
mod dense;

pub use batchnorm::BatchNormParams;
pub use conv2d::Conv2dParams;
pub use dense::DenseParams;

/// Names one parameter tensor of a model, for generic code such as optimisers and serialisers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamId<'a> {
    /// The layer's field name (`conv1`).
    pub layer: &'a str,
    /// The tensor's name within the layer (`weight`, `bias`, `running_mean`, …), as in PyTorch.
    pub tensor: &'static str,
    /// False for statistics kept but not trained (BatchNorm's running mean and variance).
    pub trainable: bool,
}

/// A visitor of parameter tensors in pairs: a tensor of one model (mutable) beside the same tensor
/// of another (a gradient, say).
pub type PairVisitor<'a> = dyn FnMut(ParamId<'_>, &mut [f32], &[f32]) + 'a;

/// A layer's parameter tensors, visited in a fixed order.
pub trait Params: Sized {
    /// All tensors zero (a gradient accumulator).
    fn zeroed() -> Self;
    /// Calls `f` with each tensor of `self` beside the same tensor of `other`.
    fn visit_pair(&mut self, other: &Self, layer: &'static str, f: &mut PairVisitor<'_>);
    /// Calls `f` with each tensor of the layer named `layer`.
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &[f32]));
    /// Calls `f` with each tensor of the layer named `layer`, mutably.
    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &mut [f32]));
}
