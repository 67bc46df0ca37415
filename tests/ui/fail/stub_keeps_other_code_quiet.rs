// A declaration with an error still defines its type, so code that uses it reports nothing more.
use cnn::{cnn, Model};

cnn! {
    pub struct Net {
        input 1@28x28,
        Conv2D 6@5x5,
        Dense 10,
    }
}

fn main() {
    let model = Net::new(0);
    let _ = model.forward(&[[[0.0; 28]; 28]; 1]);
    println!("{}", Net::summary());
}
