// Two strides on one layer.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 stride 2 stride 1,
        Flatten,
        Dense 10,
    }
}

fn main() {}
