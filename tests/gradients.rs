//! The gradients of generated `train_batch` against central finite differences of the same
//! training-mode loss, for a smooth network using every trainable layer kind, strides, padding,
//! both poolings and BatchNorm; and the same step split into 1 or 3 parallel chunks.

use cnn::runtime::loss::Loss;
use cnn::runtime::tensor::{batch_flat_mut, zeroed};
use cnn::runtime::train::TrainState;
use cnn::runtime::Rng;
use cnn::{cnn, Init, Model};

cnn! {
    /// Smooth activations (tanh, sigmoid), so finite differences are meaningful.
    pub struct Smooth {
        input 2@9x9,
        ZeroPad 1,
        Conv2D 4@3x3 stride 2 tanh,
        BatchNorm,
        AvgPool 2 stride 1,
        Conv2D 3@2 same sigmoid,
        MaxPool 2,
        Flatten,
        Dense 8 tanh,
        BatchNorm,
        Sigmoid,
        Dense 5 softmax,
    }
}

const BATCH: usize = 6;

fn batch(rng: &mut Rng) -> (Vec<<Smooth as Model>::Input>, Vec<u8>) {
    let mut xs = vec![zeroed(); BATCH];
    rng.fill_uniform(batch_flat_mut(&mut xs), -1.0, 1.0);
    let labels = (0..BATCH).map(|i| (i % 5) as u8).collect();
    (xs, labels)
}

/// The batch-mean cross-entropy in training mode, and its gradients (in `grads`, one per chunk).
fn loss_and_grads(model: &mut Smooth, xs: &[<Smooth as Model>::Input], labels: &[u8], grads: &mut [Smooth]) -> f64 {
    for g in grads.iter_mut() {
        g.visit_params_mut(&mut |_, v| v.fill(0.0));
    }
    let mut total = 0.0f64;
    let mut state = TrainState::new(0);
    model.train_batch(
        xs,
        &mut state,
        grads,
        &mut |outputs, doutputs| {
            for ((o, d), &label) in outputs.chunks(5).zip(doutputs.chunks_mut(5)).zip(labels) {
                total += f64::from(Loss::CrossEntropy.per_sample(o, usize::from(label), d)) / BATCH as f64;
                d.iter_mut().for_each(|v| *v /= BATCH as f32);
            }
        },
        true,
    );
    total
}

fn params(model: &Smooth) -> Vec<(String, Vec<f32>)> {
    let mut all = Vec::new();
    model.visit_params(&mut |id, v| all.push((format!("{}.{}", id.layer, id.tensor), v.to_vec())));
    all
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(11);
    let mut model = Smooth::with_init(Init::PyTorch, 3);
    // Non-trivial BatchNorm scales and shifts.
    model.visit_params_mut(&mut |id, v| {
        if id.layer.starts_with("batchnorm") && id.trainable {
            rng.fill_uniform(v, 0.5, 1.5);
        }
    });
    let (xs, labels) = batch(&mut rng);
    let mut grads = vec![Smooth::zeroed()];
    loss_and_grads(&mut model, &xs, &labels, &mut grads);
    let analytic = params(&grads[0]);

    let h = 1e-2f32;
    let mut checked = 0;
    for (slot, (name, values)) in params(&model).iter().enumerate() {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            continue;
        }
        for k in [0, values.len() / 2, values.len() - 1] {
            let at = |delta: f32| {
                let mut m = Smooth::zeroed();
                let mut s = 0;
                m.visit_pairs(&model, &mut |_, dst, src| dst.copy_from_slice(src));
                m.visit_params_mut(&mut |_, v| {
                    if s == slot {
                        v[k] += delta;
                    }
                    s += 1;
                });
                loss_and_grads(&mut m, &xs, &labels, &mut [Smooth::zeroed()])
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let exact = f64::from(analytic[slot].1[k]);
            assert!(
                (numeric - exact).abs() <= 2e-3 * exact.abs().max(0.05),
                "{name}[{k}]: finite difference {numeric:.6}, backward {exact:.6}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} gradients checked");
}

#[test]
fn chunked_gradients_equal_one_chunk() {
    let mut rng = Rng::new(5);
    let (xs, labels) = batch(&mut rng);
    let mut one = Smooth::with_init(Init::PyTorch, 1);
    let mut three = Smooth::with_init(Init::PyTorch, 1);
    let mut g1 = vec![Smooth::zeroed()];
    let mut g3: Vec<Smooth> = (0..3).map(|_| Smooth::zeroed()).collect();
    let l1 = loss_and_grads(&mut one, &xs, &labels, &mut g1);
    let l3 = loss_and_grads(&mut three, &xs, &labels, &mut g3);
    assert_eq!(l1, l3);
    let (first, rest) = g3.split_at_mut(1);
    for g in rest {
        first[0].visit_pairs(g, &mut |_, a, b| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
    }
    let (a, b) = (params(&g1[0]), params(&g3[0]));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-6 * u.abs().max(1.0), "{name}: {u} vs {v}");
        }
    }
}
