// A Softmax layer on an image.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Softmax,
        Flatten,
        Dense 10,
    }
}

fn main() {}
