//! `forward_batch_with` (the layers from the first `Dense` on run over blocks of samples, `Dense`
//! with the batched kernel) against `forward_with` sample by sample, on every kernel path: for
//! every zoo network and for small networks that reach each branch of the generated code, on
//! batches that are not whole blocks. The zoo networks need the `zoo` feature (`--all-features`).

use cnn::runtime::kernels::isa::{with_isa, Isa};
use cnn::runtime::model::INFERENCE_BLOCK;
use cnn::runtime::tensor::{batch_flat, batch_flat_mut, zeroed};
use cnn::runtime::Rng;
#[cfg(feature = "zoo")]
use cnn::zoo::{KerasLeNet5, KerasLeNetExercise, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::{cnn, Init, Model};

cnn! {
    /// Starts with its `Dense` (no layer runs sample by sample before the block); a `Dropout`
    /// and an activation layer over the block.
    struct DenseFirst {
        input 50,
        Dense 20 relu,
        Dropout 0.5,
        Dense 7,
        Softmax,
    }
}

cnn! {
    /// `Flatten` and `Dropout` right after the input (copied into the block), then `BatchNorm`
    /// and `LeakyReLU` over it.
    struct FlattenFirst {
        input 2@5x5,
        Flatten,
        Dropout 0.1,
        Dense 9 tanh,
        BatchNorm,
        LeakyReLU,
        Dense 3,
    }
}

cnn! {
    /// A convolution writing the block directly, renamed by `Dropout` and `Flatten`.
    struct ConvThenRenames {
        input 1@8x8,
        Conv2D 4@3 sigmoid,
        Dropout 0.2,
        Flatten,
        Dense 5 leaky_relu 0.2,
    }
}

cnn! {
    /// No `Dense`: the trait's sample-by-sample default.
    struct NoDense {
        input 1@8x8,
        Conv2D 2@3 relu,
        MaxPool 2,
    }
}

/// Batch sizes checked: empty, tiny, and around and across whole blocks.
fn batch_sizes() -> Vec<usize> {
    vec![0, 1, 2, 31, 64, 257, INFERENCE_BLOCK - 1, INFERENCE_BLOCK + 1, 2 * INFERENCE_BLOCK + 3]
}

/// Largest relative difference allowed: the batched dense kernel sums in another order, so its
/// results differ from the one-sample kernel's by rounding only (at most 3.2e-7 measured).
const TOLERANCE: f32 = 2e-6;

/// A model of random weights, with random biases and BatchNorm statistics (so no layer is an
/// identity), and `n` random inputs.
fn model_and_inputs<M: Model>(seed: u64, n: usize) -> (M, Vec<M::Input>) {
    let mut rng = Rng::new(seed);
    let mut model = M::with_init(Init::PyTorch, seed);
    model.visit_params_mut(&mut |id, values| match id.tensor {
        "running_var" => rng.fill_uniform(values, 0.5, 1.5),
        "running_mean" | "bias" => rng.fill_uniform(values, -0.5, 0.5),
        _ => {}
    });
    let mut xs = vec![zeroed::<M::Input>(); n];
    rng.fill_uniform(batch_flat_mut(&mut xs), -1.0, 1.0);
    (model, xs)
}

/// `Err` naming the worst element if `actual` is not within [`TOLERANCE`] of `expected`,
/// relative to the largest output of the sample (outputs near zero compare absolutely).
fn compare(out_len: usize, actual: &[f32], expected: &[f32]) -> Result<(), String> {
    assert_eq!(actual.len(), expected.len(), "output lengths");
    let mut worst = (0.0f32, 0);
    for (s, (a, e)) in actual.chunks(out_len).zip(expected.chunks(out_len)).enumerate() {
        let scale = e.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (k, (&a, &e)) in a.iter().zip(e).enumerate() {
            let error = (a - e).abs() / scale;
            // A NaN counts as the worst.
            if error.is_nan() || error > worst.0 {
                worst = (error, s * out_len + k);
            }
        }
    }
    match worst {
        (error, k) if error.is_nan() || error > TOLERANCE => Err(format!(
            "output float {k} (sample {}): batched {} vs one by one {} (relative error {error:e})",
            k / out_len.max(1),
            actual[k],
            expected[k]
        )),
        _ => Ok(()),
    }
}

/// Runs `f` on a thread with room for the TF2 network's kernels on its stack.
#[cfg(feature = "zoo")]
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(16 << 20).spawn(f).expect("a thread").join().expect("the check passes");
}

/// `forward_batch_with` on every batch size against `forward_with` one sample at a time, on every
/// kernel path; the workspace is poisoned before each call and the outputs before they are
/// written, so stale or unwritten floats show as NaN.
fn batched_matches_one_by_one<M: Model>(seed: u64) {
    let sizes = batch_sizes();
    let (model, xs) = model_and_inputs::<M>(seed, *sizes.iter().max().unwrap());
    let out_len = M::OUTPUT_SHAPE.len();
    for isa in Isa::available() {
        with_isa(isa, || {
            let mut ws = M::workspace();
            let mut expected = vec![zeroed::<M::Output>(); xs.len()];
            for (x, y) in xs.iter().zip(&mut expected) {
                model.forward_with(x, y, &mut ws);
            }
            for &n in &sizes {
                let mut ys = vec![zeroed::<M::Output>(); n];
                batch_flat_mut(&mut ys).fill(f32::NAN);
                ws.slice(M::BATCH_WORKSPACE_LEN).fill(f32::NAN);
                model.forward_batch_with(&xs[..n], &mut ys, &mut ws);
                if let Err(e) = compare(out_len, batch_flat(&ys), batch_flat(&expected[..n])) {
                    panic!("{} on {isa}, batch of {n}: {e}", M::NAME);
                }
            }
        });
    }
}

#[cfg(feature = "zoo")]
#[test]
fn every_zoo_network_batched_matches_one_by_one_on_every_path() {
    batched_matches_one_by_one::<KerasLeNet5>(1);
    batched_matches_one_by_one::<LeNet5>(2);
    batched_matches_one_by_one::<KerasLeNetExercise>(3);
    batched_matches_one_by_one::<LeNet5BatchNorm>(4);
    with_big_stack(|| batched_matches_one_by_one::<Tf2Net>(5));
}

#[test]
fn every_branch_of_the_generated_code_matches_one_by_one() {
    batched_matches_one_by_one::<DenseFirst>(6);
    batched_matches_one_by_one::<FlattenFirst>(7);
    batched_matches_one_by_one::<ConvThenRenames>(8);
    batched_matches_one_by_one::<NoDense>(9);
}

/// Only networks with a `Dense` layer need more workspace for the batched path.
#[cfg(feature = "zoo")]
#[test]
fn the_batch_workspace_holds_a_block_only_with_a_dense_layer() {
    assert_eq!(NoDense::BATCH_WORKSPACE_LEN, NoDense::WORKSPACE_LEN);
    // One sample before its first Dense (the workspace of forward_with up to there) and a block
    // of 3136 + 1024 + 10 floats per sample from there on.
    let head = 32 * 28 * 28 + 32 * 14 * 14 + 64 * 14 * 14;
    assert_eq!(Tf2Net::BATCH_WORKSPACE_LEN, head + INFERENCE_BLOCK * (3136 + 1024 + 10));
    assert_eq!(DenseFirst::BATCH_WORKSPACE_LEN, INFERENCE_BLOCK * (20 + 7 + 7));
}

/// The comparison catches a batch whose outputs are right but in the wrong places: two samples
/// swapped, every sample of a block moved by one, or one float off by 1e-3.
#[cfg(feature = "zoo")]
#[test]
fn the_comparison_fails_on_a_misplaced_sample() {
    fn misplaced<M: Model>(seed: u64) {
        let (model, xs) = model_and_inputs::<M>(seed, INFERENCE_BLOCK + 5);
        let mut ys = vec![zeroed::<M::Output>(); xs.len()];
        model.forward_batch_with(&xs, &mut ys, &mut M::workspace());
        let expected: Vec<M::Output> = xs.iter().map(|x| model.forward(x)).collect();
        let out_len = M::OUTPUT_SHAPE.len();
        assert_eq!(compare(out_len, batch_flat(&ys), batch_flat(&expected)), Ok(()), "{}", M::NAME);
        let mut swapped = ys.clone();
        swapped.swap(3, INFERENCE_BLOCK + 1);
        assert!(compare(out_len, batch_flat(&swapped), batch_flat(&expected)).is_err(), "{}: swap", M::NAME);
        let mut shifted = ys.clone();
        shifted[..INFERENCE_BLOCK].rotate_left(1);
        assert!(compare(out_len, batch_flat(&shifted), batch_flat(&expected)).is_err(), "{}: shift", M::NAME);
        let mut one_off = ys;
        let k = 7 * out_len + out_len / 2;
        batch_flat_mut(&mut one_off)[k] += 1e-3;
        assert!(compare(out_len, batch_flat(&one_off), batch_flat(&expected)).is_err(), "{}: 1e-3 off", M::NAME);
    }
    misplaced::<LeNet5>(10);
    misplaced::<KerasLeNet5>(11);
    with_big_stack(|| misplaced::<Tf2Net>(12));
}
