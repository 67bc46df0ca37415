//! The PyTorch tutorial's LeNet-5 with BatchNorm on MNIST zero-padded to 32x32
//! (`cnn::zoo::LeNet5BatchNorm`): Adam 1e-3, batch 64, 10 epochs.
//!
//! ```text
//! cargo run --release --features zoo --example lenet5_batchnorm -- [--data DIR] [--epochs N] [--threads N] [--out DIR]
//! ```

mod common;

use cnn::runtime::optim::Adam;
use cnn::zoo::LeNet5BatchNorm;
use cnn::Init;

fn main() -> std::process::ExitCode {
    common::main::<LeNet5BatchNorm>(
        common::Recipe {
            title: "LeNet-5 with BatchNorm on 32x32 MNIST (Adam 1e-3, batch 64)",
            name: "lenet5_batchnorm",
            epochs: 10,
            batch_size: 64,
            init: Init::PyTorch,
            normalize: common::Normalize::MNIST,
            optimizer: || Box::new(Adam::new(1e-3)),
            published: "98.97%",
        },
        1,
    )
}
