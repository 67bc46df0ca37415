//! Weight files: a model's parameters saved to and loaded from [safetensors] files, and weights
//! trained in PyTorch loaded into the equivalent network.
//!
//! - [`save`] writes every parameter tensor of a model (BatchNorm running statistics included),
//!   with the network's declaration in the metadata; the file is replaced atomically.
//! - [`load`] reads such a file back, bit for bit, after checking the whole file and that it was
//!   saved from the same architecture.
//! - [`load_pytorch`] reads `safetensors.torch.save_file(model.state_dict(), path)` written from
//!   the `nn.Sequential` twin of the network.
//!
//! ```no_run
//! # use cnn_runtime::Trainable;
//! # fn demo<M: Trainable>(model: &mut M) -> Result<(), cnn_runtime::io::WeightsError> {
//! use std::path::Path;
//!
//! cnn_runtime::io::save(model, Path::new("lenet5.safetensors"))?;
//! cnn_runtime::io::load(model, Path::new("lenet5.safetensors"))?;
//! cnn_runtime::io::load_pytorch(model, Path::new("trained_in_pytorch.safetensors"))?;
//! # Ok(())
//! # }
//! ```
//!
//! # The file
//!
//! A safetensors file: 8 bytes holding the header's length `N` (little-endian `u64`), `N` bytes
//! of JSON header (padded with spaces so that the data starts at a multiple of 8 bytes), then the
//! tensors' raw little-endian bytes, one after the other. The header maps each tensor's name to
//! `{"dtype":"F32","shape":[…],"data_offsets":[begin,end]}` (offsets into the data section), and
//! `"__metadata__"` to string pairs:
//!
//! | key | value |
//! |---|---|
//! | `format` | `cnn` |
//! | `version` | `1` |
//! | `model` | the struct's name ([`Trainable::name`]), for messages |
//! | `declaration` | the canonical layer list ([`Trainable::declaration`]); [`load`] requires it to match |
//!
//! Tensors are named as PyTorch's `state_dict` would name the model's fields: `conv1.weight`,
//! `conv1.bias`, `dense1.weight`, `batchnorm1.weight` (gamma), `batchnorm1.bias` (beta),
//! `batchnorm1.running_mean`, `batchnorm1.running_var`, in PyTorch's shapes: `[F, C, Kh, Kw]` for
//! convolution kernels, `[out, in]` for dense weights, `[C]` for biases and BatchNorm tensors.
//! Python reads the file with `safetensors.torch.load_file`.
//!
//! # PyTorch
//!
//! [`load_pytorch`] maps each layer of the declaration to one module of an `nn.Sequential`, in
//! order, and an activation option of `Conv2D` or `Dense` (`Conv2D 6@5x5 relu`) to one more module
//! right after it (`nn.ReLU`); so `conv1.weight` is `0.weight` and, in the LeNet-5 of the zoo,
//! `dense1.weight` is `7.weight`. BatchNorm's `num_batches_tracked` is accepted and ignored.
//!
//! Every failure is a [`WeightsError`] naming the file, what is wrong with it and what to do; a
//! failed load leaves the model unchanged.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use std::fmt;
use std::path::{Path, PathBuf};

use cnn_spec::{Activation, Layer, LayerInfo, PoolKind, Shape};

use crate::trainable::Trainable;

pub(crate) mod json;
mod pytorch;
mod safetensors;

pub use pytorch::load_pytorch;
pub use safetensors::{load, save};

/// Why weights could not be saved or loaded: the file and what is wrong with it.
///
/// `Display` gives one sentence for a person: `path: problem: what to do`.
#[derive(Debug)]
pub struct WeightsError {
    path: PathBuf,
    kind: Box<WeightsErrorKind>,
}

/// What went wrong, with the details that describe it.
#[derive(Debug)]
#[non_exhaustive]
pub enum WeightsErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file could not be written (any previous file at the path is unchanged).
    Write(std::io::Error),
    /// The file is shorter than the 8 bytes that give a safetensors header's length.
    TooShort {
        /// Bytes in the file.
        len: u64,
    },
    /// The first 8 bytes give a header length that is absurd or runs past the end of the file.
    HeaderLength {
        /// The header length the file declares.
        header_len: u64,
        /// Bytes in the file.
        file_len: u64,
    },
    /// The JSON header is not valid JSON, or not a valid safetensors header; the text says where.
    Header(String),
    /// A tensor's `data_offsets` do not fit its shape, run out of the data section, overlap
    /// another tensor or leave a gap.
    Offsets {
        /// The tensor.
        tensor: String,
        /// What is wrong with its offsets.
        problem: String,
    },
    /// The data section is shorter (truncated file) or longer than the tensors it holds.
    DataLength {
        /// Bytes of data the tensors' offsets cover.
        expected: u64,
        /// Bytes of data the file holds after its header.
        found: u64,
    },
    /// A tensor's element type is one this crate cannot load.
    Dtype {
        /// The tensor.
        tensor: String,
        /// Its dtype as written in the file (`F16`, `F64`, …).
        dtype: String,
        /// The dtype wanted (`F32`).
        expected: &'static str,
    },
    /// The file has no `declaration` metadata, so it was not written by [`save`].
    NotCnnFile {
        /// The `format` metadata, if any (`pt` for files written by PyTorch's helpers).
        format: Option<String>,
    },
    /// The file was written by [`save`], so [`load`] must read it, not [`load_pytorch`].
    CnnFile,
    /// The file was written by a version of this crate whose format this one does not know.
    Version {
        /// The `version` metadata found.
        found: String,
    },
    /// The file holds the weights of another network.
    Architecture {
        /// The `model` metadata of the file.
        file_model: String,
        /// The `declaration` metadata of the file.
        file_declaration: String,
        /// The name of the model being loaded.
        model: String,
        /// The declaration of the model being loaded.
        declaration: String,
    },
    /// The file's tensors are not those the model holds.
    Tensors {
        /// Tensors the model needs that the file lacks.
        missing: Vec<String>,
        /// Tensors in the file that the model does not hold.
        unexpected: Vec<String>,
        /// Tensors present in both but with another shape.
        wrong_shape: Vec<ShapeMismatch>,
        /// For [`load_pytorch`]: the `nn.Sequential` whose `state_dict` was expected.
        expected_layout: Option<String>,
    },
    /// The model's own layer table cannot be turned into tensor shapes (a bug, not a file problem).
    Model(String),
}

/// A tensor whose shape in the file is not the shape the model holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The tensor's name in the file.
    pub tensor: String,
    /// The shape the model holds.
    pub expected: Vec<usize>,
    /// The shape in the file.
    pub found: Vec<usize>,
}

impl WeightsError {
    /// An error about the file at `path`.
    pub fn new(path: impl Into<PathBuf>, kind: WeightsErrorKind) -> Self {
        WeightsError { path: path.into(), kind: Box::new(kind) }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub fn kind(&self) -> &WeightsErrorKind {
        &self.kind
    }
}

/// `[6, 1, 5, 5]`.
fn fmt_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// `a`, `b` and 3 more.
fn fmt_names(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let quoted: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    let mut s = quoted.join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        const RESAVE: &str = "the file is corrupt or not a safetensors file; save it again";
        match &*self.kind {
            WeightsErrorKind::Read(e) => write!(f, "cannot read the file ({e}); check that it exists and is readable"),
            WeightsErrorKind::Write(e) => write!(
                f,
                "cannot write the file ({e}); check that the directory exists or can be created, is writable and \
                 the disk is not full (any previous file there is unchanged)"
            ),
            WeightsErrorKind::TooShort { len } => write!(
                f,
                "the file is {len} bytes long, too short for a safetensors file (which starts with an 8-byte header \
                 length); it is truncated or not a weight file: save it again"
            ),
            WeightsErrorKind::HeaderLength { header_len, file_len } => {
                if *header_len > safetensors::MAX_HEADER_LEN {
                    write!(
                        f,
                        "the first 8 bytes give a header of {header_len} bytes, more than the {} a safetensors \
                         header may have; {RESAVE}",
                        safetensors::MAX_HEADER_LEN
                    )
                } else {
                    write!(
                        f,
                        "the first 8 bytes give a header of {header_len} bytes but only {} bytes follow them; the file \
                         is truncated or not a safetensors file: save it again",
                        file_len.saturating_sub(8)
                    )
                }
            }
            WeightsErrorKind::Header(problem) => write!(f, "invalid safetensors header: {problem}; {RESAVE}"),
            WeightsErrorKind::Offsets { tensor, problem } => {
                write!(f, "tensor `{tensor}`: {problem}; the file is corrupt: save it again")
            }
            WeightsErrorKind::DataLength { expected, found } => {
                if found < expected {
                    write!(
                        f,
                        "the file is truncated: its header describes {expected} bytes of tensor data but only {found} \
                         follow the header; copy or save it again"
                    )
                } else {
                    write!(
                        f,
                        "{} bytes after the last tensor belong to no tensor (the header describes {expected} bytes of \
                         data, the file holds {found}); the file is corrupt: save it again",
                        found - expected
                    )
                }
            }
            WeightsErrorKind::Dtype { tensor, dtype, expected } if *expected != "F32" => write!(
                f,
                "tensor `{tensor}` holds {dtype} values where PyTorch writes {expected}; save the `state_dict` as \
                 PyTorch makes it, without converting this tensor"
            ),
            WeightsErrorKind::Dtype { tensor, dtype, expected } => write!(
                f,
                "tensor `{tensor}` holds {dtype} values but only {expected} can be loaded; convert the weights to \
                 float32 before saving them (in PyTorch: `model.float()`, then \
                 `save_file(model.state_dict(), path)`)"
            ),
            WeightsErrorKind::NotCnnFile { format } => {
                write!(f, "the file has no `declaration` metadata")?;
                if let Some(format) = format {
                    write!(f, " (its format is `{format}`)")?;
                }
                write!(
                    f,
                    ", so it was not written by `cnn_runtime::io::save`; if it holds the `state_dict` of a PyTorch \
                     `nn.Sequential`, read it with `load_pytorch`"
                )
            }
            WeightsErrorKind::CnnFile => write!(
                f,
                "the file was written by `cnn_runtime::io::save`, not by PyTorch; read it with `load`, which also \
                 checks that it holds weights for this architecture"
            ),
            WeightsErrorKind::Version { found } => write!(
                f,
                "the file is in version {found} of cnn's weight format, but this version of cnn reads version {}; \
                 read it with the version of cnn that wrote it, or save it again",
                safetensors::VERSION
            ),
            WeightsErrorKind::Architecture { file_model, file_declaration, model, declaration } => write!(
                f,
                "this file holds weights for `{file_declaration}` (model {file_model}) but {model} is \
                 `{declaration}`: load it into that network, or retrain"
            ),
            WeightsErrorKind::Tensors { missing, unexpected, wrong_shape, expected_layout } => {
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!("missing tensors {}", fmt_names(missing)));
                }
                if !unexpected.is_empty() {
                    parts.push(format!("unexpected tensors {}", fmt_names(unexpected)));
                }
                for m in wrong_shape.iter().take(8) {
                    parts.push(format!(
                        "tensor `{}` has shape {} where the model holds {}",
                        m.tensor,
                        fmt_shape(&m.found),
                        fmt_shape(&m.expected)
                    ));
                }
                if wrong_shape.len() > 8 {
                    parts.push(format!("{} more tensors of the wrong shape", wrong_shape.len() - 8));
                }
                write!(f, "the file's tensors do not match the model: {}", parts.join("; "))?;
                match expected_layout {
                    Some(layout) => write!(
                        f,
                        "; expected the `state_dict` of {layout}: save that network's `state_dict` (with \
                         `safetensors.torch.save_file`), or declare the network that matches the file"
                    ),
                    None => write!(f, "; the file was edited or written by another program: save it again"),
                }
            }
            WeightsErrorKind::Model(problem) => write!(
                f,
                "cannot work out the model's tensor shapes: {problem}; this is a bug in cnn, please report it"
            ),
        }
    }
}

impl std::error::Error for WeightsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            WeightsErrorKind::Read(e) | WeightsErrorKind::Write(e) => Some(e),
            _ => None,
        }
    }
}

/// One parameter tensor of a model, as it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TensorSpec {
    /// `conv1.weight`.
    pub(crate) name: String,
    /// The name in the `state_dict` of the `nn.Sequential` twin: `0.weight`.
    pub(crate) torch_name: String,
    /// PyTorch's shape: `[F, C, Kh, Kw]`, `[out, in]` or `[C]`.
    pub(crate) shape: Vec<usize>,
}

/// How a model's parameters are stored: every tensor, and the `nn.Sequential` it corresponds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Every tensor, in the order `visit_params` gives them.
    pub(crate) tensors: Vec<TensorSpec>,
    /// The Sequential indices of the BatchNorm layers (whose `num_batches_tracked` is ignored).
    pub(crate) batchnorm_indices: Vec<usize>,
    /// `nn.Sequential(0: Conv2d(1, 6, (5, 5)), 1: ReLU, …)`.
    pub(crate) sequential: String,
}

/// The PyTorch module an activation becomes.
fn torch_activation(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "ReLU",
        Activation::Sigmoid => "Sigmoid",
        Activation::Tanh => "Tanh",
        Activation::Softmax => "Softmax",
        Activation::LeakyRelu { .. } => "LeakyReLU",
    }
}

struct Row<'a> {
    info: &'a LayerInfo<'static>,
    index: usize,
}

/// The stored layout of `model`'s parameters: shapes from the layer table (`layer_infos`), checked
/// against the tensors `visit_params` gives.
pub(crate) fn layout<M: Trainable>(model: &M) -> Result<Layout, String> {
    let infos = model.layer_infos();
    let mut rows = Vec::with_capacity(infos.len());
    let mut modules = Vec::new();
    let mut batchnorm_indices = Vec::new();
    for info in infos.iter() {
        let index = modules.len();
        let (input, output) = (info.input, info.output);
        let module = match &info.layer {
            Layer::Conv2d { kernel: [kh, kw], .. } => {
                format!("Conv2d({}, {}, ({kh}, {kw}))", input.channels(), output.channels())
            }
            Layer::Dense { .. } => format!("Linear({}, {})", input.len(), output.len()),
            Layer::BatchNorm => {
                batchnorm_indices.push(index);
                let d = if matches!(input, Shape::Image { .. }) { 2 } else { 1 };
                format!("BatchNorm{d}d({})", input.channels())
            }
            Layer::Pool { kind: PoolKind::Max, .. } => "MaxPool2d".into(),
            Layer::Pool { kind: PoolKind::Avg, .. } => "AvgPool2d".into(),
            Layer::ZeroPad { .. } => "ZeroPad2d".into(),
            Layer::Activation(a) => torch_activation(*a).into(),
            other => other.type_name().into(),
        };
        modules.push(format!("{index}: {module}"));
        // A fused activation option is a module of its own in PyTorch.
        if let Layer::Conv2d { activation: Some(a), .. } | Layer::Dense { activation: Some(a), .. } = &info.layer {
            modules.push(format!("{}: {}", index + 1, torch_activation(*a)));
        }
        rows.push(Row { info, index });
    }

    let mut tensors = Vec::new();
    let mut problem = None;
    model.visit_params(&mut |id, values| {
        if problem.is_some() {
            return;
        }
        let Some(row) = rows.iter().find(|r| r.info.name == id.layer) else {
            problem = Some(format!("parameter `{}.{}` belongs to no layer of the table", id.layer, id.tensor));
            return;
        };
        let shapes = cnn_spec::param_shapes(&row.info.layer, row.info.input);
        let Some((_, shape)) = shapes.into_iter().find(|(name, _)| *name == id.tensor) else {
            problem =
                Some(format!("layer {} (`{}`) has an unknown tensor `{}`", row.info.name, row.info.kind, id.tensor));
            return;
        };
        let len = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if len != Some(values.len()) {
            problem = Some(format!(
                "`{}.{}` of layer `{}` holds {} values, which is not the shape {}",
                id.layer,
                id.tensor,
                row.info.kind,
                values.len(),
                fmt_shape(&shape)
            ));
            return;
        }
        tensors.push(TensorSpec {
            name: format!("{}.{}", id.layer, id.tensor),
            torch_name: format!("{}.{}", row.index, id.tensor),
            shape,
        });
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    Ok(Layout { tensors, batchnorm_indices, sequential: format!("nn.Sequential({})", modules.join(", ")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_messages_name_the_file_the_problem_and_the_fix() {
        let err = WeightsError::new(
            "w.safetensors",
            WeightsErrorKind::Architecture {
                file_model: "Tf2Net".into(),
                file_declaration: "input 1@28x28, Conv2D 32@5x5 padding same relu".into(),
                model: "LeNet5".into(),
                declaration: "input 1@28x28, Conv2D 6@5x5 padding 2 relu".into(),
            },
        );
        assert_eq!(
            err.to_string(),
            "w.safetensors: this file holds weights for `input 1@28x28, Conv2D 32@5x5 padding same relu` (model \
             Tf2Net) but LeNet5 is `input 1@28x28, Conv2D 6@5x5 padding 2 relu`: load it into that network, or \
             retrain"
        );
        let err = WeightsError::new(
            "w.safetensors",
            WeightsErrorKind::Tensors {
                missing: vec!["0.weight".into()],
                unexpected: (0..10).map(|i| format!("x{i}")).collect(),
                wrong_shape: vec![ShapeMismatch { tensor: "3.bias".into(), expected: vec![16], found: vec![6] }],
                expected_layout: Some("nn.Sequential(0: Conv2d(1, 6, (5, 5)))".into()),
            },
        );
        let text = err.to_string();
        assert!(text.contains("missing tensors `0.weight`"), "{text}");
        assert!(text.contains("`x7` and 2 more"), "{text}");
        assert!(text.contains("tensor `3.bias` has shape [6] where the model holds [16]"), "{text}");
        assert!(text.contains("expected the `state_dict` of nn.Sequential(0: Conv2d(1, 6, (5, 5)))"), "{text}");
    }
}
