// ZeroPad 0.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        ZeroPad 0,
        Conv2D 6@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
