//! Building dynamic models: from declaration text (the macro's parser and checker, so the same
//! networks and the same errors as the compiler), from JSON, and never a panic.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use cnn_runtime::dynamic::{BuildError, Description, DynModel, LayerDescription};
use cnn_runtime::{Activation, Init, Padding, Rng};
use cnn_spec::Network;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the macro does with a declaration: `cnn_syntax`'s parser and checker.
fn macro_network(declaration: &str) -> Network {
    let decl: cnn_syntax::Declaration = syn::parse_str(declaration).expect("the declaration parses");
    cnn_syntax::check(decl).network.expect("the declaration checks")
}

fn build(text: &str) -> Result<DynModel, BuildError> {
    DynModel::from_declaration(text, Init::GlorotUniform, 7)
}

/// Each `cnn! { … }` of a Rust file: the text between the braces, and the line of the `{`.
fn cnn_bodies(source: &str) -> Vec<(String, usize)> {
    let mut bodies = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("cnn! {") {
        let open = source.len() - rest.len() + at + "cnn! ".len();
        let (body, _) = matched_braces(&source[open..]).expect("balanced braces");
        let line = source[..open].matches('\n').count() + 1;
        bodies.push((body.to_owned(), line));
        rest = &source[open + body.len() + 2..];
    }
    bodies
}

/// `text` starts with `{`: the text inside it and what follows its matching `}`.
fn matched_braces(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[1..i], &text[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

// ----------------------------------------------------------------------------------------------
// (a) The notation's networks build, as the macro builds them.

/// The README's network, the zoo's, and one with every line and option of the notation's table.
fn notation_networks() -> Vec<String> {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let zoo = fs::read_to_string(repo().join("src/zoo.rs")).unwrap();
    let mut networks: Vec<String> = cnn_bodies(&readme).into_iter().chain(cnn_bodies(&zoo)).map(|(b, _)| b).collect();
    assert!(networks.len() >= 6, "README's LeNet5 and the five zoo networks, found {}", networks.len());
    networks.extend(
        [
            "/// Every line of the notation.\n#[derive(Clone)]\npub struct Everything {
                input 3@32x48,
                /// a documented line
                Conv2D 6@5 stride 2x1 padding same relu,
                Conv2D 8@3x3 padding 1 leaky_relu 0.2,
                Conv2D 8@3x3 stride 2 padding 1x0 tanh,
                BatchNorm,
                ReLU,
                ZeroPad 2x1,
                MaxPool 3x2,
                AvgPool 2 stride 1,
                Conv2D 4@1 same sigmoid,
                LeakyReLU,
                LeakyReLU 0.2,
                Tanh,
                Sigmoid,
                Dropout 0.25,
                Flatten,
                Dense 64 leaky_relu,
                BatchNorm,
                Dense 32 sigmoid,
                Dropout 0,
                Dense 10,
                Softmax,
            }",
            "struct Flat { input 784, Dense 100 relu, Dense 10 softmax }",
            "struct Pad { input 1@28x28, ZeroPad 2, Conv2D 6@5x5 padding valid, AvgPool 2, Flatten, Dense 10 tanh, }",
        ]
        .map(String::from),
    );
    networks
}

#[test]
fn the_notations_networks_build_as_the_macro_builds_them() {
    for text in notation_networks() {
        let expected = macro_network(&text);
        let model = build(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(model.network(), &expected, "{text}");
        assert_eq!(model.network().to_string(), expected.to_string());
        assert_eq!(model.network().trainable_params(), expected.trainable_params());
        assert_eq!(model.network().non_trainable_params(), expected.non_trainable_params());
        assert_eq!(model.network().macs(), expected.macs());

        // The canonical body (what `Model::DECLARATION` holds) builds the same network, named Dynamic.
        let canonical = expected.to_string();
        let body = build(&canonical).unwrap_or_else(|e| panic!("{canonical}\n{e}"));
        assert_eq!(body.network(), &expected);
        assert_eq!(body.description().name, "Dynamic");
    }
}

#[test]
fn a_declaration_keeps_its_name_and_a_body_is_named_dynamic() {
    let named = Description::from_declaration("/// Doc.\n#[derive(Clone)]\npub struct LeNet { input 784, Dense 10 }");
    assert_eq!(named.unwrap().name, "LeNet");
    assert_eq!(Description::from_declaration("input 784, Dense 10,").unwrap().name, "Dynamic");
    assert_eq!(build("struct Net { input 784, Dense 10 }").unwrap().description().name, "Net");
}

#[test]
fn the_zoos_canonical_declarations_rebuild_with_their_parameter_counts() {
    let zoo = fs::read_to_string(repo().join("src/zoo.rs")).unwrap();
    let counts: Vec<usize> = cnn_bodies(&zoo)
        .iter()
        .map(|(body, _)| {
            // What `Model::DECLARATION` holds: the canonical body.
            let declaration = macro_network(body).to_string();
            let network = Description::from_declaration(&declaration).unwrap().network().unwrap();
            assert_eq!(network.to_string(), declaration);
            network.trainable_params()
        })
        .collect();
    // KerasLeNet5 and Tf2Net, as the zoo's docs say.
    assert_eq!((counts[0], counts[2]), (44_426, 3_274_634));
}

// ----------------------------------------------------------------------------------------------
// (b) Bad declarations fail with the compile errors, at the same lines and columns.

/// One `error: <message>` of a snapshot and its `--> file:line:column`.
#[derive(Debug)]
struct Expected {
    message: String,
    line: usize,
    column: usize,
}

fn snapshot_errors(stderr: &str) -> Vec<Expected> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(message) = line.strip_prefix("error: ") {
            let location = lines[i + 1].trim_start().strip_prefix("--> ").expect("a location line");
            let mut parts = location.rsplit(':');
            let column = parts.next().unwrap().parse().unwrap();
            let line = parts.next().unwrap().parse().unwrap();
            errors.push(Expected { message: message.to_owned(), line, column });
        }
    }
    errors
}

/// Every compile-fail snapshot whose errors are all the macro's (not rustc's type errors).
fn macro_snapshots() -> Vec<(String, String, usize, Vec<Expected>)> {
    let dir = repo().join("tests/ui/fail");
    let mut cases = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let stderr = fs::read_to_string(path.with_extension("stderr")).unwrap();
        if stderr.contains("error[E") {
            continue;
        }
        let source = fs::read_to_string(&path).unwrap();
        let mut bodies = cnn_bodies(&source);
        assert_eq!(bodies.len(), 1, "{}", path.display());
        let (body, line) = bodies.remove(0);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        cases.push((name, body, line, snapshot_errors(&stderr)));
    }
    cases
}

#[test]
fn bad_declarations_fail_with_the_compile_errors_at_their_tokens() {
    let cases = macro_snapshots();
    assert!(cases.len() >= 50, "found only {} snapshots", cases.len());
    for (name, body, first_line, expected) in &cases {
        assert!(!expected.is_empty(), "{name}");
        let error = build(body).err().unwrap_or_else(|| panic!("{name} built"));
        let got: Vec<(&str, Option<usize>, Option<usize>)> =
            error.errors().iter().map(|d| (d.message(), d.line(), d.column())).collect();
        // The body's line 1 is the rest of the `cnn! {` line.
        let want: Vec<(&str, Option<usize>, Option<usize>)> =
            expected.iter().map(|e| (e.message.as_str(), Some(e.line - first_line + 1), Some(e.column))).collect();
        assert_eq!(got, want, "{name}:\n{error}");
        let display = error.to_string();
        let first = &error.errors()[0];
        assert!(
            display.starts_with(&format!(
                "line {}, column {}: {}",
                want[0].1.unwrap(),
                want[0].2.unwrap(),
                first.message()
            )),
            "{name}: {display}"
        );
    }
}

/// The same errors from the struct's body alone, which is read as `struct Dynamic { … }`:
/// errors in the body keep their place, errors about the network as a whole have none.
#[test]
fn bare_bodies_fail_with_the_same_errors_at_the_same_places() {
    let mut checked = 0;
    for (name, body, first_line, expected) in macro_snapshots() {
        let open = body.find('{').expect("a struct body");
        let header = &body[..open];
        let struct_line = first_line + header.matches('\n').count();
        let name_column = header.lines().last().unwrap().find("Net").map(|c| c + 1);
        let (inner, _) = matched_braces(&body[open..]).unwrap();
        // The inner body's line 1 is the rest of the struct's line.
        let about_name = |e: &Expected| e.line == struct_line && Some(e.column) == name_column;
        if expected.iter().any(|e| e.line == struct_line && !about_name(e)) {
            continue; // an error in the struct's header (`struct Net<T>`): a body has none
        }
        let error = build(inner).err().unwrap_or_else(|| panic!("{name} built"));
        let got: Vec<(String, Option<usize>, Option<usize>)> =
            error.errors().iter().map(|d| (d.message().to_owned(), d.line(), d.column())).collect();
        let want: Vec<(String, Option<usize>, Option<usize>)> = expected
            .iter()
            .map(|e| {
                if about_name(e) {
                    (e.message.replace("`Net`", "`Dynamic`"), None, None)
                } else {
                    (e.message.clone(), Some(e.line - struct_line + 1), Some(e.column))
                }
            })
            .collect();
        assert_eq!(got, want, "{name}:\n{error}");
        checked += 1;
    }
    assert!(checked >= 49, "checked {checked}");
}

#[test]
fn errors_display_their_line_and_a_caret() {
    let error = build("input 1@28x28,\n    Conv2D 6@5x5 stride 0,\n\tDropout 2.0, Flatten, Dense 10,").unwrap_err();
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line 2, column 18: a stride must be at least 1, got 0");
    assert_eq!(lines[1], "2 |     Conv2D 6@5x5 stride 0,");
    assert_eq!(lines[2], "  |                  ^^^^^^^^");
    assert!(lines[3].starts_with("line 3, column 10: a Dropout rate is the fraction"), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    // Tabs stay tabs under the line, so the caret lines up.
    let error = build("input 1@28x28,\n\tDropout 2.0, Flatten, Dense 10,").unwrap_err();
    assert!(error.to_string().ends_with("\n2 | \tDropout 2.0, Flatten, Dense 10,\n  | \t        ^^^"), "{error}");
    assert!(std::error::Error::source(&error).is_none());
}

#[test]
fn text_that_is_not_tokens_is_an_error_at_its_place() {
    for (text, line, column) in [
        ("input 784,\n  Dense 10 (", 2, 12),
        ("input 784, Dense 10 \"unterminated", 1, 21),
        ("input 784, Dense 10 }", 1, 21),
        ("input 784, Dense 10 /* open", 1, 21),
    ] {
        let error = build(text).unwrap_err();
        let first = &error.errors()[0];
        assert_eq!((first.line(), first.column()), (Some(line), Some(column)), "{text:?}: {error}");
        assert!(first.message().starts_with("cannot read the text as tokens"), "{error}");
    }
    // A line comment at the end of a body does not swallow the closing brace it is given.
    assert!(build("input 784, Dense 10 // ten classes").is_ok());
}

// ----------------------------------------------------------------------------------------------
// (c) JSON.

const LENET5_JSON: &str = r#"{
  "name": "KerasLeNet5",
  "input": [1, 28, 28],
  "layers": [
    {"type": "Conv2D", "filters": 6, "kernel": 5, "activation": "sigmoid"},
    {"type": "MaxPool", "size": 2},
    {"type": "Conv2D", "filters": 16, "kernel": [5, 5], "stride": 1, "padding": "valid", "activation": "sigmoid"},
    {"type": "MaxPool", "size": [2, 2], "stride": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 120, "activation": "sigmoid"},
    {"type": "Dense", "units": 84, "activation": "sigmoid"},
    {"type": "Dense", "units": 10, "activation": "softmax"}
  ]
}"#;

#[test]
fn lenet5_as_json_is_lenet5_as_text() {
    let zoo = fs::read_to_string(repo().join("src/zoo.rs")).unwrap();
    let (keras_lenet5, _) = &cnn_bodies(&zoo)[0];
    assert!(keras_lenet5.contains("pub struct KerasLeNet5 {"));
    let model = DynModel::from_json(LENET5_JSON, Init::GlorotUniform, 1).unwrap();
    let text = build(keras_lenet5).unwrap();
    assert_eq!(model.network(), text.network());
    assert_eq!(model.network(), &macro_network(keras_lenet5));
    assert_eq!(model.network().trainable_params(), 44_426);
    assert_eq!(model.description().name, "KerasLeNet5");
    assert_eq!(model.description(), text.description());
}

#[test]
fn every_option_reads_as_in_the_notation() {
    let json = r#"{"input": [3, 32, 48], "layers": [
        {"type": "Conv2D", "filters": 6, "kernel": [5, 3], "stride": [2, 1], "padding": "same", "activation": "relu"},
        {"type": "Conv2D", "filters": 8, "kernel": 3, "padding": 1, "activation": {"leaky_relu": 0.2}},
        {"type": "Conv2D", "filters": 8, "kernel": 3, "stride": 2, "padding": [1, 0], "activation": "leaky_relu"},
        {"type": "BatchNorm"}, {"type": "ReLU"}, {"type": "ZeroPad", "size": [2, 1]},
        {"type": "MaxPool", "size": [3, 2]}, {"type": "AvgPool", "size": 2, "stride": 1},
        {"type": "LeakyReLU"}, {"type": "LeakyReLU", "slope": 0.2}, {"type": "Tanh"}, {"type": "Sigmoid"},
        {"type": "Dropout", "p": 0.25}, {"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "tanh"},
        {"type": "Softmax"}
    ]}"#;
    let text = "input 3@32x48, Conv2D 6@5x3 stride 2x1 padding same relu, Conv2D 8@3 padding 1 leaky_relu 0.2, \
                Conv2D 8@3 stride 2 padding 1x0 leaky_relu, BatchNorm, ReLU, ZeroPad 2x1, MaxPool 3x2, \
                AvgPool 2 stride 1, LeakyReLU, LeakyReLU 0.2, Tanh, Sigmoid, Dropout 0.25, Flatten, Dense 10 tanh, Softmax";
    let from_json = Description::from_json(json).unwrap();
    assert_eq!(from_json.name, "Dynamic");
    assert_eq!(from_json.network().unwrap(), macro_network(&format!("struct N {{ {text} }}")));
}

#[test]
fn descriptions_round_trip_through_json_and_text() {
    for text in notation_networks() {
        let network = macro_network(&text);
        let description = Description::from_declaration(&text).unwrap();
        for json in [description.to_json(), serde_json::to_string(&description).unwrap()] {
            let read = Description::from_json(&json).unwrap_or_else(|e| panic!("{json}\n{e}"));
            assert_eq!(read, description, "{json}");
        }
        let model = DynModel::from_description(&description, Init::PyTorch, 3).unwrap();
        assert_eq!(model.network().to_string(), network.to_string());
        assert_eq!(model.network(), &network);
        assert_eq!(model.description(), description);
        assert_eq!(DynModel::from_json(&description.to_json(), Init::PyTorch, 3).unwrap().network(), &network);
    }
}

#[test]
fn descriptions_leave_defaults_out() {
    let description = Description::from_declaration(
        "input 1@28x28, Conv2D 6@5x5 stride 1 padding valid, MaxPool 2 stride 2, LeakyReLU 0.01, Flatten, Dense 10",
    )
    .unwrap();
    assert_eq!(
        description.layers,
        [
            LayerDescription::Conv2D { filters: 6, kernel: [5, 5], stride: None, padding: None, activation: None },
            LayerDescription::MaxPool { size: [2, 2], stride: None },
            LayerDescription::LeakyReLU { slope: None },
            LayerDescription::Flatten,
            LayerDescription::Dense { units: 10, activation: None },
        ]
    );
    let explicit = LayerDescription::Conv2D {
        filters: 6,
        kernel: [5, 3],
        stride: Some([2, 2]),
        padding: Some(Padding::Explicit { h: 2, w: 1 }),
        activation: Some(Activation::LeakyRelu { slope: 0.2 }),
    };
    assert_eq!(
        serde_json::to_string(&explicit).unwrap(),
        r#"{"type":"Conv2D","filters":6,"kernel":[5,3],"stride":2,"padding":[2,1],"activation":{"leaky_relu":0.2}}"#
    );
    assert_eq!(explicit.to_layer().to_string(), "Conv2D 6@5x3 stride 2 padding 2x1 leaky_relu 0.2");
}

fn json_error(json: &str) -> BuildError {
    match DynModel::from_json(json, Init::GlorotUniform, 1) {
        Ok(_) => panic!("built {json}"),
        Err(e) => e,
    }
}

fn lenet_with(index: usize, layer: &str) -> String {
    let mut description: serde_json::Value = serde_json::from_str(LENET5_JSON).unwrap();
    description["layers"][index] = serde_json::from_str(layer).unwrap();
    serde_json::to_string_pretty(&description).unwrap()
}

#[test]
fn json_errors_name_the_layer() {
    // A misspelt field.
    let error = json_error(&lenet_with(2, r#"{"type": "Conv2D", "filter": 16, "kernel": 5}"#));
    let first = &error.errors()[0];
    assert_eq!(error.errors().len(), 1);
    assert_eq!(first.layer(), Some(2));
    assert!(
        first.message().starts_with("layer 3 (Conv2D): unknown field `filter`, expected one of `filters`"),
        "{error}"
    );
    assert!(first.line().is_some() && first.column().is_some());
    assert!(error.to_string().starts_with(&format!(
        "line {}, column {}: layer 3",
        first.line().unwrap(),
        first.column().unwrap()
    )));

    // A field a layer without fields does not have.
    let error = json_error(&lenet_with(4, r#"{"type": "Flatten", "units": 3}"#));
    assert_eq!(error.errors()[0].message(), "layer 5 (Flatten): unknown field `units`, there are no fields");

    // A repeated field.
    let error = json_error(r#"{"input": [784], "layers": [{"type": "Dense", "units": 120, "units": 3}]}"#);
    assert_eq!(error.errors()[0].message(), "layer 1 (Dense): duplicate field `units`");

    // An unknown layer type.
    let error = json_error(&lenet_with(1, r#"{"type": "MaxPooling2D", "size": 2}"#));
    assert_eq!(error.errors()[0].layer(), Some(1));
    assert!(
        error.errors()[0]
            .message()
            .starts_with("layer 2 (MaxPooling2D): unknown variant `MaxPooling2D`, expected one of `Conv2D`, `MaxPool`"),
        "{error}"
    );

    // A padding that is no padding, a negative size, a fractional count.
    let error = json_error(&lenet_with(0, r#"{"type": "Conv2D", "filters": 6, "kernel": 5, "padding": "full"}"#));
    assert!(
        error.errors()[0]
            .message()
            .starts_with(r#"layer 1 (Conv2D): invalid value: string "full", expected a padding: "valid", "same""#),
        "{error}"
    );
    let error = json_error(&lenet_with(0, r#"{"type": "Conv2D", "filters": 6, "kernel": -5}"#));
    assert!(error.errors()[0].message().starts_with("layer 1 (Conv2D): invalid value: integer `-5`"), "{error}");
    let error = json_error(&lenet_with(5, r#"{"type": "Dense", "units": 12.5}"#));
    assert!(error.errors()[0].message().starts_with("layer 6 (Dense): invalid type: floating point `12.5`"), "{error}");
    let error = json_error(&lenet_with(5, r#"{"type": "Dense", "units": 12, "activation": "gelu"}"#));
    assert!(
        error.errors()[0].message().starts_with("layer 6 (Dense): unknown variant `gelu`, expected one of `relu`"),
        "{error}"
    );
    let error = json_error(&lenet_with(5, r#"{"units": 12}"#));
    assert_eq!(error.errors()[0].message(), "layer 6: missing field `type`");

    // Outside the layers.
    let error = json_error(r#"{"input": [784], "layer": []}"#);
    assert_eq!(error.errors()[0].message(), "unknown field `layer`, expected one of `name`, `input`, `layers`");
    assert_eq!((error.errors()[0].line(), error.errors()[0].layer()), (Some(1), None));
    let error = json_error(r#"{"input": [1, 28], "layers": [{"type": "Dense", "units": 10}]}"#);
    assert!(error.errors()[0].message().starts_with("input: expected [channels, rows, columns]"), "{error}");
    let error = json_error(r#"{"input": [784], "layers": [{"type": "Dense", "units": 10}, "Flatten"]}"#);
    assert_eq!(
        error.errors()[0].message(),
        r#"layer 2: invalid type: string "Flatten", expected a layer object such as {"type": "Dense", "units": 10}"#
    );
    // Malformed JSON is serde_json's error, even inside the layers.
    let error = json_error("{\"input\": [784],\n \"layers\": [");
    assert_eq!((error.errors()[0].line(), error.errors()[0].layer()), (Some(2), None));
    assert!(
        error.to_string().starts_with("line 2, column 12: EOF while parsing a list\n2 |  \"layers\": [\n  |"),
        "{error}"
    );
}

/// The rules a described network breaks are the notation's, with the macro's messages.
#[test]
fn json_shape_errors_are_the_macros_messages_with_the_layer() {
    for (json, text, number, layer) in [
        // Dense before Flatten on an image.
        (
            r#"{"input": [1, 28, 28], "layers": [{"type": "Conv2D", "filters": 6, "kernel": 5}, {"type": "Dense", "units": 10}]}"#,
            "input 1@28x28, Conv2D 6@5x5, Dense 10",
            2,
            "Dense 10",
        ),
        // A kernel larger than its input.
        (
            r#"{"input": [1, 28, 28], "layers": [{"type": "MaxPool", "size": 4}, {"type": "Conv2D", "filters": 6, "kernel": [9, 5]}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]}"#,
            "input 1@28x28, MaxPool 4, Conv2D 6@9x5, Flatten, Dense 10",
            2,
            "Conv2D 6@9x5",
        ),
        // A rate out of range.
        (
            r#"{"input": [784], "layers": [{"type": "Dense", "units": 10}, {"type": "Dropout", "p": 1.5}]}"#,
            "input 784, Dense 10, Dropout 1.5",
            2,
            "Dropout 1.5",
        ),
        // Softmax on a convolution.
        (
            r#"{"input": [1, 8, 8], "layers": [{"type": "Conv2D", "filters": 2, "kernel": 3, "activation": "softmax"}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]}"#,
            "input 1@8x8, Conv2D 2@3x3 softmax, Flatten, Dense 10",
            1,
            "Conv2D 2@3x3 softmax",
        ),
    ] {
        let error = json_error(json);
        let from_text = build(text).unwrap_err();
        assert_eq!(error.errors().len(), 1, "{error}");
        let d = &error.errors()[0];
        assert_eq!(d.layer(), Some(number - 1));
        assert_eq!((d.line(), d.column()), (None, None));
        assert_eq!(d.message(), format!("layer {number} ({layer}): {}", from_text.errors()[0].message()));
        assert_eq!(error.to_string(), d.message());
    }

    // Errors about the whole network and the input.
    let error = json_error(r#"{"input": [1, 0, 28], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}"#);
    assert_eq!(
        error.errors()[0].message(),
        "input: an input needs at least one element on every axis, got 1@0x28: e.g. `input 1@28x28`"
    );
    let error = json_error(r#"{"input": [1, 8, 8], "layers": [{"type": "MaxPool", "size": 2}, {"type": "Flatten"}]}"#);
    assert_eq!(error.errors()[0].message(), "the network has no parameters to learn: add a Conv2D or Dense layer");
}

// ----------------------------------------------------------------------------------------------
// (d) Garbage in, an error out: never a panic.

/// Characters that matter to the notation, to JSON and to the lexer, and a few that are neither.
const ALPHABET: &[char] = &[
    '{', '}', '[', ']', '(', ')', '@', 'x', ',', ':', '"', '\'', '/', '*', '\\', '#', '!', '-', '.', '0', '1', '5',
    '9', ' ', '\n', '\t', 'e', 'r', '_', 'é', '¬', '\u{0}', '\u{feff}', '💥', 'b', 'r', '#',
];

fn mutations(valid: &[String], rng: &mut Rng, count: usize) -> Vec<String> {
    // Half truncations, spread over each text; half random edits.
    let mut out = Vec::with_capacity(count);
    let per_text = count / 2 / valid.len();
    for text in valid {
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..per_text {
            out.push(chars[..cut * chars.len() / per_text].iter().collect());
        }
    }
    while out.len() < count {
        let mut chars: Vec<char> = valid[rng.below(valid.len())].chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(chars.len() + 1);
            let c = ALPHABET[rng.below(ALPHABET.len())];
            match rng.below(4) {
                0 if at < chars.len() => chars[at] = c,
                1 => chars.insert(at, c),
                2 if at < chars.len() => {
                    chars.remove(at);
                }
                _ => {
                    // A byte flip, where it leaves valid UTF-8.
                    let mut bytes = chars.iter().collect::<String>().into_bytes();
                    if !bytes.is_empty() {
                        let i = rng.below(bytes.len());
                        bytes[i] ^= 1 << rng.below(8);
                    }
                    if let Ok(s) = String::from_utf8(bytes) {
                        chars = s.chars().collect();
                    }
                }
            }
        }
        out.push(chars.into_iter().collect());
    }
    out
}

/// `build` returns (its error displays), or the test names the input that panicked.
fn never_panics<T>(input: &str, build: impl FnOnce(&str) -> Result<T, BuildError>) -> bool {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match build(input) {
        Ok(_) => true,
        Err(e) => {
            let _ = e.to_string();
            assert!(!e.errors().is_empty());
            false
        }
    }));
    outcome.unwrap_or_else(|_| panic!("panicked on {input:?}"))
}

#[test]
fn garbage_declarations_are_errors_not_panics() {
    let valid: Vec<String> = notation_networks()
        .into_iter()
        .chain(["input 1@28x28, Conv2D 6@5x5 padding 2 relu, MaxPool 2, Flatten, Dense 10 leaky_relu 0.2,".to_owned()])
        .collect();
    let mut rng = Rng::new(5);
    let inputs = mutations(&valid, &mut rng, 4000);
    let mut built = 0;
    for (i, input) in inputs.iter().enumerate() {
        // Every input through the parser and checker; some through the whole model.
        if never_panics(input, |t| Description::from_declaration(t).and_then(|d| d.network())) {
            built += 1;
        }
        if i % 10 == 0 {
            never_panics(input, build);
        }
    }
    assert!(built > 100 && built < inputs.len() / 2, "{built} of {} built", inputs.len());

    for depth in [63, 64, 65, 20_000, 300_000] {
        let deep = format!("input 784, Dense 10 {}{}", "(".repeat(depth), ")".repeat(depth));
        assert!(!never_panics(&deep, build));
        let deep = format!("struct Net {{ input 784, Dense 10 {}{} }}", "[".repeat(depth), "]".repeat(depth));
        assert!(!never_panics(&deep, build));
    }
    let error = build(&format!("input 784,\nDense 10 {}{}", "(".repeat(100), ")".repeat(100))).unwrap_err();
    assert_eq!(error.errors()[0].message(), "brackets nested more than 64 deep: a declaration needs a few");
    assert_eq!((error.errors()[0].line(), error.errors()[0].column()), (Some(2), Some(74)));
    assert!(!never_panics(&"[".repeat(20_000), build));
    assert!(!never_panics(&format!("input 784, Dense {}", "9".repeat(5000)), build));
    assert!(!never_panics(&"input 784, Dense 10,".repeat(100_000), build));
}

#[test]
fn garbage_json_is_an_error_not_a_panic() {
    let valid: Vec<String> = notation_networks()
        .iter()
        .map(|text| Description::from_declaration(text).unwrap())
        .flat_map(|d| [d.to_json(), serde_json::to_string(&d).unwrap()])
        .chain([LENET5_JSON.to_owned()])
        .collect();
    let mut rng = Rng::new(9);
    let inputs = mutations(&valid, &mut rng, 4000);
    let mut built = 0;
    for (i, input) in inputs.iter().enumerate() {
        if never_panics(input, |j| Description::from_json(j).and_then(|d| d.network())) {
            built += 1;
        }
        if i % 10 == 0 {
            never_panics(input, |j| DynModel::from_json(j, Init::PyTorch, 1));
        }
    }
    // Most edits break JSON; some only change a number.
    assert!(built > 20 && built < inputs.len() / 2, "{built} of {} built", inputs.len());
    assert!(!never_panics(&format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)), |j| DynModel::from_json(
        j,
        Init::PyTorch,
        1
    )));
    let big = r#"{"input": [1, 99999999999, 99999999999], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 18446744073709551615}]}"#;
    assert!(!never_panics(big, |j| DynModel::from_json(j, Init::PyTorch, 1)));
}
