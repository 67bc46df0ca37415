// BatchNorm with nothing to normalise.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        BatchNorm,
        Conv2D 6@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
