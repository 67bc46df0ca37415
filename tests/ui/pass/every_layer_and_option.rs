// Every layer and every option of the notation in one network.
use cnn::{cnn, Model, Shape};

cnn! {
    /// Every option, for reference.
    pub(crate) struct Everything {
        input 3@32x48,
        ZeroPad 2x1,
        Conv2D 8@3x5 stride 2x1 padding 1x2 leaky_relu 0.2,
        BatchNorm,
        Conv2D 8@4 same relu,
        AvgPool 3x2 stride 2,
        Conv2D 16@3 padding valid sigmoid,
        Tanh,
        MaxPool 2 stride 1,
        Flatten,
        Dropout 0.25,
        Dense 32 tanh,
        LeakyReLU,
        ReLU,
        Sigmoid,
        Dense 10 leaky_relu,
        Softmax,
    }
}

fn main() {
    assert_eq!(Everything::INPUT_SHAPE, Shape::image(3, 32, 48));
    assert_eq!(Everything::OUTPUT_SHAPE, Shape::flat(10));
    let model = Everything::new(7);
    let y = model.forward(&[[[0.5; 48]; 32]; 3]);
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}
