// Padding counts, but is not enough here.
use cnn::cnn;

cnn! {
    struct Net {
        input 1@3x3,
        Conv2D 4@7x7 padding 1x1,
        Flatten,
        Dense 10,
    }
}

fn main() {}
