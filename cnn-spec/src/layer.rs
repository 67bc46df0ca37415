use core::fmt;

/// An element-wise (or, for softmax, per-vector) non-linearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `e^x / Σ e^x` over a flat vector.
    Softmax,
    /// `x` if `x > 0`, else `slope * x`.
    LeakyRelu {
        /// Slope for negative inputs (PyTorch's default is 0.01).
        slope: f32,
    },
}

impl Activation {
    /// The slope a `LeakyReLU` gets when none is given (PyTorch's default).
    pub const DEFAULT_LEAKY_SLOPE: f32 = 0.01;

    /// The name of the activation as a layer (`ReLU`, `LeakyReLU 0.2`, …).
    pub fn layer_name(&self) -> &'static str {
        match self {
            Activation::Relu => "ReLU",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax => "Softmax",
            Activation::LeakyRelu { .. } => "LeakyReLU",
        }
    }

    /// The name of the activation as an option of `Conv2D` or `Dense` (`relu`, `leaky_relu`, …).
    pub fn option_name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LeakyRelu { .. } => "leaky_relu",
        }
    }

    fn fmt_slope(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { slope } => write!(f, " {slope:?}"),
            _ => Ok(()),
        }
    }
}

/// Max or average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest value of each window.
    Max,
    /// The mean of each window.
    Avg,
}

/// How a convolution pads its input with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the kernel stays inside the input.
    Valid,
    /// Enough padding that the output has `ceil(input / stride)` rows and columns; when the total
    /// is odd the extra row or column goes at the bottom or right (as Keras and PyTorch do).
    Same,
    /// `h` zero rows above and below, `w` zero columns left and right.
    Explicit {
        /// Rows added at the top and at the bottom.
        h: usize,
        /// Columns added at the left and at the right.
        w: usize,
    },
}

/// One layer of a network, with every size it needs: the vocabulary of the `cnn!` macro.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// `Conv2D F@KhxKw [stride S|SHxSW] [padding valid|same|N|NxM] [activation]`.
    Conv2d {
        /// Output channels `F`.
        filters: usize,
        /// `[Kh, Kw]`.
        kernel: [usize; 2],
        /// `[Sh, Sw]`, default `[1, 1]`.
        stride: [usize; 2],
        /// Default [`Padding::Valid`].
        padding: Padding,
        /// Applied to the output, if any.
        activation: Option<Activation>,
    },
    /// `MaxPool S|KhxKw [stride S|SHxSW]` or `AvgPool …`; stride defaults to the size; floor mode.
    Pool {
        /// Max or average.
        kind: PoolKind,
        /// Window `[Kh, Kw]`.
        size: [usize; 2],
        /// `[Sh, Sw]`.
        stride: [usize; 2],
    },
    /// `Flatten`: `C@HxW` to `C*H*W`, in C, H, W order (as PyTorch).
    Flatten,
    /// `Dense N [activation]`: a fully connected layer on a flat input.
    Dense {
        /// Output features `N`.
        units: usize,
        /// Applied to the output, if any.
        activation: Option<Activation>,
    },
    /// An activation as a layer of its own (`ReLU`, `Sigmoid`, `Tanh`, `Softmax`, `LeakyReLU [slope]`).
    Activation(Activation),
    /// `BatchNorm`: per-channel (or per-feature) normalisation with a learned scale and shift.
    BatchNorm,
    /// `Dropout p`: zeroes a fraction `p` of the activations while training; identity at inference.
    Dropout {
        /// Fraction dropped, `0 <= p < 1`.
        p: f32,
    },
    /// `ZeroPad N|HxW`: `h` zero rows above and below, `w` zero columns left and right.
    ZeroPad {
        /// Rows added at the top and at the bottom.
        h: usize,
        /// Columns added at the left and at the right.
        w: usize,
    },
}

impl Layer {
    /// `Conv2D filters@KhxKw`, stride 1, valid padding, no activation.
    pub const fn conv2d(filters: usize, kernel: [usize; 2]) -> Self {
        Layer::Conv2d { filters, kernel, stride: [1, 1], padding: Padding::Valid, activation: None }
    }

    /// `MaxPool KhxKw` with the stride equal to the size.
    pub const fn max_pool(size: [usize; 2]) -> Self {
        Layer::Pool { kind: PoolKind::Max, size, stride: size }
    }

    /// `AvgPool KhxKw` with the stride equal to the size.
    pub const fn avg_pool(size: [usize; 2]) -> Self {
        Layer::Pool { kind: PoolKind::Avg, size, stride: size }
    }

    /// `Dense units`, no activation.
    pub const fn dense(units: usize) -> Self {
        Layer::Dense { units, activation: None }
    }

    /// The same layer with its activation option set (only `Conv2D` and `Dense` have one).
    pub fn with_activation(mut self, act: Activation) -> Self {
        if let Layer::Conv2d { activation, .. } | Layer::Dense { activation, .. } = &mut self {
            *activation = Some(act);
        }
        self
    }

    /// The same layer with its stride set (convolution and pooling).
    pub fn with_stride(mut self, s: [usize; 2]) -> Self {
        if let Layer::Conv2d { stride, .. } | Layer::Pool { stride, .. } = &mut self {
            *stride = s;
        }
        self
    }

    /// The same convolution with its padding set.
    pub fn with_padding(mut self, p: Padding) -> Self {
        if let Layer::Conv2d { padding, .. } = &mut self {
            *padding = p;
        }
        self
    }

    /// The layer's type name as written in a declaration (`Conv2D`, `MaxPool`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Layer::Conv2d { .. } => "Conv2D",
            Layer::Pool { kind: PoolKind::Max, .. } => "MaxPool",
            Layer::Pool { kind: PoolKind::Avg, .. } => "AvgPool",
            Layer::Flatten => "Flatten",
            Layer::Dense { .. } => "Dense",
            Layer::Activation(a) => a.layer_name(),
            Layer::BatchNorm => "BatchNorm",
            Layer::Dropout { .. } => "Dropout",
            Layer::ZeroPad { .. } => "ZeroPad",
        }
    }

    /// The activation fused into this layer, or that this layer is.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            Layer::Conv2d { activation, .. } | Layer::Dense { activation, .. } => *activation,
            Layer::Activation(a) => Some(*a),
            _ => None,
        }
    }

    /// True for the layers that hold weights (`Conv2D`, `Dense`, `BatchNorm`).
    pub fn has_params(&self) -> bool {
        matches!(self, Layer::Conv2d { .. } | Layer::Dense { .. } | Layer::BatchNorm)
    }
}

fn fmt_size(f: &mut fmt::Formatter<'_>, [h, w]: [usize; 2]) -> fmt::Result {
    if h == w {
        write!(f, "{h}")
    } else {
        write!(f, "{h}x{w}")
    }
}

/// The layer as it would be declared, without defaults: `Conv2D 6@5x5 padding 2 relu`.
impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())?;
        match self {
            Layer::Conv2d { filters, kernel, stride, padding, activation } => {
                write!(f, " {filters}@{}x{}", kernel[0], kernel[1])?;
                if *stride != [1, 1] {
                    f.write_str(" stride ")?;
                    fmt_size(f, *stride)?;
                }
                match padding {
                    Padding::Valid => {}
                    Padding::Same => f.write_str(" padding same")?,
                    Padding::Explicit { h, w } => {
                        f.write_str(" padding ")?;
                        fmt_size(f, [*h, *w])?;
                    }
                }
                if let Some(a) = activation {
                    write!(f, " {}", a.option_name())?;
                    a.fmt_slope(f)?;
                }
                Ok(())
            }
            Layer::Pool { size, stride, .. } => {
                f.write_str(" ")?;
                fmt_size(f, *size)?;
                if stride != size {
                    f.write_str(" stride ")?;
                    fmt_size(f, *stride)?;
                }
                Ok(())
            }
            Layer::Dense { units, activation } => {
                write!(f, " {units}")?;
                if let Some(a) = activation {
                    write!(f, " {}", a.option_name())?;
                    a.fmt_slope(f)?;
                }
                Ok(())
            }
            Layer::Activation(a) => a.fmt_slope(f),
            Layer::Dropout { p } => write!(f, " {p:?}"),
            Layer::ZeroPad { h, w } => {
                f.write_str(" ")?;
                fmt_size(f, [*h, *w])
            }
            Layer::Flatten | Layer::BatchNorm => Ok(()),
        }
    }
}
