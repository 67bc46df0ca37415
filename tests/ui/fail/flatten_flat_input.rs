// Flatten of a flat input.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Flatten,
        Dense 10,
    }
}

fn main() {}
