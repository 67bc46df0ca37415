// A fraction where a whole number goes.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 12.5,
    }
}

fn main() {}
