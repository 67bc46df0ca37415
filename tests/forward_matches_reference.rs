//! Forward passes of generated models against the reference kernels, on random weights.
//!
//! Each network is declared with `cnn!` (which generates the model and its const-generic forward
//! pass); its `DECLARATION` text goes to `cnn_syntax` at run time (which gives the [`Network`] plan,
//! and so also checks that the canonical text reads back to the same network). A small interpreter in this file walks that plan with `Vec<f32>`
//! buffers, calling only the runtime-sized kernels of `cnn::runtime::kernels::reference`, and
//! consuming the model's own parameter tensors in visiting order. Both must agree on every output.

use cnn::runtime::kernels::batchnorm::EPS;
use cnn::runtime::kernels::reference::{self as r, BatchNormArgs, Conv2dDims, PoolDims, ZeropadDims};
use cnn::runtime::tensor::{flat, flat_mut, zeroed};
use cnn::runtime::Rng;
use cnn::zoo::{KerasLeNet5, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::{Init, Model};
use cnn_spec::{Activation, Layer, LayerPlan, Network, PoolKind, Shape};

// ---------------------------------------------------------------------------------------------
// The run-time side: parse the declaration, randomise the model, interpret the plan.
// ---------------------------------------------------------------------------------------------

/// The plan of `M`'s declaration, parsed and checked at run time, and checked to describe the
/// same network the macro generated.
fn plan_of<M: Model>() -> Network {
    let text = format!("struct {} {{ {} }}", M::NAME, M::DECLARATION);
    let decl: cnn_syntax::Declaration =
        syn::parse_str(&text).unwrap_or_else(|e| panic!("{}: cannot parse `{text}`: {e}", M::NAME));
    let network =
        cnn_syntax::check(decl).network.unwrap_or_else(|e| panic!("{}: rejected at run time: {e:?}", M::NAME));
    assert_eq!(network.input(), M::INPUT_SHAPE, "{}: input shape", M::NAME);
    assert_eq!(network.output(), M::OUTPUT_SHAPE, "{}: output shape", M::NAME);
    let described: Vec<(String, String, Shape)> =
        M::LAYERS.iter().map(|l| (l.name.to_string(), l.kind.to_string(), l.output)).collect();
    let planned: Vec<(String, String, Shape)> =
        network.layers().iter().map(|p| (p.name.clone(), p.layer.to_string(), p.output)).collect();
    assert_eq!(planned, described, "{}: the run-time plan differs from the generated LAYERS", M::NAME);
    network
}

/// The planned layer called `name`.
fn layer_named<'a>(network: &'a Network, name: &str) -> &'a LayerPlan {
    network.layers().iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no layer {name} in the plan"))
}

/// Gives every parameter of `model` a random value: kernels uniform with variance 1/fan-in (so
/// activations stay of order 1 through deep networks), biases, BatchNorm shifts and running means
/// in ±0.5, BatchNorm scales and running variances in 0.5..1.5 (the variance must be positive).
fn randomise<M: Model>(model: &mut M, network: &Network, rng: &mut Rng) {
    let mut count = 0;
    model.visit_params_mut(&mut |id, values| {
        let plan = layer_named(network, id.layer);
        let (low, high) = match (&plan.layer, id.tensor) {
            (Layer::Conv2d { kernel, .. }, "weight") => {
                let bound = (3.0 / (plan.input.channels() * kernel[0] * kernel[1]) as f32).sqrt();
                (-bound, bound)
            }
            (Layer::Dense { .. }, "weight") => {
                let bound = (3.0 / plan.input.len() as f32).sqrt();
                (-bound, bound)
            }
            (Layer::BatchNorm, "weight" | "running_var") => (0.5, 1.5),
            (_, "bias" | "running_mean") => (-0.5, 0.5),
            (layer, tensor) => panic!("unexpected tensor {}.{tensor} of a {layer}", id.layer),
        };
        rng.fill_uniform(values, low, high);
        count += values.len();
    });
    assert_eq!(count, M::TRAINABLE_PARAMS + M::NON_TRAINABLE_PARAMS, "{}: parameters visited", M::NAME);
}

/// One input sample, uniform in ±1.
fn random_input<M: Model>(rng: &mut Rng) -> M::Input {
    let mut x: M::Input = zeroed();
    rng.fill_uniform(flat_mut(&mut x), -1.0, 1.0);
    x
}

/// The model's parameter tensors, handed out in visiting order to the layer that asks for them.
struct Tensors<'a> {
    rest: std::slice::Iter<'a, (String, &'static str, Vec<f32>)>,
}

impl<'a> Tensors<'a> {
    fn take(&mut self, layer: &str, tensor: &str) -> &'a [f32] {
        let (id_layer, id_tensor, values) =
            self.rest.next().unwrap_or_else(|| panic!("no tensor left for {layer}.{tensor}"));
        assert_eq!((id_layer.as_str(), *id_tensor), (layer, tensor), "parameter tensors out of layer order");
        values
    }
}

/// `(channels, rows, columns)` of an image shape.
fn image(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Flat { n } => panic!("expected an image, got a flat {n}"),
    }
}

/// Applies `act` to `y` in place with the reference scalar functions (softmax: over all of `y`).
fn activate(act: Activation, y: &mut [f32]) {
    let f: fn(f32) -> f32 = match act {
        Activation::Relu => r::relu,
        Activation::Sigmoid => r::sigmoid,
        Activation::Tanh => r::tanh,
        Activation::Softmax => return r::softmax(y),
        Activation::LeakyRelu { slope } => {
            y.iter_mut().for_each(|v| *v = r::leaky_relu(*v, slope));
            return;
        }
    };
    y.iter_mut().for_each(|v| *v = f(*v));
}

/// The forward pass of `network` over the flat sample `x`, with the reference kernels only.
fn interpret(network: &Network, params: &[(String, &'static str, Vec<f32>)], x: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), network.input().len(), "input length");
    let mut tensors = Tensors { rest: params.iter() };
    let mut a = x.to_vec();
    for plan in network.layers() {
        assert_eq!(a.len(), plan.input.len(), "{}: input length", plan.name);
        let mut y = vec![f32::NAN; plan.output.len()];
        match &plan.layer {
            Layer::Conv2d { kernel, stride, activation, .. } => {
                let (c, h, w) = image(plan.input);
                let (f, oh, ow) = image(plan.output);
                let (pad, [kh, kw], [sh, sw]) = (plan.pad, *kernel, *stride);
                // The last window fits in the padded input, and no padding is left unused.
                assert!((oh - 1) * sh + kh <= pad.top + h + pad.bottom, "{}: rows", plan.name);
                assert!((ow - 1) * sw + kw <= pad.left + w + pad.right, "{}: columns", plan.name);
                let d = Conv2dDims { c, h, w, f, kh, kw, sh, sw, pt: pad.top, pl: pad.left, oh, ow };
                let (weight, bias) = (tensors.take(&plan.name, "weight"), tensors.take(&plan.name, "bias"));
                r::conv2d(&d, &a, weight, bias, &mut y);
                if let Some(act) = activation {
                    activate(*act, &mut y);
                }
            }
            Layer::Pool { kind, size, stride } => {
                let (c, h, w) = image(plan.input);
                let (_, oh, ow) = image(plan.output);
                let d = PoolDims { c, h, w, kh: size[0], kw: size[1], sh: stride[0], sw: stride[1], oh, ow };
                match kind {
                    PoolKind::Max => r::max_pool(&d, &a, &mut y),
                    PoolKind::Avg => r::avg_pool(&d, &a, &mut y),
                }
            }
            Layer::Flatten | Layer::Dropout { .. } => y.copy_from_slice(&a),
            Layer::Dense { activation, .. } => {
                let (weight, bias) = (tensors.take(&plan.name, "weight"), tensors.take(&plan.name, "bias"));
                r::dense(plan.input.len(), plan.output.len(), &a, weight, bias, &mut y);
                if let Some(act) = activation {
                    activate(*act, &mut y);
                }
            }
            Layer::Activation(act) => {
                y.copy_from_slice(&a);
                activate(*act, &mut y);
            }
            Layer::BatchNorm => {
                let args = BatchNormArgs {
                    gamma: tensors.take(&plan.name, "weight"),
                    beta: tensors.take(&plan.name, "bias"),
                    mean: tensors.take(&plan.name, "running_mean"),
                    var: tensors.take(&plan.name, "running_var"),
                    eps: EPS,
                };
                r::batchnorm_inference(plan.input.channels(), plan.input.spatial(), &args, &a, &mut y);
            }
            Layer::ZeroPad { .. } => {
                let (c, h, w) = image(plan.input);
                let (_, oh, ow) = image(plan.output);
                assert_eq!((oh, ow), (h + plan.pad.top + plan.pad.bottom, w + plan.pad.left + plan.pad.right));
                let d = ZeropadDims { c, h, w, pt: plan.pad.top, pl: plan.pad.left, oh, ow };
                r::zeropad(&d, &a, &mut y);
            }
        }
        a = y;
    }
    assert!(tensors.rest.next().is_none(), "parameter tensors left over after the last layer");
    a
}

// ---------------------------------------------------------------------------------------------
// The comparison.
// ---------------------------------------------------------------------------------------------

/// `actual` within 1e-5 × max(1, |expected|) of `expected`, element by element.
fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: output length");
    let mut worst: Option<(usize, f32)> = None;
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(e.is_finite(), "{what}: the reference gave {e} at {k}");
        let excess = (a - e).abs() / e.abs().max(1.0);
        if excess.is_nan() || excess > 1e-5 {
            worst = match worst {
                Some((_, w)) if w >= excess => worst,
                _ => Some((k, excess)),
            };
        }
    }
    if let Some((k, excess)) = worst {
        panic!(
            "{what}: generated forward differs from the reference at output {k}: {} vs {} \
             (relative error {excess:e})\n generated: {actual:?}\n reference: {expected:?}",
            actual[k], expected[k]
        );
    }
}

/// Bit patterns, so that outputs compare as identical (NaN included).
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Randomises `M` from `seed`, runs three random inputs through `forward`, and checks them
/// against the reference interpreter, and `forward_batch` too; then checks `forward_with` (with one
/// workspace reused, poisoned in between) gives outputs bit-identical to `forward`'s.
fn check<M: Model>(seed: u64) -> Network {
    let network = plan_of::<M>();
    let mut rng = Rng::new(seed);
    let mut model = M::with_init(Init::PyTorch, seed);
    randomise(&mut model, &network, &mut rng);
    let mut params = Vec::new();
    model.visit_params(&mut |id, values| params.push((id.layer.to_owned(), id.tensor, values.to_vec())));

    let inputs: Vec<M::Input> = (0..3).map(|_| random_input::<M>(&mut rng)).collect();
    let outputs: Vec<M::Output> = inputs.iter().map(|x| model.forward(x)).collect();
    for (k, (x, y)) in inputs.iter().zip(&outputs).enumerate() {
        let expected = interpret(&network, &params, flat(x));
        assert_close(&format!("{} on input {k}", M::NAME), flat(y), &expected);
    }
    assert_ne!(bits(flat(&outputs[0])), bits(flat(&outputs[1])), "{}: the output ignores the input", M::NAME);

    // The batched path sums its dense layers in another order: close to the reference, not
    // bit-identical to `forward` (tests/batched_inference.rs compares the two closely).
    let batch = model.forward_batch(&inputs);
    assert_eq!(batch.len(), inputs.len(), "{}: forward_batch length", M::NAME);
    for (k, (b, x)) in batch.iter().zip(&inputs).enumerate() {
        let expected = interpret(&network, &params, flat(x));
        assert_close(&format!("{} forward_batch on input {k}", M::NAME), flat(b), &expected);
    }

    let mut ws = M::workspace();
    for round in 0..2 {
        for (k, (x, y)) in inputs.iter().zip(&outputs).enumerate() {
            let mut out: M::Output = zeroed();
            flat_mut(&mut out).fill(f32::NAN);
            model.forward_with(x, &mut out, &mut ws);
            assert_eq!(
                bits(flat(&out)),
                bits(flat(y)),
                "{}: forward_with, call {round} on input {k}, differs from forward",
                M::NAME
            );
            // Whatever the last call left in the workspace must not matter to the next one.
            ws.slice(M::WORKSPACE_LEN).fill(f32::NAN);
        }
    }
    network
}

/// The paddings the plan resolved for the convolutions, in order.
fn conv_pads(network: &Network) -> Vec<[usize; 4]> {
    network
        .layers()
        .iter()
        .filter(|p| matches!(p.layer, Layer::Conv2d { .. }))
        .map(|p| [p.pad.top, p.pad.bottom, p.pad.left, p.pad.right])
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The seed networks.
// ---------------------------------------------------------------------------------------------

#[test]
fn keras_lenet5_sigmoid_softmax_matches_reference() {
    check::<KerasLeNet5>(1);
}

#[test]
fn lenet5_with_conv_padding_2_matches_reference() {
    let network = check::<LeNet5>(2);
    assert_eq!(conv_pads(&network)[0], [2; 4]);
}

#[test]
fn lenet5_batchnorm_zeropad_matches_reference() {
    check::<LeNet5BatchNorm>(3);
}

#[test]
fn tf2_net_with_same_padding_matches_reference() {
    let network = check::<Tf2Net>(4);
    assert_eq!(conv_pads(&network), [[2; 4], [2; 4]]);
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry: strides, padding, non-square shapes.
// ---------------------------------------------------------------------------------------------

cnn::cnn! {
    /// Stride 2, then stride 2x1 with a 3x2 kernel, on a non-square input.
    pub struct Strides {
        input 2@12x13,
        Conv2D 4@3 stride 2 relu,
        Conv2D 3@3x2 stride 2x1 tanh,
        Flatten,
        Dense 5,
    }
}

cnn::cnn! {
    /// Explicit padding: 1 row and 2 columns with a 3x5 kernel, then 2 on every side.
    pub struct ExplicitPadding {
        input 2@6x5,
        Conv2D 3@3x5 padding 1x2 leaky_relu,
        Conv2D 2@5 padding 2 leaky_relu 0.2,
        Flatten,
        Dense 4 sigmoid,
    }
}

cnn::cnn! {
    /// `same` with an even kernel: one more row and column at the bottom and right.
    pub struct SameEvenKernel {
        input 2@8x8,
        Conv2D 4@4 same relu,
        Conv2D 3@2x4 same,
        Flatten,
        Dense 3,
    }
}

cnn::cnn! {
    /// `same` with stride 2 on 7x7 (output 4x4).
    pub struct SameStride2Odd {
        input 1@7x7,
        Conv2D 4@3 stride 2 same,
        Flatten,
        Dense 6 tanh,
    }
}

cnn::cnn! {
    /// `same` with stride 2 on 8x8 and with stride 2x1 on 8x9: the odd total padding goes at
    /// the bottom and right.
    pub struct SameStride2Even {
        input 2@8x9,
        Conv2D 4@3 stride 2 same sigmoid,
        Conv2D 3@3x4 stride 2x1 same relu,
        Flatten,
        Dense 5,
    }
}

cnn::cnn! {
    /// A non-square input and a 3x2 kernel, then AvgPool 3x2 stride 2.
    pub struct NonSquare {
        input 3@9x11,
        Conv2D 4@3x2 relu,
        AvgPool 3x2 stride 2,
        Flatten,
        Dense 6 tanh,
    }
}

#[test]
fn stride_2_and_stride_2x1_match_reference() {
    let network = check::<Strides>(10);
    assert_eq!(network.layers()[1].output, Shape::image(3, 2, 5));
}

#[test]
fn explicit_padding_1x2_matches_reference() {
    let network = check::<ExplicitPadding>(11);
    assert_eq!(conv_pads(&network), [[1, 1, 2, 2], [2; 4]]);
}

#[test]
fn same_padding_with_even_kernel_matches_reference() {
    let network = check::<SameEvenKernel>(12);
    assert_eq!(conv_pads(&network), [[1, 2, 1, 2], [0, 1, 1, 2]]);
}

#[test]
fn same_padding_with_stride_2_on_7x7_matches_reference() {
    let network = check::<SameStride2Odd>(13);
    assert_eq!(network.layers()[0].output, Shape::image(4, 4, 4));
    assert_eq!(conv_pads(&network), [[1, 1, 1, 1]]);
}

#[test]
fn same_padding_with_stride_2_asymmetric_matches_reference() {
    let network = check::<SameStride2Even>(14);
    assert_eq!(network.layers()[0].output, Shape::image(4, 4, 5));
    assert_eq!(network.layers()[1].output, Shape::image(3, 2, 5));
    assert_eq!(conv_pads(&network), [[0, 1, 1, 1], [0, 1, 1, 2]]);
}

#[test]
fn non_square_input_kernel_and_avg_pool_match_reference() {
    let network = check::<NonSquare>(15);
    assert_eq!(network.layers()[1].output, Shape::image(4, 3, 5));
}

// ---------------------------------------------------------------------------------------------
// Pooling.
// ---------------------------------------------------------------------------------------------

cnn::cnn! {
    /// Overlapping max pooling, then average pooling.
    pub struct OverlappingPools {
        input 2@10x10,
        Conv2D 3@3 padding 1,
        MaxPool 3 stride 1,
        AvgPool 2,
        Flatten,
        Dense 4,
    }
}

cnn::cnn! {
    /// MaxPool 3 stride 3 on 10x10 drops the last row and column (floor mode), right on the input.
    pub struct FloorModePool {
        input 2@10x10,
        MaxPool 3 stride 3,
        Flatten,
        Dense 4,
    }
}

cnn::cnn! {
    /// Pools with non-square windows and strides.
    pub struct NonSquarePools {
        input 2@11x9,
        MaxPool 2x3 stride 1x2,
        Conv2D 3@2,
        AvgPool 3x2 stride 2x1,
        Flatten,
        Dense 3,
    }
}

#[test]
fn overlapping_max_pool_matches_reference() {
    let network = check::<OverlappingPools>(20);
    assert_eq!(network.layers()[1].output, Shape::image(3, 8, 8));
}

#[test]
fn floor_mode_max_pool_on_10x10_matches_reference() {
    let network = check::<FloorModePool>(21);
    assert_eq!(network.layers()[0].output, Shape::image(2, 3, 3));
}

#[test]
fn non_square_pool_windows_and_strides_match_reference() {
    check::<NonSquarePools>(22);
}

// ---------------------------------------------------------------------------------------------
// Activations, as options and as layers.
// ---------------------------------------------------------------------------------------------

cnn::cnn! {
    /// Every activation option of Conv2D.
    pub struct ConvActivations {
        input 2@9x9,
        Conv2D 3@3 relu,
        Conv2D 3@2 sigmoid,
        Conv2D 3@2 tanh,
        Conv2D 3@2 leaky_relu,
        Conv2D 3@2 leaky_relu 0.2,
        Flatten,
        Dense 4,
    }
}

cnn::cnn! {
    /// Every activation option of Dense, softmax last.
    pub struct DenseActivations {
        input 16,
        Dense 12 relu,
        Dense 12 sigmoid,
        Dense 12 tanh,
        Dense 12 leaky_relu,
        Dense 12 leaky_relu 0.2,
        Dense 5 softmax,
    }
}

cnn::cnn! {
    /// Every activation as a layer of its own, on images and on flat vectors.
    pub struct ActivationLayers {
        input 2@6x6,
        Conv2D 3@3,
        ReLU,
        Conv2D 3@2,
        LeakyReLU,
        Conv2D 3@2,
        LeakyReLU 0.3,
        Sigmoid,
        Flatten,
        Dense 8,
        Tanh,
        Dense 6,
        LeakyReLU 0.3,
        Dense 4,
        Softmax,
    }
}

cnn::cnn! {
    /// Activation layers right after the input (a copy, not an alias, of the input).
    pub struct ActivationOnInput {
        input 12,
        Tanh,
        Dense 6,
        LeakyReLU,
        Dense 4,
        Sigmoid,
    }
}

#[test]
fn conv_activation_options_match_reference() {
    check::<ConvActivations>(30);
}

#[test]
fn dense_activation_options_match_reference() {
    check::<DenseActivations>(31);
}

#[test]
fn activation_layers_match_reference() {
    check::<ActivationLayers>(32);
}

#[test]
fn activation_layer_on_the_input_matches_reference() {
    check::<ActivationOnInput>(33);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm, Dropout, Flatten, ZeroPad, flat inputs.
// ---------------------------------------------------------------------------------------------

cnn::cnn! {
    /// BatchNorm after a Conv2D (per channel) and after a Dense (per feature), with a fused
    /// activation before each.
    pub struct BatchNorms {
        input 3@7x6,
        Conv2D 4@3 relu,
        BatchNorm,
        Conv2D 5@2x3,
        BatchNorm,
        Tanh,
        Flatten,
        Dense 7 leaky_relu,
        BatchNorm,
        Dense 3,
        BatchNorm,
    }
}

cnn::cnn! {
    /// Dropout after the input, on an image and on a flat vector: identity at inference.
    pub struct Dropouts {
        input 2@6x6,
        Dropout 0.5,
        Conv2D 3@3 relu,
        Dropout 0.25,
        Flatten,
        Dropout 0.1,
        Dense 5 relu,
        Dropout 0.5,
        Dense 3,
    }
}

cnn::cnn! {
    /// Flatten straight after the input.
    pub struct FlattenInput {
        input 1@4x4,
        Flatten,
        Dense 3,
    }
}

cnn::cnn! {
    /// A flat input.
    pub struct FlatInput {
        input 20,
        Dense 8 relu,
        Dense 3,
    }
}

cnn::cnn! {
    /// ZeroPad with different rows and columns, on the input and between convolutions.
    pub struct ZeroPads {
        input 2@5x6,
        ZeroPad 1x2,
        Conv2D 3@3 relu,
        ZeroPad 2,
        Conv2D 2@3x2,
        Flatten,
        Dense 4,
    }
}

cnn::cnn! {
    /// Every option at once, as in the crate documentation.
    pub struct Everything {
        input 3@32x48,
        ZeroPad 2x1,
        Conv2D 8@3x5 stride 2x1 padding 1x2 leaky_relu 0.2,
        BatchNorm,
        Conv2D 8@4 same relu,
        AvgPool 3x2 stride 2,
        Conv2D 16@3 padding valid,
        Tanh,
        MaxPool 2 stride 1,
        Flatten,
        Dropout 0.25,
        Dense 32 relu,
        LeakyReLU,
        Dense 10,
        Softmax,
    }
}

#[test]
fn batchnorm_after_conv_and_dense_matches_reference() {
    check::<BatchNorms>(40);
}

#[test]
fn dropout_is_identity_and_matches_reference() {
    check::<Dropouts>(41);
}

#[test]
fn flatten_right_after_the_input_matches_reference() {
    check::<FlattenInput>(42);
}

#[test]
fn flat_input_network_matches_reference() {
    check::<FlatInput>(43);
}

#[test]
fn zeropad_matches_reference() {
    let network = check::<ZeroPads>(44);
    assert_eq!(network.layers()[0].output, Shape::image(2, 7, 10));
}

#[test]
fn every_option_at_once_matches_reference() {
    check::<Everything>(45);
}

// ---------------------------------------------------------------------------------------------
// The interpreter itself.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_comparison_fails_on_a_wrong_output() {
    let result = std::panic::catch_unwind(|| assert_close("test", &[1.0, 2.0], &[1.0, 2.0001]));
    assert!(result.is_err());
    assert_close("test", &[1.0, 200.0], &[1.000_001, 200.001]);
}

#[test]
fn every_seed_gives_the_same_agreement() {
    // Other random weights and inputs for the networks with the most layers.
    for seed in 100..103 {
        check::<LeNet5BatchNorm>(seed);
        check::<Everything>(seed);
        check::<ActivationLayers>(seed);
    }
}
