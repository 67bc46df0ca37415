// No filters.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 0@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
