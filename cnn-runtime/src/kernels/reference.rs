//! Reference implementations: plain loops over flat slices, sizes known only at run time.
//!
//! These are the obvious, textbook versions of every kernel, written for clarity and not speed.
//! They are the oracle the const-generic kernels are tested against, and the starting point of a
//! runtime whose shapes are not known at compile time. Like the kernels they never allocate: the
//! caller provides every output slice. Tensors are flat, row-major, CHW per sample; convolution
//! weights are OIHW and dense weights are `[out][in]`, as in PyTorch.
//!
//! Every function is generic over [`Real`], implemented for `f32` and `f64`: called with `f32`
//! slices it is the oracle of the kernels; called with `f64` its backward passes can be checked
//! against central finite differences of its forward passes, which `f32` is too coarse for.
//!
//! Backward passes follow the kernels' conventions: weight gradients (`dw`, `db`, `dgamma`,
//! `dbeta`) are accumulated with `+=`, input gradients (`dx`) are overwritten.

use core::fmt::Debug;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::math;

mod sealed {
    /// Keeps [`Real`](super::Real) implemented for `f32` and `f64` only.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The floating-point types the reference implementations run on: `f32` and `f64` (sealed).
pub trait Real:
    sealed::Sealed
    + Copy
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// `−∞`.
    const NEG_INFINITY: Self;
    /// A quiet `NaN`.
    const NAN: Self;
    /// The nearest value to `v`.
    fn from_f64(v: f64) -> Self;
    /// The value as an `f64` (exact).
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// `√self` (`NaN` for negative values).
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Whether the value is `NaN`.
    fn is_nan(self) -> bool;
    /// Whether the value is `+∞` or `−∞`.
    fn is_infinite(self) -> bool;
    /// `n` as this type (rounded if large).
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const NAN: Self = f32::NAN;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn exp(self) -> Self {
        math::exp(self)
    }
    fn sqrt(self) -> Self {
        math::sqrt(self)
    }
    fn tanh(self) -> Self {
        math::tanh(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const NAN: Self = f64::NAN;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        math::exp_f64(self)
    }
    fn sqrt(self) -> Self {
        math::sqrt_f64(self)
    }
    fn tanh(self) -> Self {
        math::tanh_f64(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }
}

/// Sizes of a 2-D convolution: input `c × h × w`, `f` filters of `kh × kw`, strides `sh`, `sw`,
/// top/left zero padding `pt`, `pl`, output `f × oh × ow`. Bottom/right padding is whatever makes
/// the last window fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dDims {
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (filters).
    pub f: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero rows added above the input.
    pub pt: usize,
    /// Zero columns added left of the input.
    pub pl: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// 2-D convolution (cross-correlation, as in PyTorch).
///
/// Shapes: `x` is `[c][h][w]`, `w` is `[f][c][kh][kw]`, `b` is `[f]`, `y` is `[f][oh][ow]`.
/// `y[f][i][j] = b[f] + Σ w[f][c][u][v] · x[c][i·sh + u − pt][j·sw + v − pl]`, with input
/// positions outside the input read as zero.
///
/// # Panics
/// If a slice length does not match `d`.
pub fn conv2d<T: Real>(d: &Conv2dDims, x: &[T], w: &[T], b: &[T], y: &mut [T]) {
    assert_eq!(x.len(), d.c * d.h * d.w, "conv2d input length");
    assert_eq!(w.len(), d.f * d.c * d.kh * d.kw, "conv2d weight length");
    assert_eq!(b.len(), d.f, "conv2d bias length");
    assert_eq!(y.len(), d.f * d.oh * d.ow, "conv2d output length");
    for f in 0..d.f {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let mut acc = b[f];
                for c in 0..d.c {
                    for u in 0..d.kh {
                        for v in 0..d.kw {
                            if let Some(k) = conv_tap(d, c, i, j, u, v) {
                                acc += w[((f * d.c + c) * d.kh + u) * d.kw + v] * x[k];
                            }
                        }
                    }
                }
                y[(f * d.oh + i) * d.ow + j] = acc;
            }
        }
    }
}

/// Backward pass of [`conv2d`]: differentiates `acc += w[..] · x[k]` and `acc = b[f]`.
///
/// Shapes: `x`, `dx` are `[c][h][w]`; `w`, `dw` are `[f][c][kh][kw]`; `db` is `[f]`; `dy` is
/// `[f][oh][ow]`. For every output `(f, i, j)` and every tap on real input:
/// `dx[c][r][s] += w[f][c][u][v] · dy[f][i][j]`, `dw[f][c][u][v] += x[c][r][s] · dy[f][i][j]`,
/// `db[f] += dy[f][i][j]`, where `(r, s) = (i·sh + u − pt, j·sw + v − pl)`.
/// `dx` is overwritten (`None` skips it); `dw` and `db` are accumulated into.
///
/// # Panics
/// If a slice length does not match `d`.
pub fn conv2d_backward<T: Real>(
    d: &Conv2dDims,
    x: &[T],
    w: &[T],
    dy: &[T],
    mut dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
) {
    assert_eq!(x.len(), d.c * d.h * d.w, "conv2d input length");
    assert_eq!(w.len(), d.f * d.c * d.kh * d.kw, "conv2d weight length");
    assert_eq!(dy.len(), d.f * d.oh * d.ow, "conv2d output gradient length");
    assert_eq!(dw.len(), w.len(), "conv2d weight gradient length");
    assert_eq!(db.len(), d.f, "conv2d bias gradient length");
    if let Some(dx) = dx.as_deref_mut() {
        assert_eq!(dx.len(), x.len(), "conv2d input gradient length");
        dx.fill(T::ZERO);
    }
    for f in 0..d.f {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let g = dy[(f * d.oh + i) * d.ow + j];
                db[f] += g;
                for c in 0..d.c {
                    for u in 0..d.kh {
                        for v in 0..d.kw {
                            if let Some(k) = conv_tap(d, c, i, j, u, v) {
                                let wi = ((f * d.c + c) * d.kh + u) * d.kw + v;
                                dw[wi] += x[k] * g;
                                if let Some(dx) = dx.as_deref_mut() {
                                    dx[k] += w[wi] * g;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The flat index in `x` of the input that tap `(u, v)` of output `(i, j)` reads on channel `c`,
/// or `None` where the tap falls on zero padding.
fn conv_tap(d: &Conv2dDims, c: usize, i: usize, j: usize, u: usize, v: usize) -> Option<usize> {
    // Position in the padded input, then in the real input.
    let r = (i * d.sh + u) as isize - d.pt as isize;
    let s = (j * d.sw + v) as isize - d.pl as isize;
    let inside = r >= 0 && r < d.h as isize && s >= 0 && s < d.w as isize;
    inside.then(|| (c * d.h + r as usize) * d.w + s as usize)
}

/// Sizes of a 2-D pooling: input `c × h × w`, window `kh × kw`, strides `sh`, `sw`, no padding,
/// output `c × oh × ow` (floor mode: every window lies inside the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolDims {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// Max pooling. Shapes: `x` is `[c][h][w]`, `y` is `[c][oh][ow]`.
/// `y[c][i][j] = max x[c][i·sh + u][j·sw + v]` over the window; `NaN` if any of it is `NaN`.
///
/// # Panics
/// If a slice length does not match `d` or a window leaves the input.
pub fn max_pool<T: Real>(d: &PoolDims, x: &[T], y: &mut [T]) {
    pool(d, x, y, T::NEG_INFINITY, max_or_nan, |m| m);
}

/// Backward pass of [`max_pool`]: the gradient of each window's maximum goes to the element it
/// was taken from.
///
/// Shapes: `x`, `dx` are `[c][h][w]`; `dy` is `[c][oh][ow]`. `dx` is overwritten:
/// `dx[c][r][s] = Σ dy[c][i][j]` over the windows `(i, j)` whose argmax is `(r, s)`, zero for
/// elements that are no window's argmax. The argmax is the first maximal element of the window
/// in row-major order, or its first `NaN` if it has one.
///
/// # Panics
/// If a slice length does not match `d` or a window leaves the input.
pub fn max_pool_backward<T: Real>(d: &PoolDims, x: &[T], dy: &[T], dx: &mut [T]) {
    check_pool(d, x.len(), dy.len());
    assert_eq!(dx.len(), x.len(), "pool input gradient length");
    dx.fill(T::ZERO);
    for c in 0..d.c {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let mut arg = (c * d.h + i * d.sh) * d.w + j * d.sw;
                for u in 0..d.kh {
                    for v in 0..d.kw {
                        let k = (c * d.h + i * d.sh + u) * d.w + j * d.sw + v;
                        if !x[arg].is_nan() && (x[k] > x[arg] || x[k].is_nan()) {
                            arg = k;
                        }
                    }
                }
                dx[arg] += dy[(c * d.oh + i) * d.ow + j];
            }
        }
    }
}

/// Average pooling. Shapes: `x` is `[c][h][w]`, `y` is `[c][oh][ow]`.
/// `y[c][i][j] = (Σ x[c][i·sh + u][j·sw + v]) / (kh·kw)` over the window.
///
/// # Panics
/// If a slice length does not match `d` or a window leaves the input.
pub fn avg_pool<T: Real>(d: &PoolDims, x: &[T], y: &mut [T]) {
    let n = T::from_usize(d.kh * d.kw);
    pool(d, x, y, T::ZERO, |acc, v| acc + v, |acc| acc / n);
}

/// Backward pass of [`avg_pool`]: every element of a window gets `1 / (kh·kw)` of its gradient.
///
/// Shapes: `dy` is `[c][oh][ow]`, `dx` is `[c][h][w]` and is overwritten:
/// `dx[c][i·sh + u][j·sw + v] += dy[c][i][j] / (kh·kw)` for every window `(i, j)` and every
/// `(u, v)` in it, starting from zero.
///
/// # Panics
/// If a slice length does not match `d` or a window leaves the input.
pub fn avg_pool_backward<T: Real>(d: &PoolDims, dy: &[T], dx: &mut [T]) {
    check_pool(d, dx.len(), dy.len());
    let n = T::from_usize(d.kh * d.kw);
    dx.fill(T::ZERO);
    for c in 0..d.c {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let g = dy[(c * d.oh + i) * d.ow + j] / n;
                for u in 0..d.kh {
                    for v in 0..d.kw {
                        dx[(c * d.h + i * d.sh + u) * d.w + j * d.sw + v] += g;
                    }
                }
            }
        }
    }
}

/// The larger of `m` and `v`, or `NaN` if either is `NaN` (PyTorch's max-pool rule).
fn max_or_nan<T: Real>(m: T, v: T) -> T {
    if m.is_nan() || v.is_nan() {
        T::NAN
    } else if v > m {
        v
    } else {
        m
    }
}

/// Panics unless an input of `x_len` and an output of `y_len` elements match `d`, and every
/// window lies inside the input.
fn check_pool(d: &PoolDims, x_len: usize, y_len: usize) {
    assert_eq!(x_len, d.c * d.h * d.w, "pool input length");
    assert_eq!(y_len, d.c * d.oh * d.ow, "pool output length");
    assert!(d.oh == 0 || (d.oh - 1) * d.sh + d.kh <= d.h, "pool window leaves the input");
    assert!(d.ow == 0 || (d.ow - 1) * d.sw + d.kw <= d.w, "pool window leaves the input");
}

/// Shared loop of the pools: folds each window with `step` from `init`, then applies `finish`.
fn pool<T: Real>(d: &PoolDims, x: &[T], y: &mut [T], init: T, step: impl Fn(T, T) -> T, finish: impl Fn(T) -> T) {
    check_pool(d, x.len(), y.len());
    for c in 0..d.c {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let mut acc = init;
                for u in 0..d.kh {
                    for v in 0..d.kw {
                        acc = step(acc, x[(c * d.h + i * d.sh + u) * d.w + j * d.sw + v]);
                    }
                }
                y[(c * d.oh + i) * d.ow + j] = finish(acc);
            }
        }
    }
}

/// Fully connected layer. Shapes: `x` is `[i]`, `w` is `[o][i]`, `b` is `[o]`, `y` is `[o]`.
/// `y[k] = b[k] + Σ_l w[k][l] · x[l]`.
///
/// # Panics
/// If a slice length does not match `i` and `o`.
pub fn dense<T: Real>(i: usize, o: usize, x: &[T], w: &[T], b: &[T], y: &mut [T]) {
    assert_eq!(x.len(), i, "dense input length");
    assert_eq!(w.len(), o * i, "dense weight length");
    assert_eq!(b.len(), o, "dense bias length");
    assert_eq!(y.len(), o, "dense output length");
    for k in 0..o {
        let mut acc = b[k];
        for l in 0..i {
            acc += w[k * i + l] * x[l];
        }
        y[k] = acc;
    }
}

/// Backward pass of [`dense`]: differentiates `acc += w[k][l] · x[l]` and `acc = b[k]`.
///
/// Shapes: `x`, `dx` are `[i]`; `w`, `dw` are `[o][i]`; `dy`, `db` are `[o]`.
/// `dx[l] = Σ_k w[k][l] · dy[k]` (overwritten; `None` skips it), `dw[k][l] += dy[k] · x[l]`,
/// `db[k] += dy[k]`.
///
/// # Panics
/// If a slice length does not match `i` and `o`.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward<T: Real>(
    i: usize,
    o: usize,
    x: &[T],
    w: &[T],
    dy: &[T],
    mut dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
) {
    assert_eq!(x.len(), i, "dense input length");
    assert_eq!(w.len(), o * i, "dense weight length");
    assert_eq!(dy.len(), o, "dense output gradient length");
    assert_eq!(dw.len(), o * i, "dense weight gradient length");
    assert_eq!(db.len(), o, "dense bias gradient length");
    if let Some(dx) = dx.as_deref_mut() {
        assert_eq!(dx.len(), i, "dense input gradient length");
        dx.fill(T::ZERO);
    }
    for k in 0..o {
        db[k] += dy[k];
        for l in 0..i {
            dw[k * i + l] += dy[k] * x[l];
            if let Some(dx) = dx.as_deref_mut() {
                dx[l] += w[k * i + l] * dy[k];
            }
        }
    }
}

/// Learned and running parameters of a batch normalisation over `c` channels, each slice `[c]`.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormArgs<'a, T = f32> {
    /// Scale γ.
    pub gamma: &'a [T],
    /// Shift β.
    pub beta: &'a [T],
    /// Running mean.
    pub mean: &'a [T],
    /// Running (biased) variance.
    pub var: &'a [T],
    /// Added to the variance before the square root.
    pub eps: T,
}

/// Batch normalisation in inference mode. Shapes: `x` and `y` are `[c][s]`, each parameter
/// slice of `p` is `[c]`. `y[k][l] = γ[k] · (x[k][l] − mean[k]) / √(var[k] + eps) + β[k]`.
///
/// # Panics
/// If a slice length does not match `c` and `s`.
pub fn batchnorm_inference<T: Real>(c: usize, s: usize, p: &BatchNormArgs<T>, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), c * s, "batchnorm input length");
    assert_eq!(y.len(), c * s, "batchnorm output length");
    for param in [p.gamma, p.beta, p.mean, p.var] {
        assert_eq!(param.len(), c, "batchnorm parameter length");
    }
    for k in 0..c {
        let std = (p.var[k] + p.eps).sqrt();
        for l in 0..s {
            y[k * s + l] = p.gamma[k] * (x[k * s + l] - p.mean[k]) / std + p.beta[k];
        }
    }
}

/// Batch normalisation in training mode, over a batch of `b = xs.len() / (c·s)` samples.
///
/// Shapes: `xs`, `ys` are `[b][c][s]`; `gamma`, `beta`, `running_mean`, `running_var`,
/// `saved_mean`, `saved_invstd` are `[c]`. With `n = b·s` values per channel (sums in `f64`):
/// - `mean[k] = Σ_{b,l} xs[b][k][l] / n`, `var[k] = Σ_{b,l} (xs[b][k][l] − mean[k])² / n`;
/// - `invstd[k] = 1 / √(var[k] + eps)`;
/// - `ys[b][k][l] = γ[k] · (xs[b][k][l] − mean[k]) · invstd[k] + β[k]`;
/// - `running_mean ← (1 − momentum)·running_mean + momentum·mean`,
///   `running_var ← (1 − momentum)·running_var + momentum·var·n / max(n − 1, 1)` (unbiased);
/// - `saved_mean = mean`, `saved_invstd = invstd`, for [`batchnorm_train_backward`].
///
/// # Panics
/// If the batch is empty or a slice length does not match `c` and `s`.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_train_forward<T: Real>(
    c: usize,
    s: usize,
    xs: &[T],
    gamma: &[T],
    beta: &[T],
    running_mean: &mut [T],
    running_var: &mut [T],
    momentum: T,
    eps: T,
    ys: &mut [T],
    saved_mean: &mut [T],
    saved_invstd: &mut [T],
) {
    let b = batch_size(c, s, xs.len());
    assert_eq!(ys.len(), xs.len(), "batchnorm output length");
    for param in [gamma, beta, running_mean, running_var, saved_mean, saved_invstd] {
        assert_eq!(param.len(), c, "batchnorm parameter length");
    }
    let n = (b * s) as f64;
    for k in 0..c {
        let values = || (0..b).flat_map(move |e| (0..s).map(move |l| (e * c + k) * s + l));
        let mean = values().map(|q| xs[q].to_f64()).sum::<f64>() / n;
        let var = values().map(|q| (xs[q].to_f64() - mean) * (xs[q].to_f64() - mean)).sum::<f64>() / n;
        let invstd = 1.0 / math::sqrt_f64(var + eps.to_f64());
        let (mean_t, invstd_t) = (T::from_f64(mean), T::from_f64(invstd));
        for q in values() {
            ys[q] = gamma[k] * (xs[q] - mean_t) * invstd_t + beta[k];
        }
        let unbiased = var * n / (n - 1.0).max(1.0);
        running_mean[k] = (T::ONE - momentum) * running_mean[k] + momentum * mean_t;
        running_var[k] = (T::ONE - momentum) * running_var[k] + momentum * T::from_f64(unbiased);
        saved_mean[k] = mean_t;
        saved_invstd[k] = invstd_t;
    }
}

/// Backward pass of [`batchnorm_train_forward`], through the batch statistics, by the chain rule
/// as in Ioffe & Szegedy (2015), all in `f64`.
///
/// Shapes: `xs`, `dys`, `dxs` are `[b][c][s]`; `gamma`, `saved_mean`, `saved_invstd`, `dgamma`,
/// `dbeta` are `[c]`. Per channel, with `x̂ = (x − mean)·invstd`, `dx̂ = dy·γ` and `n = b·s`:
/// - `dvar = Σ dx̂·(x − mean)·(−½)·invstd³`,
///   `dmean = Σ (−dx̂·invstd) + dvar·Σ(−2·(x − mean)) / n`;
/// - `dx = dx̂·invstd + dvar·2·(x − mean) / n + dmean / n` (overwritten);
/// - `dγ += Σ dy·x̂`, `dβ += Σ dy`.
///
/// # Panics
/// If the batch is empty or a slice length does not match `c` and `s`.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_train_backward<T: Real>(
    c: usize,
    s: usize,
    xs: &[T],
    gamma: &[T],
    saved_mean: &[T],
    saved_invstd: &[T],
    dys: &[T],
    dxs: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    let b = batch_size(c, s, xs.len());
    assert_eq!(dys.len(), xs.len(), "batchnorm output gradient length");
    assert_eq!(dxs.len(), xs.len(), "batchnorm input gradient length");
    for param in [gamma, saved_mean, saved_invstd, dgamma, dbeta] {
        assert_eq!(param.len(), c, "batchnorm parameter length");
    }
    let n = (b * s) as f64;
    for k in 0..c {
        let values = || (0..b).flat_map(move |e| (0..s).map(move |l| (e * c + k) * s + l));
        let (mean, invstd, g) = (saved_mean[k].to_f64(), saved_invstd[k].to_f64(), gamma[k].to_f64());
        let xmu = |q: usize| xs[q].to_f64() - mean;
        let dxhat = |q: usize| dys[q].to_f64() * g;
        let dvar = values().map(|q| dxhat(q) * xmu(q) * -0.5 * invstd * invstd * invstd).sum::<f64>();
        let dmean =
            values().map(|q| -dxhat(q) * invstd).sum::<f64>() + dvar * values().map(|q| -2.0 * xmu(q)).sum::<f64>() / n;
        for q in values() {
            dxs[q] = T::from_f64(dxhat(q) * invstd + dvar * 2.0 * xmu(q) / n + dmean / n);
        }
        dgamma[k] += T::from_f64(values().map(|q| dys[q].to_f64() * xmu(q) * invstd).sum::<f64>());
        dbeta[k] += T::from_f64(values().map(|q| dys[q].to_f64()).sum::<f64>());
    }
}

/// The number of `[c][s]` samples in a batch of `len` values.
///
/// # Panics
/// If `len` is not a positive multiple of `c·s`.
fn batch_size(c: usize, s: usize, len: usize) -> usize {
    assert!(c * s > 0 && len > 0 && len.is_multiple_of(c * s), "batchnorm batch length {len} is not b·{c}·{s}, b ≥ 1");
    len / (c * s)
}

/// Sizes of a zero padding: input `c × h × w` placed at row `pt`, column `pl` of an output
/// `c × oh × ow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeropadDims {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Zero rows above.
    pub pt: usize,
    /// Zero columns to the left.
    pub pl: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// Zero padding. Shapes: `x` is `[c][h][w]`, `y` is `[c][oh][ow]`.
/// `y[k][i + pt][j + pl] = x[k][i][j]`, every other element of `y` is zero.
///
/// # Panics
/// If a slice length does not match `d` or the input does not fit in the output.
pub fn zeropad<T: Real>(d: &ZeropadDims, x: &[T], y: &mut [T]) {
    check_zeropad(d, x.len(), y.len());
    for k in 0..d.c {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let inside = i >= d.pt && i < d.pt + d.h && j >= d.pl && j < d.pl + d.w;
                y[(k * d.oh + i) * d.ow + j] = if inside { x[(k * d.h + i - d.pt) * d.w + j - d.pl] } else { T::ZERO };
            }
        }
    }
}

/// Backward pass of [`zeropad`]: the gradient of the padded output cropped back to the input.
/// Shapes: `dy` is `[c][oh][ow]`, `dx` is `[c][h][w]`. `dx[k][i][j] = dy[k][i + pt][j + pl]`.
///
/// # Panics
/// If a slice length does not match `d` or the input does not fit in the output.
pub fn zeropad_backward<T: Real>(d: &ZeropadDims, dy: &[T], dx: &mut [T]) {
    check_zeropad(d, dx.len(), dy.len());
    for k in 0..d.c {
        for i in 0..d.h {
            for j in 0..d.w {
                dx[(k * d.h + i) * d.w + j] = dy[(k * d.oh + i + d.pt) * d.ow + j + d.pl];
            }
        }
    }
}

/// Panics unless an input of `x_len` and an output of `y_len` elements match `d` and the input
/// fits in the output.
fn check_zeropad(d: &ZeropadDims, x_len: usize, y_len: usize) {
    assert_eq!(x_len, d.c * d.h * d.w, "zeropad input length");
    assert_eq!(y_len, d.c * d.oh * d.ow, "zeropad output length");
    assert!(d.h + d.pt <= d.oh && d.w + d.pl <= d.ow, "zeropad input does not fit");
}

/// Rectified linear unit: `max(v, 0)`, with `NaN` kept as `NaN`.
pub fn relu<T: Real>(v: T) -> T {
    if v < T::ZERO {
        T::ZERO
    } else {
        v
    }
}

/// Derivative of [`relu`] from its output `y`, applied to the gradient `dy`: `dy` if `y > 0`,
/// else 0 (the derivative at 0 is taken as 0, as in PyTorch).
pub fn relu_backward<T: Real>(y: T, dy: T) -> T {
    if y > T::ZERO {
        dy
    } else {
        T::ZERO
    }
}

/// Leaky ReLU: `v` if `v ≥ 0`, else `slope · v`.
pub fn leaky_relu<T: Real>(v: T, slope: T) -> T {
    if v < T::ZERO {
        slope * v
    } else {
        v
    }
}

/// Derivative of [`leaky_relu`] from its output `y`, applied to `dy`: `dy` if `y > 0`, else
/// `slope · dy`. (With `slope ≥ 0`, `y > 0` exactly when the input was positive.)
pub fn leaky_relu_backward<T: Real>(y: T, dy: T, slope: T) -> T {
    if y > T::ZERO {
        dy
    } else {
        slope * dy
    }
}

/// Logistic sigmoid `1 / (1 + e^−v)`.
pub fn sigmoid<T: Real>(v: T) -> T {
    T::ONE / (T::ONE + (-v).exp())
}

/// Derivative of [`sigmoid`] from its output `y`, applied to `dy`: `dy · y · (1 − y)`.
pub fn sigmoid_backward<T: Real>(y: T, dy: T) -> T {
    dy * y * (T::ONE - y)
}

/// Hyperbolic tangent.
pub fn tanh<T: Real>(v: T) -> T {
    v.tanh()
}

/// Derivative of [`tanh`] from its output `y`, applied to `dy`: `dy · (1 − y²)`.
pub fn tanh_backward<T: Real>(y: T, dy: T) -> T {
    dy * (T::ONE - y * y)
}

/// Softmax in place: `x[k] ← e^(x[k] − m) / Σ_l e^(x[l] − m)` with `m = max x`, summed in `f64`.
///
/// Limits are taken where the formula would give `NaN` without a `NaN` input: if the maximum is
/// `+∞` the infinite entries share the probability equally; if every entry is `−∞` the result
/// is uniform. Any `NaN` input makes every output `NaN`.
pub fn softmax<T: Real>(x: &mut [T]) {
    let mut m = T::NEG_INFINITY;
    for &v in x.iter() {
        if v > m {
            m = v;
        }
    }
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = if v.is_nan() {
            T::NAN
        } else if m.is_infinite() {
            if *v == m {
                T::ONE
            } else {
                T::ZERO
            }
        } else {
            (*v - m).exp()
        };
        sum += v.to_f64();
    }
    for v in x.iter_mut() {
        *v = T::from_f64(v.to_f64() / sum);
    }
}

/// Backward pass of [`softmax`] from its output `y`, in place on the gradient `dy`:
/// `dy[k] ← y[k] · (dy[k] − Σ_l dy[l] · y[l])`, the sum in `f64`. Shapes: `y`, `dy` are `[n]`.
///
/// # Panics
/// If `y` and `dy` differ in length.
pub fn softmax_backward<T: Real>(y: &[T], dy: &mut [T]) {
    assert_eq!(y.len(), dy.len(), "softmax gradient length");
    let dot = T::from_f64(y.iter().zip(dy.iter()).map(|(&p, &g)| p.to_f64() * g.to_f64()).sum::<f64>());
    for (g, &p) in dy.iter_mut().zip(y) {
        *g = p * (*g - dot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_rejects_a_window_outside_the_input() {
        let d = PoolDims { c: 1, h: 3, w: 3, kh: 2, kw: 2, sh: 2, sw: 2, oh: 2, ow: 1 };
        let result = std::panic::catch_unwind(|| max_pool(&d, &[0.0; 9], &mut [0.0; 2]));
        assert!(result.is_err());
    }

    #[test]
    fn zeropad_rejects_an_output_too_small() {
        let d = ZeropadDims { c: 1, h: 2, w: 2, pt: 1, pl: 0, oh: 2, ow: 2 };
        let result = std::panic::catch_unwind(|| zeropad(&d, &[0.0; 4], &mut [0.0; 4]));
        assert!(result.is_err());
    }
}
