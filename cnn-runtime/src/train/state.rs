use alloc::vec::Vec;

/// The memory a training step reuses: every layer's activations for the whole batch, two
/// ping-pong buffers for the gradients flowing back, and the statistics BatchNorm saves. Grown
/// on the first step (warm-up), never again for the same batch size.
#[derive(Debug, Default)]
pub struct TrainState {
    acts: Vec<f32>,
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
    saved: Vec<f32>,
    seed: u64,
    steps: u64,
}

/// The buffers of one step, sized for its batch, as generated code uses them.
pub struct Buffers<'a> {
    /// Activations (and dropout masks), layer after layer, each `batch x` its per-sample length.
    pub acts: &'a mut [f32],
    /// Gradient buffer holding `dy` of the layer being differentiated.
    pub grad_a: &'a mut [f32],
    /// Gradient buffer receiving that layer's `dx`.
    pub grad_b: &'a mut [f32],
    /// Statistics saved by BatchNorm layers for their backward pass.
    pub saved: &'a mut [f32],
    /// Seed of this step's dropout masks.
    pub dropout_seed: u64,
}

impl TrainState {
    /// A state whose dropout masks derive from `seed`.
    pub fn new(seed: u64) -> Self {
        TrainState { seed, ..Default::default() }
    }

    /// The buffers of the next step: `per_sample` floats of activations per sample, gradient
    /// buffers of `max_len` per sample, `saved` floats of statistics.
    pub fn buffers(&mut self, batch: usize, per_sample: usize, max_len: usize, saved: usize) -> Buffers<'_> {
        grow(&mut self.acts, batch * per_sample);
        grow(&mut self.grad_a, batch * max_len);
        grow(&mut self.grad_b, batch * max_len);
        grow(&mut self.saved, saved);
        let dropout_seed = self.next_dropout_seed();
        Buffers {
            acts: &mut self.acts[..batch * per_sample],
            grad_a: &mut self.grad_a[..batch * max_len],
            grad_b: &mut self.grad_b[..batch * max_len],
            saved: &mut self.saved[..saved],
            dropout_seed,
        }
    }

    /// Starts the next step and gives the seed of its dropout masks: what [`buffers`](Self::buffers)
    /// does, for models that keep their own buffers (the dynamic runtime's).
    pub fn next_dropout_seed(&mut self) -> u64 {
        self.steps += 1;
        mix(self.seed, self.steps)
    }
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// The seed of one dropout mask: a function of the step's seed, the layer and the sample only, so
/// masks do not depend on how the batch is split between threads.
pub fn sample_seed(step_seed: u64, layer: u64, sample: usize) -> u64 {
    mix(mix(step_seed, layer), sample as u64)
}

fn mix(a: u64, b: u64) -> u64 {
    crate::rng::mix64(a ^ b.wrapping_mul(crate::rng::GOLDEN))
}
