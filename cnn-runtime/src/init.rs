//! Weight initialisation as users know it from Keras and PyTorch.

use crate::rng::Rng;

/// How weights and biases start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Init {
    /// Keras's default: kernels uniform in `±sqrt(6 / (fan_in + fan_out))` (Glorot uniform), biases zero.
    #[default]
    GlorotUniform,
    /// PyTorch's default for `nn.Conv2d` and `nn.Linear`: weights and biases uniform in
    /// `±1 / sqrt(fan_in)` (Kaiming uniform with `a = sqrt(5)`).
    PyTorch,
}

impl Init {
    /// Fills a layer's `weight` and `bias` from `rng`. `fan_in` and `fan_out` count the inputs and
    /// outputs of one weight: `C·Kh·Kw` and `F·Kh·Kw` for a convolution, `I` and `O` for a dense layer.
    pub fn fill(self, rng: &mut Rng, fan_in: usize, fan_out: usize, weight: &mut [f32], bias: &mut [f32]) {
        match self {
            Init::GlorotUniform => {
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
                rng.fill_uniform(weight, -limit, limit);
                bias.fill(0.0);
            }
            Init::PyTorch => {
                let bound = (1.0 / fan_in as f64).sqrt() as f32;
                rng.fill_uniform(weight, -bound, bound);
                rng.fill_uniform(bias, -bound, bound);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_uses_both_fans_and_zero_bias() {
        let (mut w, mut b) = (vec![0.0; 150 * 16], vec![1.0; 16]);
        Init::GlorotUniform.fill(&mut Rng::new(3), 150, 400, &mut w, &mut b);
        let limit = (6.0f32 / 550.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= limit));
        assert!(w.iter().any(|v| v.abs() > 0.9 * limit));
        assert!(b.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn pytorch_bounds_weights_and_biases_by_fan_in() {
        let (mut w, mut b) = (vec![0.0; 25 * 6], vec![0.0; 6]);
        Init::PyTorch.fill(&mut Rng::new(3), 25, 150, &mut w, &mut b);
        assert!(w.iter().chain(&b).all(|v| v.abs() <= 0.2));
        assert!(w.iter().any(|v| v.abs() > 0.18));
        assert!(b.iter().any(|&v| v != 0.0));
    }
}
