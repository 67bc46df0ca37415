//! The single source of truth for what a `cnn` network is: the layer vocabulary, the shape each
//! layer produces, the parameters it holds, and the errors a wrong network gets.
//!
//! The `cnn!` macro (through `cnn-syntax`) checks declarations with this crate at compile time,
//! and the runtimes use it to describe models at run time, so a rule is written once.
//!
//! ```
//! use cnn_spec::{Activation, Layer, Network, Shape};
//!
//! let net = Network::new(
//!     Shape::image(1, 28, 28),
//!     vec![
//!         Layer::conv2d(6, [5, 5]).with_activation(Activation::Relu),
//!         Layer::max_pool([2, 2]),
//!         Layer::Flatten,
//!         Layer::dense(10),
//!     ],
//! )
//! .unwrap();
//! assert_eq!(net.output(), Shape::flat(10));
//! assert_eq!(net.trainable_params(), 156 + (6 * 12 * 12 * 10 + 10));
//! ```
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod error;
mod layer;
mod network;
mod rules;
mod shape;
mod summary;

pub use error::{Part, SpecError};
pub use layer::{Activation, Layer, Padding, PoolKind};
pub use network::{LayerPlan, Network};
pub use rules::{param_shapes, Pad, MAX_ELEMENTS};
pub use shape::Shape;
pub use summary::{group_thousands, summary, LayerInfo};
