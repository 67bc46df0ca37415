//! Reference implementations: plain loops over flat slices, sizes known only at run time.
//!
//! These are the obvious, textbook versions of every kernel, written for clarity and not speed.
//! They are the oracle the const-generic kernels are tested against, and the starting point of a
//! runtime whose shapes are not known at compile time. Like the kernels they never allocate: the
//! caller provides every output slice. Tensors are flat, row-major, CHW per sample; convolution
//! weights are OIHW and dense weights are `[out][in]`, as in PyTorch.

use super::math;

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
pub fn conv2d(d: &Conv2dDims, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
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
                            // Position in the padded input, then in the real input.
                            let r = (i * d.sh + u) as isize - d.pt as isize;
                            let s = (j * d.sw + v) as isize - d.pl as isize;
                            if r >= 0 && r < d.h as isize && s >= 0 && s < d.w as isize {
                                let (r, s) = (r as usize, s as usize);
                                let wv = w[((f * d.c + c) * d.kh + u) * d.kw + v];
                                acc += wv * x[(c * d.h + r) * d.w + s];
                            }
                        }
                    }
                }
                y[(f * d.oh + i) * d.ow + j] = acc;
            }
        }
    }
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
pub fn max_pool(d: &PoolDims, x: &[f32], y: &mut [f32]) {
    pool(d, x, y, f32::NEG_INFINITY, max_or_nan, |m| m);
}

/// Average pooling. Shapes: `x` is `[c][h][w]`, `y` is `[c][oh][ow]`.
/// `y[c][i][j] = (Σ x[c][i·sh + u][j·sw + v]) / (kh·kw)` over the window.
///
/// # Panics
/// If a slice length does not match `d` or a window leaves the input.
pub fn avg_pool(d: &PoolDims, x: &[f32], y: &mut [f32]) {
    let n = (d.kh * d.kw) as f32;
    pool(d, x, y, 0.0, |acc, v| acc + v, |acc| acc / n);
}

/// The larger of `m` and `v`, or `NaN` if either is `NaN` (PyTorch's max-pool rule).
fn max_or_nan(m: f32, v: f32) -> f32 {
    if m.is_nan() || v.is_nan() {
        f32::NAN
    } else if v > m {
        v
    } else {
        m
    }
}

/// Shared loop of the pools: folds each window with `step` from `init`, then applies `finish`.
fn pool(
    d: &PoolDims,
    x: &[f32],
    y: &mut [f32],
    init: f32,
    step: impl Fn(f32, f32) -> f32,
    finish: impl Fn(f32) -> f32,
) {
    assert_eq!(x.len(), d.c * d.h * d.w, "pool input length");
    assert_eq!(y.len(), d.c * d.oh * d.ow, "pool output length");
    assert!(d.oh == 0 || (d.oh - 1) * d.sh + d.kh <= d.h, "pool window leaves the input");
    assert!(d.ow == 0 || (d.ow - 1) * d.sw + d.kw <= d.w, "pool window leaves the input");
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
pub fn dense(i: usize, o: usize, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
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

/// Learned and running parameters of a batch normalisation over `c` channels, each slice `[c]`.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormArgs<'a> {
    /// Scale γ.
    pub gamma: &'a [f32],
    /// Shift β.
    pub beta: &'a [f32],
    /// Running mean.
    pub mean: &'a [f32],
    /// Running (biased) variance.
    pub var: &'a [f32],
    /// Added to the variance before the square root.
    pub eps: f32,
}

/// Batch normalisation in inference mode. Shapes: `x` and `y` are `[c][s]`, each parameter
/// slice of `p` is `[c]`. `y[k][l] = γ[k] · (x[k][l] − mean[k]) / √(var[k] + eps) + β[k]`.
///
/// # Panics
/// If a slice length does not match `c` and `s`.
pub fn batchnorm_inference(c: usize, s: usize, p: &BatchNormArgs, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), c * s, "batchnorm input length");
    assert_eq!(y.len(), c * s, "batchnorm output length");
    for param in [p.gamma, p.beta, p.mean, p.var] {
        assert_eq!(param.len(), c, "batchnorm parameter length");
    }
    for k in 0..c {
        let std = math::sqrt(p.var[k] + p.eps);
        for l in 0..s {
            y[k * s + l] = p.gamma[k] * (x[k * s + l] - p.mean[k]) / std + p.beta[k];
        }
    }
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
pub fn zeropad(d: &ZeropadDims, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), d.c * d.h * d.w, "zeropad input length");
    assert_eq!(y.len(), d.c * d.oh * d.ow, "zeropad output length");
    assert!(d.h + d.pt <= d.oh && d.w + d.pl <= d.ow, "zeropad input does not fit");
    for k in 0..d.c {
        for i in 0..d.oh {
            for j in 0..d.ow {
                let inside = i >= d.pt && i < d.pt + d.h && j >= d.pl && j < d.pl + d.w;
                y[(k * d.oh + i) * d.ow + j] = if inside { x[(k * d.h + i - d.pt) * d.w + j - d.pl] } else { 0.0 };
            }
        }
    }
}

/// Rectified linear unit: `max(v, 0)`, with `NaN` kept as `NaN`.
pub fn relu(v: f32) -> f32 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// Leaky ReLU: `v` if `v ≥ 0`, else `slope · v`.
pub fn leaky_relu(v: f32, slope: f32) -> f32 {
    if v < 0.0 {
        slope * v
    } else {
        v
    }
}

/// Logistic sigmoid `1 / (1 + e^−v)`.
pub fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + math::exp(-v))
}

/// Hyperbolic tangent.
pub fn tanh(v: f32) -> f32 {
    math::tanh(v)
}

/// Softmax in place: `x[k] ← e^(x[k] − m) / Σ_l e^(x[l] − m)` with `m = max x`, summed in `f64`.
///
/// Limits are taken where the formula would give `NaN` without a `NaN` input: if the maximum is
/// `+∞` the infinite entries share the probability equally; if every entry is `−∞` the result
/// is uniform. Any `NaN` input makes every output `NaN`.
pub fn softmax(x: &mut [f32]) {
    let mut m = f32::NEG_INFINITY;
    for &v in x.iter() {
        if v > m {
            m = v;
        }
    }
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = if v.is_nan() {
            f32::NAN
        } else if m.is_infinite() {
            if *v == m {
                1.0
            } else {
                0.0
            }
        } else {
            math::exp(*v - m)
        };
        sum += *v as f64;
    }
    for v in x.iter_mut() {
        *v = (*v as f64 / sum) as f32;
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
