// An input with an empty axis.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@0x28,
        Flatten,
        Dense 10,
    }
}

fn main() {}
