// Flatten of an already flat input.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Flatten,
        Flatten,
        Dense 10,
    }
}

fn main() {}
