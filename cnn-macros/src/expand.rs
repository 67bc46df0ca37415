//! A checked network to its model: the struct (a field per layer with weights), its associated
//! constants, and its `Model` implementation.

use cnn_spec::{group_thousands, Layer, LayerPlan, Network};
use cnn_syntax::Checked;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::forward::{batched, forward};
use crate::tokens::{layer_expr, lit, rt, shape_expr, tensor_type};

pub fn model(checked: &Checked, network: &Network) -> TokenStream {
    let rt = rt();
    let Checked { attrs, vis, name, .. } = checked;
    let name_str = name.to_string();
    let summary = cnn_spec::summary(&name_str, network.input(), &network.layer_infos());
    let table_doc = format!("```text\n{summary}```");
    let declaration = network.to_string();

    let params: Vec<ParamField> = network.layers().iter().filter_map(ParamField::new).collect();
    let field_defs = params.iter().map(|p| {
        let (field, ty, doc) = (&p.field, &p.ty, &p.doc);
        quote!(#[doc = #doc] pub #field: #ty,)
    });
    let field_inits = params.iter().map(|p| {
        let (field, init) = (&p.field, &p.init);
        quote!(#field: #init,)
    });
    let visits: Vec<_> = params.iter().map(|p| (&p.field, p.field.to_string())).collect();
    let visit = visits.iter().map(|(field, name)| quote!(#rt::Params::visit(&self.#field, #name, f);));
    let visit_mut = visits.iter().map(|(field, name)| quote!(#rt::Params::visit_mut(&mut self.#field, #name, f);));
    let visit_pair =
        visits.iter().map(|(field, name)| quote!(#rt::Params::visit_pair(&mut self.#field, &other.#field, #name, f);));
    let zero_fields = params.iter().map(|p| {
        let field = &p.field;
        quote!(#field: #rt::Params::zeroed(),)
    });
    let crate::train::Train { body: train_body, per_sample, max_len, saved } = crate::train::train(network);
    let (per_sample, max_len, saved) = (lit(per_sample), lit(max_len), lit(saved));
    let output_softmax = network.ends_in_softmax();

    let input_type = tensor_type(network.input());
    let output_type = tensor_type(network.output());
    let consts = Consts::new(network);
    let Consts { trainable, non_trainable, macs, input_shape, output_shape, layers } = &consts;
    let crate::forward::Forward { body, workspace_len } = forward(network);
    let workspace_len = lit(workspace_len);
    let batched = batched(network).map(|b| {
        let (body, len) = (b.body, b.workspace_len);
        quote! {
            const BATCH_WORKSPACE_LEN: usize = #len;

            fn forward_batch_with(&self, xs: &[Self::Input], ys: &mut [Self::Output], ws: &mut #rt::Workspace) {
                #body
            }
        }
    });
    let docs = Consts::docs(network);
    let [d_trainable, d_frozen, d_macs, d_input, d_output, d_layers] = &docs;

    quote! {
        #(#attrs)*
        #[doc = ""]
        #[doc = #table_doc]
        #vis struct #name {
            #(#field_defs)*
        }

        impl #name {
            #[doc = #d_trainable]
            pub const TRAINABLE_PARAMS: usize = #trainable;
            #[doc = #d_frozen]
            pub const NON_TRAINABLE_PARAMS: usize = #non_trainable;
            #[doc = #d_macs]
            pub const FORWARD_MACS: u64 = #macs;
            #[doc = #d_input]
            pub const INPUT_SHAPE: #rt::Shape = #input_shape;
            #[doc = #d_output]
            pub const OUTPUT_SHAPE: #rt::Shape = #output_shape;
            #[doc = #d_layers]
            pub const LAYERS: &'static [#rt::LayerInfo<'static>] = #layers;
        }

        impl #rt::Model for #name {
            type Input = #input_type;
            type Output = #output_type;
            const NAME: &'static str = #name_str;
            const DECLARATION: &'static str = #declaration;
            const INPUT_SHAPE: #rt::Shape = #input_shape;
            const OUTPUT_SHAPE: #rt::Shape = #output_shape;
            const TRAINABLE_PARAMS: usize = #trainable;
            const NON_TRAINABLE_PARAMS: usize = #non_trainable;
            const FORWARD_MACS: u64 = #macs;
            const LAYERS: &'static [#rt::LayerInfo<'static>] = #layers;
            const WORKSPACE_LEN: usize = #workspace_len;
            const OUTPUT_SOFTMAX: bool = #output_softmax;
            const TRAIN_PER_SAMPLE: usize = #per_sample;
            const TRAIN_MAX_LEN: usize = #max_len;
            const TRAIN_SAVED: usize = #saved;

            fn with_init(init: #rt::Init, seed: u64) -> Self {
                let mut rng = #rt::Rng::new(seed);
                let _ = (&init, &mut rng);
                #name { #(#field_inits)* }
            }

            fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, ws: &mut #rt::Workspace) {
                let ws = ws.slice(<Self as #rt::Model>::WORKSPACE_LEN);
                #body
            }

            #batched

            fn zeroed() -> Self {
                #name { #(#zero_fields)* }
            }

            fn train_batch(
                &mut self,
                xs: &[Self::Input],
                state: &mut #rt::train::TrainState,
                grads: &mut [Self],
                loss: &mut dyn FnMut(&[f32], &mut [f32]),
                fused_softmax: bool,
            ) {
                #train_body
            }

            fn visit_pairs(&mut self, other: &Self, f: &mut #rt::layers::PairVisitor<'_>) {
                #(#visit_pair)*
            }

            fn visit_params(&self, f: &mut dyn FnMut(#rt::ParamId<'_>, &[f32])) {
                #(#visit)*
            }

            fn visit_params_mut(&mut self, f: &mut dyn FnMut(#rt::ParamId<'_>, &mut [f32])) {
                #(#visit_mut)*
            }
        }
    }
}

/// A struct field holding one layer's parameters.
struct ParamField {
    field: Ident,
    ty: TokenStream,
    init: TokenStream,
    doc: String,
}

impl ParamField {
    fn new(plan: &LayerPlan) -> Option<Self> {
        let rt = rt();
        let (ty, init) = match plan.layer {
            Layer::Conv2d { filters, kernel, .. } => {
                let (c, f, kh, kw) = (lit(plan.input.channels()), lit(filters), lit(kernel[0]), lit(kernel[1]));
                (quote!(#rt::Conv2dParams<#c, #f, #kh, #kw>), quote!(#rt::Conv2dParams::new(init, &mut rng)))
            }
            Layer::Dense { units, .. } => {
                let (i, o) = (lit(plan.input.len()), lit(units));
                (quote!(#rt::DenseParams<#i, #o>), quote!(#rt::DenseParams::new(init, &mut rng)))
            }
            Layer::BatchNorm => {
                let c = lit(plan.input.channels());
                (quote!(#rt::BatchNormParams<#c>), quote!(#rt::BatchNormParams::new()))
            }
            _ => return None,
        };
        let doc = format!(
            "`{}`: {} → {}, {} parameters.",
            plan.layer,
            plan.input,
            plan.output,
            group_thousands((plan.trainable + plan.non_trainable) as u64)
        );
        Some(ParamField { field: format_ident!("{}", plan.name), ty, init, doc })
    }
}

/// The associated constants, as tokens, with their docs.
struct Consts {
    trainable: TokenStream,
    non_trainable: TokenStream,
    macs: TokenStream,
    input_shape: TokenStream,
    output_shape: TokenStream,
    layers: TokenStream,
}

impl Consts {
    fn new(network: &Network) -> Self {
        let rt = rt();
        let rows = network.layers().iter().map(|p| {
            let (name, kind) = (&p.name, p.layer.to_string());
            let (input, output) = (shape_expr(p.input), shape_expr(p.output));
            let layer = layer_expr(&p.layer);
            let (t, n) = (lit(p.trainable), lit(p.non_trainable));
            let m = proc_macro2::Literal::u64_unsuffixed(p.macs);
            quote! {
                #rt::LayerInfo {
                    name: #rt::__private::Cow::Borrowed(#name),
                    kind: #rt::__private::Cow::Borrowed(#kind),
                    layer: #layer,
                    input: #input,
                    output: #output,
                    trainable: #t,
                    non_trainable: #n,
                    macs: #m,
                }
            }
        });
        let t = lit(network.trainable_params());
        let n = lit(network.non_trainable_params());
        let m = proc_macro2::Literal::u64_unsuffixed(network.macs());
        Consts {
            trainable: quote!(#t),
            non_trainable: quote!(#n),
            macs: quote!(#m),
            input_shape: shape_expr(network.input()),
            output_shape: shape_expr(network.output()),
            layers: quote!(&[#(#rows),*]),
        }
    }

    /// The docs of the constants, in the order trainable, non-trainable, MACs, input, output, layers.
    fn docs(n: &Network) -> [String; 6] {
        [
            format!("Parameters updated by training: {}.", group_thousands(n.trainable_params() as u64)),
            format!(
                "Parameters kept but not trained (BatchNorm running statistics): {}.",
                group_thousands(n.non_trainable_params() as u64)
            ),
            format!("Multiply-adds of a forward pass over one sample: {}.", group_thousands(n.macs())),
            format!("Shape of one input sample: `{}`.", n.input()),
            format!("Shape of one output sample: `{}`.", n.output()),
            String::from("One row per layer: name, declaration, output shape, parameters, multiply-adds."),
        ]
    }
}
