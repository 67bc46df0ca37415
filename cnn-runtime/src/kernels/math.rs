//! The few floating-point functions that `core` does not provide yet.
//!
//! Today they forward to the standard library; this file is the one place to switch to `libm`
//! when the kernels are built `no_std`.

/// `e^x`.
#[inline]
pub(crate) fn exp(x: f32) -> f32 {
    x.exp()
}

/// Hyperbolic tangent of `x`.
#[inline]
pub(crate) fn tanh(x: f32) -> f32 {
    x.tanh()
}

/// Square root of `x` (`NaN` for negative `x`).
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    x.sqrt()
}
