//! The seed networks of the tutorials this library reproduces, shared by the tests.

use cnn::cnn;

cnn! {
    /// LeNet-5 from the Keras tutorial (sigmoid, 28x28).
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
    /// The TF2 tutorial's network: 3,274,634 parameters.
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
    /// The Keras LeNet exercise on 32x32 input.
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
    /// LeNet-5 as in `examples/lenet5.rs`: ReLU, padding 2.
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
    /// The PyTorch tutorial's LeNet-5 with BatchNorm on zero-padded 32x32 input.
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
