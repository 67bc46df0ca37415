// A pooling window larger than its input.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@6x6,
        Conv2D 4@5x5,
        MaxPool 3,
        Flatten,
        Dense 10,
    }
}

fn main() {}
