//! Small pieces of generated code shared by the expansion and the fallback.

use cnn_spec::{Activation, Layer, LayerPlan, Padding, PoolKind, Shape};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// The path under which generated code finds the runtime.
pub fn rt() -> TokenStream {
    quote!(::cnn::runtime)
}

/// An unsuffixed integer literal (`28`).
pub fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// The nested array type of one sample of `shape`: `[[[f32; W]; H]; C]` or `[f32; N]`.
pub fn tensor_type(shape: Shape) -> TokenStream {
    match shape {
        Shape::Image { c, h, w } => {
            let (c, h, w) = (lit(c), lit(h), lit(w));
            quote!([[[f32; #w]; #h]; #c])
        }
        Shape::Flat { n } => {
            let n = lit(n);
            quote!([f32; #n])
        }
    }
}

/// `Shape::Image { .. }` or `Shape::Flat { .. }` as a constant expression.
pub fn shape_expr(shape: Shape) -> TokenStream {
    let rt = rt();
    match shape {
        Shape::Image { c, h, w } => {
            let (c, h, w) = (lit(c), lit(h), lit(w));
            quote!(#rt::Shape::Image { c: #c, h: #h, w: #w })
        }
        Shape::Flat { n } => {
            let n = lit(n);
            quote!(#rt::Shape::Flat { n: #n })
        }
    }
}

/// The const generic arguments of a layer's kernels (forward and backward take the same sizes),
/// as a turbofish: `::<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>` for a convolution.
pub fn kernel_generics(plan: &LayerPlan) -> TokenStream {
    let (c, h, w) = image(plan.input);
    let (_, oh, ow) = image(plan.output);
    let (pt, pl) = (lit(plan.pad.top), lit(plan.pad.left));
    match &plan.layer {
        Layer::Conv2d { kernel, stride, .. } => {
            let f = lit(plan.output.channels());
            let (kh, kw, sh, sw) = (lit(kernel[0]), lit(kernel[1]), lit(stride[0]), lit(stride[1]));
            quote!(::<#c, #h, #w, #f, #kh, #kw, #sh, #sw, #pt, #pl, #oh, #ow>)
        }
        Layer::Pool { size, stride, .. } => {
            let (kh, kw, sh, sw) = (lit(size[0]), lit(size[1]), lit(stride[0]), lit(stride[1]));
            quote!(::<#c, #h, #w, #kh, #kw, #sh, #sw, #oh, #ow>)
        }
        Layer::ZeroPad { .. } => quote!(::<#c, #h, #w, #pt, #pl, #oh, #ow>),
        Layer::Dense { .. } => {
            let (i, o) = (lit(plan.input.len()), lit(plan.output.len()));
            quote!(::<#i, #o>)
        }
        Layer::BatchNorm => {
            let (c, s) = (lit(plan.input.channels()), lit(plan.input.spatial()));
            quote!(::<#c, #s>)
        }
        Layer::Flatten | Layer::Dropout { .. } | Layer::Activation(_) => quote!(),
    }
}

/// `C, H, W` of an image shape (a flat shape, which image kernels never see, as `N, 1, 1`).
fn image(shape: Shape) -> (Literal, Literal, Literal) {
    match shape {
        Shape::Image { c, h, w } => (lit(c), lit(h), lit(w)),
        Shape::Flat { n } => (lit(n), lit(1), lit(1)),
    }
}

/// The statement applying `act` in place to the flat slice `y`.
pub fn activation_call(act: Activation, y: TokenStream) -> TokenStream {
    let rt = rt();
    let k = quote!(#rt::kernels::activation);
    match act {
        Activation::Relu => quote!(#k::relu(#y);),
        Activation::Sigmoid => quote!(#k::sigmoid(#y);),
        Activation::Tanh => quote!(#k::tanh(#y);),
        Activation::Softmax => quote!(#k::softmax(#y);),
        Activation::LeakyRelu { slope } => {
            let slope = Literal::f32_suffixed(slope);
            quote!(#k::leaky_relu(#y, #slope);)
        }
    }
}

/// `layer` as a constant expression of the runtime's re-exported `Layer`.
pub fn layer_expr(layer: &Layer) -> TokenStream {
    let rt = rt();
    let size = |[a, b]: [usize; 2]| {
        let (a, b) = (lit(a), lit(b));
        quote!([#a, #b])
    };
    let activation = |a: Option<Activation>| match a {
        None => quote!(::core::option::Option::None),
        Some(a) => {
            let a = activation_expr(a);
            quote!(::core::option::Option::Some(#a))
        }
    };
    match *layer {
        Layer::Conv2d { filters, kernel, stride, padding, activation: act } => {
            let (f, k, s, a) = (lit(filters), size(kernel), size(stride), activation(act));
            let p = match padding {
                Padding::Valid => quote!(#rt::Padding::Valid),
                Padding::Same => quote!(#rt::Padding::Same),
                Padding::Explicit { h, w } => {
                    let (h, w) = (lit(h), lit(w));
                    quote!(#rt::Padding::Explicit { h: #h, w: #w })
                }
            };
            quote!(#rt::Layer::Conv2d { filters: #f, kernel: #k, stride: #s, padding: #p, activation: #a })
        }
        Layer::Pool { kind, size: window, stride } => {
            let kind = match kind {
                PoolKind::Max => quote!(#rt::PoolKind::Max),
                PoolKind::Avg => quote!(#rt::PoolKind::Avg),
            };
            let (w, s) = (size(window), size(stride));
            quote!(#rt::Layer::Pool { kind: #kind, size: #w, stride: #s })
        }
        Layer::Flatten => quote!(#rt::Layer::Flatten),
        Layer::Dense { units, activation: act } => {
            let (u, a) = (lit(units), activation(act));
            quote!(#rt::Layer::Dense { units: #u, activation: #a })
        }
        Layer::Activation(a) => {
            let a = activation_expr(a);
            quote!(#rt::Layer::Activation(#a))
        }
        Layer::BatchNorm => quote!(#rt::Layer::BatchNorm),
        Layer::Dropout { p } => {
            let p = Literal::f32_suffixed(p);
            quote!(#rt::Layer::Dropout { p: #p })
        }
        Layer::ZeroPad { h, w } => {
            let (h, w) = (lit(h), lit(w));
            quote!(#rt::Layer::ZeroPad { h: #h, w: #w })
        }
    }
}

fn activation_expr(a: Activation) -> TokenStream {
    let rt = rt();
    match a {
        Activation::Relu => quote!(#rt::Activation::Relu),
        Activation::Sigmoid => quote!(#rt::Activation::Sigmoid),
        Activation::Tanh => quote!(#rt::Activation::Tanh),
        Activation::Softmax => quote!(#rt::Activation::Softmax),
        Activation::LeakyRelu { slope } => {
            let slope = Literal::f32_suffixed(slope);
            quote!(#rt::Activation::LeakyRelu { slope: #slope })
        }
    }
}
