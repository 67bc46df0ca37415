use alloc::vec::Vec;
use core::fmt;
use std::time::Instant;

use crate::data::{batch_count, shuffled_order, DataError, Dataset};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::rng::Rng;
use crate::train::history::{Epoch, History};
use crate::train::infer::evaluate;
use crate::train::progress::{Progress, Totals};
use crate::train::trainer::{TrainError, Trainer};
use crate::trainable::Trainable;

/// Why `fit` stopped.
#[derive(Debug)]
pub enum FitError {
    /// The data does not fit the model (or could not be batched).
    Data(DataError),
    /// Training diverged; the model keeps the last good weights.
    Train(TrainError),
    /// The thread pool could not be built.
    Threads(String),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Data(e) => e.fmt(f),
            FitError::Train(e) => e.fmt(f),
            FitError::Threads(e) => write!(f, "cannot start the training threads: {e}"),
        }
    }
}

impl std::error::Error for FitError {}

impl From<DataError> for FitError {
    fn from(e: DataError) -> Self {
        FitError::Data(e)
    }
}

impl From<TrainError> for FitError {
    fn from(e: TrainError) -> Self {
        FitError::Train(e)
    }
}

/// Keras's `fit`: epochs of shuffled mini-batches, with an optional validation set evaluated after
/// each epoch, and a progress line on stderr: epoch, batches done, running loss and accuracy,
/// images per second and time left, redrawn in place on a terminal; one line per epoch (with the
/// validation accuracy and the epoch's time) when stderr is not a terminal.
///
/// See the `cnn` crate's documentation (section Training) for a complete example.
#[derive(Clone, Debug)]
pub struct Fit<'a> {
    epochs: usize,
    batch_size: usize,
    loss: Loss,
    threads: usize,
    seed: u64,
    validation: Option<&'a Dataset>,
    progress: bool,
}

impl<'a> Fit<'a> {
    /// `epochs` passes over the data in batches of `batch_size`; cross-entropy, all cores, seed 0.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        Fit { epochs, batch_size, loss: Loss::CrossEntropy, threads: 0, seed: 0, validation: None, progress: true }
    }

    /// The loss to minimise (default: cross-entropy).
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Threads to train on (default 0: all cores). The result depends on the seed and this count.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Seed of the shuffling and dropout (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Data evaluated after each epoch.
    pub fn validation(mut self, data: &'a Dataset) -> Self {
        self.validation = Some(data);
        self
    }

    /// No progress line.
    pub fn quiet(mut self) -> Self {
        self.progress = false;
        self
    }

    /// Trains `model` on `data` with `optimizer`, returning the per-epoch history. On divergence
    /// (NaN or infinite loss) it stops with an error and leaves the last good weights.
    pub fn run<M: Trainable>(
        &self,
        model: &mut M,
        data: &Dataset,
        optimizer: &mut dyn Optimizer,
    ) -> Result<History, FitError> {
        let input_len = model.input_shape().len();
        data.check_input_len(input_len)?;
        if let Some(v) = self.validation {
            v.check_input_len(input_len)?;
        }
        if self.batch_size == 0 {
            return Err(FitError::Data(DataError::invalid_argument("the batch size must be at least 1")));
        }
        let threads = resolve_threads(self.threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| FitError::Threads(e.to_string()))?;
        pool.install(|| self.epochs_on(model, data, optimizer, threads))
    }

    fn epochs_on<M: Trainable>(
        &self,
        model: &mut M,
        data: &Dataset,
        optimizer: &mut dyn Optimizer,
        threads: usize,
    ) -> Result<History, FitError> {
        let mut trainer = Trainer::new(model, threads, self.seed);
        let mut history = History::default();
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        let batches = batch_count(data.len(), self.batch_size);
        for epoch in 1..=self.epochs {
            let order = shuffled_order(data.len(), &mut Rng::new(self.seed ^ (epoch as u64).wrapping_mul(0x9E37)));
            let mut progress = self.progress.then(|| Progress::new(epoch, self.epochs, batches));
            let start = Instant::now();
            let (mut loss_sum, mut correct, mut seen) = (0.0, 0, 0);
            let totals = |batches: usize, loss_sum: f64, correct: usize, seen: usize| Totals {
                batches,
                loss_sum,
                correct,
                seen,
                seconds: start.elapsed().as_secs_f64(),
            };
            for k in 0..batches {
                data.batch_into(&order, k, self.batch_size, &mut images, &mut labels)?;
                let stats = trainer.step(model, &images, &labels, self.loss, optimizer)?;
                loss_sum += stats.loss_sum;
                correct += stats.correct;
                seen += stats.samples;
                if let Some(progress) = &mut progress {
                    progress.update(&totals(k + 1, loss_sum, correct, seen));
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            let (val_loss, val_accuracy) = match self.validation {
                Some(v) => {
                    let (l, a) = evaluate(model, v, self.loss)?;
                    (Some(l), Some(a))
                }
                None => (None, None),
            };
            if let Some(progress) = &mut progress {
                let epoch_totals = Totals { batches, loss_sum, correct, seen, seconds };
                progress.finish(&epoch_totals, val_accuracy);
            }
            history.epochs.push(Epoch {
                epoch,
                loss: loss_sum / seen.max(1) as f64,
                accuracy: correct as f64 / seen.max(1) as f64,
                val_loss,
                val_accuracy,
                seconds,
                images_per_second: seen as f64 / seconds,
            });
        }
        Ok(history)
    }
}

fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}
