//! One training step against PyTorch: from the same initial weights and batch, the loss, every
//! gradient, the weights after an Adam step (BatchNorm running statistics included) and after two
//! steps of SGD with momentum are PyTorch's, for the twins of `cnn::zoo::LeNet5` and
//! `cnn::zoo::LeNet5BatchNorm`.
//!
//! The fixtures are written by `bench/pytorch_step_fixtures.py`, which documents their format.
//!
//! # Tolerance
//! Every value `got` is compared with PyTorch's `want` elementwise:
//! `|got − want| ≤ 1e-5 · max(1, |want|)`, an absolute 1e-5 below 1 (all gradients and weights
//! here) and relative above (running variances near 1); losses (about 2.3) to an absolute 1e-5.
//! Both sides compute in float32 and sum in different orders; the largest differences seen are
//! 1.4e-6 (the `conv1.weight` gradient of the BatchNorm network, a sum over 16x32x32 positions, of
//! values up to 0.45) and 8e-7 (weights after Adam, whose first step `lr·g / (|g| + 1e-8)`
//! magnifies the rounding of gradients near 1e-8; gradients themselves agree to 1.5e-8 without
//! BatchNorm), so 1e-5 leaves a margin of 7 while still catching a wrong formula: every trainable
//! tensor of every expected state moves by more than 10 times the tolerance (Adam moves weights by
//! about lr = 1e-3), which the tests check.
//!
//! # Biases before BatchNorm
//! A bias followed by BatchNorm has a zero gradient (the batch mean subtracts it); what both
//! sides compute is rounding noise, below 1.1e-6 here, which the gradient comparison accepts.
//! Adam's first step divides that noise by its own magnitude, moving each such bias by up to
//! lr = 1e-3 in a direction set by the noise: after the Adam step, those biases are only checked to
//! have moved by at most lr, on both sides.

use cnn::runtime::tensor::batch_flat;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use cnn::runtime::io::load_pytorch;
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::{Adam, Optimizer, Sgd};
use cnn::runtime::train::{TrainState, Trainer};
use cnn::zoo::{LeNet5, LeNet5BatchNorm};
use cnn::Model;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cnn-runtime/tests/fixtures/pytorch_step");
const BATCH: usize = 16;
const TOLERANCE: f32 = 1e-5;

type Image = [[[f32; 28]; 28]; 1];

/// The two batches and what PyTorch computed on them.
struct Fixtures {
    images: [Vec<Image>; 2],
    labels: [Vec<u8>; 2],
    /// Mean loss of each (run, step).
    losses: HashMap<(String, usize), f32>,
}

fn fixtures() -> Fixtures {
    let bytes = fs::read(Path::new(FIXTURES).join("images.f32")).unwrap();
    assert_eq!(bytes.len(), 2 * BATCH * 28 * 28 * 4, "images.f32: 2 batches of 16 images 1x28x28 in float32");
    let pixels: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let images: Vec<Image> = pixels
        .chunks_exact(28 * 28)
        .map(|p| {
            let mut image = [[[0f32; 28]; 28]; 1];
            for (i, &v) in p.iter().enumerate() {
                image[0][i / 28][i % 28] = v;
            }
            image
        })
        .collect();
    assert!(pixels.iter().all(|v| (0.0..1.0).contains(v)));

    let text = fs::read_to_string(Path::new(FIXTURES).join("expected.txt")).unwrap();
    let mut labels = [Vec::new(), Vec::new()];
    let mut losses = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "labels" => {
                labels[words[1].parse::<usize>().unwrap()] = words[2..].iter().map(|w| w.parse().unwrap()).collect()
            }
            "loss" => {
                losses.insert((words[1].to_owned(), words[2].parse().unwrap()), words[3].parse().unwrap());
            }
            other => panic!("expected.txt: unknown record {other}"),
        }
    }
    assert!(labels.iter().all(|l| l.len() == BATCH && l.iter().all(|&c| c < 10)), "{labels:?}");
    let second = images[BATCH..].to_vec();
    Fixtures { images: [images[..BATCH].to_vec(), second], labels, losses }
}

/// A model holding the tensors of the PyTorch `state_dict` in `{name}.safetensors`.
fn load<M: Model>(name: &str) -> M {
    let mut model = M::new(0);
    load_pytorch(&mut model, &Path::new(FIXTURES).join(format!("{name}.safetensors")))
        .unwrap_or_else(|e| panic!("{e}"));
    model
}

/// Every tensor of `model` in visit order: name, trainable, values.
fn tensors<M: Model>(model: &M) -> Vec<(String, bool, Vec<f32>)> {
    let mut out = Vec::new();
    model.visit_params(&mut |id, v| out.push((format!("{}.{}", id.layer, id.tensor), id.trainable, v.to_vec())));
    out
}

/// Asserts that every tensor of `got` (only the trainable ones unless `all`), except those named
/// in `skip`, is within the tolerance of the same tensor of `want`, naming the worst element of
/// the first that is not.
fn assert_close<M: Model>(what: &str, got: &M, want: &M, all: bool, skip: &[&str]) {
    let mut compared = 0;
    for ((name, trainable, got), (_, _, want)) in tensors(got).into_iter().zip(tensors(want)) {
        if !(all || trainable) || skip.contains(&name.as_str()) {
            continue;
        }
        let excess = |(g, w): (&f32, &f32)| (g - w).abs() / w.abs().max(1.0);
        let (worst, err) =
            got.iter()
                .zip(&want)
                .map(excess)
                .enumerate()
                .fold((0, 0f32), |best, (i, e)| if e > best.1 { (i, e) } else { best });
        assert!(
            err <= TOLERANCE,
            "{what}: {name}[{worst}] is {} where PyTorch has {} (difference {:e}, tolerance {TOLERANCE:e}·max(1, |want|))",
            got[worst],
            want[worst],
            (got[worst] - want[worst]).abs()
        );
        compared += 1;
    }
    assert!(compared > 0);
}

/// Losses (about 2.3) are compared to an absolute 1e-5.
fn assert_loss(what: &str, got: f32, want: f32) {
    assert!((got - want).abs() <= TOLERANCE, "{what}: loss {got} where PyTorch has {want}");
}

/// The largest `|a − b|` of each tensor, by name.
fn max_differences<M: Model>(a: &M, b: &M) -> Vec<(String, bool, f32)> {
    let pairs = tensors(a).into_iter().zip(tensors(b));
    pairs
        .map(|((name, t, a), (_, _, b))| (name, t, a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)))
        .collect()
}

/// Asserts that `after` differs from `before` by more than 10 times the tolerance somewhere in
/// every trainable tensor not named in `skip`, so that comparing with `after` checks the update
/// (or, from zeros, that the gradients are not all below the tolerance).
fn assert_moved<M: Model>(before: &M, after: &M, skip: &[&str]) {
    for (name, trainable, moved) in max_differences(before, after) {
        if trainable && !skip.contains(&name.as_str()) {
            assert!(moved > 10.0 * TOLERANCE, "{name} moved by {moved} only");
        }
    }
}

/// The batch-mean cross-entropy of `model` in training mode and its gradients, as
/// `Trainer::step` computes them before the update (one chunk).
fn loss_and_grads<M: Model<Input = Image>>(model: &mut M, xs: &[Image], labels: &[u8]) -> (f32, M) {
    let mut grads = vec![M::zeroed()];
    let mut state = TrainState::new(0);
    let out_len = M::OUTPUT_SHAPE.len();
    let scale = 1.0 / xs.len() as f32;
    let mut loss_sum = 0f64;
    // These networks do not end in softmax: their outputs are the logits PyTorch's loss takes.
    assert!(!M::OUTPUT_SOFTMAX);
    model.train_batch(
        xs,
        &mut state,
        &mut grads,
        &mut |outputs, doutputs| {
            let samples = outputs.chunks_exact(out_len).zip(doutputs.chunks_exact_mut(out_len)).zip(labels);
            for ((output, doutput), &label) in samples {
                loss_sum += f64::from(Loss::CrossEntropy.per_sample(output, usize::from(label), doutput));
                doutput.iter_mut().for_each(|d| *d *= scale);
            }
        },
        M::OUTPUT_SOFTMAX,
    );
    ((loss_sum / xs.len() as f64) as f32, grads.pop().unwrap())
}

/// Compares the loss and gradients of the first batch with PyTorch's; the tensors named in `zero`
/// have a zero gradient in exact arithmetic and are also checked to be within the tolerance of 0.
fn gradients_match<M: Model<Input = Image>>(name: &str, zero: &[&str]) {
    let f = fixtures();
    let mut model: M = load(&format!("{name}_init"));
    let (loss, grads) = loss_and_grads(&mut model, &f.images[0], &f.labels[0]);
    assert_loss(name, loss, f.losses[&(format!("{name}_adam"), 0)]);
    let want: M = load(&format!("{name}_grads"));
    assert_moved(&M::zeroed(), &want, zero);
    assert_close(&format!("{name} gradients"), &grads, &want, false, &[]);
    let zeroed = M::zeroed();
    for (label, g) in [("ours", &grads), ("PyTorch's", &want)] {
        for (tensor, _, largest) in max_differences(&zeroed, g).into_iter().filter(|(n, ..)| zero.contains(&n.as_str()))
        {
            assert!(largest <= TOLERANCE, "{name}: {label} gradient of {tensor} reaches {largest}, expected 0");
        }
    }
}

/// Runs `Trainer::step` from the initial weights of `name` on the batches in turn and compares the
/// weights, and the loss of each step, with PyTorch's (`{name}_{run}.safetensors`); the tensors
/// named in `noise` are not compared. Returns the initial weights, ours and PyTorch's after the steps.
fn steps_match<M: Model<Input = Image>>(
    name: &str,
    run: &str,
    optimizer: &mut dyn Optimizer,
    batches: usize,
    noise: &[&str],
) -> (M, M, M) {
    let f = fixtures();
    let init: M = load(&format!("{name}_init"));
    let mut model: M = load(&format!("{name}_init"));
    let mut trainer = Trainer::new(&model, 1, 0);
    for b in 0..batches {
        let stats =
            trainer.step(&mut model, batch_flat(&f.images[b]), &f.labels[b], Loss::CrossEntropy, optimizer).unwrap();
        let loss = (stats.loss_sum / stats.samples as f64) as f32;
        assert_loss(&format!("{name} {run} step {b}"), loss, f.losses[&(format!("{name}_{run}"), b)]);
    }
    let want: M = load(&format!("{name}_{run}"));
    assert_moved(&init, &want, &[]);
    assert_close(&format!("{name} after {batches} {run} step(s)"), &model, &want, true, noise);
    (init, model, want)
}

/// The biases of `LeNet5BatchNorm` that BatchNorm follows: their gradient is zero (see the module docs).
const BIASES_BEFORE_BATCHNORM: [&str; 4] = ["conv1.bias", "conv2.bias", "dense1.bias", "dense2.bias"];

#[test]
fn lenet5_loss_and_gradients_match_pytorch() {
    gradients_match::<LeNet5>("lenet5", &[]);
}

#[test]
fn lenet5_batchnorm_loss_and_gradients_match_pytorch() {
    gradients_match::<LeNet5BatchNorm>("lenet5_batchnorm", &BIASES_BEFORE_BATCHNORM);
}

#[test]
fn lenet5_adam_step_matches_pytorch() {
    steps_match::<LeNet5>("lenet5", "adam", &mut Adam::new(1e-3), 1, &[]);
}

#[test]
fn lenet5_batchnorm_adam_step_and_running_statistics_match_pytorch() {
    let (init, ours, want) =
        steps_match::<LeNet5BatchNorm>("lenet5_batchnorm", "adam", &mut Adam::new(1e-3), 1, &BIASES_BEFORE_BATCHNORM);
    // The running statistics did move: PyTorch's start at mean 0, variance 1.
    assert!(want.batchnorm1.running_mean.iter().all(|&m| m != 0.0));
    assert!(want.batchnorm3.running_var.iter().all(|&v| v != 1.0));
    // The biases before BatchNorm moved by at most lr (a first Adam step moves by lr·|g| / (|g| + eps)).
    for (label, after) in [("ours", &ours), ("PyTorch's", &want)] {
        for (name, _, moved) in max_differences(&init, after) {
            if BIASES_BEFORE_BATCHNORM.contains(&name.as_str()) {
                assert!(moved <= 1e-3 + TOLERANCE, "{label} {name} moved by {moved}, more than lr = 1e-3");
            }
        }
    }
}

#[test]
fn lenet5_sgd_momentum_two_steps_match_pytorch() {
    steps_match::<LeNet5>("lenet5", "sgd", &mut Sgd::new(0.1).with_momentum(0.9), 2, &[]);
}
