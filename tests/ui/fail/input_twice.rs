// Two input lines.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        input 1@32x32,
        Conv2D 6@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
