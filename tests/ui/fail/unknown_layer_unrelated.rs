// A word that is no layer at all.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Transformer 8,
        Flatten,
        Dense 10,
    }
}

fn main() {}
