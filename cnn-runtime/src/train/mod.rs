//! Training: `fit` (epochs, batches, validation, history), the `Trainer` that runs one step, the
//! state a step reuses, and the deterministic parallel split of a batch.

mod fit;
mod history;
pub mod par;
mod state;
mod trainer;

pub use fit::{evaluate, predict, Fit, FitError};
pub use history::{Epoch, History};
pub use state::{sample_seed, Buffers, TrainState};
pub use trainer::{argmax, StepStats, TrainError, Trainer};
