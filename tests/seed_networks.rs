//! Parameter counts and output shapes of the seed networks, against Keras's `model.summary()`.

use cnn::zoo::*;
use cnn::{Model, Shape};

fn params(layers: &[cnn::LayerInfo<'static>]) -> Vec<usize> {
    layers.iter().map(|l| l.trainable + l.non_trainable).collect()
}

fn shapes(layers: &[cnn::LayerInfo<'static>]) -> Vec<String> {
    layers.iter().map(|l| l.output.to_string()).collect()
}

#[test]
fn keras_lenet5_has_keras_parameter_counts() {
    assert_eq!(KerasLeNet5::TRAINABLE_PARAMS, 44_426);
    assert_eq!(KerasLeNet5::NON_TRAINABLE_PARAMS, 0);
    assert_eq!(params(KerasLeNet5::LAYERS), [156, 0, 2_416, 0, 0, 30_840, 10_164, 850]);
    assert_eq!(shapes(KerasLeNet5::LAYERS), ["6@24x24", "6@12x12", "16@8x8", "16@4x4", "256", "120", "84", "10"]);
    assert_eq!(KerasLeNet5::INPUT_SHAPE, Shape::image(1, 28, 28));
    assert_eq!(KerasLeNet5::OUTPUT_SHAPE, Shape::flat(10));
}

#[test]
fn tf2_network_has_keras_parameter_counts() {
    assert_eq!(Tf2Net::TRAINABLE_PARAMS, 3_274_634);
    let with_params: Vec<usize> = params(Tf2Net::LAYERS).into_iter().filter(|&p| p > 0).collect();
    assert_eq!(with_params, [832, 51_264, 3_212_288, 10_250]);
    assert_eq!(shapes(Tf2Net::LAYERS), ["32@28x28", "32@14x14", "64@14x14", "64@7x7", "3136", "1024", "10"]);
}

#[test]
fn keras_lenet_exercise_shapes() {
    assert_eq!(
        shapes(KerasLeNetExercise::LAYERS),
        ["6@28x28", "6@14x14", "16@7x7", "16@2x2", "64", "120", "100", "10"]
    );
    assert_eq!(params(KerasLeNetExercise::LAYERS), [156, 0, 6_160, 0, 0, 7_800, 12_100, 1_010]);
}

#[test]
fn lenet5_with_padding_and_batchnorm() {
    assert_eq!(LeNet5::TRAINABLE_PARAMS, 61_706);
    assert_eq!(shapes(LeNet5::LAYERS)[..4], ["6@28x28", "6@14x14", "16@10x10", "16@5x5"]);
    assert_eq!(shapes(LeNet5BatchNorm::LAYERS)[0], "1@32x32");
    // BatchNorm: 2 trainable and 2 running statistics per channel or feature.
    assert_eq!(LeNet5BatchNorm::NON_TRAINABLE_PARAMS, 2 * (6 + 16 + 120 + 84));
    assert_eq!(LeNet5BatchNorm::TRAINABLE_PARAMS, 61_706 + 2 * (6 + 16 + 120 + 84));
}

#[test]
fn forward_macs_count_conv_and_dense() {
    // conv1 6*24*24*25, conv2 16*8*8*150, dense 256*120 + 120*84 + 84*10
    assert_eq!(KerasLeNet5::FORWARD_MACS, 86_400 + 153_600 + 30_720 + 10_080 + 840);
}

#[test]
fn summary_is_the_keras_table() {
    let s = KerasLeNet5::summary();
    assert!(s.starts_with("Model: \"KerasLeNet5\""), "{s}");
    assert!(s.contains("conv1 (Conv2D 6@5x5 sigmoid)"), "{s}");
    assert!(s.contains("dense3 (Dense 10 softmax)"), "{s}");
    assert!(s.contains("Total params: 44,426"), "{s}");
    assert!(s.contains("Non-trainable params: 0"), "{s}");
}

#[test]
fn field_names_follow_kind_and_position() {
    let model = KerasLeNet5::new(0);
    assert_eq!(model.conv2.weight.len(), 16);
    assert_eq!(model.conv2.weight[0].len(), 6);
    assert_eq!(model.dense3.bias.len(), 10);
    let mut names = Vec::new();
    model.visit_params(&mut |id, values| names.push(format!("{}.{} {}", id.layer, id.tensor, values.len())));
    assert_eq!(
        names,
        [
            "conv1.weight 150",
            "conv1.bias 6",
            "conv2.weight 2400",
            "conv2.bias 16",
            "dense1.weight 30720",
            "dense1.bias 120",
            "dense2.weight 10080",
            "dense2.bias 84",
            "dense3.weight 840",
            "dense3.bias 10"
        ]
    );
}

#[test]
fn tf2_network_is_built_and_run_on_a_2_mb_stack() {
    let out = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let model = Tf2Net::new(1);
            let x = [[[0.25f32; 28]; 28]; 1];
            model.forward(&x)
        })
        .expect("spawn")
        .join()
        .expect("Tf2Net must be built and run inside a 2 MB stack");
    assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn declaration_is_the_canonical_layer_list() {
    assert_eq!(
        KerasLeNet5::DECLARATION,
        "input 1@28x28, Conv2D 6@5x5 sigmoid, MaxPool 2, Conv2D 16@5x5 sigmoid, MaxPool 2, Flatten, \
         Dense 120 sigmoid, Dense 84 sigmoid, Dense 10 softmax"
    );
    assert_eq!(
        Tf2Net::DECLARATION,
        "input 1@28x28, Conv2D 32@5x5 padding same relu, MaxPool 2, Conv2D 64@5x5 padding same relu, MaxPool 2, \
         Flatten, Dense 1024 relu, Dense 10 softmax"
    );
}

fn weights<M: Model>(model: &M) -> Vec<f32> {
    let mut all = Vec::new();
    model.visit_params(&mut |_, values| all.extend_from_slice(values));
    all
}

#[test]
fn initialisation_is_deterministic_per_seed_and_scheme() {
    assert_eq!(weights(&LeNet5::new(7)), weights(&LeNet5::new(7)));
    assert_ne!(weights(&LeNet5::new(7)), weights(&LeNet5::new(8)));
    let keras = LeNet5::new(7);
    let torch = LeNet5::with_init(cnn::Init::PyTorch, 7);
    assert_ne!(weights(&keras), weights(&torch));
    // Keras: zero biases, conv1 kernels within the Glorot limit sqrt(6 / (25 + 150)).
    assert!(keras.conv1.bias.iter().all(|&b| b == 0.0));
    let limit = (6.0f32 / 175.0).sqrt();
    let conv1 = cnn::runtime::tensor::flat(&*keras.conv1.weight);
    assert!(conv1.iter().all(|w| w.abs() <= limit) && conv1.iter().any(|w| w.abs() > 0.8 * limit));
    // PyTorch: biases drawn too, within 1/sqrt(fan_in) = 1/5.
    assert!(torch.conv1.bias.iter().any(|&b| b != 0.0) && torch.conv1.bias.iter().all(|b| b.abs() <= 0.2));
}
