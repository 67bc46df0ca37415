//! A [`Declaration`] to a checked [`Network`]: the input line's rules here, every layer rule in
//! `cnn-spec`, and each error placed on the tokens it is about.

use cnn_spec::{Layer, Network, Part, Shape, SpecError};
use quote::ToTokens;
use syn::{Attribute, Error, Ident, Visibility};

use crate::ast::{Declaration, InputDecl, Item, LayerDecl};

/// A declaration after checking: its header, always, and the network or every error it has.
pub struct Checked {
    /// Outer attributes of the declaration (doc comments included).
    pub attrs: Vec<Attribute>,
    /// Visibility of the struct.
    pub vis: Visibility,
    /// Name of the struct.
    pub name: Ident,
    /// The declared input shape, if one was read (a fallback stub can still use it).
    pub input: Option<Shape>,
    /// The checked network, or every error of the declaration combined into one.
    pub network: Result<Network, Failed>,
}

/// Every error of a declaration, each on its own tokens, combined.
pub struct Failed(pub Error);

impl std::fmt::Debug for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<String> = self.0.clone().into_iter().map(|e| e.to_string()).collect();
        f.debug_list().entries(messages).finish()
    }
}

/// Checks a parsed declaration.
pub fn check(decl: Declaration) -> Checked {
    let Declaration { attrs, vis, name, items, mut errors } = decl;
    let mut inputs = Vec::new();
    let mut layers = Vec::new();
    let mut layer_before_input = None;
    for item in items {
        match item {
            Item::Input(input) => inputs.push(input),
            Item::Layer(layer) => {
                if inputs.is_empty() && layer_before_input.is_none() {
                    layer_before_input = Some(layer.name.clone());
                }
                layers.push(layer);
            }
        }
    }
    check_inputs(&name, &inputs, layer_before_input, &mut errors);

    let input = inputs.first();
    let spec_layers: Vec<Layer> = layers.iter().map(|l| l.layer.clone()).collect();
    let spec = match input {
        Some(input) => Network::new(input.shape, spec_layers),
        None => Err(Network::layer_errors(&spec_layers)),
    };
    let network = match spec {
        Ok(network) => Some(network),
        Err(spec_errors) => {
            errors.extend(spec_errors.iter().map(|e| place(e, &name, input, &layers)));
            None
        }
    };
    let network = match network {
        Some(network) if errors.is_empty() => Ok(network),
        _ => Err(Failed(combine(errors))),
    };
    Checked { attrs, vis, name, input: input.map(|i| i.shape), network }
}

/// One `input` line, first.
fn check_inputs(name: &Ident, inputs: &[InputDecl], layer_before_input: Option<Ident>, errors: &mut Vec<Error>) {
    let Some(first) = inputs.first() else {
        errors.push(Error::new(
            name.span(),
            format!(
                "`{name}` has no input: begin its body with the shape of one sample, \
                 e.g. `input 1@28x28,` (channels@rows x columns) or `input 784,`"
            ),
        ));
        return;
    };
    for extra in &inputs[1..] {
        errors.push(Error::new(
            extra.keyword.span(),
            format!("the input is already declared as {}: a network has one input", first.shape),
        ));
    }
    if let Some(layer) = layer_before_input {
        errors.push(Error::new(
            first.keyword.span(),
            format!("`input` must be the first line, before `{layer}`: move it to the top"),
        ));
    }
}

/// The syntax error for a rule a layer breaks, on the tokens of the part it is about.
fn place(e: &SpecError, name: &Ident, input: Option<&InputDecl>, layers: &[LayerDecl]) -> Error {
    match (e.layer, e.part) {
        (Some(i), part) => Error::new_spanned(layers[i].tokens_of(part), &e.message),
        (None, Part::InputShape) => match input {
            Some(input) => Error::new_spanned(&input.shape_tokens, &e.message),
            None => Error::new(name.span(), &e.message),
        },
        (None, _) => Error::new_spanned(name.to_token_stream(), &e.message),
    }
}

fn combine(errors: Vec<Error>) -> Error {
    let mut iter = errors.into_iter();
    let mut first = iter.next().unwrap_or_else(|| Error::new(proc_macro2::Span::call_site(), "invalid network"));
    for e in iter {
        first.combine(e);
    }
    first
}
