// A negative dropout rate.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 100 relu,
        Dropout -0.1,
        Dense 10,
    }
}

fn main() {}
