// An activation on a pooling layer.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        MaxPool 2 relu,
        Flatten,
        Dense 10,
    }
}

fn main() {}
