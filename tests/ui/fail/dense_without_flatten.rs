// Dense on an image: one of the seed tutorials has exactly this bug.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 relu,
        MaxPool 2,
        Conv2D 16@5x5 relu,
        MaxPool 2,
        Dense 120 relu,
        Dense 84 relu,
        Dense 10 softmax,
    }
}

fn main() {}
