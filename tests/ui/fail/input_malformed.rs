// An input without its size.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@,
        Flatten,
        Dense 10,
    }
}

fn main() {}
