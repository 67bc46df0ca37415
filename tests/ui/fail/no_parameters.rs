// A network with nothing to learn.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        MaxPool 2,
        Flatten,
    }
}

fn main() {}
