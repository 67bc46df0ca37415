// Two commas in a row.
use cnn::cnn;

cnn! {
    struct Net {
        input 784,
        Dense 100,,
        Dense 10,
    }
}

fn main() {}
