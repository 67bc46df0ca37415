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
    let Declaration { attrs, vis, name, items } = decl;
    let mut errors = Errors::default();
    let mut inputs: Vec<(usize, InputDecl)> = Vec::new();
    let mut input_unreadable = false;
    // One slot per layer line, `None` where the line could not be read; `line` is its position.
    let mut layers: Vec<(usize, Option<LayerDecl>)> = Vec::new();
    for (line, item) in items.into_iter().enumerate() {
        match item {
            Item::Input(input) => inputs.push((line, input)),
            Item::Layer(layer) => layers.push((line, Some(layer))),
            Item::Invalid { error, input } => {
                errors.push(line, error);
                if input {
                    input_unreadable = true;
                } else {
                    layers.push((line, None));
                }
            }
        }
    }
    if !input_unreadable {
        check_inputs(&name, &inputs, &layers, &mut errors);
    }

    let input = inputs.first().map(|(_, i)| i);
    let spec_layers: Vec<Option<Layer>> = layers.iter().map(|(_, l)| l.as_ref().map(|l| l.layer.clone())).collect();
    let readable: Option<Vec<Layer>> = spec_layers.iter().cloned().collect();
    let spec = match (input, readable) {
        (Some(input), Some(all)) if errors.is_empty() => Network::new(input.shape, all),
        _ => Err(Network::errors(input.map(|i| i.shape), &spec_layers)),
    };
    let network = match spec {
        Ok(network) => Ok(network),
        Err(spec_errors) => {
            for e in &spec_errors {
                let line = e.layer.map_or(0, |i| layers[i].0);
                errors.push(line, place(e, &name, input, &layers));
            }
            Err(Failed(errors.combine()))
        }
    };
    Checked { attrs, vis, name, input: input.map(|i| i.shape), network }
}

/// Errors with the line they belong to, reported in source order.
#[derive(Default)]
struct Errors(Vec<(usize, Error)>);

impl Errors {
    fn push(&mut self, line: usize, error: Error) {
        self.0.push((line, error));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn combine(mut self) -> Error {
        self.0.sort_by_key(|(line, _)| *line);
        let mut iter = self.0.into_iter().map(|(_, e)| e);
        let mut first = iter.next().unwrap_or_else(|| Error::new(proc_macro2::Span::call_site(), "invalid network"));
        for e in iter {
            first.combine(e);
        }
        first
    }
}

/// One `input` line, first.
fn check_inputs(
    name: &Ident,
    inputs: &[(usize, InputDecl)],
    layers: &[(usize, Option<LayerDecl>)],
    errors: &mut Errors,
) {
    let Some((first_line, first)) = inputs.first() else {
        errors.push(
            0,
            Error::new(
                name.span(),
                format!(
                    "`{name}` has no input: begin its body with the shape of one sample, \
                     e.g. `input 1@28x28,` (channels@rows x columns) or `input 784,`"
                ),
            ),
        );
        return;
    };
    for (line, extra) in &inputs[1..] {
        errors.push(
            *line,
            Error::new(
                extra.keyword.span(),
                format!("the input is already declared as {}: a network has one input", first.shape),
            ),
        );
    }
    if let Some((_, Some(layer))) = layers.iter().find(|(line, _)| line < first_line) {
        errors.push(
            *first_line,
            Error::new(
                first.keyword.span(),
                format!("`input` must be the first line, before `{}`: move it to the top", layer.name),
            ),
        );
    }
}

/// The syntax error for a rule a layer breaks, on the tokens of the part it is about.
fn place(e: &SpecError, name: &Ident, input: Option<&InputDecl>, layers: &[(usize, Option<LayerDecl>)]) -> Error {
    match (e.layer, e.part) {
        (Some(i), part) => match &layers[i].1 {
            Some(layer) => Error::new_spanned(layer.tokens_of(part), &e.message),
            None => Error::new(name.span(), &e.message),
        },
        (None, Part::InputShape) => match input {
            Some(input) => Error::new_spanned(&input.shape_tokens, &e.message),
            None => Error::new(name.span(), &e.message),
        },
        (None, _) => Error::new_spanned(name.to_token_stream(), &e.message),
    }
}
