// `same` and `padding 2` together.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@28x28,
        Conv2D 6@5x5 same padding 2,
        Flatten,
        Dense 10,
    }
}

fn main() {}
