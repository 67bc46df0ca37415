//! Building a [`DynModel`] from a declaration, a JSON description or a [`Description`], and the
//! errors of doing so.
//!
//! A declaration goes through the code of the `cnn!` macro itself, `cnn_syntax`'s parser and
//! checker over `cnn_spec`'s rules, so a declaration that fails to compile fails to build here
//! with the same messages, placed at the same tokens (as line and column of the text).

use std::fmt;
use std::str::FromStr;

use cnn_spec::{Layer, Network, Part, SpecError};
use proc_macro2::{Delimiter, LineColumn, TokenStream, TokenTree};

use super::description::Description;
use super::model::DynModel;
use crate::{Init, Trainable};

/// The name of a model declared by its body alone, or described without a name.
pub(super) const DEFAULT_NAME: &str = "Dynamic";

/// The longest declaration read, in bytes (a declaration is a few hundred).
const MAX_TEXT: usize = 1 << 20;

impl DynModel {
    /// Builds the model a `cnn!` declaration defines, with weights initialised by `init` from
    /// `seed` (as the generated models' `with_init`).
    ///
    /// `text` is either a whole declaration, `pub struct LeNet5 { input 1@28x28, … }` (doc
    /// comments and attributes allowed, as in the macro), or only its body, `input 1@28x28,
    /// Conv2D 6@5x5 relu, …`, which is what [`Model::DECLARATION`](crate::Model::DECLARATION)
    /// holds; a body's model is named `"Dynamic"`. The text is parsed and checked by the code of
    /// the macro, so the errors are the compile errors, each at its line and column in `text`:
    ///
    /// ```
    /// use cnn_runtime::dynamic::DynModel;
    /// use cnn_runtime::Init;
    ///
    /// let text = "input 1@28x28,\nConv2D 6@5x5,\nDense 10,";
    /// let error = DynModel::from_declaration(text, Init::GlorotUniform, 1).unwrap_err();
    /// let first = &error.errors()[0];
    /// assert_eq!((first.line(), first.column()), (Some(3), Some(1)));
    /// assert!(first.message().starts_with("Dense 10 needs a flat input, but the Conv2D 6@5x5 before it outputs 6@24x24"));
    /// assert!(error.to_string().starts_with("line 3, column 1: Dense 10 needs a flat input"));
    /// ```
    ///
    /// Each call keeps a copy of `text` in proc-macro2's source map for the current thread: that
    /// is how run-time tokens know their line and column.
    pub fn from_declaration(text: &str, init: Init, seed: u64) -> Result<DynModel, BuildError> {
        let (name, network) = parse_declaration(text)?;
        Ok(DynModel::from_network(name, network, init, seed))
    }

    /// Builds the model a JSON [`Description`] describes (see the [`Description`] docs for the
    /// format). Errors name the layer: a field that does not exist, a value of the wrong kind
    /// (with serde_json's line and column), or a rule of the notation the network breaks (with
    /// the macro's message).
    pub fn from_json(json: &str, init: Init, seed: u64) -> Result<DynModel, BuildError> {
        DynModel::from_description(&Description::from_json(json)?, init, seed)
    }

    /// Builds the model `description` describes, once [`Description::network`] has checked it.
    pub fn from_description(description: &Description, init: Init, seed: u64) -> Result<DynModel, BuildError> {
        let network = description.network()?;
        Ok(DynModel::from_network(description.name.clone(), network, init, seed))
    }

    /// The model's architecture as a [`Description`] (its JSON is [`Description::to_json`]).
    /// Building from it gives the same network.
    pub fn description(&self) -> Description {
        Description::from_network(Trainable::name(self), self.network())
    }
}

/// The name and checked network of a declaration, or every error it has.
pub(super) fn parse_declaration(text: &str) -> Result<(String, Network), BuildError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_TEXT {
        return Err(BuildError::new(vec![Diagnostic::unplaced(format!(
            "the declaration is {} bytes long, more than the {MAX_TEXT} read",
            text.len()
        ))]));
    }
    let source = Source { text, shift: 0 };
    let tokens = TokenStream::from_str(text).map_err(|e| source.lex_error(e.span()))?;
    // syn's parser recurses into groups: nesting is bounded before it reads them.
    if let Some(open) = too_deep(&tokens) {
        let message = format!("brackets nested more than {MAX_DEPTH} deep: a declaration needs a few");
        return Err(BuildError::with_snippet(vec![source.place(open.start(), open.end(), message)], text));
    }
    // A body has neither `struct` nor braces; a declaration has both (or is missing one, which
    // the parser says).
    let whole = tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "struct",
        TokenTree::Group(group) => group.delimiter() == Delimiter::Brace,
        _ => false,
    });
    let (parsed, source) = if whole {
        (syn::parse2::<cnn_syntax::Declaration>(tokens), source)
    } else {
        // The body on lines of its own: columns stay, lines move down by one.
        let wrapped = format!("struct {DEFAULT_NAME} {{\n{text}\n}}");
        (syn::parse_str::<cnn_syntax::Declaration>(&wrapped), Source { text, shift: 1 })
    };
    let declaration = parsed.map_err(|e| source.errors(e))?;
    let checked = cnn_syntax::check(declaration);
    let name = checked.name.to_string();
    match checked.network {
        Ok(network) => Ok((name, network)),
        Err(failed) => Err(source.errors(failed.0)),
    }
}

/// The deepest nesting of brackets, braces and parentheses read (a declaration has two or three).
const MAX_DEPTH: usize = 64;

/// The opening delimiter of the first group nested deeper than [`MAX_DEPTH`], found without
/// recursion.
fn too_deep(tokens: &TokenStream) -> Option<proc_macro2::Span> {
    let mut stack = vec![tokens.clone().into_iter()];
    while let Some(level) = stack.last_mut() {
        match level.next() {
            Some(TokenTree::Group(group)) if stack.len() > MAX_DEPTH => return Some(group.span_open()),
            Some(TokenTree::Group(group)) => stack.push(group.stream().into_iter()),
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    None
}

/// The user's text, and how many lines the parsed text had before it.
struct Source<'a> {
    text: &'a str,
    shift: usize,
}

impl Source<'_> {
    /// Every error of a combined `syn::Error`, in its order (the checker sorts them by line).
    fn errors(&self, error: syn::Error) -> BuildError {
        let errors = error
            .into_iter()
            .map(|e| {
                let span = e.span();
                let message = match e.to_string() {
                    // proc-macro2's words for a text that is not tokens (rustc would say more).
                    m if m == "cannot parse string into token stream" => String::from(LEX_ERROR),
                    m => m,
                };
                self.place(span.start(), span.end(), message)
            })
            .collect();
        BuildError::with_snippet(errors, self.text)
    }

    fn lex_error(&self, span: proc_macro2::Span) -> BuildError {
        BuildError::with_snippet(vec![self.place(span.start(), span.end(), String::from(LEX_ERROR))], self.text)
    }

    /// A message at a span of the parsed text, moved to the user's text; a span outside it (the
    /// name a bare body was given, or no span at all) has no place.
    fn place(&self, start: LineColumn, end: LineColumn, message: String) -> Diagnostic {
        let lines = self.text.split('\n').count();
        let line = start.line.checked_sub(self.shift).filter(|&l| l >= 1 && l <= lines);
        match line {
            Some(line) => {
                let width =
                    if end.line == start.line && end.column > start.column { end.column - start.column } else { 1 };
                Diagnostic { place: Some(Place { line, column: start.column + 1, width }), layer: None, message }
            }
            None => Diagnostic::unplaced(message),
        }
    }
}

const LEX_ERROR: &str = "cannot read the text as tokens: an unclosed or unbalanced bracket, brace or parenthesis, \
                         an unterminated string or comment, or a character Rust does not allow";

/// Why a model could not be built: every error found, in source order (a declaration reports
/// all its errors, as the compiler does; JSON reports the first).
///
/// `Display` writes one error per line, `line 3, column 9: <message>`, with the line of text of
/// the first placed error and a caret under the tokens it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildError {
    errors: Vec<Diagnostic>,
    /// The index of the error shown with its source line, and that line with its carets.
    snippet: Option<(usize, String)>,
}

impl BuildError {
    pub(super) fn new(errors: Vec<Diagnostic>) -> BuildError {
        BuildError { errors, snippet: None }
    }

    /// The errors with the line of `text` under the first placed one.
    fn with_snippet(errors: Vec<Diagnostic>, text: &str) -> BuildError {
        let snippet = errors.iter().enumerate().find_map(|(i, d)| Some((i, d.place?))).and_then(|(i, place)| {
            let line = text.split('\n').nth(place.line - 1)?.trim_end_matches('\r');
            let before: String = line
                .chars()
                .chain(std::iter::repeat(' '))
                .take(place.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let number = place.line.to_string();
            let gutter = " ".repeat(number.len());
            Some((i, format!("{number} | {line}\n{gutter} | {before}{}", "^".repeat(place.width))))
        });
        BuildError { errors, snippet }
    }

    /// A JSON error from serde_json: its line and column, its message, and for an error inside
    /// `"layers"` the layer it is in.
    pub(super) fn from_json(error: &serde_json::Error, json: &str) -> BuildError {
        let message = without_position(error);
        // `description` starts the messages of errors inside a layer with `layer N`.
        let layer = message
            .strip_prefix("layer ")
            .and_then(|rest| rest.split([' ', ':']).next())
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1));
        let place = (error.line() > 0).then(|| Place { line: error.line(), column: error.column().max(1), width: 1 });
        BuildError::with_snippet(vec![Diagnostic { place, layer, message }], json)
    }

    /// The rules a described network breaks, each named by its layer's number and declaration.
    pub(super) fn from_spec(errors: &[SpecError], layers: &[Layer]) -> BuildError {
        let errors = errors
            .iter()
            .map(|e| match (e.layer, e.part) {
                (Some(i), _) => Diagnostic {
                    place: None,
                    layer: Some(i),
                    message: match layers.get(i) {
                        Some(layer) => format!("layer {} ({layer}): {}", i + 1, e.message),
                        None => format!("layer {}: {}", i + 1, e.message),
                    },
                },
                (None, Part::InputShape) => Diagnostic::unplaced(format!("input: {}", e.message)),
                (None, _) => Diagnostic::unplaced(e.message.clone()),
            })
            .collect();
        BuildError::new(errors)
    }

    /// Every error, in source order.
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
            if let Some((_, snippet)) = self.snippet.as_ref().filter(|(at, _)| *at == i) {
                write!(f, "\n{snippet}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// One error: its message and, when it has one, where it is.
///
/// A declaration's errors are the `cnn!` macro's messages at the line and column of the token
/// they are about (errors about the network as a whole, placed on the name of a bare body's
/// implicit struct, have no place). A JSON description's errors are serde_json's, at its line and
/// column, or a rule of the notation, `layer 3 (Conv2D 16@5x5): <message>`, with the layer's index.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    place: Option<Place>,
    layer: Option<usize>,
    message: String,
}

/// A line (from 1), a column (in characters, from 1, as rustc counts) and how many characters
/// the error is about.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Place {
    line: usize,
    column: usize,
    width: usize,
}

impl Diagnostic {
    pub(super) fn unplaced(message: String) -> Diagnostic {
        Diagnostic { place: None, layer: None, message }
    }

    /// The line of the text the error is at, from 1.
    pub fn line(&self) -> Option<usize> {
        self.place.map(|p| p.line)
    }

    /// The column the error starts at, from 1, counted in characters (as rustc does).
    pub fn column(&self) -> Option<usize> {
        self.place.map(|p| p.column)
    }

    /// The index of the layer the error is about, from 0 (described networks only; the message
    /// numbers layers from 1).
    pub fn layer(&self) -> Option<usize> {
        self.layer
    }

    /// What is wrong and how to fix it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `line 3, column 9: <message>`, or the message alone when it has no place.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Some(Place { line, column, .. }) => write!(f, "line {line}, column {column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A serde_json message without the ` at line L column C` that its `Display` appends (the
/// position is reported on its own).
fn without_position(e: &impl fmt::Display) -> String {
    let text = e.to_string();
    let trimmed = text.rfind(" at line ").filter(|&at| {
        let rest: Vec<&str> = text[at + " at line ".len()..].split(' ').collect();
        matches!(rest[..], [l, "column", c] if l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok())
    });
    match trimmed {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
