// No units.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 0,
    }
}

fn main() {}
