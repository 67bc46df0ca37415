// A padding that is no padding.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 padding full,
        Flatten,
        Dense 10,
    }
}

fn main() {}
