//! What a declaration with errors expands to: the errors, and a stub type of the same name, so
//! that the user's code using the type does not drown in follow-on errors.

use cnn_spec::Shape;
use cnn_syntax::Checked;
use proc_macro2::TokenStream;
use quote::quote;

use crate::tokens::{rt, shape_expr, tensor_type};

pub fn stub(checked: &Checked, error: &syn::Error) -> TokenStream {
    let Checked { attrs, vis, name, input, .. } = checked;
    let rt = rt();
    // The input type is known if the input line was read; the output type is not.
    let input = input.unwrap_or(Shape::flat(1));
    let input_type = tensor_type(input);
    let input_shape = shape_expr(input);
    let errors = error.to_compile_error();
    let name_str = name.to_string();
    quote! {
        #errors
        #(#attrs)*
        #vis struct #name {
            _invalid: (),
        }
        impl #rt::Model for #name {
            type Input = #input_type;
            type Output = [f32; 1];
            const NAME: &'static str = #name_str;
            const DECLARATION: &'static str = "";
            const INPUT_SHAPE: #rt::Shape = #input_shape;
            const OUTPUT_SHAPE: #rt::Shape = #rt::Shape::Flat { n: 1 };
            const TRAINABLE_PARAMS: usize = 0;
            const NON_TRAINABLE_PARAMS: usize = 0;
            const FORWARD_MACS: u64 = 0;
            const LAYERS: &'static [#rt::LayerInfo<'static>] = &[];
            const WORKSPACE_LEN: usize = 0;
            const OUTPUT_SOFTMAX: bool = false;
            const TRAIN_PER_SAMPLE: usize = 0;
            const TRAIN_MAX_LEN: usize = 0;
            const TRAIN_SAVED: usize = 0;
            fn with_init(_: #rt::Init, _: u64) -> Self {
                ::core::unreachable!("cnn!: this network did not compile")
            }
            fn forward_with(&self, _: &Self::Input, _: &mut Self::Output, _: &mut #rt::Workspace) {}
            fn zeroed() -> Self {
                ::core::unreachable!("cnn!: this network did not compile")
            }
            fn train_batch(
                &mut self,
                _: &[Self::Input],
                _: &mut #rt::train::TrainState,
                _: &mut [Self],
                _: &mut dyn FnMut(&[f32], &mut [f32]),
                _: bool,
            ) {
            }
            fn visit_pairs(&mut self, _: &Self, _: &mut #rt::layers::PairVisitor<'_>) {}
            fn visit_params(&self, _: &mut dyn FnMut(#rt::ParamId<'_>, &[f32])) {}
            fn visit_params_mut(&mut self, _: &mut dyn FnMut(#rt::ParamId<'_>, &mut [f32])) {}
        }
    }
}
