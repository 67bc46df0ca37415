use cnn_spec::{Layer, Part, Shape};
use proc_macro2::TokenStream;
use syn::{Attribute, Ident, Visibility};

/// A parsed `cnn!` declaration: `#[attrs] vis struct Name { input …, Layer …, … }`.
pub struct Declaration {
    /// Outer attributes, doc comments included; they carry over to the generated struct.
    pub attrs: Vec<Attribute>,
    /// Visibility of the generated struct.
    pub vis: Visibility,
    /// The struct's name.
    pub name: Ident,
    /// The lines of the body in order. Each line is parsed on its own, so one bad line does not
    /// hide the errors of the others.
    pub items: Vec<Item>,
}

/// One comma-separated line of the body.
pub enum Item {
    /// `input C@HxW` or `input N`.
    Input(InputDecl),
    /// Any layer.
    Layer(LayerDecl),
    /// A line that could not be read, and why.
    Invalid {
        /// The syntax error.
        error: syn::Error,
        /// True if the line was meant as the input (it began with `input`).
        input: bool,
    },
}

/// `input C@HxW`: the shape of one sample.
pub struct InputDecl {
    /// The `input` keyword.
    pub keyword: Ident,
    /// The declared shape.
    pub shape: Shape,
    /// The tokens of the shape, to point errors at.
    pub shape_tokens: TokenStream,
}

/// A layer line, converted to the shared [`Layer`] vocabulary, with the tokens of each of its
/// parts so an error about a part points at exactly those tokens.
pub struct LayerDecl {
    /// The layer's name token (`Conv2D`).
    pub name: Ident,
    /// The layer with every size it needs.
    pub layer: Layer,
    /// The tokens that gave each part of the layer.
    pub parts: Vec<(Part, TokenStream)>,
}

impl LayerDecl {
    /// The tokens of `part`, or the layer's name if that part was not written.
    pub fn tokens_of(&self, part: Part) -> TokenStream {
        self.parts.iter().find(|(p, _)| *p == part).map_or_else(|| quote_ident(&self.name), |(_, t)| t.clone())
    }
}

fn quote_ident(ident: &Ident) -> TokenStream {
    proc_macro2::TokenTree::Ident(ident.clone()).into()
}
