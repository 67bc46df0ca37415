// A pooling window of size 0.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        AvgPool 0,
        Flatten,
        Dense 10,
    }
}

fn main() {}
