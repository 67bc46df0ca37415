//! Small pieces of generated code shared by the expansion and the fallback.

use cnn_spec::Shape;
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
