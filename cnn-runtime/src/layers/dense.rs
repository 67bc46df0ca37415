use alloc::boxed::Box;

use super::{PairVisitor, ParamId, Params};
use crate::init::Init;
use crate::rng::Rng;
use crate::tensor::{flat, flat_mut, zeroed_box};

/// The weights of `Dense O` on `I` input features.
#[derive(Clone)]
pub struct DenseParams<const I: usize, const O: usize> {
    /// `[O][I]` (as PyTorch's `nn.Linear`).
    pub weight: Box<[[f32; I]; O]>,
    /// `[O]`.
    pub bias: Box<[f32; O]>,
}

impl<const I: usize, const O: usize> DenseParams<I, O> {
    /// Initialised with `init`, drawing from `rng`.
    pub fn new(init: Init, rng: &mut Rng) -> Self {
        let mut p = <Self as Params>::zeroed();
        init.fill(rng, I, O, flat_mut(&mut *p.weight), &mut *p.bias);
        p
    }
}

impl<const I: usize, const O: usize> Params for DenseParams<I, O> {
    fn zeroed() -> Self {
        DenseParams { weight: zeroed_box(), bias: zeroed_box() }
    }

    fn visit_pair(&mut self, other: &Self, layer: &'static str, f: &mut PairVisitor<'_>) {
        f(ParamId { layer, tensor: "weight", trainable: true }, flat_mut(&mut *self.weight), flat(&*other.weight));
        f(ParamId { layer, tensor: "bias", trainable: true }, &mut *self.bias, &*other.bias);
    }

    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &[f32])) {
        f(ParamId { layer, tensor: "weight", trainable: true }, flat(&*self.weight));
        f(ParamId { layer, tensor: "bias", trainable: true }, &*self.bias);
    }

    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId<'_>, &mut [f32])) {
        f(ParamId { layer, tensor: "weight", trainable: true }, flat_mut(&mut *self.weight));
        f(ParamId { layer, tensor: "bias", trainable: true }, &mut *self.bias);
    }
}

/// Shows the shapes, not the numbers: `DenseParams { weight: [10, 84], bias: [10] }`.
impl<const I: usize, const O: usize> core::fmt::Debug for DenseParams<I, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DenseParams").field("weight", &[O, I]).field("bias", &[O]).finish()
    }
}
