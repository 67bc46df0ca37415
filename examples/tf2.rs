//! The TF2 tutorial's network (32 and 64 filters of 5x5 `same`, Dense 1024; `cnn::zoo::Tf2Net`):
//! Adam 1e-3, batch 50, 5 epochs, from Keras's initialisation on x/255 inputs, as the tutorial.
//!
//! ```text
//! cargo run --release --example tf2 -- [--data DIR] [--epochs N] [--threads N] [--out DIR]
//! ```

mod common;

use cnn::runtime::optim::Adam;
use cnn::zoo::Tf2Net;
use cnn::Init;

fn main() -> std::process::ExitCode {
    common::main::<Tf2Net>(
        common::Recipe {
            title: "TF2 tutorial network on MNIST (Adam 1e-3, batch 50)",
            name: "tf2",
            epochs: 5,
            batch_size: 50,
            init: Init::GlorotUniform,
            normalize: common::Normalize::UNIT,
            optimizer: || Box::new(Adam::new(1e-3)),
            published: "99.15%",
        },
        1,
    )
}
