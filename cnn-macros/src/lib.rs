//! The `cnn!` procedural macro: parse, check (both in `cnn-syntax`, over the rules of
//! `cnn-spec`), then generate. Use it through the `cnn` crate, which documents the notation.

mod expand;
mod fallback;
mod forward;
mod tokens;
mod train;

use proc_macro::TokenStream;

/// Declares a network; see the `cnn` crate for the notation.
#[proc_macro]
pub fn cnn(input: TokenStream) -> TokenStream {
    match syn::parse::<cnn_syntax::Declaration>(input) {
        Ok(decl) => {
            let checked = cnn_syntax::check(decl);
            match &checked.network {
                Ok(network) => expand::model(&checked, network),
                Err(failed) => fallback::stub(&checked, &failed.0),
            }
        }
        Err(e) => e.into_compile_error(),
    }
    .into()
}
