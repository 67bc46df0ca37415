//! The dynamic runtime against the generated code: the same declaration text, the same weights
//! and inputs must give the same outputs, parameter gradients and BatchNorm statistics (to 1e-5
//! of each tensor's scale), for every layer kind and option, and the same initial weights for the
//! same seed. Weight files move between the two.

use cnn::dynamic::DynModel;
use cnn::runtime::io;
use cnn::runtime::train::TrainState;
use cnn::runtime::Rng;
use cnn::zoo::{KerasLeNet5, KerasLeNetExercise, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::{cnn, Init, Model, Trainable};

cnn! {
    /// Convolutions with strides, every padding form, every activation option; max pooling.
    pub struct Convolutions {
        input 2@11x10,
        Conv2D 4@3x3 stride 2 padding same relu,
        Conv2D 3@3x2 padding 1x1 leaky_relu 0.2,
        MaxPool 2 stride 1,
        Conv2D 5@2 stride 2x1 padding 1 tanh,
        Conv2D 4@1x3 padding valid sigmoid,
        Flatten,
        Dense 7 leaky_relu,
        Dense 3 softmax,
    }
}

cnn! {
    /// Activations as layers, average pooling, zero padding, BatchNorm on images and vectors.
    pub struct LayersOfTheirOwn {
        input 3@8x8,
        ZeroPad 2x1,
        Conv2D 4@3x3,
        BatchNorm,
        LeakyReLU,
        AvgPool 3x2 stride 2x1,
        Conv2D 5@2x2 same,
        Tanh,
        AvgPool 2,
        Flatten,
        Dense 9,
        BatchNorm,
        Sigmoid,
        Dense 6,
        ReLU,
        Dense 4,
        LeakyReLU 0.3,
        Dense 3,
        Softmax,
    }
}

cnn! {
    /// Dropout on images and vectors: the masks must be the same.
    pub struct WithDropout {
        input 1@6x6,
        Conv2D 3@3x3 relu,
        Dropout 0.25,
        Flatten,
        Dense 8 relu,
        Dropout 0.5,
        Dense 4,
    }
}

cnn! {
    /// A flat input.
    pub struct Perceptron {
        input 12,
        Dense 6 tanh,
        Dense 2,
    }
}

/// Tolerance relative to the largest magnitude of the tensor compared (at least 1). The two sides
/// sum in different orders (ndarray's matrix multiply against our FMA kernels), and BatchNorm over
/// a batch of 5 amplifies the difference: the worst case measured is LeNet5BatchNorm's
/// `dense1.weight` gradient on the AVX2 path (AMD EPYC Zen 3), 1.02e-5 of its scale; a wrong
/// gradient is off by far more.
const TOLERANCE: f32 = 2e-5;
const BATCH: usize = 5;

fn params<T: Trainable>(model: &T) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    model.visit_params(&mut |id, v| out.push((format!("{}.{}", id.layer, id.tensor), v.to_vec())));
    out
}

fn assert_close(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    let scale = theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= TOLERANCE * scale, "{what}[{i}]: dynamic {a}, generated {b} (scale {scale})");
    }
}

fn assert_params_close<A: Trainable, B: Trainable>(what: &str, dynamic: &A, generated: &B) {
    let (ours, theirs) = (params(dynamic), params(generated));
    assert_eq!(
        ours.iter().map(|p| &p.0).collect::<Vec<_>>(),
        theirs.iter().map(|p| &p.0).collect::<Vec<_>>(),
        "{what}: tensor names and order"
    );
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_close(&format!("{what} {name}"), a, b);
    }
}

/// Random weights: kernels with variance about 1/fan-in, biases in ±0.5, BatchNorm scales and
/// running variances in 0.5..1.5.
fn randomise<M: Model>(model: &mut M, rng: &mut Rng) {
    Model::visit_params_mut(model, &mut |id, v| match id.tensor {
        "weight" if id.layer.starts_with("batchnorm") => rng.fill_uniform(v, 0.5, 1.5),
        "running_var" => rng.fill_uniform(v, 0.5, 1.5),
        "weight" => {
            let bound = (3.0 / v.len().min(64) as f32).sqrt();
            rng.fill_uniform(v, -bound, bound)
        }
        _ => rng.fill_uniform(v, -0.5, 0.5),
    });
}

/// Copies every parameter of `from` into `to`, in visiting order.
fn copy_params<A: Trainable, B: Trainable>(from: &A, to: &mut B) {
    let values: Vec<Vec<f32>> = params(from).into_iter().map(|p| p.1).collect();
    let mut next = values.iter();
    to.visit_params_mut(&mut |_, v| v.copy_from_slice(next.next().expect("as many tensors")));
}

/// One training pass with a fixed output gradient: the outputs the loss saw, the gradients.
fn train_pass<T: Trainable>(model: &mut T, xs: &[f32], chunks: usize, fused: bool) -> (Vec<f32>, T) {
    let mut grads: Vec<T> = (0..chunks).map(|_| model.gradient()).collect();
    let mut seen = Vec::new();
    let mut state = TrainState::new(11);
    model.train_batch_flat(
        xs,
        &mut state,
        &mut grads,
        &mut |outputs, doutputs| {
            seen = outputs.to_vec();
            for (i, d) in doutputs.iter_mut().enumerate() {
                *d = ((i * 7 % 11) as f32 - 5.0) / 10.0;
            }
        },
        fused,
    );
    let (first, rest) = grads.split_at_mut(1);
    for other in rest {
        first[0].visit_pairs(other, &mut |_, sum, part| sum.iter_mut().zip(part).for_each(|(s, p)| *s += p));
    }
    (seen, grads.swap_remove(0))
}

/// Builds `M` at run time from its declaration and checks it against the generated `M`.
fn agrees<M: Model>() {
    let name = M::NAME;
    let text = format!("struct {name} {{ {} }}", M::DECLARATION);
    let mut dynamic = DynModel::from_declaration(&text, Init::PyTorch, 7)
        .unwrap_or_else(|e| panic!("{name}: the declaration does not build at run time: {e}"));
    let mut generated = M::with_init(Init::PyTorch, 7);
    assert_eq!(params(&dynamic), params(&generated), "{name}: the same seed must give the same weights");
    assert_eq!(Trainable::layer_infos(&dynamic)[..], M::LAYERS[..], "{name}: layer table");
    assert_eq!(dynamic.summary(), M::summary(), "{name}: summary");

    let mut rng = Rng::new(5);
    randomise(&mut generated, &mut rng);
    copy_params(&generated, &mut dynamic);
    let mut xs = vec![0.0; BATCH * M::INPUT_SHAPE.len()];
    rng.fill_uniform(&mut xs, -1.0, 1.0);

    let out_len = M::OUTPUT_SHAPE.len();
    let (mut ours, mut theirs) = (vec![0.0; BATCH * out_len], vec![0.0; BATCH * out_len]);
    dynamic.forward_batch_flat(&xs, &mut ours, &mut dynamic.scratch());
    generated.forward_batch_flat(&xs, &mut theirs, &mut Trainable::scratch(&generated));
    assert_close(&format!("{name} inference"), &ours, &theirs);

    for fused in [false, true] {
        let what = format!("{name} training (fused softmax: {fused})");
        let (mut d, mut g) = (dynamic.gradient(), generated.gradient());
        copy_params(&generated, &mut g);
        copy_params(&dynamic, &mut d);
        let (seen_d, grads_d) = train_pass(&mut d, &xs, 1, fused);
        let (seen_g, grads_g) = train_pass(&mut g, &xs, 2, fused);
        assert_close(&format!("{what}: outputs"), &seen_d, &seen_g);
        assert_params_close(&format!("{what}: gradient"), &grads_d, &grads_g);
        assert_params_close(&format!("{what}: weights and statistics after"), &d, &g);
    }
}

#[test]
fn convolutions_agree() {
    agrees::<Convolutions>();
}

#[test]
fn activation_pool_pad_and_batchnorm_layers_agree() {
    agrees::<LayersOfTheirOwn>();
}

#[test]
fn dropout_masks_agree() {
    agrees::<WithDropout>();
}

#[test]
fn flat_inputs_agree() {
    agrees::<Perceptron>();
}

#[test]
fn the_zoo_agrees() {
    agrees::<LeNet5>();
    agrees::<KerasLeNet5>();
    agrees::<KerasLeNetExercise>();
    agrees::<LeNet5BatchNorm>();
}

#[test]
fn the_tf2_network_agrees() {
    agrees::<Tf2Net>();
}

#[test]
fn weight_files_move_between_generated_and_dynamic() {
    let dir = std::env::temp_dir().join(format!("cnn-dynamic-weights-{}", std::process::id()));
    let (from_generated, from_dynamic) = (dir.join("generated.safetensors"), dir.join("dynamic.safetensors"));
    let mut generated = LeNet5BatchNorm::new(3);
    randomise(&mut generated, &mut Rng::new(9));
    io::save(&generated, &from_generated).unwrap();
    let mut dynamic = DynModel::from_declaration(LeNet5BatchNorm::DECLARATION, Init::GlorotUniform, 0).unwrap();
    io::load(&mut dynamic, &from_generated).unwrap();
    assert_eq!(params(&dynamic), params(&generated));

    io::save(&dynamic, &from_dynamic).unwrap();
    let mut back = LeNet5BatchNorm::new(0);
    io::load(&mut back, &from_dynamic).unwrap();
    assert_eq!(params(&back), params(&generated));

    let mut other = DynModel::from_declaration(LeNet5::DECLARATION, Init::GlorotUniform, 0).unwrap();
    let err = io::load(&mut other, &from_generated).unwrap_err().to_string();
    assert!(err.contains("this file holds weights for"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
