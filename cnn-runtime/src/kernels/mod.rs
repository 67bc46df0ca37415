//! Forward kernels, one file per layer kind.
//!
//! Every kernel takes its sizes as const generics, so the shapes of inputs, weights and outputs
//! are nested arrays checked by the compiler, and impossible geometries (a stride of zero, a
//! window starting outside the input) are rejected by `const` assertions at compile time. The
//! kernels use only `core` and never allocate; the caller owns every buffer.
//!
//! [`reference`](mod@reference) holds the same operations written as plain loops over flat slices with sizes
//! known only at run time. They are deliberately the obvious, textbook versions: each kernel is
//! tested against them on random data, and they are kept as that test oracle.

pub mod activation;
pub mod batchnorm;
pub mod conv2d;
pub mod dense;
pub mod pool;
pub mod reference;
pub mod zeropad;

mod math;
#[cfg(test)]
mod test_util;
