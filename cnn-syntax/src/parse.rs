//! Tokens to a [`Declaration`]. The body is cut at its top-level commas and each line is parsed
//! on its own, so every line's syntax error is reported, and the rest still gets checked.

use cnn_spec::{Activation, Layer, Padding, Part, PoolKind, Shape};
use proc_macro2::{Punct, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{braced, Attribute, Error, Ident, Result, Token, Visibility};

use crate::ast::{Declaration, InputDecl, Item, LayerDecl};
use crate::numbers::{self, Spanned};
use crate::suggest::closest;

/// Every layer name the notation knows.
pub const LAYER_NAMES: &[&str] = &[
    "Conv2D",
    "MaxPool",
    "AvgPool",
    "Flatten",
    "Dense",
    "BatchNorm",
    "Dropout",
    "ZeroPad",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LeakyReLU",
];

impl Parse for Declaration {
    fn parse(input: ParseStream) -> Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(input.error("expected `struct Name { input …, layers … }`"));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error("a cnn! network takes no generic parameters: its sizes are in its layers"));
        }
        if !input.peek(syn::token::Brace) {
            return Err(input.error(format!("expected `{{` after `struct {name}`, then the input and the layers")));
        }
        let body;
        braced!(body in input);
        let body: TokenStream = body.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `}`: declare one network per cnn! call"));
        }
        let items = split_lines(body).into_iter().map(parse_line).collect();
        Ok(Declaration { attrs, vis, name, items })
    }
}

/// The body cut after each top-level comma. Every line keeps its comma (the last line gets one
/// spanned on its last token), so an error at the end of a line points into that line.
fn split_lines(body: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut lines = Vec::new();
    let mut current = Vec::new();
    for tt in body {
        let is_comma = matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',');
        current.push(tt);
        if is_comma {
            lines.push(std::mem::take(&mut current));
        }
    }
    if let Some(last) = current.last() {
        let mut comma = Punct::new(',', Spacing::Alone);
        comma.set_span(last.span());
        current.push(comma.into());
        lines.push(current);
    }
    lines
}

fn parse_line(line: Vec<TokenTree>) -> Item {
    let starts_with_input = matches!(line.first(), Some(TokenTree::Ident(i)) if i == "input");
    let tokens: TokenStream = line.into_iter().collect();
    parse_item.parse2(tokens).unwrap_or_else(|error| Item::Invalid { error, input: starts_with_input })
}

fn parse_item(input: ParseStream) -> Result<Item> {
    if input.peek(Token![,]) {
        return Err(input.error("expected a layer before this comma"));
    }
    // Doc comments on a line are welcome as documentation and otherwise ignored.
    for attr in input.call(Attribute::parse_outer)? {
        if !attr.path().is_ident("doc") {
            return Err(Error::new_spanned(attr, "only doc comments may annotate a layer"));
        }
    }
    let name: Ident =
        input.parse().map_err(|e| Error::new(e.span(), "expected a layer name such as `Conv2D`, or `input`"))?;
    let item = if name == "input" {
        Item::Input(parse_input(name, input)?)
    } else {
        let mut parts = Vec::new();
        let layer = parse_layer(&name, input, &mut parts)?;
        Item::Layer(LayerDecl { name, layer, parts })
    };
    input.parse::<Token![,]>()?;
    Ok(item)
}

/// True at the comma that ends the line.
fn line_ends(input: ParseStream) -> bool {
    input.peek(Token![,])
}

fn parse_input(keyword: Ident, input: ParseStream) -> Result<InputDecl> {
    let shape_tokens = tokens_to_line_end(input);
    let n = numbers::count(input, "a channel count", "e.g. `input 1@28x28`, or `input 784` for a flat input")?;
    let shape = if input.peek(Token![@]) {
        input.parse::<Token![@]>()?;
        let [h, w] = numbers::size(input, "an image size")?.value;
        Shape::image(n.value, h, w)
    } else {
        Shape::flat(n.value)
    };
    if !line_ends(input) {
        return Err(input.error("unexpected tokens after the input shape: expected a comma"));
    }
    Ok(InputDecl { keyword, shape, shape_tokens })
}

/// The tokens from here to the comma that ends the line, without consuming them.
fn tokens_to_line_end(input: ParseStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = input.cursor();
    while let Some((tt, next)) = cursor.token_tree() {
        if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
            break;
        }
        tokens.extend([tt]);
        cursor = next;
    }
    tokens
}

fn parse_layer(name: &Ident, input: ParseStream, parts: &mut Vec<(Part, TokenStream)>) -> Result<Layer> {
    let mut keep = |part, tokens| parts.push((part, tokens));
    let layer = match name.to_string().as_str() {
        "Conv2D" => {
            let (f, k) = numbers::channels_at(input, "a filter count", "Conv2D 6@5x5")?;
            keep(Part::Filters, f.tokens);
            keep(Part::Kernel, k.tokens);
            let o = parse_options(input, name, &[Opt::Stride, Opt::Padding, Opt::Activation])?;
            o.keep_parts(&mut keep);
            Layer::Conv2d {
                filters: f.value,
                kernel: k.value,
                stride: o.stride.map_or([1, 1], |s| s.value),
                padding: o.padding.map_or(Padding::Valid, |p| p.value),
                activation: o.activation.map(|a| a.value),
            }
        }
        "MaxPool" | "AvgPool" => {
            let size = numbers::size(input, "a pooling window")?;
            keep(Part::PoolSize, size.tokens);
            let o = parse_options(input, name, &[Opt::Stride])?;
            o.keep_parts(&mut keep);
            let kind = if name == "MaxPool" { PoolKind::Max } else { PoolKind::Avg };
            Layer::Pool { kind, size: size.value, stride: o.stride.map_or(size.value, |s| s.value) }
        }
        "Dense" => {
            let units = numbers::count(input, "a unit count", "e.g. `Dense 120`")?;
            keep(Part::Units, units.tokens);
            let o = parse_options(input, name, &[Opt::Activation])?;
            o.keep_parts(&mut keep);
            Layer::Dense { units: units.value, activation: o.activation.map(|a| a.value) }
        }
        "Dropout" => {
            if line_ends(input) {
                return Err(Error::new(name.span(), "Dropout needs the fraction to drop: e.g. `Dropout 0.5`"));
            }
            let p = numbers::real(input, "a dropout rate")?;
            keep(Part::Rate, p.tokens);
            parse_options(input, name, &[])?;
            Layer::Dropout { p: p.value }
        }
        "ZeroPad" => {
            let pad = numbers::size(input, "a padding")?;
            keep(Part::Padding, pad.tokens);
            parse_options(input, name, &[])?;
            Layer::ZeroPad { h: pad.value[0], w: pad.value[1] }
        }
        "LeakyReLU" => {
            let slope = leaky_slope(input)?;
            if let Some(s) = &slope {
                keep(Part::Slope, s.tokens.clone());
            } else if !line_ends(input) {
                return Err(input.error("expected the slope of LeakyReLU, a number such as `0.2`, or a comma"));
            }
            parse_options(input, name, &[])?;
            Layer::Activation(Activation::LeakyRelu {
                slope: slope.map_or(Activation::DEFAULT_LEAKY_SLOPE, |s| s.value),
            })
        }
        word => {
            let layer = match word {
                "Flatten" => Layer::Flatten,
                "BatchNorm" => Layer::BatchNorm,
                "ReLU" => Layer::Activation(Activation::Relu),
                "Sigmoid" => Layer::Activation(Activation::Sigmoid),
                "Tanh" => Layer::Activation(Activation::Tanh),
                "Softmax" => Layer::Activation(Activation::Softmax),
                _ => return Err(unknown_layer(name)),
            };
            parse_options(input, name, &[])?;
            layer
        }
    };
    Ok(layer)
}

fn unknown_layer(name: &Ident) -> Error {
    let mut known: Vec<&str> = LAYER_NAMES.to_vec();
    known.push("input");
    let hint = match closest(&name.to_string(), &known) {
        Some(k) => format!("did you mean `{k}`?"),
        None => format!("the layers are {}", LAYER_NAMES.join(", ")),
    };
    Error::new(name.span(), format!("unknown layer `{name}`: {hint}"))
}

/// The options a layer may take after its sizes.
#[derive(Clone, Copy, PartialEq)]
enum Opt {
    Stride,
    Padding,
    Activation,
}

impl Opt {
    fn words(self) -> &'static [&'static str] {
        match self {
            Opt::Stride => &["stride"],
            Opt::Padding => &["padding", "valid", "same"],
            Opt::Activation => &["relu", "sigmoid", "tanh", "softmax", "leaky_relu"],
        }
    }

    fn of(word: &str) -> Option<Opt> {
        [Opt::Stride, Opt::Padding, Opt::Activation].into_iter().find(|o| o.words().contains(&word))
    }

    fn describe(self) -> &'static str {
        match self {
            Opt::Stride => "a stride",
            Opt::Padding => "a padding",
            Opt::Activation => "an activation",
        }
    }
}

#[derive(Default)]
struct Options {
    stride: Option<Spanned<[usize; 2]>>,
    padding: Option<Spanned<Padding>>,
    activation: Option<Spanned<Activation>>,
    slope: Option<TokenStream>,
}

impl Options {
    fn keep_parts(&self, keep: &mut impl FnMut(Part, TokenStream)) {
        if let Some(s) = &self.stride {
            keep(Part::Stride, s.tokens.clone());
        }
        if let Some(p) = &self.padding {
            keep(Part::Padding, p.tokens.clone());
        }
        if let Some(a) = &self.activation {
            keep(Part::Activation, a.tokens.clone());
        }
        if let Some(s) = &self.slope {
            keep(Part::Slope, s.clone());
        }
    }
}

/// Options are words, some followed by a value: `stride 2`, `padding same`, `same`, `relu`,
/// `leaky_relu 0.2`. Each kind at most once.
fn parse_options(input: ParseStream, layer: &Ident, allowed: &[Opt]) -> Result<Options> {
    let mut o = Options::default();
    while !line_ends(input) {
        let word: Ident = input.parse().map_err(|e| {
            let what = if allowed.is_empty() {
                String::from("a comma: it takes no options")
            } else {
                expected_options(allowed)
            };
            Error::new(e.span(), format!("unexpected token after `{layer}`: expected {what}"))
        })?;
        let text = word.to_string();
        let Some(opt) = Opt::of(&text).filter(|o| allowed.contains(o)) else {
            return Err(unknown_option(layer, &word, allowed));
        };
        let first = match opt {
            Opt::Stride => o.stride.as_ref().map(|s| &s.tokens),
            Opt::Padding => o.padding.as_ref().map(|p| &p.tokens),
            Opt::Activation => o.activation.as_ref().map(|a| &a.tokens),
        };
        if let Some(first) = first {
            return Err(Error::new(
                word.span(),
                format!("`{layer}` already has {} (`{first}`): give one", opt.describe()),
            ));
        }
        let mut tokens = word.to_token_stream();
        match opt {
            Opt::Stride => {
                let s = numbers::size(input, "a stride")?;
                tokens.extend(s.tokens);
                o.stride = Some(Spanned { value: s.value, tokens });
            }
            Opt::Padding => {
                let value = match text.as_str() {
                    "padding" => padding_value(input, &mut tokens)?,
                    "same" => Padding::Same,
                    _ => Padding::Valid,
                };
                o.padding = Some(Spanned { value, tokens });
            }
            Opt::Activation => {
                let value = match text.as_str() {
                    "relu" => Activation::Relu,
                    "sigmoid" => Activation::Sigmoid,
                    "tanh" => Activation::Tanh,
                    "softmax" => Activation::Softmax,
                    _ => {
                        let slope = leaky_slope(input)?;
                        let value = slope.as_ref().map_or(Activation::DEFAULT_LEAKY_SLOPE, |s| s.value);
                        o.slope = slope.map(|s| s.tokens);
                        Activation::LeakyRelu { slope: value }
                    }
                };
                o.activation = Some(Spanned { value, tokens });
            }
        }
    }
    Ok(o)
}

fn padding_value(input: ParseStream, tokens: &mut TokenStream) -> Result<Padding> {
    if input.peek(Ident) {
        let v: Ident = input.parse()?;
        v.to_tokens(tokens);
        return match v.to_string().as_str() {
            "same" => Ok(Padding::Same),
            "valid" => Ok(Padding::Valid),
            _ => Err(Error::new(v.span(), format!("unknown padding `{v}`: expected `valid`, `same`, `N` or `HxW`"))),
        };
    }
    let s = numbers::size(input, "a padding (`valid`, `same`, `N` or `HxW`)")?;
    tokens.extend(s.tokens);
    Ok(Padding::Explicit { h: s.value[0], w: s.value[1] })
}

fn leaky_slope(input: ParseStream) -> Result<Option<Spanned<f32>>> {
    if numbers::peek_number(input) {
        numbers::real(input, "a slope").map(Some)
    } else {
        Ok(None)
    }
}

fn expected_options(allowed: &[Opt]) -> String {
    let words: Vec<String> = allowed.iter().flat_map(|o| o.words()).map(|w| format!("`{w}`")).collect();
    format!("one of its options {} or a comma", words.join(", "))
}

fn unknown_option(layer: &Ident, word: &Ident, allowed: &[Opt]) -> Error {
    let text = word.to_string();
    let message = if let Some(opt) = Opt::of(&text) {
        let fix = match opt {
            Opt::Activation => {
                format!("; add an activation layer after it instead, e.g. `{}`", activation_layer_name(&text))
            }
            _ => String::new(),
        };
        format!("`{layer}` takes no {} option{fix}", &opt.describe()[opt.describe().find(' ').map_or(0, |i| i + 1)..])
    } else if allowed.is_empty() {
        format!("unknown option `{word}`: `{layer}` takes no options")
    } else {
        let words: Vec<&str> = allowed.iter().flat_map(|o| o.words()).copied().collect();
        match closest(&text, &words) {
            Some(k) => format!("unknown option `{word}` for `{layer}`: did you mean `{k}`?"),
            None => format!("unknown option `{word}` for `{layer}`: expected {}", expected_options(allowed)),
        }
    };
    Error::new(word.span(), message)
}

fn activation_layer_name(option: &str) -> &'static str {
    match option {
        "relu" => "ReLU",
        "sigmoid" => "Sigmoid",
        "tanh" => "Tanh",
        "softmax" => "Softmax",
        _ => "LeakyReLU",
    }
}
