//! Forward and backward kernels, one file per layer kind.
//!
//! Every kernel takes its sizes as const generics, so the shapes of inputs, weights and outputs
//! are nested arrays checked by the compiler, and impossible geometries (a stride of zero, a
//! window starting outside the input) are rejected by `const` assertions at compile time. The
//! kernels never allocate; the caller owns every buffer (the tiled convolution keeps its scratch
//! on the stack).
//!
//! The hot kernels (convolution, dense, pooling, the ReLUs) are compiled for several vector
//! instruction sets and pick, at run time, the widest the CPU has: AVX-512, AVX2 with FMA, or the
//! portable baseline; see [`isa`] (and `CNN_ISA` to force a lower one). So no build needs
//! `-C target-cpu`, and results differ between paths only by rounding.
//!
//! Each backward pass sits right after its forward pass. Gradients of weights (`dw`, `db`,
//! `dgamma`, `dbeta`) are accumulated with `+=`, so the caller zeroes them once per step and a
//! batch adds up; gradients of inputs (`dx`) are overwritten. Element-wise activations
//! differentiate in place from the forward's output.
//!
//! [`reference`](mod@reference) holds the same operations written as plain loops over flat slices with sizes
//! known only at run time. They are deliberately the obvious, textbook versions: each kernel is
//! tested against them on random data, and they are kept as that test oracle. They are generic
//! over `f32` and `f64`, so that in `f64` their backward passes are checked against central
//! finite differences of their forward passes.

pub mod activation;
pub mod batchnorm;
pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod isa;
pub mod pool;
pub mod reference;
pub mod zeropad;

mod math;
mod simd;
#[cfg(test)]
mod test_util;
