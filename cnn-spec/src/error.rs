use alloc::string::String;
use core::fmt;

/// Which part of a declaration an error is about, so a front end can point at that token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The layer's name (`Conv2D`, `Dense`, …): the layer as a whole is misplaced.
    Name,
    /// The input shape `C@HxW`.
    InputShape,
    /// The filter count `F` in `Conv2D F@KhxKw`.
    Filters,
    /// The kernel size `KhxKw` of a convolution.
    Kernel,
    /// A stride option.
    Stride,
    /// A padding option (or the amount of a `ZeroPad`).
    Padding,
    /// The window size of a pooling layer.
    PoolSize,
    /// The unit count of a `Dense` layer.
    Units,
    /// The rate of a `Dropout`.
    Rate,
    /// The slope of a leaky ReLU.
    Slope,
    /// A fused activation option.
    Activation,
    /// The network as a whole (no layer, no parameters).
    Network,
}

/// A rule a network breaks: where (layer index and part) and a message that names the incoming
/// shape, the rule and a fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// Index of the offending layer in the layer list, `None` for the input or the whole network.
    pub layer: Option<usize>,
    /// The part of the declaration to point at.
    pub part: Part,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl SpecError {
    pub(crate) fn new(layer: Option<usize>, part: Part, message: String) -> Self {
        SpecError { layer, part, message }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some(i) => write!(f, "layer {}: {}", i + 1, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl core::error::Error for SpecError {}
