//! The notation, read into the shared layer vocabulary, and the messages of a wrong declaration.

use cnn_spec::{Activation, Layer, Network, Padding, PoolKind, Shape};
use cnn_syntax::{check, Declaration};

fn network(body: &str) -> Network {
    let decl: Declaration = syn::parse_str(&format!("struct Net {{ {body} }}")).expect("declaration parses");
    check(decl).network.expect("declaration checks")
}

fn errors(body: &str) -> Vec<String> {
    let decl: Declaration = syn::parse_str(&format!("struct Net {{ {body} }}")).expect("declaration parses");
    match check(decl).network {
        Ok(_) => panic!("expected errors for: {body}"),
        Err(failed) => failed.0.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn layers(body: &str) -> Vec<Layer> {
    network(body).layers().iter().map(|p| p.layer.clone()).collect()
}

#[test]
fn conv_forms() {
    let got = layers(
        "input 3@32x48, Conv2D 6@5, Conv2D 8@3x2 stride 2, Conv2D 8@3 stride 2x1 padding 1x0 relu, \
         Conv2D 4@3 same tanh, Conv2D 4@3 valid leaky_relu, Conv2D 4@3 padding same leaky_relu 0.2, Flatten, Dense 1",
    );
    assert_eq!(got[0], Layer::conv2d(6, [5, 5]));
    assert_eq!(got[1], Layer::conv2d(8, [3, 2]).with_stride([2, 2]));
    assert_eq!(
        got[2],
        Layer::conv2d(8, [3, 3])
            .with_stride([2, 1])
            .with_padding(Padding::Explicit { h: 1, w: 0 })
            .with_activation(Activation::Relu)
    );
    assert_eq!(got[3], Layer::conv2d(4, [3, 3]).with_padding(Padding::Same).with_activation(Activation::Tanh));
    assert_eq!(got[4], Layer::conv2d(4, [3, 3]).with_activation(Activation::LeakyRelu { slope: 0.01 }));
    assert_eq!(
        got[5],
        Layer::conv2d(4, [3, 3]).with_padding(Padding::Same).with_activation(Activation::LeakyRelu { slope: 0.2 })
    );
}

#[test]
fn pool_and_other_forms() {
    let got = layers(
        "input 1@28x28, ZeroPad 2, ZeroPad 1x3, Conv2D 4@3, BatchNorm, MaxPool 2, AvgPool 3x2 stride 1, \
         Flatten, Dropout 0.5, Dense 10 softmax, ReLU, Sigmoid, Tanh, LeakyReLU, LeakyReLU 0.5, Softmax",
    );
    assert_eq!(got[0], Layer::ZeroPad { h: 2, w: 2 });
    assert_eq!(got[1], Layer::ZeroPad { h: 1, w: 3 });
    assert_eq!(got[3], Layer::BatchNorm);
    assert_eq!(got[4], Layer::Pool { kind: PoolKind::Max, size: [2, 2], stride: [2, 2] });
    assert_eq!(got[5], Layer::Pool { kind: PoolKind::Avg, size: [3, 2], stride: [1, 1] });
    assert_eq!(got[7], Layer::Dropout { p: 0.5 });
    assert_eq!(got[8], Layer::dense(10).with_activation(Activation::Softmax));
    assert_eq!(got[13], Layer::Activation(Activation::LeakyRelu { slope: 0.5 }));
}

#[test]
fn inputs_image_non_square_and_flat() {
    assert_eq!(network("input 3@32x48, Conv2D 1@3, Flatten, Dense 2").input(), Shape::image(3, 32, 48));
    assert_eq!(network("input 784, Dense 10").input(), Shape::flat(784));
    assert_eq!(network("input 1@28x28, Flatten, Dense 10,").output(), Shape::flat(10));
}

#[test]
fn doc_comments_on_lines_are_allowed() {
    assert_eq!(network("/// pixels\n input 784, /// scores\n Dense 10").layers().len(), 1);
}

#[test]
fn the_issue_example_message() {
    let e = errors(
        "input 1@28x28, Conv2D 6@5x5, MaxPool 2, Conv2D 16@5x5, MaxPool 2, MaxPool 2, Conv2D 16@5x5, Flatten, Dense 10",
    );
    assert_eq!(
        e,
        ["Conv2D 16@5x5 needs an input of at least 5x5, but the MaxPool 2 before it outputs 16@2x2: \
          remove a pooling layer, pad the input, or use a smaller kernel"]
    );
}

#[test]
fn every_error_is_reported_in_source_order() {
    let e = errors("input 1@28x28, Conv2D 6@5x5 stride 0, Dropout 2.0, Conv2D 0@3x3, Flatten, Dense 10 sigmoid relu");
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].contains("stride"));
    assert!(e[1].contains("Dropout"));
    assert!(e[2].contains("filter"));
    assert!(e[3].contains("already has an activation"));
}

#[test]
fn an_unreadable_line_has_no_follow_on_errors() {
    // Without the misspelt Flatten, Dense would be on an image; that is not reported.
    assert_eq!(
        errors("input 1@28x28, Conv2D 6@5x5, Flaten, Dense 10"),
        ["unknown layer `Flaten`: did you mean `Flatten`?"]
    );
    // The only layer unreadable: "no layers" is not reported either.
    assert_eq!(errors("input 784, Dense 12.5").len(), 1);
    // An unreadable input: no "missing input".
    assert_eq!(errors("input 1@, Flatten, Dense 10").len(), 1);
}

#[test]
fn dense_without_flatten_gets_the_flatten_hint() {
    let e =
        errors("input 1@28x28, Conv2D 6@5x5 relu, MaxPool 2, Conv2D 16@5x5 relu, MaxPool 2, Dense 120 relu, Dense 10");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].starts_with("Dense 120 relu needs a flat input, but the MaxPool 2 before it outputs 16@4x4"));
    assert!(e[0].contains("add `Flatten,` before this layer"));
}

#[test]
fn suggestions_for_names_and_options() {
    assert_eq!(errors("input 784, Linear 10"), ["unknown layer `Linear`: did you mean `Dense`?"]);
    assert_eq!(errors("input 784, dense 10"), ["unknown layer `dense`: did you mean `Dense`?"]);
    assert_eq!(errors("Input 784, Dense 10")[0], "unknown layer `Input`: did you mean `input`?");
    assert_eq!(
        errors("input 1@8x8, Conv2D 2@3 paddin 1, Flatten, Dense 1"),
        ["unknown option `paddin` for `Conv2D`: did you mean `padding`?"]
    );
}

#[test]
fn a_negative_leaky_slope_is_refused() {
    assert_eq!(
        errors("input 784, Dense 10 leaky_relu -0.5"),
        ["a LeakyReLU slope must be a number of at least 0 (e.g. 0.01), got -0.5"]
    );
}
