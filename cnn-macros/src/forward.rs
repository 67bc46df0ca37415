//! The body of `forward_with`: one call into a const-generic kernel of `cnn-runtime` per layer,
//! each writing its own slice of the workspace. No per-element code is generated, so build time
//! stays linear in the number of layers. [`batch`] builds `forward_batch_with` from the same
//! pieces.

mod batch;

pub use batch::batched;

use cnn_spec::{Layer, LayerPlan, Network, PoolKind};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::tokens::{activation_call, kernel_generics, lit, rt, tensor_type};

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
    let PerSample { mut body, workspace_len, last } = per_sample(network.layers(), None);
    body.extend(quote! {
        let _ = ws;
        #rt::tensor::flat_mut(y).copy_from_slice(#rt::tensor::flat(#last));
    });
    Forward { body, workspace_len }
}

/// The statements running some layers on one sample `x`, each output in its own slice of `ws`.
pub struct PerSample {
    pub body: TokenStream,
    /// Floats of `ws` taken.
    pub workspace_len: usize,
    /// The variable holding the last layer's output.
    pub last: TokenStream,
}

/// The statements running `layers` (the first layers of a network) on the sample `x`. With
/// `into`, the last layer writes into the tensor of that name (of the same length) instead of the
/// workspace; it must not be a `Flatten` or `Dropout` after another layer, which would only
/// rename its input.
pub fn per_sample(layers: &[LayerPlan], into: Option<&Ident>) -> PerSample {
    let rt = rt();
    let mut body = TokenStream::new();
    let mut workspace_len = 0;
    let mut source = Source::Input;
    for (i, plan) in layers.iter().enumerate() {
        let out = format_ident!("a{}", i + 1);
        let x = source.tokens();
        let stmts = match (&source, aliases(&plan.layer), into) {
            // Flatten and inference-mode Dropout change nothing but the type: no copy.
            (Source::Buffer(_), true, _) => {
                let ty = tensor_type(plan.output);
                quote!(let #out: &mut #ty = #rt::tensor::reshape_mut(#x);)
            }
            (_, _, Some(into)) if i + 1 == layers.len() => {
                let ty = tensor_type(plan.output);
                let compute = layer_call(plan, &x, &out);
                quote!(let #out: &mut #ty = #rt::tensor::reshape_mut(#into); #compute)
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
    PerSample { body, workspace_len, last: source.tokens() }
}

/// Whether `layer` only renames its input (when that is a buffer of its own).
pub fn aliases(layer: &Layer) -> bool {
    matches!(layer, Layer::Flatten | Layer::Dropout { .. })
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
pub fn layer_call(plan: &LayerPlan, x: &TokenStream, out: &Ident) -> TokenStream {
    let rt = rt();
    let k = quote!(#rt::kernels);
    let g = kernel_generics(plan);
    let field = format_ident!("{}", plan.name);
    let act = plan.layer.activation().map(|a| activation_call(a, quote!(#rt::tensor::flat_mut(#out))));
    match &plan.layer {
        Layer::Conv2d { .. } => quote! {
            #k::conv2d::forward #g (#x, &self.#field.weight, &self.#field.bias, #out);
            #act
        },
        Layer::Dense { .. } => quote! {
            #k::dense::forward #g (#x, &self.#field.weight, &self.#field.bias, #out);
            #act
        },
        Layer::Pool { kind: PoolKind::Max, .. } => quote!(#k::pool::max_forward #g (#x, #out);),
        Layer::Pool { kind: PoolKind::Avg, .. } => quote!(#k::pool::avg_forward #g (#x, #out);),
        Layer::BatchNorm => quote! {
            #k::batchnorm::forward_inference #g (
                #rt::tensor::reshape(#x),
                &self.#field.gamma, &self.#field.beta,
                &self.#field.running_mean, &self.#field.running_var,
                #k::batchnorm::EPS,
                #rt::tensor::reshape_mut(#out),
            );
        },
        Layer::ZeroPad { .. } => quote!(#k::zeropad::forward #g (#x, #out);),
        Layer::Activation(_) => quote! {
            #rt::tensor::flat_mut(#out).copy_from_slice(#rt::tensor::flat(#x));
            #act
        },
        // Reached only when the input itself is flattened or dropped: copy it.
        Layer::Flatten | Layer::Dropout { .. } => {
            quote!(#rt::tensor::flat_mut(#out).copy_from_slice(#rt::tensor::flat(#x));)
        }
    }
}
