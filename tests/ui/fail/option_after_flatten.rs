// Flatten takes no options.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Flatten relu,
        Dense 10,
    }
}

fn main() {}
