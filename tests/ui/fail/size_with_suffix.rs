// A Rust type suffix on a size.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 10usize,
    }
}

fn main() {}
