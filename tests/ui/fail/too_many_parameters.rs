// A layer too large to hold.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Flatten,
        Dense 100000000000,
    }
}

fn main() {}
