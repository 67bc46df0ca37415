// BatchNorm right after BatchNorm.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        BatchNorm,
        BatchNorm,
        Flatten,
        Dense 10,
    }
}

fn main() {}
