use alloc::vec::Vec;
use core::fmt;

use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::train::{par, TrainState};
use crate::trainable::{gradients, Trainable};

/// Why training stopped early.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The loss or a gradient became NaN or infinite; the weights are those before that step.
    NotFinite {
        /// The step (from 1) whose loss or gradients were not finite.
        step: u64,
        /// The batch's mean loss at that step.
        loss: f32,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NotFinite { step, loss } => write!(
                f,
                "training diverged at step {step}: the loss or a gradient is {loss} (not a finite number). \
                 The model keeps the weights from before that step. Lower the learning rate, normalise the \
                 inputs (e.g. x/255), or check the data for NaN"
            ),
        }
    }
}

impl std::error::Error for TrainError {}

/// What one training step measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Sum of the per-sample losses.
    pub loss_sum: f64,
    /// Samples whose highest output is their label.
    pub correct: usize,
    /// Samples in the batch.
    pub samples: usize,
}

/// Runs training steps of one model: owns the step's buffers and one gradient accumulator per
/// parallel chunk, so that after the first step (warm-up) a step allocates nothing.
pub struct Trainer<M: Trainable> {
    state: TrainState,
    grads: Vec<M>,
    steps: u64,
}

impl<M: Trainable> Trainer<M> {
    /// A trainer of `model`'s architecture splitting each batch into `chunks` parallel parts
    /// (usually the thread count); dropout masks derive from `seed`.
    pub fn new(model: &M, chunks: usize, seed: u64) -> Self {
        Trainer { state: TrainState::new(seed), grads: gradients(model, chunks), steps: 0 }
    }

    /// One step on a batch (`xs`: samples one after the other, each `model.input_shape().len()`
    /// floats): forward, `loss`, backward, then `optimizer` updates the trainable parameters with
    /// the batch-mean gradient. Labels index the output (class numbers).
    ///
    /// A network ending in softmax trained with cross-entropy goes through the fused, stable
    /// softmax-cross-entropy on logits; without a final softmax, cross-entropy takes the outputs as
    /// logits (as PyTorch's `CrossEntropyLoss`).
    pub fn step(
        &mut self,
        model: &mut M,
        xs: &[f32],
        labels: &[u8],
        loss: Loss,
        optimizer: &mut dyn Optimizer,
    ) -> Result<StepStats, TrainError> {
        let samples = xs.len() / model.input_shape().len().max(1);
        assert_eq!(samples * model.input_shape().len(), xs.len(), "Trainer::step: the images are not whole samples");
        assert_eq!(samples, labels.len(), "Trainer::step: {samples} images but {} labels", labels.len());
        self.steps += 1;
        par::for_chunks(0..self.grads.len(), &mut self.grads, &|_, grad: &mut M| {
            grad.visit_params_mut(&mut |_, values| values.fill(0.0));
        });
        let fused = matches!(loss, Loss::CrossEntropy) && model.output_softmax();
        let mut stats = StepStats { samples, ..StepStats::default() };
        let out_len = model.output_shape().len();
        let scale = 1.0 / samples.max(1) as f32;
        model.train_batch_flat(
            xs,
            &mut self.state,
            &mut self.grads,
            &mut |outputs, doutputs| {
                let samples = outputs.chunks_exact(out_len).zip(doutputs.chunks_exact_mut(out_len)).zip(labels);
                for ((output, doutput), &label) in samples {
                    stats.loss_sum += f64::from(loss.per_sample(output, usize::from(label), doutput));
                    stats.correct += usize::from(argmax(output) == usize::from(label));
                    doutput.iter_mut().for_each(|d| *d *= scale);
                }
            },
            fused,
        );
        let mean_loss = (stats.loss_sum / stats.samples.max(1) as f64) as f32;
        if !(sum_gradients(&mut self.grads) && mean_loss.is_finite()) {
            return Err(TrainError::NotFinite { step: self.steps, loss: mean_loss });
        }
        optimizer.begin_step();
        let mut slot = 0;
        model.visit_pairs(&self.grads[0], &mut |id, params, grads| {
            if id.trainable {
                optimizer.update(slot, params, grads);
            }
            slot += 1;
        });
        Ok(stats)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

/// Adds every chunk's gradients into the first chunk's, in parallel blocks, and says whether the
/// sums are all finite (checked in the same pass as the last addition).
fn sum_gradients<M: Trainable>(grads: &mut [M]) -> bool {
    let Some((first, rest)) = grads.split_first_mut() else { return true };
    let mut finite = true;
    match rest.split_last() {
        None => first.visit_params(&mut |_, g| finite &= par::blocks(g, &all_finite, and)),
        Some((last, middle)) => {
            for other in middle {
                first.visit_pairs(other, &mut |_, sum, part| par::blocks((sum, part), &add, |(), ()| ()));
            }
            first.visit_pairs(last, &mut |_, sum, part| finite &= par::blocks((sum, part), &add_and_check, and));
        }
    }
    finite
}

fn add((sum, part): (&mut [f32], &[f32])) {
    sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
}

fn add_and_check((sum, part): (&mut [f32], &[f32])) -> bool {
    add((&mut *sum, part));
    all_finite(sum)
}

fn all_finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

fn and(a: bool, b: bool) -> bool {
    a && b
}

/// Index of the largest value (the first, on ties); NaN never wins.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{PairVisitor, ParamId};
    use crate::optim::Sgd;
    use alloc::borrow::Cow;
    use cnn_spec::{LayerInfo, Shape};

    /// One large parameter tensor whose gradient in chunk `k` is `k + 1` everywhere, except one
    /// element of chunk `nan_chunk`, which is NaN: enough to check the reduction and the check.
    struct Toy {
        w: Vec<f32>,
        nan_chunk: Option<usize>,
    }

    const LEN: usize = 3 * par::BLOCK + 5;
    const ID: ParamId<'static> = ParamId { layer: "toy", tensor: "weight", trainable: true };

    impl Trainable for Toy {
        type Scratch = ();
        fn name(&self) -> &str {
            "Toy"
        }
        fn declaration(&self) -> &str {
            ""
        }
        fn input_shape(&self) -> Shape {
            Shape::flat(1)
        }
        fn output_shape(&self) -> Shape {
            Shape::flat(1)
        }
        fn output_softmax(&self) -> bool {
            false
        }
        fn layer_infos(&self) -> Cow<'_, [LayerInfo<'static>]> {
            Cow::Borrowed(&[])
        }
        fn gradient(&self) -> Self {
            Toy { w: alloc::vec![0.0; LEN], nan_chunk: None }
        }
        fn scratch(&self) {}
        fn forward_batch_flat(&self, xs: &[f32], ys: &mut [f32], _: &mut ()) {
            ys.copy_from_slice(xs);
        }
        fn train_batch_flat(
            &mut self,
            xs: &[f32],
            _: &mut TrainState,
            grads: &mut [Self],
            loss: &mut dyn FnMut(&[f32], &mut [f32]),
            _: bool,
        ) {
            loss(xs, &mut alloc::vec![0.0; xs.len()]);
            for (k, grad) in grads.iter_mut().enumerate() {
                assert!(grad.w.iter().all(|&g| g == 0.0), "gradients are zeroed before each step");
                grad.w.fill(k as f32 + 1.0);
                if self.nan_chunk == Some(k) {
                    grad.w[LEN - 2] = f32::NAN;
                }
            }
        }
        fn visit_pairs(&mut self, other: &Self, f: &mut PairVisitor<'_>) {
            f(ID, &mut self.w, &other.w);
        }
        fn visit_params(&self, f: &mut dyn FnMut(ParamId<'_>, &[f32])) {
            f(ID, &self.w);
        }
        fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamId<'_>, &mut [f32])) {
            f(ID, &mut self.w);
        }
    }

    fn step(chunks: usize, nan_chunk: Option<usize>) -> (Result<StepStats, TrainError>, Vec<f32>) {
        let mut model = Toy { w: alloc::vec![0.0; LEN], nan_chunk };
        let mut trainer = Trainer::new(&model, chunks, 0);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let result = pool.install(|| {
            let mut sgd = Sgd::new(1.0);
            let first = trainer.step(&mut model, &[0.0; 4], &[0; 4], Loss::MeanSquaredError, &mut sgd);
            first.and_then(|_| trainer.step(&mut model, &[0.0; 4], &[0; 4], Loss::MeanSquaredError, &mut sgd))
        });
        (result, model.w)
    }

    #[test]
    fn chunk_gradients_are_summed_and_checked_in_parallel_blocks() {
        for chunks in 1..=4 {
            let (result, w) = step(chunks, None);
            assert!(result.is_ok(), "{chunks} chunks: {result:?}");
            // Two SGD steps at lr 1 with the sum 1 + 2 + … + chunks.
            let sum = (chunks * (chunks + 1) / 2) as f32;
            assert!(w.iter().all(|&w| w == -2.0 * sum), "{chunks} chunks");
            for nan_chunk in 0..chunks {
                let (result, w) = step(chunks, Some(nan_chunk));
                assert!(
                    matches!(result, Err(TrainError::NotFinite { step: 1, .. })),
                    "{chunks} chunks, NaN in {nan_chunk}"
                );
                assert!(w.iter().all(|&w| w == 0.0), "a failed step changes no weight");
            }
        }
    }
}
