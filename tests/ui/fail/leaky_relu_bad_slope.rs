// A slope that is not a number.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 10,
        LeakyReLU fast,
    }
}

fn main() {}
