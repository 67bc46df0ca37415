// A negative LeakyReLU slope.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 10,
        LeakyReLU -0.2,
    }
}

fn main() {}
