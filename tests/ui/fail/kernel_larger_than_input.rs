// A kernel larger than what the layer before outputs.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        MaxPool 2,
        Conv2D 16@5x5,
        MaxPool 2,
        MaxPool 2,
        Conv2D 16@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {}
