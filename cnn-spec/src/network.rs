use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Part, SpecError};
use crate::layer::{Layer, PoolKind};
use crate::rules::{self, Pad, MAX_ELEMENTS};
use crate::shape::Shape;
use crate::summary::{group_thousands, LayerInfo};

/// One layer of a checked network with everything a code generator or runtime needs.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    /// The layer's name in the model: `conv1`, `maxpool1`, `dense2`, … (a field name for the layers
    /// that hold weights).
    pub name: String,
    /// The layer as declared.
    pub layer: Layer,
    /// Shape of one sample entering the layer.
    pub input: Shape,
    /// Shape of one sample leaving the layer.
    pub output: Shape,
    /// Zero padding around the input (convolution and `ZeroPad`), resolved for this input.
    pub pad: Pad,
    /// Trainable parameters (weights and biases; BatchNorm's scale and shift).
    pub trainable: usize,
    /// Non-trainable parameters (BatchNorm's running mean and variance).
    pub non_trainable: usize,
    /// Multiply-adds of a forward pass over one sample.
    pub macs: u64,
}

/// A network whose every shape rule holds: the input shape and the planned layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    input: Shape,
    layers: Vec<LayerPlan>,
}

impl Network {
    /// Checks `layers` applied to `input`, returning every broken rule (not only the first).
    pub fn new(input: Shape, layers: Vec<Layer>) -> Result<Self, Vec<SpecError>> {
        let mut errors = Vec::new();
        let input_ok = check_input(input, &mut errors);
        let layers: Vec<Option<Layer>> = layers.into_iter().map(Some).collect();
        let plans = plan(input_ok.then_some(input), &layers, &mut errors);
        let network = Network { input, layers: plans };
        if errors.is_empty() && network.total_params() > MAX_ELEMENTS as u64 {
            errors.push(SpecError::new(
                None,
                Part::Network,
                format!(
                    "the network would hold {} parameters, more than the {} a network may hold",
                    group_thousands(network.total_params()),
                    group_thousands(MAX_ELEMENTS as u64)
                ),
            ));
        }
        if errors.is_empty() {
            Ok(network)
        } else {
            Err(errors)
        }
    }

    /// The rules broken by a declaration that a front end could only partly read: `None` for
    /// an input or a layer line it could not read (and has reported itself). Nothing that depends
    /// on an unreadable line is checked, so its errors have no follow-on errors.
    pub fn errors(input: Option<Shape>, layers: &[Option<Layer>]) -> Vec<SpecError> {
        let mut errors = Vec::new();
        let input = input.filter(|&i| check_input(i, &mut errors));
        plan(input, layers, &mut errors);
        errors
    }

    /// Shape of one input sample.
    pub fn input(&self) -> Shape {
        self.input
    }

    /// Shape of one output sample.
    pub fn output(&self) -> Shape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// The planned layers, in order.
    pub fn layers(&self) -> &[LayerPlan] {
        &self.layers
    }

    /// Parameters updated by training.
    pub fn trainable_params(&self) -> usize {
        self.layers.iter().map(|l| l.trainable).sum()
    }

    /// Parameters kept but not trained (BatchNorm running statistics).
    pub fn non_trainable_params(&self) -> usize {
        self.layers.iter().map(|l| l.non_trainable).sum()
    }

    /// Multiply-adds of a forward pass over one sample.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.macs).sum()
    }

    /// True when the network ends in a softmax (an option of its last layer, or a layer of its
    /// own), which cross-entropy training fuses into the loss.
    pub fn ends_in_softmax(&self) -> bool {
        self.layers.last().is_some_and(|l| l.layer.activation() == Some(crate::Activation::Softmax))
    }

    /// The index of the first layer with parameters: training computes no input gradient for it
    /// nor for the layers before it (0 if no layer has parameters).
    pub fn first_learned(&self) -> usize {
        self.layers.iter().position(|l| l.layer.has_params()).unwrap_or(0)
    }

    /// The per-layer table that `summary` prints.
    pub fn layer_infos(&self) -> Vec<LayerInfo<'_>> {
        self.layers.iter().map(LayerInfo::from_plan).collect()
    }

    fn total_params(&self) -> u64 {
        self.layers.iter().map(|l| (l.trainable + l.non_trainable) as u64).sum()
    }
}

/// The declaration in canonical form, which the notation reads back to the same network:
/// `input 1@28x28, Conv2D 6@5x5 sigmoid, MaxPool 2, …`.
impl core::fmt::Display for Network {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "input {}", self.input)?;
        self.layers.iter().try_for_each(|l| write!(f, ", {}", l.layer))
    }
}

/// Applies each layer's rules in turn. After a layer fails, the shapes that follow are unknown:
/// their shape rules are skipped, their own rules still checked.
fn plan(input: Option<Shape>, layers: &[Option<Layer>], errors: &mut Vec<SpecError>) -> Vec<LayerPlan> {
    let all_read = layers.iter().all(Option::is_some);
    if layers.is_empty() {
        errors.push(SpecError::new(
            None,
            Part::Network,
            String::from("the network has no layers after its input: add at least a Conv2D or Dense layer"),
        ));
    } else if all_read && !layers.iter().flatten().any(Layer::has_params) {
        errors.push(SpecError::new(
            None,
            Part::Network,
            String::from("the network has no parameters to learn: add a Conv2D or Dense layer"),
        ));
    }
    let mut plans = Vec::with_capacity(layers.len());
    let mut shape = input;
    let mut counts = NameCounts::default();
    for (i, layer) in layers.iter().enumerate() {
        let Some(layer) = layer else {
            shape = None;
            continue;
        };
        let before = errors.len();
        rules::check_local(layer, i, errors);
        check_batchnorm_placement(layers, i, errors);
        let Some(input) = shape.filter(|_| errors.len() == before) else {
            shape = None;
            continue;
        };
        let source = match i.checked_sub(1).and_then(|p| layers[p].as_ref()) {
            None => String::from("the input is"),
            Some(previous) => format!("the {previous} before it outputs"),
        };
        match rules::apply(layer, i, input, &source) {
            Ok(out) => {
                shape = Some(out.output);
                plans.push(LayerPlan {
                    name: counts.next_name(layer),
                    layer: layer.clone(),
                    input,
                    output: out.output,
                    pad: out.pad,
                    trainable: out.trainable,
                    non_trainable: out.non_trainable,
                    macs: out.macs,
                });
            }
            Err(e) => {
                errors.push(e);
                shape = None;
            }
        }
    }
    plans
}

fn check_input(input: Shape, errors: &mut Vec<SpecError>) -> bool {
    let (zero, example) = match input {
        Shape::Image { c, h, w } => (c == 0 || h == 0 || w == 0, "`input 1@28x28`"),
        Shape::Flat { n } => (n == 0, "`input 784`"),
    };
    let message = if zero {
        format!("an input needs at least one element on every axis, got {input}: e.g. {example}")
    } else if input.checked_len().is_none_or(|n| n > MAX_ELEMENTS) {
        format!(
            "an input of {input} is more than the {} elements one sample may hold",
            group_thousands(MAX_ELEMENTS as u64)
        )
    } else {
        return true;
    };
    errors.push(SpecError::new(None, Part::InputShape, message));
    false
}

/// BatchNorm normalises what a Conv2D or Dense layer learned to output.
fn check_batchnorm_placement(layers: &[Option<Layer>], i: usize, errors: &mut Vec<SpecError>) {
    if layers[i] != Some(Layer::BatchNorm) {
        return;
    }
    let before = &layers[..i];
    let learned = |l: &Option<Layer>| matches!(l, None | Some(Layer::Conv2d { .. } | Layer::Dense { .. }));
    let message = if before.last() == Some(&Some(Layer::BatchNorm)) {
        "BatchNorm right after another BatchNorm normalises what is already normalised: remove one of them"
    } else if !before.iter().any(learned) {
        "BatchNorm has nothing to normalise: no Conv2D or Dense layer comes before it. \
         Put it after a Conv2D or Dense layer, and normalise the input data itself when loading it (e.g. x/255)"
    } else {
        return;
    };
    errors.push(SpecError::new(Some(i), Part::Name, String::from(message)));
}

/// Numbers the layers of each kind: conv1, conv2, maxpool1, dense1, …
#[derive(Default)]
struct NameCounts(Vec<(&'static str, usize)>);

impl NameCounts {
    fn next_name(&mut self, layer: &Layer) -> String {
        let prefix = match layer {
            Layer::Conv2d { .. } => "conv",
            Layer::Pool { kind: PoolKind::Max, .. } => "maxpool",
            Layer::Pool { kind: PoolKind::Avg, .. } => "avgpool",
            Layer::Flatten => "flatten",
            Layer::Dense { .. } => "dense",
            Layer::Activation(a) => match a {
                crate::Activation::Relu => "relu",
                crate::Activation::Sigmoid => "sigmoid",
                crate::Activation::Tanh => "tanh",
                crate::Activation::Softmax => "softmax",
                crate::Activation::LeakyRelu { .. } => "leakyrelu",
            },
            Layer::BatchNorm => "batchnorm",
            Layer::Dropout { .. } => "dropout",
            Layer::ZeroPad { .. } => "zeropad",
        };
        let n = match self.0.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.0.push((prefix, 1));
                1
            }
        };
        format!("{prefix}{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Padding};
    use alloc::vec;

    fn lenet() -> Vec<Layer> {
        vec![
            Layer::conv2d(6, [5, 5]).with_activation(Activation::Sigmoid),
            Layer::max_pool([2, 2]),
            Layer::conv2d(16, [5, 5]).with_activation(Activation::Sigmoid),
            Layer::max_pool([2, 2]),
            Layer::Flatten,
            Layer::dense(120),
            Layer::dense(84),
            Layer::dense(10).with_activation(Activation::Softmax),
        ]
    }

    #[test]
    fn plans_names_shapes_and_counts() {
        let net = Network::new(Shape::image(1, 28, 28), lenet()).unwrap();
        let names: Vec<&str> = net.layers().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["conv1", "maxpool1", "conv2", "maxpool2", "flatten1", "dense1", "dense2", "dense3"]);
        assert_eq!(net.trainable_params(), 44_426);
        assert_eq!(net.layers()[4].output, Shape::flat(256));
        assert_eq!(net.output(), Shape::flat(10));
    }

    #[test]
    fn same_padding_with_stride_gives_ceil_of_input_over_stride() {
        let layers = vec![Layer::conv2d(4, [3, 3]).with_stride([2, 2]).with_padding(Padding::Same), Layer::Flatten];
        let net = Network::new(Shape::image(1, 7, 8), [layers, vec![Layer::dense(1)]].concat()).unwrap();
        assert_eq!(net.layers()[0].output, Shape::image(4, 4, 4));
        assert_eq!(net.layers()[0].pad, Pad { top: 1, bottom: 1, left: 0, right: 1 });
    }

    #[test]
    fn errors_carry_layer_and_part() {
        let mut layers = lenet();
        layers.remove(4); // no Flatten: Dense on 16@4x4
        let errors = Network::new(Shape::image(1, 28, 28), layers).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].layer, errors[0].part), (Some(4), Part::Name));
        assert!(errors[0].message.contains("16@4x4"), "{}", errors[0].message);
    }

    #[test]
    fn unknown_lines_stop_shape_rules_but_not_local_ones() {
        let layers =
            vec![Some(Layer::conv2d(4, [3, 3])), None, Some(Layer::dense(10)), Some(Layer::Dropout { p: 1.0 })];
        let errors = Network::errors(Some(Shape::image(1, 8, 8)), &layers);
        // Dense after the unknown line is not judged; the Dropout rate is.
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].layer, errors[0].part), (Some(3), Part::Rate));
    }

    #[test]
    fn batchnorm_must_follow_something_learned() {
        let first = Network::new(Shape::flat(4), vec![Layer::BatchNorm, Layer::dense(2)]).unwrap_err();
        assert!(first[0].message.contains("nothing to normalise"));
        let after_relu = Network::new(
            Shape::flat(4),
            vec![Layer::dense(3), Layer::Activation(Activation::Relu), Layer::BatchNorm, Layer::dense(2)],
        );
        assert!(after_relu.is_ok());
    }

    #[test]
    fn a_network_must_have_parameters_and_layers() {
        assert_eq!(Network::new(Shape::flat(4), vec![]).unwrap_err()[0].part, Part::Network);
        let no_params = Network::new(Shape::image(1, 4, 4), vec![Layer::max_pool([2, 2]), Layer::Flatten]);
        assert!(no_params.unwrap_err()[0].message.contains("no parameters"));
    }
}
