//! Training, for real but short: LeNet-5 learns on a subset of MNIST; the same seed and thread
//! count give the same weights; divergence stops with the last good weights.

use cnn::runtime::tensor::batch_flat;
use std::path::PathBuf;

use cnn::runtime::data::{Dataset, Mnist, Normalize};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::{Adam, Sgd};
use cnn::runtime::train::{evaluate, predict, Fit, FitError, TrainError, Trainer};
use cnn::zoo::{KerasLeNet5, LeNet5};
use cnn::{Init, Model};

fn mnist() -> Mnist {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    Mnist::load(&dir).unwrap_or_else(|e| panic!("the tests read MNIST from ../shared/data/mnist: {e}"))
}

fn weights<M: Model>(m: &M) -> Vec<u32> {
    let mut all = Vec::new();
    m.visit_params(&mut |_, v| all.extend(v.iter().map(|x| x.to_bits())));
    all
}

#[test]
fn lenet5_learns_on_a_subset_of_mnist() {
    let mnist = mnist();
    let train = Dataset::new(mnist.train(), Normalize::MNIST).unwrap().subset(8_000);
    let test = Dataset::new(mnist.test(), Normalize::MNIST).unwrap();
    let mut model = LeNet5::with_init(Init::PyTorch, 1);
    let (_, before) = evaluate(&model, &test, Loss::CrossEntropy).unwrap();
    let history = Fit::new(2, 64).quiet().validation(&test).run(&mut model, &train, &mut Adam::new(1e-3)).unwrap();
    let after = history.epochs[1].val_accuracy.unwrap();
    assert!(before < 0.3, "an untrained network is near chance, got {before}");
    assert!(
        after > 0.92,
        "two epochs on 8,000 images must reach 92% on the 10,000 test images (PyTorch: 94.8%), got {after}"
    );
    assert!(history.epochs[1].loss < history.epochs[0].loss, "{:?}", history.epochs);
    // predict gives the classes behind that accuracy.
    let classes = predict(&model, test.images());
    let right = classes.iter().zip(test.labels()).filter(|(c, l)| **c == usize::from(**l)).count();
    assert_eq!(right as f64 / test.len() as f64, after);
}

#[test]
fn same_seed_and_threads_give_the_same_weights() {
    let mnist = mnist();
    let train = Dataset::new(mnist.train(), Normalize::UNIT).unwrap().subset(640);
    let run = |threads| {
        let mut model = LeNet5::new(3);
        Fit::new(1, 64).quiet().threads(threads).seed(9).run(&mut model, &train, &mut Adam::new(1e-3)).unwrap();
        weights(&model)
    };
    assert_eq!(run(2), run(2));
    assert_ne!(run(2), weights(&LeNet5::new(3)), "training changed nothing");
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_weights() {
    let mnist = mnist();
    let train = Dataset::new(mnist.train(), Normalize::UNIT).unwrap().subset(256);
    let xs = train.images_as::<<KerasLeNet5 as Model>::Input>().unwrap();
    let mut model = KerasLeNet5::new(0);
    let mut trainer = Trainer::new(&model, 1, 0);
    let mut optimizer = Sgd::new(1e38);
    let mut result = Ok(Default::default());
    let mut last_good = weights(&model);
    for k in 0..8 {
        let batch = 32 * k..32 * (k + 1);
        result = trainer.step(
            &mut model,
            batch_flat(&xs[batch.clone()]),
            &train.labels()[batch],
            Loss::CrossEntropy,
            &mut optimizer,
        );
        if result.is_err() {
            break;
        }
        last_good = weights(&model);
    }
    match result {
        Err(e @ TrainError::NotFinite { .. }) => {
            assert!(e.to_string().contains("Lower the learning rate"), "{e}");
            assert_eq!(weights(&model), last_good, "the weights must be those before the failed step");
        }
        other => panic!("a learning rate of 1e38 must diverge, got {other:?}"),
    }
    // Through fit, the error reaches the caller as a value.
    let mut model = KerasLeNet5::new(0);
    let err = Fit::new(1, 32).quiet().run(&mut model, &train, &mut Sgd::new(1e38)).unwrap_err();
    assert!(matches!(err, FitError::Train(TrainError::NotFinite { .. })), "{err}");
}
