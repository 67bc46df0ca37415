// Pooling after Flatten.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Flatten,
        MaxPool 2,
        Dense 10,
    }
}

fn main() {}
