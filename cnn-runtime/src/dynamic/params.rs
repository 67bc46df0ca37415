//! The parameters of each layer of a dynamic model, in PyTorch's layouts (OIHW convolution
//! kernels, `(out, in)` dense weights), with the shapes of [`cnn_spec::param_shapes`] and the
//! tensor names and order of the generated models' [`Params`](crate::layers::Params).

use cnn_spec::{param_shapes, Layer, LayerPlan};
use ndarray::{Array, Array1, Dimension, Ix2, Ix4, IxDyn};

use super::ops::batch::{flat, flat_mut};
use crate::init::Init;
use crate::rng::Rng;

/// The weights and biases of a `Conv2D` (`D` = 4: `(F, C, Kh, Kw)`) or `Dense` (`D` = 2:
/// `(out, in)`) layer.
#[derive(Clone, Debug)]
pub(crate) struct Weights<D: Dimension> {
    /// The kernel, output channels (units) first.
    pub(crate) weight: Array<f32, D>,
    /// One per output channel (unit).
    pub(crate) bias: Array1<f32>,
}

/// The state of a `BatchNorm` layer, one value per channel (feature) in each tensor.
#[derive(Clone, Debug)]
pub(crate) struct BatchNormState {
    /// Learned scale γ, starts at 1.
    pub(crate) gamma: Array1<f32>,
    /// Learned shift β, starts at 0.
    pub(crate) beta: Array1<f32>,
    /// Running mean of the batches seen in training, starts at 0; used at inference.
    pub(crate) running_mean: Array1<f32>,
    /// Running (unbiased) variance, starts at 1; used at inference.
    pub(crate) running_var: Array1<f32>,
}

/// The parameters of one layer.
#[derive(Clone, Debug)]
pub(crate) enum LayerParams {
    /// A layer without parameters.
    None,
    /// `Conv2D`.
    Conv2d(Weights<Ix4>),
    /// `Dense`.
    Dense(Weights<Ix2>),
    /// `BatchNorm`.
    BatchNorm(BatchNormState),
}

/// One parameter tensor of a layer, flat, with its name (as in PyTorch's `state_dict`) and
/// whether training updates it.
pub(crate) struct Tensor<T> {
    /// `weight`, `bias`, `running_mean` or `running_var`.
    pub(crate) name: &'static str,
    /// False for BatchNorm's running statistics.
    pub(crate) trainable: bool,
    /// The values, in row-major order.
    pub(crate) values: T,
}

impl LayerParams {
    /// The parameters of `plan`, initialised as the generated models do: convolution and dense
    /// weights filled by `init` from `rng` (which the layers share, in declaration order);
    /// BatchNorm as the identity (γ = 1, β = 0, mean 0, variance 1), drawing nothing.
    pub(crate) fn new(plan: &LayerPlan, init: Init, rng: &mut Rng) -> Self {
        let mut params = Self::zeros(plan);
        match &mut params {
            LayerParams::Conv2d(w) => w.init(init, rng),
            LayerParams::Dense(w) => w.init(init, rng),
            LayerParams::BatchNorm(bn) => {
                bn.gamma.fill(1.0);
                bn.running_var.fill(1.0);
            }
            LayerParams::None => {}
        }
        params
    }

    /// The parameters of `plan`, every one zero, with the shapes of [`param_shapes`].
    fn zeros(plan: &LayerPlan) -> Self {
        let shapes = param_shapes(&plan.layer, plan.input);
        match plan.layer {
            Layer::Conv2d { .. } => {
                LayerParams::Conv2d(Weights { weight: zeros(&shapes, "weight"), bias: zeros(&shapes, "bias") })
            }
            Layer::Dense { .. } => {
                LayerParams::Dense(Weights { weight: zeros(&shapes, "weight"), bias: zeros(&shapes, "bias") })
            }
            Layer::BatchNorm => LayerParams::BatchNorm(BatchNormState {
                gamma: zeros(&shapes, "weight"),
                beta: zeros(&shapes, "bias"),
                running_mean: zeros(&shapes, "running_mean"),
                running_var: zeros(&shapes, "running_var"),
            }),
            _ => LayerParams::None,
        }
    }

    /// The same tensors, every value zero: a gradient accumulator.
    pub(crate) fn zeros_like(&self) -> Self {
        let mut zero = self.clone();
        zero.tensors_mut().into_iter().for_each(|t| t.values.fill(0.0));
        zero
    }

    /// The layer's tensors in the generated models' order: `weight`, `bias`, then BatchNorm's
    /// `running_mean`, `running_var` (its `weight` and `bias` are γ and β).
    pub(crate) fn tensors(&self) -> Vec<Tensor<&[f32]>> {
        let t = |name, trainable, values| Tensor { name, trainable, values };
        match self {
            LayerParams::None => Vec::new(),
            LayerParams::Conv2d(w) => vec![t("weight", true, flat(&w.weight)), t("bias", true, flat(&w.bias))],
            LayerParams::Dense(w) => vec![t("weight", true, flat(&w.weight)), t("bias", true, flat(&w.bias))],
            LayerParams::BatchNorm(bn) => vec![
                t("weight", true, flat(&bn.gamma)),
                t("bias", true, flat(&bn.beta)),
                t("running_mean", false, flat(&bn.running_mean)),
                t("running_var", false, flat(&bn.running_var)),
            ],
        }
    }

    /// The layer's tensors, mutably, in the order of [`tensors`](Self::tensors).
    pub(crate) fn tensors_mut(&mut self) -> Vec<Tensor<&mut [f32]>> {
        let t = |name, trainable, values| Tensor { name, trainable, values };
        match self {
            LayerParams::None => Vec::new(),
            LayerParams::Conv2d(w) => {
                vec![t("weight", true, flat_mut(&mut w.weight)), t("bias", true, flat_mut(&mut w.bias))]
            }
            LayerParams::Dense(w) => {
                vec![t("weight", true, flat_mut(&mut w.weight)), t("bias", true, flat_mut(&mut w.bias))]
            }
            LayerParams::BatchNorm(bn) => vec![
                t("weight", true, flat_mut(&mut bn.gamma)),
                t("bias", true, flat_mut(&mut bn.beta)),
                t("running_mean", false, flat_mut(&mut bn.running_mean)),
                t("running_var", false, flat_mut(&mut bn.running_var)),
            ],
        }
    }
}

impl<D: Dimension> Weights<D> {
    /// Fills the weights and biases with `init` from `rng`, with PyTorch's fans of a weight
    /// `(out, in, k…)`: `fan_in = in·Πk`, `fan_out = out·Πk` (`C·Kh·Kw` and `F·Kh·Kw` for a
    /// convolution, `I` and `O` for a dense layer).
    fn init(&mut self, init: Init, rng: &mut Rng) {
        let shape = self.weight.shape();
        let receptive: usize = shape[2..].iter().product();
        let (fan_in, fan_out) = (shape[1] * receptive, shape[0] * receptive);
        init.fill(rng, fan_in, fan_out, flat_mut(&mut self.weight), flat_mut(&mut self.bias));
    }
}

/// The tensor `name` of `shapes` (a layer's [`param_shapes`]), zero.
fn zeros<D: Dimension>(shapes: &[(&str, Vec<usize>)], name: &str) -> Array<f32, D> {
    let shape = shapes.iter().find(|(n, _)| *n == name).map_or(&[][..], |(_, s)| &s[..]);
    Array::zeros(IxDyn(shape)).into_dimensionality().expect("param_shapes gives each tensor of the layer, of its rank")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnn_spec::{Activation, Network, Shape};

    fn network() -> Network {
        let layers = vec![
            Layer::conv2d(4, [3, 2]).with_activation(Activation::Relu),
            Layer::BatchNorm,
            Layer::max_pool([2, 2]),
            Layer::Flatten,
            Layer::dense(5),
            Layer::BatchNorm,
            Layer::dense(3),
        ];
        Network::new(Shape::image(2, 8, 9), layers).unwrap()
    }

    #[test]
    fn tensors_have_the_names_order_and_shapes_of_param_shapes() {
        let mut rng = Rng::new(1);
        for plan in network().layers() {
            let params = LayerParams::new(plan, Init::PyTorch, &mut rng);
            let got: Vec<(&str, usize)> = params.tensors().iter().map(|t| (t.name, t.values.len())).collect();
            let want: Vec<(&str, usize)> =
                param_shapes(&plan.layer, plan.input).into_iter().map(|(n, s)| (n, s.iter().product())).collect();
            assert_eq!(got, want, "{}", plan.name);
            let trainable: usize = params.tensors().iter().filter(|t| t.trainable).map(|t| t.values.len()).sum();
            assert_eq!(trainable, plan.trainable, "{}", plan.name);
        }
        let conv = LayerParams::new(&network().layers()[0], Init::PyTorch, &mut rng);
        let LayerParams::Conv2d(w) = conv else { panic!("not a convolution") };
        assert_eq!(w.weight.shape(), [4, 2, 3, 2]);
    }

    /// The generated `with_init`: one generator for every layer with weights, in declaration
    /// order, each filled with its fans.
    #[test]
    fn initialisation_draws_as_the_generated_models() {
        for init in [Init::GlorotUniform, Init::PyTorch] {
            let mut rng = Rng::new(7);
            let got: Vec<Vec<f32>> = network()
                .layers()
                .iter()
                .flat_map(|plan| {
                    LayerParams::new(plan, init, &mut rng)
                        .tensors()
                        .into_iter()
                        .map(|t| t.values.to_vec())
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut rng = Rng::new(7);
            let mut draw = |fan_in: usize, fan_out: usize, w: usize, b: usize| {
                let (mut weight, mut bias) = (vec![0.0; w], vec![0.0; b]);
                init.fill(&mut rng, fan_in, fan_out, &mut weight, &mut bias);
                [weight, bias]
            };
            let conv = draw(2 * 3 * 2, 4 * 3 * 2, 4 * 2 * 3 * 2, 4);
            let (ones, zeros) = (|n| vec![1.0; n], |n| vec![0.0; n]);
            let dense1 = draw(4 * 3 * 4, 5, 5 * 48, 5);
            let dense2 = draw(5, 3, 15, 3);
            let want: Vec<Vec<f32>> = [
                conv.to_vec(),
                vec![ones(4), zeros(4), zeros(4), ones(4)],
                dense1.to_vec(),
                vec![ones(5), zeros(5), zeros(5), ones(5)],
                dense2.to_vec(),
            ]
            .concat();
            assert_eq!(got, want, "{init:?}");
        }
    }

    #[test]
    fn zeros_like_keeps_the_tensors_and_zeroes_them() {
        let network = network();
        let plan = &network.layers()[1];
        let zero = LayerParams::new(plan, Init::GlorotUniform, &mut Rng::new(2)).zeros_like();
        assert_eq!(zero.tensors().len(), 4);
        assert!(zero.tensors().iter().all(|t| t.values.iter().all(|&v| v == 0.0)));
    }
}
