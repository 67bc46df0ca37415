//! The dynamic runtime: the networks of `cnn!` built at run time, from the same declaration text
//! (parsed and checked by the same code as the macro) or from a JSON description, on ndarray
//! tensors (NCHW batches) with a conventional implementation: im2col and a matrix multiply for
//! convolutions, rayon over the batch. It trains with the same losses, optimisers,
//! [`Fit`](crate::train::Fit) and weight files as the generated models (it implements
//! [`Trainable`](crate::Trainable)), so that the two can be compared on the same weights and
//! inputs: what compile-time specialisation buys is measured, not claimed.

mod build;
mod description;
mod model;
mod ops;
mod params;

pub use build::{BuildError, Diagnostic};
pub use description::{Description, LayerDescription};
pub use model::{DynModel, InputError};
pub use ndarray;
