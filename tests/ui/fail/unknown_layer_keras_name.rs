// Keras and PyTorch names point at ours.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        MaxPooling2D 2,
        Flatten,
        Linear 10,
    }
}

fn main() {}
