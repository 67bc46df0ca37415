// No input line.
use cnn::cnn;

cnn! {
    struct Net {
        Conv2D 6@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
