// The input after a layer.
use cnn::cnn;

cnn! {
    struct Net {
        Conv2D 6@5x5,
        input 1@28x28,
        Flatten,
        Dense 10,
    }
}

fn main() {}
