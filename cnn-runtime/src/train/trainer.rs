use alloc::vec::Vec;
use core::fmt;

use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::train::TrainState;
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
        for g in &mut self.grads {
            g.visit_params_mut(&mut |_, values| values.fill(0.0));
        }
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
        let (first, rest) = self.grads.split_at_mut(1);
        for other in rest {
            first[0].visit_pairs(other, &mut |_, sum, part| sum.iter_mut().zip(part).for_each(|(s, p)| *s += p));
        }
        let mean_loss = (stats.loss_sum / stats.samples.max(1) as f64) as f32;
        let mut finite = mean_loss.is_finite();
        self.grads[0].visit_params(&mut |_, g| finite &= g.iter().all(|v| v.is_finite()));
        if !finite {
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
