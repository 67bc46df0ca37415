// A convolution after Flatten.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Flatten,
        Conv2D 6@5x5,
        Dense 10,
    }
}

fn main() {}
