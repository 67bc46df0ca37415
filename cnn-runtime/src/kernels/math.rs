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

/// `e^x` in `f64` (for the reference kernels run in double precision).
#[inline]
pub(crate) fn exp_f64(x: f64) -> f64 {
    x.exp()
}

/// Hyperbolic tangent of `x` in `f64`.
#[inline]
pub(crate) fn tanh_f64(x: f64) -> f64 {
    x.tanh()
}

/// Square root of `x` in `f64` (`NaN` for negative `x`).
#[inline]
pub(crate) fn sqrt_f64(x: f64) -> f64 {
    x.sqrt()
}
