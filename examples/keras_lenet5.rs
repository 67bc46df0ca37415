//! The Keras tutorial's LeNet-5 (sigmoid, 44,426 parameters; `cnn::zoo::KerasLeNet5`): SGD at
//! learning rate 0.9, batch 32, 5 epochs, from Keras's Glorot-uniform initialisation.
//!
//! At this learning rate the sigmoid network sits on a plateau at chance (loss 2.30) until it
//! breaks out, and when that happens depends on the seed: measured here, seed 2 broke out in epoch 3
//! and reached 98.03% after 5 epochs (98.00% with the scalar sigmoid), seeds 1 and 3 stayed on the plateau for all 5 epochs. PyTorch
//! behaves the same with Xavier-uniform weights (seed 1: 10.3% after epoch 1, 96.9% after epoch 3).
//! So the example defaults to seed 2; try others with `--seed N`.
//!
//! ```text
//! cargo run --release --features zoo --example keras_lenet5 -- [--data DIR] [--epochs N] [--threads N] [--out DIR]
//! ```

mod common;

use cnn::runtime::optim::Sgd;
use cnn::zoo::KerasLeNet5;
use cnn::Init;

fn main() -> std::process::ExitCode {
    common::main::<KerasLeNet5>(
        common::Recipe {
            title: "Keras LeNet-5 on MNIST (sigmoid, SGD 0.9, batch 32)",
            name: "keras_lenet5",
            epochs: 5,
            batch_size: 32,
            init: Init::GlorotUniform,
            normalize: common::Normalize::UNIT,
            optimizer: || Box::new(Sgd::new(0.9)),
            published: "97.8%",
        },
        2,
    )
}
