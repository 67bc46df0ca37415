//! Training: `fit` (epochs, batches, validation, history, its progress line), the `Trainer` that
//! runs one step, the state a step reuses, the deterministic parallel split of a batch and the
//! layout of its gradients while they flow back, and inference over whole data sets (`infer`,
//! `predict`, `evaluate`).

mod fit;
pub mod grad_layout;
mod history;
mod infer;
pub mod par;
mod progress;
mod state;
mod trainer;

pub use fit::{Fit, FitError};
pub use history::{Epoch, History};
pub use infer::{evaluate, infer, predict};
pub use state::{sample_seed, Buffers, TrainState};
pub use trainer::{argmax, StepStats, TrainError, Trainer};
