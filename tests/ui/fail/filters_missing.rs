// A kernel without its filter count.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
