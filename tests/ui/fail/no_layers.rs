// A network with only its input.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
    }
}

fn main() {}
