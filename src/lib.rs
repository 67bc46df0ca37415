//! # cnn: convolutional networks declared in Rust, checked by the compiler
//!
//! Declare a network with [`cnn!`]; the macro checks every tensor shape and counts every
//! parameter at compile time, and generates a model struct with statically sized weights whose
//! forward pass calls the kernels of [`runtime`]. A wrong network does not compile, and the
//! error points at the token that is wrong.
//!
//! ```
//! use cnn::{cnn, Model};
//!
//! cnn! {
//!     /// LeNet-5 from the Keras tutorial.
//!     pub struct LeNet5 {
//!         input 1@28x28,
//!         Conv2D 6@5x5 sigmoid,
//!         MaxPool 2,
//!         Conv2D 16@5x5 sigmoid,
//!         MaxPool 2,
//!         Flatten,
//!         Dense 120 sigmoid,
//!         Dense 84 sigmoid,
//!         Dense 10 softmax,
//!     }
//! }
//!
//! assert_eq!(LeNet5::TRAINABLE_PARAMS, 44_426);
//! let model = LeNet5::new(42); // Glorot-uniform kernels, zero biases, from seed 42
//! let image = [[[0.5f32; 28]; 28]; 1]; // one sample, CHW: a [[[f32; 28]; 28]; 1]
//! let probabilities: [f32; 10] = model.forward(&image);
//! assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! println!("{}", LeNet5::summary());
//! ```
//!
//! # The notation
//!
//! ```text
//! cnn! {
//!     /// docs and attributes carry over to the struct
//!     pub struct Name {
//!         input C@HxW,            // or `input N` for a flat input
//!         Layer sizes options,    // one layer per line, comma-separated
//!         ...
//!     }
//! }
//! ```
//!
//! Sizes are `N` (square) or `HxW` (rows x columns): `5`, `5x3`, `28x28`.
//!
//! | layer | meaning |
//! |---|---|
//! | `input 1@28x28`, `input 3@32x48`, `input 784` | one sample: channels@rows x columns, or a flat vector; first line, once |
//! | `Conv2D F@K`, `Conv2D F@KhxKw` | `F` filters of `Kh x Kw`; options `stride S` / `stride ShxSw` (default 1), `padding valid` (default) / `same` / `N` / `HxW` (`valid` and `same` also alone), and an activation |
//! | `MaxPool S`, `MaxPool KhxKw`, `AvgPool …` | pooling window; option `stride` (default: the window); floor mode, as Keras and PyTorch |
//! | `Flatten` | `C@HxW` to `C*H*W`, in C, H, W order (as PyTorch) |
//! | `Dense N` | fully connected, on a flat input; an activation option |
//! | `ReLU`, `Sigmoid`, `Tanh`, `Softmax`, `LeakyReLU`, `LeakyReLU 0.2` | activations as layers (LeakyReLU's slope defaults to PyTorch's 0.01) |
//! | `BatchNorm` | after a `Conv2D` or `Dense`: per-channel normalisation (eps 1e-5, momentum 0.1, as PyTorch) |
//! | `Dropout p` | drops a fraction `0 <= p < 1` while training; identity at inference |
//! | `ZeroPad N`, `ZeroPad HxW` | `N` zero rows and columns on every side (28x28 to 32x32 with `ZeroPad 2`) |
//!
//! Activation options on `Conv2D` and `Dense`: `relu`, `sigmoid`, `tanh`, `softmax` (Dense
//! only), `leaky_relu`, `leaky_relu 0.2`.
//!
//! ```
//! cnn::cnn! {
//!     /// Every option, for reference.
//!     pub(crate) struct Everything {
//!         input 3@32x48,
//!         ZeroPad 2x1,
//!         Conv2D 8@3x5 stride 2x1 padding 1x2 leaky_relu 0.2,
//!         BatchNorm,
//!         Conv2D 8@4 same relu,
//!         AvgPool 3x2 stride 2,
//!         Conv2D 16@3 padding valid,
//!         Tanh,
//!         MaxPool 2 stride 1,
//!         Flatten,
//!         Dropout 0.25,
//!         Dense 32 relu,
//!         LeakyReLU,
//!         Dense 10,
//!         Softmax,
//!     }
//! }
//! # use cnn::Model;
//! # assert_eq!(Everything::OUTPUT_SHAPE, cnn::Shape::flat(10));
//! ```
//!
//! # What is generated
//!
//! For `pub struct LeNet5 { … }`:
//! - the struct, with one public field per layer that holds weights, named by kind and position
//!   (`conv1`, `conv2`, `dense1`, `batchnorm1`), each a [`Conv2dParams`], [`DenseParams`] or
//!   [`BatchNormParams`] whose tensors live on the heap (PyTorch layouts: OIHW, `[out][in]`);
//! - associated constants `TRAINABLE_PARAMS`, `NON_TRAINABLE_PARAMS`, `FORWARD_MACS`,
//!   `INPUT_SHAPE`, `OUTPUT_SHAPE` and `LAYERS` (the per-layer table);
//! - the [`Model`] trait: typed `Input`/`Output` arrays, `new(seed)` (Keras initialisation) and
//!   `with_init(Init::PyTorch, seed)`, `forward`, `forward_batch`, allocation-free
//!   `forward_with`, `summary()`, and parameter visitors for generic code;
//! - the summary table in the struct's rustdoc, so hovering over the type shows the
//!   architecture.
//!
//! # Training
//!
//! Every generated model trains: backward passes for every layer (checked against finite
//! differences and reference kernels), fused softmax cross-entropy and squared-error losses, SGD
//! (momentum, Nesterov, weight decay), Adam and AdamW with PyTorch's semantics, an MNIST reader,
//! and a Keras-like `fit` that splits each batch over the cores. Weights save to and load from
//! safetensors files that carry the architecture, and load from PyTorch's `state_dict`.
//!
//! ```no_run
//! use cnn::runtime::data::{Dataset, Mnist, Normalize};
//! use cnn::runtime::{io, optim::Adam, train::Fit};
//! use cnn::{cnn, Init, Model};
//!
//! cnn! {
//!     /// LeNet-5 with ReLU and padding 2 (`cnn::zoo::LeNet5` with the feature `zoo`).
//!     pub struct LeNet5 {
//!         input 1@28x28,
//!         Conv2D 6@5x5 padding 2 relu,
//!         MaxPool 2,
//!         Conv2D 16@5x5 relu,
//!         MaxPool 2,
//!         Flatten,
//!         Dense 120 relu,
//!         Dense 84 relu,
//!         Dense 10,
//!     }
//! }
//!
//! let mnist = Mnist::load("../shared/data/mnist")?;
//! let train = Dataset::new(mnist.train(), Normalize::MNIST)?;
//! let test = Dataset::new(mnist.test(), Normalize::MNIST)?;
//! let mut model = LeNet5::with_init(Init::PyTorch, 1);
//! let history = Fit::new(3, 64).validation(&test).run(&mut model, &train, &mut Adam::new(1e-3))?;
//! history.write_csv("target/history.csv".as_ref())?;
//! io::save(&model, "target/lenet5.safetensors".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Compile errors
//!
//! Every rule is checked by the macro, every error of a declaration is reported, each on the
//! smallest token responsible, naming the incoming shape, the rule and a fix:
//!
//! ```compile_fail
//! cnn::cnn! {
//!     struct TooSmall {
//!         input 1@28x28,
//!         Conv2D 6@5x5, MaxPool 2, Conv2D 16@5x5, MaxPool 2, MaxPool 2,
//!         Conv2D 16@5x5, // error: needs an input of at least 5x5, but the MaxPool 2 before it outputs 16@2x2
//!         Flatten, Dense 10,
//!     }
//! }
//! ```
//!
//! The files under `tests/ui/` of the repository show every message.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `zoo` | `cnn::zoo`: the seed tutorials' networks, declared and ready to use (Keras's LeNet-5 and its 32x32 exercise, LeNet-5 with ReLU and with BatchNorm, the TF2 network) |
//! | `dynamic` | `cnn::dynamic`: the same networks built at run time from their declaration text or JSON |
//! | `download` | `cnn::runtime::data::download`: MNIST from a public mirror, checked by SHA-256 |
//!
//! None is on by default. `zoo` is off because every crate that enables it compiles its five
//! networks (forward and training code, each kernel for three instruction sets), which costs
//! more than the rest of a clean build; a crate that declares its own network does not pay for
//! them. To use the zoo:
//!
//! ```toml
//! [dependencies]
//! cnn = { version = "0.1", features = ["zoo"] }
//! ```
//!
//! The repository's examples and most of its tests use the zoo: `cargo run --release --features
//! zoo --example lenet5`, `cargo test --workspace --all-features`.
//!
//! Generated code names this crate as `::cnn`: depend on it under that name.

// Lets the networks of `zoo` name this crate `::cnn`, as generated code does everywhere else.
extern crate self as cnn;

#[cfg(feature = "zoo")]
pub mod zoo;

pub use cnn_macros::cnn;
pub use cnn_runtime as runtime;
/// The dynamic runtime (feature `dynamic`): the same networks built at run time, on ndarray.
#[cfg(feature = "dynamic")]
pub use cnn_runtime::dynamic;
pub use cnn_runtime::{
    BatchNormParams, Conv2dParams, DenseParams, Init, LayerInfo, Model, ParamId, Shape, Trainable, Workspace,
};
