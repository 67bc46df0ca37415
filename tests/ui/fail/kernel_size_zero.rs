// A kernel of size 0 (`0x5` is read as a size, not as hex).
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@0x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
