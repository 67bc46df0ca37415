// A misspelt option.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 strid 2,
        Flatten,
        Dense 10,
    }
}

fn main() {}
