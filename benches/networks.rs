//! Generated code against the dynamic runtime, on the same network, weights and real MNIST images:
//! inference at batch 1 (one thread), 64 and 256 (every core), and one training step (forward,
//! backward, Adam) at batch 64 (every core), for LeNet-5 (`examples/lenet5.rs`), the Keras
//! tutorial's LeNet and the TF2 tutorial's network.
//!
//! ```text
//! cargo bench --features dynamic,zoo --bench networks [-- FILTER]
//! ```
//!
//! Throughput is in images ("elements") per second. MNIST is read from `$MNIST_DIR`, else
//! `../shared/data/mnist` (see `cnn::runtime::data::resolve_dir`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use cnn::dynamic::DynModel;
use cnn::runtime::data::{resolve_dir, Dataset, Mnist, Normalize};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::Adam;
use cnn::runtime::train::{infer, Trainer};
use cnn::zoo::{KerasLeNet5, LeNet5, Tf2Net};
use cnn::{Init, Model, Trainable};

/// Inference batch sizes.
const INFERENCE_BATCHES: [usize; 3] = [1, 64, 256];
/// Batch of the training step.
const TRAIN_BATCH: usize = 64;

/// The first 256 training images of MNIST, padded to the network's input size, with their labels.
fn images_for(input: cnn::Shape) -> (Vec<f32>, Vec<u8>) {
    let dir = resolve_dir(None);
    let mnist = Mnist::load(&dir).unwrap_or_else(|e| panic!("the benches read MNIST: {e}"));
    let data = Dataset::new(mnist.train(), Normalize::MNIST).expect("MNIST normalises").subset(256);
    let rows = match input {
        cnn::Shape::Image { h, .. } => h,
        cnn::Shape::Flat { .. } => 28,
    };
    let pad = rows.saturating_sub(28) / 2;
    let data = if pad > 0 { data.pad(pad).expect("pads") } else { data };
    (data.images().to_vec(), data.labels().to_vec())
}

/// A rayon pool of `threads` threads (0: every core).
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
}

/// Inference of `batch` images through `model`, in a pool of one thread for batch 1 (as a server
/// answering one request runs it) and of every core otherwise.
fn bench_inference<T: Trainable>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    engine: &str,
    model: &T,
    images: &[f32],
) {
    let (input_len, output_len) = (model.input_shape().len(), model.output_shape().len());
    for batch in INFERENCE_BATCHES {
        let pool = pool(if batch == 1 { 1 } else { 0 });
        let xs = &images[..batch * input_len];
        let mut ys = vec![0.0; batch * output_len];
        let mut scratch = model.scratch();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new(format!("inference/{engine}"), batch), |b| {
            pool.install(|| {
                if batch == 1 {
                    b.iter(|| model.forward_batch_flat(black_box(xs), &mut ys, &mut scratch))
                } else {
                    b.iter(|| infer(model, black_box(xs), &mut ys))
                }
            })
        });
    }
}

/// One training step of `model` at [`TRAIN_BATCH`] on every core.
fn bench_train_step<T: Trainable>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    engine: &str,
    mut model: T,
    images: &[f32],
    labels: &[u8],
) {
    let pool = pool(0);
    let xs = &images[..TRAIN_BATCH * model.input_shape().len()];
    let labels = &labels[..TRAIN_BATCH];
    let mut trainer = Trainer::new(&model, pool.current_num_threads(), 0);
    let mut adam = Adam::new(1e-3);
    group.throughput(Throughput::Elements(TRAIN_BATCH as u64));
    group.bench_function(BenchmarkId::new(format!("train_step/{engine}"), TRAIN_BATCH), |b| {
        pool.install(|| {
            b.iter(|| trainer.step(&mut model, black_box(xs), labels, Loss::CrossEntropy, &mut adam).expect("finite"))
        })
    });
}

/// Every measurement of network `M`, generated and dynamic, on the same weights.
fn bench_network<M: Model>(c: &mut Criterion, name: &str, slow: bool) {
    let generated = M::with_init(Init::PyTorch, 1);
    let dynamic = DynModel::from_declaration(M::DECLARATION, Init::PyTorch, 1).expect("the declaration builds");
    let (images, labels) = images_for(M::INPUT_SHAPE);
    let mut group = c.benchmark_group(name);
    if slow {
        group.sample_size(10).measurement_time(Duration::from_secs(8));
    }
    bench_inference(&mut group, "generated", &generated, &images);
    bench_inference(&mut group, "dynamic", &dynamic, &images);
    bench_train_step(&mut group, "generated", generated, &images, &labels);
    bench_train_step(&mut group, "dynamic", dynamic, &images, &labels);
    group.finish();
}

fn networks(c: &mut Criterion) {
    bench_network::<LeNet5>(c, "lenet5", false);
    bench_network::<KerasLeNet5>(c, "keras_lenet5", false);
    bench_network::<Tf2Net>(c, "tf2", true);
}

criterion_group!(benches, networks);
criterion_main!(benches);
