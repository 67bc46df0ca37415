// A pooling stride of 0.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        MaxPool 2 stride 0x2,
        Flatten,
        Dense 10,
    }
}

fn main() {}
