// A network takes no generic parameters: its sizes are in its layers.
use cnn::cnn;

cnn! {
    struct Net<T> {
        input 784,
        Dense 10,
    }
}

fn main() {}
