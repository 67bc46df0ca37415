//! The main example: trains LeNet-5 (ReLU, padding 2; `cnn::zoo::LeNet5`) on MNIST with Adam 1e-3,
//! batch 64, for 3 epochs, and reports the test accuracy; writes the training history, curve and
//! weights under `target/lenet5/`.
//!
//! ```text
//! cargo run --release --example lenet5 -- [--data DIR] [--epochs N] [--threads N] [--out DIR]
//! ```
//!
//! MNIST is read from `--data DIR`, else `$MNIST_DIR`, else `../shared/data/mnist`.

mod common;

use cnn::runtime::optim::Adam;
use cnn::zoo::LeNet5;
use cnn::Init;

fn main() -> std::process::ExitCode {
    common::main::<LeNet5>(
        common::Recipe {
            title: "LeNet-5 on MNIST (Adam 1e-3, batch 64)",
            name: "lenet5",
            epochs: 3,
            batch_size: 64,
            init: Init::PyTorch,
            normalize: common::Normalize::MNIST,
            optimizer: || Box::new(Adam::new(1e-3)),
            published: "at least 98.8% within 3 epochs (the target)",
        },
        1,
    )
}
