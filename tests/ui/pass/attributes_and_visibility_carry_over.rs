// Doc comments, attributes and visibility on the declaration carry over to the struct; layers
// may carry doc comments; a trailing comma is optional; several networks live side by side.
mod nets {
    cnn::cnn! {
        /// A small classifier.
        #[derive(Clone, Debug)]
        pub struct Small {
            /// one grey image
            input 1@8x8,
            Conv2D 4@3 relu,
            Flatten,
            /// the classifier
            Dense 10
        }
    }

    cnn::cnn! {
        pub(crate) struct Mlp {
            input 784,
            Dense 128 relu,
            Dense 10 softmax,
        }
    }
}

use cnn::Model;

fn main() {
    let a = nets::Small::new(1);
    let b = a.clone();
    let x = [[[1.0; 8]; 8]; 1];
    assert_eq!(a.forward(&x), b.forward(&x));
    assert_eq!(
        format!("{a:?}"),
        "Small { conv1: Conv2dParams { weight: [4, 1, 3, 3], bias: [4] }, dense1: DenseParams { weight: [10, 144], bias: [10] } }"
    );
    assert_eq!(nets::Mlp::TRAINABLE_PARAMS, 784 * 128 + 128 + 128 * 10 + 10);
    let _: [f32; 10] = nets::Mlp::new(0).forward(&[0.0; 784]);
}
