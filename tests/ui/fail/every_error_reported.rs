// Several errors in one declaration: all are reported, each on its own token.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 stride 0,
        Dropout 2.0,
        Conv2D 0@3x3,
        Flatten,
        Dense 10 sigmoid relu,
    }
}

fn main() {}
