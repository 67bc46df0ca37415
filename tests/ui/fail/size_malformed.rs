// A size that is not N or HxW.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
