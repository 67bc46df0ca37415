//! Training: `fit` (epochs, batches, validation, history), the `Trainer` that runs one step, the
//! state a step reuses, the deterministic parallel split of a batch, and inference over whole data
//! sets (`infer`, `predict`, `evaluate`).

mod fit;
mod history;
mod infer;
pub mod par;
mod state;
mod trainer;

pub use fit::{Fit, FitError};
pub use history::{Epoch, History};
pub use infer::{evaluate, infer, predict};
pub use state::{sample_seed, Buffers, TrainState};
pub use trainer::{argmax, StepStats, TrainError, Trainer};
