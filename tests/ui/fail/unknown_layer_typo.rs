// A misspelt layer name gets the closest known one.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2d 6@5x5,
        Flaten,
        Dense 10,
    }
}

fn main() {}
