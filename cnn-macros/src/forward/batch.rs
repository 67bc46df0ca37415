//! The body of `forward_batch_with` for a network with a `Dense` layer. The layers before the
//! first `Dense` (the convolutions, whose activations stay in cache) run sample by sample as in
//! `forward_with`, each sample's result going into a block buffer; the layers from it on then run
//! over the block, `Dense` with the batched kernel that reads its weights once per block, the
//! others sample by sample within the block. A block of one sample goes to `forward_with`.

use cnn_spec::{Layer, LayerPlan, Network};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{aliases, layer_call, per_sample, PerSample};
use crate::tokens::{activation_call, kernel_generics, lit, rt, tensor_type};

/// The generated statements and the workspace they need.
pub struct Batched {
    pub body: TokenStream,
    /// Floats of workspace, as a constant expression (it depends on the runtime's block size).
    pub workspace_len: TokenStream,
}

/// `forward_batch_with` for `network`, or `None` if it has no `Dense` layer (then running the
/// samples one by one, the trait's default, is as good).
pub fn batched(network: &Network) -> Option<Batched> {
    let rt = rt();
    let layers = network.layers();
    let first_dense = layers.iter().position(|p| matches!(p.layer, Layer::Dense { .. }))?;
    let (head, head_len, h_len) = match first_dense {
        // A flat input goes to the first `Dense` as it is.
        0 => (quote!(), 0, 0),
        d => head(&layers[..d]),
    };
    let Tail { body: tail, per_sample_len, last } = tail(layers, first_dense);
    let (head_len, block_len) = (lit(head_len), lit(h_len + per_sample_len));
    let block = quote!(#rt::model::INFERENCE_BLOCK);
    let body = quote! {
        ::core::assert_eq!(
            xs.len(), ys.len(),
            "forward_batch_with: {} inputs but room for {} outputs", xs.len(), ys.len()
        );
        for (xs, ys) in xs.chunks(#block).zip(ys.chunks_mut(#block)) {
            // One sample alone runs faster through the one-sample kernels.
            if let ([x], [y]) = (xs, &mut *ys) {
                self.forward_with(x, y, ws);
                continue;
            }
            let n = xs.len();
            let ws = ws.slice(<Self as #rt::Model>::BATCH_WORKSPACE_LEN);
            #head
            #tail
            let _ = ws;
            #rt::tensor::batch_flat_mut(ys).copy_from_slice(#rt::tensor::batch_flat(&*#last));
        }
    };
    Some(Batched { body, workspace_len: quote!(#head_len + #block * #block_len) })
}

/// The statements running `layers` (those before the first `Dense`) on each sample of the block
/// `xs` into `h`, the block the first `Dense` reads; the floats of workspace one sample needs
/// meanwhile; and the floats of `h` per sample.
fn head(layers: &[LayerPlan]) -> (TokenStream, usize, usize) {
    let rt = rt();
    // Trailing `Flatten`s and `Dropout`s only rename: the last layer before them writes `h`.
    let last = layers.iter().rposition(|p| !aliases(&p.layer)).unwrap_or(0);
    let slot = format_ident!("slot");
    let PerSample { body, workspace_len, .. } = per_sample(&layers[..=last], Some(&slot));
    let h = layers[layers.len() - 1].output;
    let (ty, len, h_len) = (tensor_type(h), lit(workspace_len), lit(h.len()));
    let stmts = quote! {
        let (sample_ws, ws) = ws.split_at_mut(#len);
        let (h, ws) = ws.split_at_mut(n * #h_len);
        let h: &mut [#ty] = #rt::tensor::batch_view_mut(h);
        for (x, #slot) in xs.iter().zip(h.iter_mut()) {
            let ws = &mut *sample_ws;
            #body
            let _ = ws;
        }
    };
    (stmts, workspace_len, h.len())
}

/// The statements running the layers from the first `Dense` on over the block.
struct Tail {
    body: TokenStream,
    /// Floats of workspace per sample of the block.
    per_sample_len: usize,
    /// The variable holding the block's outputs.
    last: TokenStream,
}

/// The layers of `layers` from `first_dense` on, layer by layer over the block, reading `h` (or
/// `xs` when the network starts with its `Dense`); each output block takes `n` samples' worth of
/// `ws`.
fn tail(layers: &[LayerPlan], first_dense: usize) -> Tail {
    let rt = rt();
    let mut body = TokenStream::new();
    let mut per_sample_len = 0;
    let mut source = if first_dense == 0 { quote!(xs) } else { quote!(h) };
    for (i, plan) in layers.iter().enumerate().skip(first_dense) {
        let out = format_ident!("a{}", i + 1);
        let ty = tensor_type(plan.output);
        let stmts = if aliases(&plan.layer) {
            quote!(let #out: &mut [#ty] = #rt::tensor::batch_reshape_mut(#source);)
        } else {
            per_sample_len += plan.output.len();
            let len = lit(plan.output.len());
            let compute = block_call(plan, &source, &out);
            quote! {
                let (#out, ws) = ws.split_at_mut(n * #len);
                let #out: &mut [#ty] = #rt::tensor::batch_view_mut(#out);
                #compute
            }
        };
        body.extend(stmts);
        source = quote!(#out);
    }
    Tail { body, per_sample_len, last: source }
}

/// Layer `plan` over the block `xs` into `out`: one batched call for `Dense` (then its
/// activation sample by sample), else the one-sample kernel on each sample.
fn block_call(plan: &LayerPlan, xs: &TokenStream, out: &Ident) -> TokenStream {
    let rt = rt();
    match &plan.layer {
        Layer::Dense { activation, .. } => {
            let g = kernel_generics(plan);
            let field = format_ident!("{}", plan.name);
            let act = activation.map(|a| {
                let call = activation_call(a, quote!(#rt::tensor::flat_mut(y)));
                quote!(for y in #out.iter_mut() { #call })
            });
            quote! {
                #rt::kernels::dense::forward_batch #g (&*#xs, &self.#field.weight, &self.#field.bias, &mut *#out);
                #act
            }
        }
        _ => {
            let y = format_ident!("y");
            let call = layer_call(plan, &quote!(x), &y);
            quote!(for (x, #y) in #xs.iter().zip(#out.iter_mut()) { #call })
        }
    }
}
