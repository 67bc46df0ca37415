//! The front end never panics, whatever the tokens: random soups of the notation's own words,
//! numbers and punctuation, parsed and checked; and every valid one's canonical text reads back
//! to the same network.

use cnn_syntax::{check, Declaration};

const WORDS: &[&str] = &[
    "input",
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
    "stride",
    "padding",
    "same",
    "valid",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "0",
    "1",
    "2",
    "3",
    "5",
    "28",
    "0x5",
    "5x0",
    "5x5",
    "3x2",
    "28x28",
    "1x1x1",
    "0.5",
    "1.5",
    "-0.1",
    "-",
    "@",
    "@",
    "@",
    ",",
    ",",
    ",",
    ",",
    "1e30",
    "99999999999999999999",
    "18446744073709551615",
    "4294967296x4294967296",
    "100000000",
    "65536x65536",
    "(",
    ")",
    "#[doc = \"x\"]",
    "#[inline]",
    "foo",
    "NaN",
];

/// Whole lines that are often valid, so that soups also reach the shape rules and code paths
/// past the parser.
const LINES: &[&str] = &[
    "Conv2D 4@3",
    "Conv2D 2@5x5 same relu",
    "Conv2D 3@2x3 stride 2",
    "MaxPool 2",
    "AvgPool 3 stride 1",
    "Flatten",
    "Dense 10",
    "Dense 4 softmax",
    "ReLU",
    "BatchNorm",
    "Dropout 0.5",
    "ZeroPad 1",
    "LeakyReLU 0.1",
    "Softmax",
];

/// SplitMix64: enough randomness for token soups.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn random_token_soups_never_panic() {
    let mut state = 1;
    let mut compiled = 0;
    for _ in 0..20_000 {
        let len = (next(&mut state) % 24) as usize;
        let lines = next(&mut state).is_multiple_of(2);
        let body: Vec<&str> = (0..len)
            .map(|_| match lines {
                true => LINES[(next(&mut state) % LINES.len() as u64) as usize],
                false => WORDS[(next(&mut state) % WORDS.len() as u64) as usize],
            })
            .filter(|w| !matches!(*w, "(" | ")")) // keep groups balanced
            .collect();
        let body = if lines { body.join(", ") } else { body.join(" ") };
        let prefix = if next(&mut state).is_multiple_of(2) { "input 1@28x28, " } else { "" };
        let src = format!("pub struct Net {{ {prefix}{body} }}");
        let Ok(decl) = syn::parse_str::<Declaration>(&src) else { continue };
        if let Ok(network) = check(decl).network {
            compiled += 1;
            // The canonical text of a valid network reads back to the same network.
            let again: Declaration = syn::parse_str(&format!("struct Net {{ {network} }}")).unwrap();
            assert_eq!(check(again).network.unwrap(), network, "{network}");
        }
    }
    // Some soups must make valid networks, or the generator tests nothing past the parser.
    assert!(compiled > 0, "no random declaration was valid");
}

#[test]
fn huge_numbers_are_errors_not_overflows() {
    for body in [
        "input 18446744073709551615@18446744073709551615x18446744073709551615, Flatten, Dense 10",
        "input 1@65536x65536, Conv2D 65536@65536x65536, Flatten, Dense 10",
        "input 1@4294967296x4294967296, Flatten, Dense 10",
        "input 784, Dense 18446744073709551615",
        "input 1@28x28, ZeroPad 9223372036854775807, Flatten, Dense 1",
        "input 1@28x28, Conv2D 1@3 padding 9223372036854775807, Flatten, Dense 1",
        "input 65536x65536, Dense 65536",
        "input 46341@46341x1, Flatten, Dense 1",
    ] {
        let decl: Declaration = syn::parse_str(&format!("struct Net {{ {body} }}")).unwrap();
        assert!(check(decl).network.is_err(), "{body}");
    }
}

#[test]
fn a_stride_larger_than_the_input_is_one_window() {
    let body = "input 1@28x28, Conv2D 1@3 stride 18446744073709551615, MaxPool 1 stride 18446744073709551615, Flatten, Dense 1";
    let decl: Declaration = syn::parse_str(&format!("struct Net {{ {body} }}")).unwrap();
    let network = check(decl).network.unwrap();
    assert_eq!(network.layers()[1].output, cnn_spec::Shape::image(1, 1, 1));
}
