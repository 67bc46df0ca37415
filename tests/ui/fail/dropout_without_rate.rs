// Dropout needs its rate.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 100 relu,
        Dropout,
        Dense 10,
    }
}

fn main() {}
