//! The networks of the tutorials this library reproduces, declared once and ready to use
//! (feature `zoo`, off by default: `cnn = { version = "0.1", features = ["zoo"] }`).
//!
//! A crate that enables the feature compiles all five networks, with their training code, whether
//! it uses them or not; declaring the one you need with [`cnn!`](crate::cnn!) (copy its
//! declaration from this file) builds faster.
//!
//! ```
//! use cnn::zoo::KerasLeNet5;
//! use cnn::Model;
//!
//! assert_eq!(KerasLeNet5::TRAINABLE_PARAMS, 44_426);
//! println!("{}", KerasLeNet5::summary());
//! ```

use crate::cnn;

cnn! {
    /// LeNet-5 from the Keras tutorial: sigmoid activations, 44,426 parameters. Trains with SGD at
    /// learning rate 0.9 from Keras's Glorot-uniform initialisation (not from PyTorch's).
    pub struct KerasLeNet5 {
        input 1@28x28,
        Conv2D 6@5x5 sigmoid,
        MaxPool 2,
        Conv2D 16@5x5 sigmoid,
        MaxPool 2,
        Flatten,
        Dense 120 sigmoid,
        Dense 84 sigmoid,
        Dense 10 softmax,
    }
}

cnn! {
    /// LeNet-5 with ReLU and padding 2 on 28x28 MNIST: the network of the main example.
    pub struct LeNet5 {
        input 1@28x28,
        Conv2D 6@5x5 padding 2 relu,
        MaxPool 2,
        Conv2D 16@5x5 relu,
        MaxPool 2,
        Flatten,
        Dense 120 relu,
        Dense 84 relu,
        Dense 10,
    }
}

cnn! {
    /// The TF2 tutorial's network: 32 and 64 filters of 5x5 with `same` padding, 3,274,634 parameters.
    pub struct Tf2Net {
        input 1@28x28,
        Conv2D 32@5x5 same relu,
        MaxPool 2,
        Conv2D 64@5x5 same relu,
        MaxPool 2,
        Flatten,
        Dense 1024 relu,
        Dense 10 softmax,
    }
}

cnn! {
    /// The Keras LeNet exercise on 32x32 input (8x8 second kernel, 3x3 pooling of stride 3).
    pub struct KerasLeNetExercise {
        input 1@32x32,
        Conv2D 6@5x5 relu,
        MaxPool 2,
        Conv2D 16@8x8 tanh,
        MaxPool 3 stride 3,
        Flatten,
        Dense 120,
        Dense 100,
        Dense 10 softmax,
    }
}

cnn! {
    /// The PyTorch tutorial's LeNet-5 with BatchNorm, on MNIST zero-padded to 32x32.
    pub struct LeNet5BatchNorm {
        input 1@28x28,
        ZeroPad 2,
        Conv2D 6@5x5,
        BatchNorm,
        ReLU,
        MaxPool 2,
        Conv2D 16@5x5,
        BatchNorm,
        ReLU,
        MaxPool 2,
        Flatten,
        Dense 120,
        BatchNorm,
        ReLU,
        Dense 84,
        BatchNorm,
        ReLU,
        Dense 10,
    }
}
