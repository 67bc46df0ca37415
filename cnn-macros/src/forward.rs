//! The body of `forward_with`: one call into a const-generic kernel of `cnn-runtime` per layer,
//! each writing its own slice of the workspace. No per-element code is generated, so build time
//! stays linear in the number of layers.

use cnn_spec::{Activation, Layer, LayerPlan, Network, PoolKind};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::tokens::{lit, rt, tensor_type};

/// The generated statements and the workspace length they need.
pub struct Forward {
    pub body: TokenStream,
    pub workspace_len: usize,
}

/// Where a layer's input lives: the model's input `x` (read-only) or an earlier layer's buffer.
enum Source {
    Input,
    Buffer(Ident),
}

impl Source {
    fn tokens(&self) -> TokenStream {
        match self {
            Source::Input => quote!(x),
            Source::Buffer(a) => quote!(#a),
        }
    }
}

pub fn forward(network: &Network) -> Forward {
    let rt = rt();
    let mut body = TokenStream::new();
    let mut workspace_len = 0;
    let mut source = Source::Input;
    for (i, plan) in network.layers().iter().enumerate() {
        let out = format_ident!("a{}", i + 1);
        let x = source.tokens();
        let aliases = matches!(plan.layer, Layer::Flatten | Layer::Dropout { .. });
        let stmts = match (&source, aliases) {
            // Flatten and inference-mode Dropout change nothing but the type: no copy.
            (Source::Buffer(_), true) => {
                let ty = tensor_type(plan.output);
                quote!(let #out: &mut #ty = #rt::tensor::reshape_mut(#x);)
            }
            _ => {
                workspace_len += plan.output.len();
                let alloc = allocate(&out, plan);
                let compute = layer_call(plan, &x, &out);
                quote!(#alloc #compute)
            }
        };
        body.extend(stmts);
        source = Source::Buffer(out);
    }
    let last = source.tokens();
    body.extend(quote! {
        let _ = ws;
        #rt::tensor::flat_mut(y).copy_from_slice(#rt::tensor::flat(#last));
    });
    Forward { body, workspace_len }
}

fn allocate(out: &Ident, plan: &LayerPlan) -> TokenStream {
    let rt = rt();
    let ty = tensor_type(plan.output);
    let len = lit(plan.output.len());
    quote! {
        let (#out, ws) = ws.split_at_mut(#len);
        let #out: &mut #ty = #rt::tensor::view_mut(#out);
    }
}

/// The kernel call(s) computing layer `plan` from `x` into `out`.
fn layer_call(plan: &LayerPlan, x: &TokenStream, out: &Ident) -> TokenStream {
    let rt = rt();
    let k = quote!(#rt::kernels);
    let field = format_ident!("{}", plan.name);
    match &plan.layer {
        Layer::Conv2d { kernel, stride, activation, .. } => {
            let (c, h, w) = image(plan.input);
            let (f, oh, ow) = image(plan.output);
            let (kh, kw, sh, sw) = (lit(kernel[0]), lit(kernel[1]), lit(stride[0]), lit(stride[1]));
            let (pt, pl) = (lit(plan.pad.top), lit(plan.pad.left));
            let act = activation.map(|a| activate(a, out));
            quote! {
                #k::conv2d::forward::<#c, #h, #w, #f, #kh, #kw, #sh, #sw, #pt, #pl, #oh, #ow>(
                    #x, &self.#field.weight, &self.#field.bias, #out);
                #act
            }
        }
        Layer::Pool { kind, size, stride } => {
            let (c, h, w) = image(plan.input);
            let (_, oh, ow) = image(plan.output);
            let (kh, kw, sh, sw) = (lit(size[0]), lit(size[1]), lit(stride[0]), lit(stride[1]));
            let kernel = match kind {
                PoolKind::Max => quote!(max_forward),
                PoolKind::Avg => quote!(avg_forward),
            };
            quote!(#k::pool::#kernel::<#c, #h, #w, #kh, #kw, #sh, #sw, #oh, #ow>(#x, #out);)
        }
        Layer::Dense { activation, .. } => {
            let (i, o) = (lit(plan.input.len()), lit(plan.output.len()));
            let act = activation.map(|a| activate(a, out));
            quote! {
                #k::dense::forward::<#i, #o>(#x, &self.#field.weight, &self.#field.bias, #out);
                #act
            }
        }
        Layer::BatchNorm => {
            let (c, s) = (lit(plan.input.channels()), lit(plan.input.spatial()));
            quote! {
                #k::batchnorm::forward_inference::<#c, #s>(
                    #rt::tensor::reshape(#x),
                    &self.#field.gamma, &self.#field.beta,
                    &self.#field.running_mean, &self.#field.running_var,
                    #k::batchnorm::EPS,
                    #rt::tensor::reshape_mut(#out),
                );
            }
        }
        Layer::ZeroPad { .. } => {
            let (c, h, w) = image(plan.input);
            let (_, oh, ow) = image(plan.output);
            let (pt, pl) = (lit(plan.pad.top), lit(plan.pad.left));
            quote!(#k::zeropad::forward::<#c, #h, #w, #pt, #pl, #oh, #ow>(#x, #out);)
        }
        Layer::Activation(a) => {
            let act = activate(*a, out);
            quote! {
                #rt::tensor::flat_mut(#out).copy_from_slice(#rt::tensor::flat(#x));
                #act
            }
        }
        // Reached only when the input itself is flattened or dropped: copy it.
        Layer::Flatten | Layer::Dropout { .. } => {
            quote!(#rt::tensor::flat_mut(#out).copy_from_slice(#rt::tensor::flat(#x));)
        }
    }
}

/// Applies `act` to `out` in place.
fn activate(act: Activation, out: &Ident) -> TokenStream {
    let rt = rt();
    let k = quote!(#rt::kernels::activation);
    let y = quote!(#rt::tensor::flat_mut(#out));
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

fn image(shape: cnn_spec::Shape) -> (Literal, Literal, Literal) {
    match shape {
        cnn_spec::Shape::Image { c, h, w } => (lit(c), lit(h), lit(w)),
        // The checker only lets image layers see images.
        cnn_spec::Shape::Flat { n } => (lit(n), lit(1), lit(1)),
    }
}
