//! The `cnn!` declaration language: parsing (tokens to a typed declaration that keeps every
//! token's span) and checking (the `cnn-spec` rules, with each error placed on the smallest
//! offending token).
//!
//! This is a normal library crate so the logic is unit-testable and usable at run time; the
//! proc-macro crate `cnn-macros` is a thin shell over it.
//!
//! ```
//! let decl: cnn_syntax::Declaration = syn::parse_str(
//!     "pub struct Tiny { input 1@8x8, Conv2D 4@3x3 relu, Flatten, Dense 10 }",
//! )
//! .unwrap();
//! let network = cnn_syntax::check(decl).network.unwrap();
//! assert_eq!(network.trainable_params(), 40 + 4 * 6 * 6 * 10 + 10);
//! ```
#![warn(missing_docs)]

mod ast;
mod check;
mod numbers;
mod parse;
mod suggest;

pub use ast::{Declaration, InputDecl, Item, LayerDecl};
pub use check::{check, Checked, Failed};
