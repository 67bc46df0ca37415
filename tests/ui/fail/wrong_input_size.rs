// The input's shape is part of the type: an image of the wrong size does not compile.
use cnn::{cnn, Model};

cnn! {
    pub struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Flatten,
        Dense 10,
    }
}

fn main() {
    let model = Net::new(0);
    let _ = model.forward(&[[[0.0; 32]; 32]; 1]);
}
