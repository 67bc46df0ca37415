// A dropout rate of 1 or more.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 100 relu,
        Dropout 1.5,
        Dense 10,
    }
}

fn main() {}
