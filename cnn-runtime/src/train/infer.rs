//! Inference over a whole set of samples for any [`Trainable`] model, in parallel: outputs,
//! classes, and the loss and accuracy on a data set.

use alloc::vec::Vec;
use core::ops::Range;

use rayon::prelude::*;

use crate::data::{DataError, Dataset};
use crate::loss::Loss;
use crate::train::par;
use crate::train::trainer::argmax;
use crate::trainable::Trainable;

/// Samples per inference call in [`evaluate`] and [`predict`]: enough for a batched forward pass to
/// pay off, few enough to keep the outputs small.
const INFERENCE_BATCH: usize = 256;

/// Mean loss and accuracy of `model` on `data` (inference mode, on all threads of the current
/// rayon pool).
pub fn evaluate<M: Trainable>(model: &M, data: &Dataset, loss: Loss) -> Result<(f64, f64), DataError> {
    data.check_input_len(model.input_shape().len())?;
    let mut parts: Vec<(f64, usize)> = alloc::vec![(0.0, 0); rayon::current_num_threads().max(1)];
    let out_len = model.output_shape().len();
    let softmax_output = model.output_softmax();
    each_output(model, data.images(), &mut parts, &|part, outputs, first| {
        let mut grad = alloc::vec![0.0; out_len];
        for (i, output) in outputs.chunks_exact(out_len).enumerate() {
            let label = usize::from(data.label(first + i));
            part.0 += f64::from(sample_loss(loss, softmax_output, output, label, &mut grad));
            part.1 += usize::from(argmax(output) == label);
        }
    });
    let n = data.len().max(1) as f64;
    Ok((parts.iter().map(|p| p.0).sum::<f64>() / n, parts.iter().map(|p| p.1).sum::<usize>() as f64 / n))
}

/// The loss of one inference output: cross-entropy of a softmax output is `-ln p[label]`.
fn sample_loss(loss: Loss, softmax_output: bool, output: &[f32], label: usize, grad: &mut [f32]) -> f32 {
    if matches!(loss, Loss::CrossEntropy) && softmax_output {
        -output[label].max(f32::MIN_POSITIVE).ln()
    } else {
        loss.per_sample(output, label, grad)
    }
}

/// The class (index of the largest output) of each sample of `xs` (samples one after the other,
/// each `model.input_shape().len()` floats), computed in parallel.
///
/// # Panics
/// If `xs` is not whole samples.
pub fn predict<M: Trainable>(model: &M, xs: &[f32]) -> Vec<usize> {
    let input_len = model.input_shape().len().max(1);
    assert_eq!(xs.len() % input_len, 0, "predict: {} floats are not whole samples of {input_len}", xs.len());
    let out_len = model.output_shape().len();
    let mut parts: Vec<Vec<(usize, usize)>> = alloc::vec![Vec::new(); rayon::current_num_threads().max(1)];
    each_output(model, xs, &mut parts, &|part, outputs, first| {
        part.extend(outputs.chunks_exact(out_len).enumerate().map(|(i, output)| (first + i, argmax(output))));
    });
    let mut classes = alloc::vec![0; xs.len() / input_len];
    for (i, class) in parts.into_iter().flatten() {
        classes[i] = class;
    }
    classes
}

/// The outputs of `model` for the samples of `xs` (one after the other, each
/// `model.input_shape().len()` floats) into `ys` (each `model.output_shape().len()` floats), on all
/// threads of the current rayon pool: the batch is cut into one contiguous chunk per thread. Each
/// thread reuses its own scratch memory ([`Trainable::with_scratch`]), so that repeated calls on a
/// generated model allocate nothing once warm.
///
/// # Panics
/// If `xs` is not whole samples or `ys` does not hold one output per sample.
pub fn infer<M: Trainable>(model: &M, xs: &[f32], ys: &mut [f32]) {
    let (input_len, out_len) = (model.input_shape().len().max(1), model.output_shape().len());
    let samples = xs.len() / input_len;
    assert_eq!(samples * input_len, xs.len(), "infer: {} floats are not whole samples of {input_len}", xs.len());
    assert_eq!(ys.len(), samples * out_len, "infer: {samples} samples need {} output floats", samples * out_len);
    let per_thread = samples.div_ceil(rayon::current_num_threads().max(1)).max(1);
    xs.par_chunks(per_thread * input_len).zip(ys.par_chunks_mut(per_thread * out_len)).for_each(|(xs, ys)| {
        model.with_scratch(|scratch| model.forward_batch_flat(xs, ys, scratch));
    });
}

/// Runs inference over `xs` in parallel chunks, [`INFERENCE_BATCH`] samples per call, calling
/// `f(part, outputs, index of the first sample)` with the chunk's own `part` of `parts`.
fn each_output<M: Trainable, S: Send>(
    model: &M,
    xs: &[f32],
    parts: &mut [S],
    f: &(dyn Fn(&mut S, &[f32], usize) + Sync),
) {
    let (input_len, out_len) = (model.input_shape().len().max(1), model.output_shape().len());
    let samples = xs.len() / input_len;
    par::for_chunks(0..samples, parts, &|chunk: Range<usize>, part: &mut S| {
        let mut ys = alloc::vec![0.0; INFERENCE_BATCH.min(chunk.len()) * out_len];
        model.with_scratch(|scratch| {
            for first in chunk.clone().step_by(INFERENCE_BATCH) {
                let n = INFERENCE_BATCH.min(chunk.end - first);
                let ys = &mut ys[..n * out_len];
                model.forward_batch_flat(&xs[first * input_len..(first + n) * input_len], ys, scratch);
                f(part, ys, first);
            }
        });
    });
}
