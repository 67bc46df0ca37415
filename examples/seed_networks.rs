//! The seed networks of the Keras, TF2 and PyTorch tutorials (declared with `cnn!` in `cnn::zoo`):
//! prints each one's summary (the table the compiler checked) and runs a forward pass on a batch.
//!
//! ```text
//! cargo run --release --features zoo --example seed_networks
//! ```

use cnn::zoo::{KerasLeNet5, KerasLeNetExercise, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::Model;

/// Prints the summary of `M` and the first output of a forward pass over a small batch.
fn show<M: Model>(seed: u64) {
    println!("{}", M::summary());
    let model = M::new(seed);
    let mut rng = cnn::runtime::Rng::new(seed);
    let batch: Vec<M::Input> = (0..4)
        .map(|_| {
            let mut x: M::Input = cnn::runtime::tensor::zeroed();
            rng.fill_uniform(cnn::runtime::tensor::flat_mut(&mut x), 0.0, 1.0);
            x
        })
        .collect();
    let outputs = model.forward_batch(&batch);
    let first: Vec<String> = cnn::runtime::tensor::flat(&outputs[0]).iter().map(|v| format!("{v:.3}")).collect();
    println!("forward of {} random images; the first gives [{}]\n", batch.len(), first.join(", "));
}

fn main() {
    show::<KerasLeNet5>(1);
    show::<LeNet5>(1);
    show::<Tf2Net>(1);
    show::<KerasLeNetExercise>(1);
    show::<LeNet5BatchNorm>(1);
}
