//! The rules of each layer: which of its own numbers are valid, which input it accepts, what it
//! outputs, and how many parameters and multiply-adds it has. All arithmetic is checked, so no
//! declaration can make a front end overflow or panic.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Part, SpecError};
use crate::layer::{Activation, Layer, Padding};
use crate::shape::Shape;
use crate::summary::group_thousands;

/// The most `f32` elements one tensor (a layer's weights, or one sample's activations) may hold,
/// and the most parameters a network may hold: 2^31, 8 GiB of `f32`.
pub const MAX_ELEMENTS: usize = 1 << 31;

/// Zero rows and columns added around an image, resolved for a concrete input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pad {
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Columns added on the right.
    pub right: usize,
}

/// What a layer does to a concrete input.
pub(crate) struct Outcome {
    pub output: Shape,
    pub pad: Pad,
    pub trainable: usize,
    pub non_trainable: usize,
    pub macs: u64,
}

/// The parameter tensors of `layer` on an `input`, with their shapes, in the order models visit
/// them, named as in PyTorch's `state_dict`: convolution `weight [F, C, Kh, Kw]` and `bias [F]`,
/// dense `weight [O, I]` and `bias [O]`, BatchNorm `weight`, `bias`, `running_mean`,
/// `running_var`, each `[C]`. Layers without parameters have none.
pub fn param_shapes(layer: &Layer, input: Shape) -> Vec<(&'static str, Vec<usize>)> {
    match *layer {
        Layer::Conv2d { filters, kernel, .. } => {
            vec![("weight", vec![filters, input.channels(), kernel[0], kernel[1]]), ("bias", vec![filters])]
        }
        Layer::Dense { units, .. } => vec![("weight", vec![units, input.len()]), ("bias", vec![units])],
        Layer::BatchNorm => ["weight", "bias", "running_mean", "running_var"]
            .into_iter()
            .map(|name| (name, vec![input.channels()]))
            .collect(),
        _ => Vec::new(),
    }
}

/// The rules that depend only on the layer's own numbers, not on its input.
pub(crate) fn check_local(layer: &Layer, index: usize, errors: &mut Vec<SpecError>) {
    let mut fail = |part, message| errors.push(SpecError::new(Some(index), part, message));
    match *layer {
        Layer::Conv2d { filters, kernel, stride, padding, activation } => {
            if filters == 0 {
                fail(Part::Filters, format!("a Conv2D needs at least 1 filter, got {filters}"));
            }
            if kernel.contains(&0) {
                fail(Part::Kernel, format!("a kernel must be at least 1x1, got {}", Size(kernel)));
            }
            if stride.contains(&0) {
                fail(Part::Stride, format!("a stride must be at least 1, got {}", Size(stride)));
            }
            if let Padding::Explicit { h, w } = padding {
                if !kernel.contains(&0) && (h > kernel[0] / 2 || w > kernel[1] / 2) {
                    fail(
                        Part::Padding,
                        format!(
                            "padding {} is more than half of the {}x{} kernel (at most {}): \
                             some outputs would see nothing but zeros; use `padding same` or less padding",
                            Size([h, w]),
                            kernel[0],
                            kernel[1],
                            Size([kernel[0] / 2, kernel[1] / 2])
                        ),
                    );
                }
            }
            if activation == Some(Activation::Softmax) {
                fail(
                    Part::Activation,
                    String::from(
                        "softmax turns a flat vector of scores into probabilities; it does not apply to the \
                         channels of a Conv2D: use relu here and softmax on the last Dense layer",
                    ),
                );
            }
            check_slope(activation, &mut fail);
        }
        Layer::Pool { size, stride, .. } => {
            if size.contains(&0) {
                fail(Part::PoolSize, format!("a pooling window must be at least 1x1, got {}", Size(size)));
            } else if stride.contains(&0) {
                fail(Part::Stride, format!("a stride must be at least 1, got {}", Size(stride)));
            }
        }
        Layer::Dense { units, activation } => {
            if units == 0 {
                fail(Part::Units, String::from("a Dense layer needs at least 1 unit, got 0"));
            }
            check_slope(activation, &mut fail);
        }
        Layer::Activation(a) => check_slope(Some(a), &mut fail),
        Layer::Dropout { p } => {
            if !(0.0..1.0).contains(&p) {
                fail(
                    Part::Rate,
                    format!("a Dropout rate is the fraction of activations dropped, in [0, 1), got {p:?}: e.g. `Dropout 0.5`"),
                );
            }
        }
        Layer::ZeroPad { h, w } => {
            if h == 0 && w == 0 {
                fail(Part::Padding, String::from("ZeroPad 0 adds nothing: remove it, or pad by at least 1"));
            }
        }
        Layer::Flatten | Layer::BatchNorm => {}
    }
}

fn check_slope(activation: Option<Activation>, fail: &mut impl FnMut(Part, String)) {
    if let Some(Activation::LeakyRelu { slope }) = activation {
        // Backward reads the derivative off the output, which needs the output's sign to be the input's.
        if !(slope.is_finite() && slope >= 0.0) {
            fail(Part::Slope, format!("a LeakyReLU slope must be a number of at least 0 (e.g. 0.01), got {slope:?}"));
        }
    }
}

/// The rules that depend on the input: `source` says where it comes from, ready to be followed
/// by the shape ("the input is", "the MaxPool 2 before it outputs").
pub(crate) fn apply(layer: &Layer, index: usize, input: Shape, source: &str) -> Result<Outcome, SpecError> {
    let fail = |part, message| Err(SpecError::new(Some(index), part, message));
    let plain = |output| Outcome { output, pad: Pad::default(), trainable: 0, non_trainable: 0, macs: 0 };
    match *layer {
        Layer::Conv2d { filters, kernel, stride, padding, .. } => {
            let Shape::Image { c, h, w } = input else {
                return fail(Part::Name, needs_image(layer, input, source, "convolutions go before Flatten"));
            };
            let pad = resolve_padding(padding, [h, w], kernel, stride);
            let (ph, pw) = (
                h.saturating_add(pad.top).saturating_add(pad.bottom),
                w.saturating_add(pad.left).saturating_add(pad.right),
            );
            if kernel[0] > ph || kernel[1] > pw {
                let padded = if (ph, pw) == (h, w) { String::new() } else { format!(" ({ph}x{pw} padded)") };
                let after = if padded.is_empty() { "" } else { " after padding" };
                return fail(
                    Part::Kernel,
                    format!(
                        "{layer} needs an input of at least {}x{}{after}, but {source} {input}{padded}: \
                         remove a pooling layer, pad the input, or use a smaller kernel",
                        kernel[0], kernel[1]
                    ),
                );
            }
            let output = Shape::image(filters, (ph - kernel[0]) / stride[0] + 1, (pw - kernel[1]) / stride[1] + 1);
            let fan_in = c.checked_mul(kernel[0]).and_then(|n| n.checked_mul(kernel[1])).unwrap_or(usize::MAX);
            let trainable = checked_params(index, layer, Part::Filters, [filters, fan_in], filters)?;
            let macs = output.len() as u64 * fan_in as u64;
            Ok(Outcome { pad, trainable, macs, ..plain(checked_output(index, layer, output)?) })
        }
        Layer::Pool { size, stride, .. } => {
            let Shape::Image { c, h, w } = input else {
                return fail(Part::Name, needs_image(layer, input, source, "pooling goes before Flatten"));
            };
            if size[0] > h || size[1] > w {
                return fail(
                    Part::PoolSize,
                    format!(
                        "{layer} needs an input of at least {}x{}, but {source} {input}: \
                         remove this pooling layer or use a smaller window",
                        size[0], size[1]
                    ),
                );
            }
            Ok(plain(Shape::image(c, (h - size[0]) / stride[0] + 1, (w - size[1]) / stride[1] + 1)))
        }
        Layer::Flatten => match input {
            Shape::Image { .. } => Ok(plain(Shape::flat(input.len()))),
            Shape::Flat { n } => fail(
                Part::Name,
                format!("Flatten needs an image input C@HxW, but {source} a flat {n}: remove this Flatten"),
            ),
        },
        Layer::Dense { units, .. } => {
            let Shape::Flat { n } = input else {
                return fail(
                    Part::Name,
                    format!(
                        "{layer} needs a flat input, but {source} {input}: add `Flatten,` before this layer \
                         (Keras would silently apply Dense to the last axis only)"
                    ),
                );
            };
            let trainable = checked_params(index, layer, Part::Units, [units, n], units)?;
            Ok(Outcome { trainable, macs: units as u64 * n as u64, ..plain(Shape::flat(units)) })
        }
        Layer::Activation(Activation::Softmax) if matches!(input, Shape::Image { .. }) => fail(
            Part::Name,
            format!(
                "Softmax needs a flat vector of scores, but {source} {input}: \
                 put it after `Flatten` and a `Dense` layer"
            ),
        ),
        Layer::Activation(_) | Layer::Dropout { .. } => Ok(plain(input)),
        Layer::BatchNorm => {
            let c = input.channels();
            Ok(Outcome { trainable: 2 * c, non_trainable: 2 * c, macs: input.len() as u64, ..plain(input) })
        }
        Layer::ZeroPad { h: ph, w: pw } => {
            let Shape::Image { c, h, w } = input else {
                return fail(Part::Name, needs_image(layer, input, source, "pad images before Flatten"));
            };
            let (oh, ow) = (h.saturating_add(ph.saturating_mul(2)), w.saturating_add(pw.saturating_mul(2)));
            let pad = Pad { top: ph, bottom: ph, left: pw, right: pw };
            Ok(Outcome { pad, ..plain(checked_output(index, layer, Shape::image(c, oh, ow))?) })
        }
    }
}

/// `5` for a square size, `5x3` otherwise: sizes as the user writes them.
struct Size([usize; 2]);

impl core::fmt::Display for Size {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            [h, w] if h == w => write!(f, "{h}"),
            [h, w] => write!(f, "{h}x{w}"),
        }
    }
}

fn needs_image(layer: &Layer, input: Shape, source: &str, fix: &str) -> String {
    format!("{layer} needs an image input C@HxW, but {source} a flat {input}: {fix}")
}

/// The padding a convolution adds to an `[h, w]` input.
pub(crate) fn resolve_padding(padding: Padding, [h, w]: [usize; 2], kernel: [usize; 2], stride: [usize; 2]) -> Pad {
    match padding {
        Padding::Valid => Pad::default(),
        Padding::Explicit { h, w } => Pad { top: h, bottom: h, left: w, right: w },
        Padding::Same => {
            // Output ceil(n / s); the padding is whatever the last window reaches past the input.
            let total =
                |n: usize, k: usize, s: usize| ((n.div_ceil(s).max(1) - 1) * s).saturating_add(k).saturating_sub(n);
            let (th, tw) = (total(h, kernel[0], stride[0]), total(w, kernel[1], stride[1]));
            Pad { top: th / 2, bottom: th - th / 2, left: tw / 2, right: tw - tw / 2 }
        }
    }
}

/// `weights[0] * weights[1] + bias`, or an error if that exceeds [`MAX_ELEMENTS`].
fn checked_params(
    index: usize,
    layer: &Layer,
    part: Part,
    weights: [usize; 2],
    bias: usize,
) -> Result<usize, SpecError> {
    match weights[0].checked_mul(weights[1]).and_then(|n| n.checked_add(bias)) {
        Some(n) if n <= MAX_ELEMENTS => Ok(n),
        n => Err(SpecError::new(
            Some(index),
            part,
            format!(
                "{layer} would hold {} parameters, more than the {} one layer may hold: use fewer {}",
                n.map_or_else(|| String::from("over 2^64"), |n| group_thousands(n as u64)),
                group_thousands(MAX_ELEMENTS as u64),
                if part == Part::Units { "units, or pool more before Flatten" } else { "filters" }
            ),
        )),
    }
}

fn checked_output(index: usize, layer: &Layer, output: Shape) -> Result<Shape, SpecError> {
    match output.checked_len() {
        Some(n) if n <= MAX_ELEMENTS => Ok(output),
        _ => Err(SpecError::new(
            Some(index),
            Part::Name,
            format!(
                "{layer} would output {output}, more than the {} elements one sample may hold",
                group_thousands(MAX_ELEMENTS as u64)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_shapes_add_up_to_the_parameter_counts() {
        let input = Shape::image(6, 12, 12);
        for layer in [Layer::conv2d(16, [5, 3]), Layer::BatchNorm] {
            let out = apply(&layer, 0, input, "the input is").unwrap_or_else(|_| panic!("{layer}"));
            let total: usize = param_shapes(&layer, input).iter().map(|(_, s)| s.iter().product::<usize>()).sum();
            assert_eq!(total, out.trainable + out.non_trainable, "{layer}");
        }
        assert_eq!(param_shapes(&Layer::conv2d(16, [5, 3]), input)[0], ("weight", vec![16, 6, 5, 3]));
        assert_eq!(param_shapes(&Layer::dense(10), Shape::flat(84))[0], ("weight", vec![10, 84]));
        assert!(param_shapes(&Layer::Flatten, input).is_empty());
    }

    #[test]
    fn same_padding_matches_keras_and_pytorch() {
        let same = |n, k, s| resolve_padding(Padding::Same, [n, n], [k, k], [s, s]);
        assert_eq!(same(28, 5, 1), Pad { top: 2, bottom: 2, left: 2, right: 2 });
        // even kernel: the extra row goes at the bottom
        assert_eq!(same(7, 4, 1), Pad { top: 1, bottom: 2, left: 1, right: 2 });
        // stride 2 on 7: output 4, total = 3*2 + 3 - 7 = 2
        assert_eq!(same(7, 3, 2), Pad { top: 1, bottom: 1, left: 1, right: 1 });
        // stride 2 on 8 with kernel 1: no padding needed
        assert_eq!(same(8, 1, 2), Pad::default());
    }
}
