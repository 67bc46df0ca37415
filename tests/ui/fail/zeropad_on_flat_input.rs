// ZeroPad after Flatten.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        ZeroPad 2,
        Dense 10,
    }
}

fn main() {}
