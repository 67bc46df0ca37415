use alloc::boxed::Box;

use super::{PairVisitor, ParamId, Params};
use crate::init::Init;
use crate::rng::Rng;
use crate::tensor::{flat, flat_mut, zeroed_box};

/// The weights of `Conv2D F@KhxKw` on `C` input channels.
#[derive(Clone)]
pub struct Conv2dParams<const C: usize, const F: usize, const KH: usize, const KW: usize> {
    /// `[F][C][Kh][Kw]` (OIHW, as PyTorch).
    pub weight: Box<[[[[f32; KW]; KH]; C]; F]>,
    /// `[F]`.
    pub bias: Box<[f32; F]>,
}

impl<const C: usize, const F: usize, const KH: usize, const KW: usize> Conv2dParams<C, F, KH, KW> {
    /// Initialised with `init`, drawing from `rng`.
    pub fn new(init: Init, rng: &mut Rng) -> Self {
        let mut p = <Self as Params>::zeroed();
        init.fill(rng, C * KH * KW, F * KH * KW, flat_mut(&mut *p.weight), &mut *p.bias);
        p
    }
}

impl<const C: usize, const F: usize, const KH: usize, const KW: usize> Params for Conv2dParams<C, F, KH, KW> {
    fn zeroed() -> Self {
        Conv2dParams { weight: zeroed_box(), bias: zeroed_box() }
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

/// Shows the shapes, not the million numbers: `Conv2dParams { weight: [6, 1, 5, 5], bias: [6] }`.
impl<const C: usize, const F: usize, const KH: usize, const KW: usize> core::fmt::Debug for Conv2dParams<C, F, KH, KW> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conv2dParams").field("weight", &[F, C, KH, KW]).field("bias", &[F]).finish()
    }
}
