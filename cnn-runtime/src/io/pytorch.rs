//! Weights trained in PyTorch: the `state_dict` of the `nn.Sequential` twin of a network, saved
//! with `safetensors.torch.save_file`.

use std::path::Path;

use super::safetensors::{fill, parse, read, FORMAT};
use super::{layout, WeightsError, WeightsErrorKind};
use crate::trainable::Trainable;

/// Loads into `model` the weights of its PyTorch twin, saved with
/// `safetensors.torch.save_file(net.state_dict(), path)`.
///
/// The twin is the `nn.Sequential` with one module per layer of the declaration, in order, plus
/// one activation module right after each `Conv2D` or `Dense` that has an activation option:
///
/// | declaration | modules |
/// |---|---|
/// | `Conv2D 6@5x5 padding 2 relu` | `nn.Conv2d(1, 6, 5, padding=2)`, `nn.ReLU()` |
/// | `Dense 120` | `nn.Linear(400, 120)` |
/// | `BatchNorm` | `nn.BatchNorm2d(C)` after a convolution, `nn.BatchNorm1d(N)` after a dense layer |
/// | `MaxPool 2`, `AvgPool 2`, `ZeroPad 2` | `nn.MaxPool2d(2)`, `nn.AvgPool2d(2)`, `nn.ZeroPad2d(2)` |
/// | `Flatten`, `Dropout 0.5`, `ReLU`, … | `nn.Flatten()`, `nn.Dropout(0.5)`, `nn.ReLU()`, … |
///
/// so the tensor `conv1.weight` is read from `0.weight`. The layouts are PyTorch's already (OIHW
/// kernels, `[out][in]` dense weights, Flatten in C, H, W order), so values are copied as they
/// are. Every tensor must be float32 (`F32`); BatchNorm's `num_batches_tracked` (int64) is
/// accepted and ignored. The whole file is checked before anything is copied, so on error the
/// model is unchanged.
///
/// # Errors
/// A [`WeightsError`] whose [`kind`](WeightsError::kind) says what is wrong: a broken file, a
/// tensor that is not F32 ([`WeightsErrorKind::Dtype`]), or tensors that are not those of the
/// expected `nn.Sequential` ([`WeightsErrorKind::Tensors`], which names the missing, unexpected and
/// misshapen keys and the layout that was expected).
pub fn load_pytorch<M: Trainable>(model: &mut M, path: &Path) -> Result<(), WeightsError> {
    let bytes = read(path)?;
    load_bytes(model, &bytes).map_err(|kind| WeightsError::new(path, kind))
}

fn load_bytes<M: Trainable>(model: &mut M, bytes: &[u8]) -> Result<(), WeightsErrorKind> {
    let file = parse(bytes)?;
    if file.meta("format") == Some(FORMAT) && file.meta("declaration").is_some() {
        return Err(WeightsErrorKind::CnnFile);
    }
    let layout = layout(model).map_err(|p| WeightsErrorKind::Model(format!("model {}: {p}", model.name())))?;
    let counters: Vec<String> = layout.batchnorm_indices.iter().map(|i| format!("{i}.num_batches_tracked")).collect();
    for e in &file.entries {
        let counter = counters.contains(&e.name);
        let expected = if counter { "I64" } else { "F32" };
        if e.dtype != expected {
            return Err(WeightsErrorKind::Dtype { tensor: e.name.clone(), dtype: e.dtype.clone(), expected });
        }
        if counter && e.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(1) {
            return Err(WeightsErrorKind::Tensors {
                missing: vec![],
                unexpected: vec![],
                wrong_shape: vec![super::ShapeMismatch {
                    tensor: e.name.clone(),
                    expected: vec![],
                    found: e.shape.clone(),
                }],
                expected_layout: Some(layout.sequential),
            });
        }
    }
    let names: Vec<(&str, &[usize])> =
        layout.tensors.iter().map(|t| (t.torch_name.as_str(), t.shape.as_slice())).collect();
    fill(model, &file, &names, &counters, Some(layout.sequential.clone()))
}
