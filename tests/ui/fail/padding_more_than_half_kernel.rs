// More padding than half the kernel.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 padding 3,
        Flatten,
        Dense 10,
    }
}

fn main() {}
