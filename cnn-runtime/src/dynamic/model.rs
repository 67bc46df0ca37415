//! [`DynModel`]: a checked network with its parameters, run layer by layer on ndarray batches. It
//! initialises, infers and trains as the model `cnn!` generates for the same declaration: the
//! same weights for the same [`Init`] and seed, the same dropout masks, the same order of
//! parameter tensors (so weight files and optimiser state carry over).

use alloc::borrow::Cow;
use core::fmt;

use cnn_spec::{LayerInfo, Network, Shape};
use ndarray::{Array2, ArrayView2, ArrayViewD};

use super::ops::batch::{flat, flat_mut};
use super::ops::layer::{self, InStep, Record};
use super::params::LayerParams;
use crate::init::Init;
use crate::layers::{PairVisitor, ParamId};
use crate::rng::Rng;
use crate::train::TrainState;
use crate::trainable::Trainable;

/// A network built at run time: a checked [`Network`] and the parameters of its layers, in
/// PyTorch's layouts. It implements [`Trainable`], so it trains with [`Fit`](crate::train::Fit)
/// and [`Trainer`](crate::train::Trainer) and is saved with [`io`](crate::io) like a generated model.
#[derive(Clone)]
pub struct DynModel {
    name: String,
    network: Network,
    /// `network` in canonical notation, kept for [`Trainable::declaration`].
    declaration: String,
    layer_infos: Vec<LayerInfo<'static>>,
    /// One entry per layer of `network`, [`LayerParams::None`] for layers without parameters.
    params: Vec<LayerParams>,
}

impl DynModel {
    /// The model of `network` named `name`, its weights drawn with `init` from `seed` exactly as
    /// the generated model's `with_init(init, seed)` draws them.
    pub fn from_network(name: impl Into<String>, network: Network, init: Init, seed: u64) -> DynModel {
        let mut rng = Rng::new(seed);
        let params = network.layers().iter().map(|plan| LayerParams::new(plan, init, &mut rng)).collect();
        let layer_infos = network.layer_infos().into_iter().map(owned_info).collect();
        DynModel { name: name.into(), declaration: network.to_string(), layer_infos, params, network }
    }

    /// The model's name (`LeNet5`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The checked network: input, layers, shapes and parameter counts.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The Keras-style table of layers, output shapes and parameter counts.
    pub fn summary(&self) -> String {
        cnn_spec::summary(&self.name, self.network.input(), &self.layer_infos)
    }

    /// Inference on a batch `xs` of shape `(N, C, H, W)` for an image input `C@HxW`, or `(N, n)`
    /// for a flat input of `n`: one row of outputs per sample.
    ///
    /// # Errors
    /// If `xs` does not have that shape.
    pub fn forward(&self, xs: ArrayViewD<'_, f32>) -> Result<Array2<f32>, InputError> {
        let input = self.network.input();
        let expected: Vec<usize> = match input {
            Shape::Image { c, h, w } => vec![c, h, w],
            Shape::Flat { n } => vec![n],
        };
        if xs.shape().split_first().is_none_or(|(_, sample)| *sample != expected[..]) {
            return Err(InputError { expected: input, got: xs.shape().to_vec() });
        }
        let xs = xs.as_standard_layout();
        let rows = xs.view().into_shape_with_order((xs.len_of(ndarray::Axis(0)), input.len()));
        Ok(self.infer(rows.expect("a standard-layout batch of the input's shape is a matrix of its samples")))
    }

    /// Inference on a batch of samples, one per row.
    fn infer(&self, xs: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut layers = self.network.layers().iter().zip(&self.params);
        let Some((plan, params)) = layers.next() else { return xs.to_owned() };
        let first = layer::forward_inference(plan, params, xs);
        layers.fold(first, |x, (plan, params)| layer::forward_inference(plan, params, x.view()))
    }

    /// The place of layer `index` in a training step.
    fn in_step(&self, index: usize, dropout_seed: u64, fused_softmax: bool) -> InStep {
        let layers = self.network.layers();
        InStep {
            index,
            dropout_seed,
            softmax_in_loss: fused_softmax && index + 1 == layers.len(),
            input_grad: index > self.network.first_learned(),
        }
    }

    /// The training forward pass over the batch `xs`: every layer's record, in order. BatchNorm
    /// layers update their running statistics.
    fn forward_train(&mut self, xs: ArrayView2<'_, f32>, dropout_seed: u64, fused_softmax: bool) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::with_capacity(self.params.len());
        for i in 0..self.params.len() {
            let step = self.in_step(i, dropout_seed, fused_softmax);
            let x = records.last().map_or(xs, |r| r.output.view());
            let record = layer::forward_train(&self.network.layers()[i], &mut self.params[i], x, step);
            records.push(record);
        }
        records
    }

    /// The training backward pass, from the gradient `doutput` of the last layer's output down
    /// to the first layer with weights, accumulating parameter gradients into `grad`.
    fn backward(
        &self,
        xs: ArrayView2<'_, f32>,
        records: &[Record],
        doutput: Array2<f32>,
        grad: &mut DynModel,
        dropout_seed: u64,
        fused_softmax: bool,
    ) {
        let mut dy = doutput;
        for i in (self.network.first_learned()..records.len()).rev() {
            let x = if i == 0 { xs } else { records[i - 1].output.view() };
            let step = self.in_step(i, dropout_seed, fused_softmax);
            let plan = &self.network.layers()[i];
            match layer::backward(plan, &self.params[i], &mut grad.params[i], x, &records[i], dy, step) {
                Some(dx) => dy = dx,
                None => return,
            }
        }
    }
}

/// A row of the summary table that owns its strings.
fn owned_info(info: LayerInfo<'_>) -> LayerInfo<'static> {
    LayerInfo {
        name: Cow::Owned(info.name.into_owned()),
        kind: Cow::Owned(info.kind.into_owned()),
        layer: info.layer,
        input: info.input,
        output: info.output,
        trainable: info.trainable,
        non_trainable: info.non_trainable,
        macs: info.macs,
    }
}

/// Shows the name and the declaration, not the parameters.
impl fmt::Debug for DynModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynModel").field("name", &self.name).field("declaration", &self.declaration).finish()
    }
}

impl Trainable for DynModel {
    type Scratch = ();

    fn name(&self) -> &str {
        &self.name
    }

    fn declaration(&self) -> &str {
        &self.declaration
    }

    fn input_shape(&self) -> Shape {
        self.network.input()
    }

    fn output_shape(&self) -> Shape {
        self.network.output()
    }

    fn output_softmax(&self) -> bool {
        self.network.ends_in_softmax()
    }

    fn layer_infos(&self) -> Cow<'_, [LayerInfo<'static>]> {
        Cow::Borrowed(&self.layer_infos)
    }

    fn gradient(&self) -> Self {
        DynModel { params: self.params.iter().map(LayerParams::zeros_like).collect(), ..self.clone() }
    }

    fn scratch(&self) {}

    fn forward_batch_flat(&self, xs: &[f32], ys: &mut [f32], _: &mut ()) {
        let xs = samples(xs, self.network.input());
        let out_len = self.network.output().len();
        assert_eq!(
            ys.len(),
            xs.nrows() * out_len,
            "forward_batch_flat: room for {} floats, not {} outputs",
            ys.len(),
            xs.nrows()
        );
        ys.copy_from_slice(flat(&self.infer(xs)));
    }

    /// One training step as the generated models take it: forward in training mode keeping every
    /// layer's output, `loss` once over the batch's outputs, backward down to the first layer
    /// with weights. Gradients are accumulated into `grads[0]`; an empty batch calls `loss` with
    /// nothing and changes nothing.
    fn train_batch_flat(
        &mut self,
        xs: &[f32],
        state: &mut TrainState,
        grads: &mut [Self],
        loss: &mut dyn FnMut(&[f32], &mut [f32]),
        fused_softmax: bool,
    ) {
        let dropout_seed = state.next_dropout_seed();
        let xs = samples(xs, self.network.input());
        if xs.nrows() == 0 {
            return loss(&[], &mut []);
        }
        let records = self.forward_train(xs, dropout_seed, fused_softmax);
        let output = records.last().map_or(xs, |r| r.output.view());
        let mut doutput = Array2::zeros(output.raw_dim());
        loss(flat(&output), flat_mut(&mut doutput));
        let grad = grads.first_mut().expect("train_batch_flat needs a gradient accumulator");
        self.backward(xs, &records, doutput, grad, dropout_seed, fused_softmax);
    }

    fn visit_pairs(&mut self, other: &Self, f: &mut PairVisitor<'_>) {
        for (plan, (mine, theirs)) in self.network.layers().iter().zip(self.params.iter_mut().zip(&other.params)) {
            for (t, o) in mine.tensors_mut().into_iter().zip(theirs.tensors()) {
                f(ParamId { layer: &plan.name, tensor: t.name, trainable: t.trainable }, t.values, o.values);
            }
        }
    }

    fn visit_params(&self, f: &mut dyn FnMut(ParamId<'_>, &[f32])) {
        for (plan, params) in self.network.layers().iter().zip(&self.params) {
            for t in params.tensors() {
                f(ParamId { layer: &plan.name, tensor: t.name, trainable: t.trainable }, t.values);
            }
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamId<'_>, &mut [f32])) {
        for (plan, params) in self.network.layers().iter().zip(&mut self.params) {
            for t in params.tensors_mut() {
                f(ParamId { layer: &plan.name, tensor: t.name, trainable: t.trainable }, t.values);
            }
        }
    }
}

/// Flat samples of `input` as a batch, one sample per row.
///
/// # Panics
/// If `xs` is not a whole number of samples.
fn samples(xs: &[f32], input: Shape) -> ArrayView2<'_, f32> {
    let len = input.len().max(1);
    assert!(xs.len().is_multiple_of(len), "{} floats are not a whole number of samples of {input}", xs.len());
    ArrayView2::from_shape((xs.len() / len, len), xs).expect("whole samples make a matrix")
}

/// Why a batch cannot go through a model: its shape is not `(N, …)` of the model's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The shape of one sample the model takes.
    pub expected: Shape,
    /// The shape of the array given.
    pub got: Vec<usize>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sample = match self.expected {
            Shape::Image { c, h, w } => format!("{c}, {h}, {w}"),
            Shape::Flat { n } => format!("{n}"),
        };
        write!(
            f,
            "the model takes a batch of shape [N, {sample}] (N samples of {}), but the array given has shape {:?}",
            self.expected, self.got
        )
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::optim::Adam;
    use crate::train::Trainer;
    use ndarray::{Array, Array4, ShapeBuilder};

    const SMALL: &str = "input 1@8x8, Conv2D 4@3x3 relu, MaxPool 2, Flatten, Dense 10 softmax";

    /// The checked network of a declaration body, through the macro's parser and checker.
    fn network(body: &str) -> Network {
        let decl = syn::parse_str::<cnn_syntax::Declaration>(&format!("struct T {{ {body} }}")).unwrap();
        cnn_syntax::check(decl).network.unwrap()
    }

    fn model(body: &str, seed: u64) -> DynModel {
        DynModel::from_network("T", network(body), Init::PyTorch, seed)
    }

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    /// Every parameter tensor as (layer, tensor, trainable, values).
    fn params(model: &DynModel) -> Vec<(String, &'static str, bool, Vec<f32>)> {
        let mut all = Vec::new();
        model
            .visit_params(&mut |id, values| all.push((id.layer.to_string(), id.tensor, id.trainable, values.to_vec())));
        all
    }

    #[test]
    fn outputs_are_probabilities() {
        let model = model(SMALL, 3);
        let xs = Array::from_shape_vec((5, 1, 8, 8), random(&mut Rng::new(1), 5 * 64)).unwrap();
        let ys = model.forward(xs.view().into_dyn()).unwrap();
        assert_eq!(ys.dim(), (5, 10));
        for row in ys.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5, "{row}");
            assert!(row.iter().all(|&p| p > 0.0));
        }
        let none = model.forward(Array4::<f32>::zeros((0, 1, 8, 8)).view().into_dyn()).unwrap();
        assert_eq!(none.dim(), (0, 10));
    }

    #[test]
    fn forward_rejects_a_batch_of_another_shape() {
        let image = model(SMALL, 1);
        for shape in [&[5, 64][..], &[5, 1, 8, 9], &[1, 8, 8], &[], &[2, 1, 8, 8, 1]] {
            let xs = Array::<f32, _>::zeros(shape);
            let error = image.forward(xs.view()).unwrap_err();
            assert_eq!(error, InputError { expected: Shape::image(1, 8, 8), got: shape.to_vec() });
        }
        let message = image.forward(Array::<f32, _>::zeros(&[3, 64][..]).view()).unwrap_err().to_string();
        assert!(
            message.contains("[N, 1, 8, 8]") && message.contains("1@8x8") && message.contains("[3, 64]"),
            "{message}"
        );
        let flat = model("input 20, Dense 3", 1);
        assert_eq!(flat.forward(Array::<f32, _>::zeros(&[4, 20][..]).view()).unwrap().dim(), (4, 3));
        assert!(flat.forward(Array::<f32, _>::zeros(&[4, 20, 1][..]).view()).is_err());
    }

    #[test]
    fn forward_reads_any_memory_layout_and_matches_the_flat_batch() {
        let model = model(SMALL, 2);
        let data = random(&mut Rng::new(2), 3 * 64);
        let standard = Array::from_shape_vec((3, 1, 8, 8), data.clone()).unwrap();
        let column_major = Array::from_shape_vec((3, 1, 8, 8).f(), standard.t().iter().copied().collect()).unwrap();
        assert_eq!(column_major, standard);
        let want = model.forward(standard.view().into_dyn()).unwrap();
        assert_eq!(model.forward(column_major.view().into_dyn()).unwrap(), want);
        let mut ys = vec![f32::NAN; 30];
        model.forward_batch_flat(&data, &mut ys, &mut model.scratch());
        assert_eq!(ys, want.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn describes_itself_as_the_generated_model() {
        let model = model(SMALL, 1);
        assert_eq!(model.declaration(), SMALL);
        assert_eq!(network(model.declaration()), *model.network());
        assert_eq!((model.input_shape(), model.output_shape()), (Shape::image(1, 8, 8), Shape::flat(10)));
        let infos = model.layer_infos();
        let names: Vec<&str> = infos.iter().map(|l| l.name.as_ref()).collect();
        assert_eq!(names, ["conv1", "maxpool1", "flatten1", "dense1"]);
        let summary = model.summary();
        assert!(summary.starts_with("Model: \"T\"  (input 1@8x8)"), "{summary}");
        assert!(summary.contains("conv1 (Conv2D 4@3x3 relu)") && summary.contains("Total params: 410"), "{summary}");
        assert!(model.output_softmax());
        assert!(!self::model("input 4, Dense 3", 1).output_softmax());
        assert!(self::model("input 4, Dense 3, Softmax", 1).output_softmax());
        assert!(!self::model("input 4, Dense 3 softmax, Dense 2", 1).output_softmax());
    }

    #[test]
    fn parameters_are_visited_as_the_generated_models_visit_them() {
        let mut model = model("input 2@6x6, Conv2D 3@3x3, BatchNorm, ReLU, Flatten, Dense 4", 1);
        let ids: Vec<(String, &str, bool)> = params(&model).into_iter().map(|(l, t, tr, _)| (l, t, tr)).collect();
        let want = [
            ("conv1", "weight", true),
            ("conv1", "bias", true),
            ("batchnorm1", "weight", true),
            ("batchnorm1", "bias", true),
            ("batchnorm1", "running_mean", false),
            ("batchnorm1", "running_var", false),
            ("dense1", "weight", true),
            ("dense1", "bias", true),
        ];
        assert_eq!(ids, want.map(|(l, t, tr)| (l.to_string(), t, tr)));
        let lens: Vec<usize> = params(&model).iter().map(|p| p.3.len()).collect();
        assert_eq!(lens, [54, 3, 3, 3, 3, 3, 192, 4]);

        let gradient = model.gradient();
        assert!(params(&gradient).iter().all(|p| p.3.iter().all(|&v| v == 0.0)));
        let mut pairs = Vec::new();
        model.visit_pairs(&gradient, &mut |id, mine, theirs| pairs.push((id.tensor, mine.len(), theirs.len())));
        assert!(pairs.iter().all(|&(_, a, b)| a == b) && pairs.len() == 8);
        model.visit_params_mut(&mut |_, values| values.fill(0.5));
        assert!(params(&model).iter().all(|p| p.3.iter().all(|&v| v == 0.5)));
    }

    /// The generated `with_init`: one generator, layers with weights in declaration order, each
    /// filled with `C·Kh·Kw`, `F·Kh·Kw` (convolution) or `I`, `O` (dense) as fans.
    #[test]
    fn weights_are_those_of_the_generated_init() {
        for init in [Init::GlorotUniform, Init::PyTorch] {
            let model = DynModel::from_network("T", network(SMALL), init, 9);
            let mut rng = Rng::new(9);
            let (mut conv_w, mut conv_b, mut dense_w, mut dense_b) =
                (vec![0.0; 36], vec![0.0; 4], vec![0.0; 360], vec![0.0; 10]);
            init.fill(&mut rng, 9, 36, &mut conv_w, &mut conv_b);
            init.fill(&mut rng, 36, 10, &mut dense_w, &mut dense_b);
            let values: Vec<Vec<f32>> = params(&model).into_iter().map(|p| p.3).collect();
            assert_eq!(values, [conv_w, conv_b, dense_w, dense_b], "{init:?}");
        }
    }

    /// Analytic gradients of `Σ r ⊙ output` (the training step's, through every kind of layer)
    /// against central finite differences of the training forward pass, same dropout masks. The
    /// seeds keep every max-pool window and leaky ReLU farther from its kink than the step
    /// (seed 4 does not: one window of the max pool flips within 1e-3).
    fn check_gradients(body: &str, fused_softmax: bool) {
        let mut model = model(body, 11);
        let mut rng = Rng::new(12);
        let batch = 3;
        let xs = random(&mut rng, batch * model.input_shape().len());
        let r = random(&mut rng, batch * model.output_shape().len());
        let mut grads = [model.gradient()];
        let mut state = TrainState::new(6);
        model.train_batch_flat(&xs, &mut state, &mut grads, &mut |_, d| d.copy_from_slice(&r), fused_softmax);
        let seed = TrainState::new(6).next_dropout_seed();
        let objective = |m: &mut DynModel| -> f64 {
            let records = m.forward_train(samples(&xs, m.input_shape()), seed, fused_softmax);
            let out = records.last().unwrap().output.iter();
            out.zip(&r).map(|(&y, &r)| f64::from(y) * f64::from(r)).sum()
        };
        let analytic: Vec<(String, f32)> = params(&grads[0])
            .into_iter()
            .filter(|p| p.2)
            .flat_map(|(layer, tensor, _, values)| values.into_iter().map(move |g| (format!("{layer}.{tensor}"), g)))
            .collect();
        let h = 1e-3;
        for (k, (name, g)) in analytic.iter().enumerate() {
            let at = nudge(&mut model, k, None);
            nudge(&mut model, k, Some(at + h));
            let up = objective(&mut model);
            nudge(&mut model, k, Some(at - h));
            let down = objective(&mut model);
            nudge(&mut model, k, Some(at));
            let fd = (up - down) / (2.0 * f64::from(h));
            let g = f64::from(*g);
            assert!(
                (g - fd).abs() <= 2e-3 + 1e-2 * fd.abs(),
                "{body}: {name} (parameter {k}): analytic {g}, finite differences {fd}"
            );
        }
    }

    /// Trainable parameter `k` (counting over every trainable tensor), set to `value` if given.
    fn nudge(model: &mut DynModel, k: usize, value: Option<f32>) -> f32 {
        let (mut seen, mut before) = (0, f32::NAN);
        model.visit_params_mut(&mut |id, values| {
            if id.trainable && (seen..seen + values.len()).contains(&k) {
                before = values[k - seen];
                values[k - seen] = value.unwrap_or(before);
            }
            seen += if id.trainable { values.len() } else { 0 };
        });
        before
    }

    #[test]
    fn gradients_match_finite_differences() {
        let body = "input 2@7x7, ZeroPad 1, Conv2D 3@3x3 stride 2 padding same tanh, BatchNorm, \
                    AvgPool 2 stride 1, Conv2D 4@2x3 padding 1x1 sigmoid, MaxPool 2, Flatten, Dropout 0.3, \
                    Dense 6, LeakyReLU 0.2, Dense 5, BatchNorm, Tanh, Dense 4, Softmax";
        check_gradients(body, false);
        check_gradients(body, true);
        check_gradients("input 12, Dense 6 sigmoid, Dense 3 softmax", false);
        check_gradients("input 12, Dense 6 sigmoid, Dense 3 softmax", true);
    }

    /// A batch of 16 images of `SMALL`'s input, labelled by the quadrant with the largest sum.
    fn quadrant_batch(seed: u64) -> (Vec<f32>, Vec<u8>) {
        let xs = random(&mut Rng::new(seed), 16 * 64);
        let labels = xs
            .chunks(64)
            .map(|x| {
                let sum = |q: usize| (0..64).filter(|k| (k / 32) * 2 + (k % 8) / 4 == q).map(|k| x[k]).sum::<f32>();
                (0..4).map(|q| (q, sum(q))).max_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |(q, _)| q as u8)
            })
            .collect();
        (xs, labels)
    }

    #[test]
    fn training_steps_reduce_the_loss() {
        let mut model = model(SMALL, 7);
        let (xs, labels) = quadrant_batch(8);
        let mut trainer = Trainer::new(&model, 2, 1);
        let mut adam = Adam::new(1e-2);
        let mut losses = Vec::new();
        for _ in 0..30 {
            let stats = trainer.step(&mut model, &xs, &labels, Loss::CrossEntropy, &mut adam).unwrap();
            losses.push(stats.loss_sum / stats.samples as f64);
        }
        assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
    }

    #[test]
    fn a_fused_softmax_gives_the_loss_logits() {
        let mut model = model("input 4, Dense 3 softmax", 1);
        let xs = random(&mut Rng::new(3), 8);
        let mut grads = [model.gradient()];
        let mut seen = Vec::new();
        for fused in [false, true] {
            let mut state = TrainState::new(1);
            model.train_batch_flat(&xs, &mut state, &mut grads, &mut |out, _| seen.push(out.to_vec()), fused);
        }
        let probabilities = model.forward(ArrayView2::from_shape((2, 4), &xs).unwrap().into_dyn()).unwrap();
        assert_eq!(seen[0], probabilities.iter().copied().collect::<Vec<_>>());
        let mut logits = seen[1].clone();
        logits.chunks_mut(3).for_each(crate::kernels::reference::softmax);
        crate::dynamic::ops::test_util::assert_close(&logits, &seen[0]);
        assert!((seen[1][..3].iter().sum::<f32>() - 1.0).abs() > 1e-3, "{:?}", seen[1]);
    }

    #[test]
    fn training_moves_the_running_statistics_that_inference_uses() {
        let mut model = model("input 4, Dense 3, BatchNorm, Dense 2", 2);
        let xs = random(&mut Rng::new(4), 5 * 4);
        let x = ArrayView2::from_shape((5, 4), &xs).unwrap().into_dyn();
        let before = model.forward(x.clone()).unwrap();
        let mut grads = [model.gradient()];
        model.train_batch_flat(&xs, &mut TrainState::new(1), &mut grads, &mut |_, d| d.fill(1.0), false);
        let running: Vec<f32> =
            params(&model).into_iter().filter(|p| p.1 == "running_mean").flat_map(|p| p.3).collect();
        assert!(running.iter().all(|&m| m != 0.0), "{running:?}");
        assert_ne!(model.forward(x).unwrap(), before);
        // dbeta of a BatchNorm is the sum of its output gradients; dense2's weights get gradients too.
        let dbeta: Vec<f32> =
            params(&grads[0]).into_iter().filter(|p| p.0 == "batchnorm1" && p.1 == "bias").flat_map(|p| p.3).collect();
        assert!(dbeta.iter().all(|&g| g != 0.0), "{dbeta:?}");
    }

    #[test]
    fn dropout_draws_the_masks_of_its_layer_and_step_and_is_the_identity_at_inference() {
        let mut model = model("input 6, Dense 5, Dropout 0.5, Dense 2", 3);
        let xs = random(&mut Rng::new(5), 4 * 6);
        let seed = TrainState::new(9).next_dropout_seed();
        let records = model.forward_train(samples(&xs, model.input_shape()), seed, false);
        let (want, _) = crate::dynamic::ops::dropout::forward_train(records[0].output.view(), 0.5, seed, 1);
        assert_eq!(records[1].output, want);
        assert_ne!(records[1].output, records[0].output);
        let infer = model.infer(samples(&xs, model.input_shape()));
        let dense2 = crate::dynamic::ops::layer::forward_inference(
            &model.network.layers()[2],
            &model.params[2],
            records[0].output.view(),
        );
        assert_eq!(infer, dense2);
    }

    #[test]
    fn an_empty_batch_trains_nothing() {
        let mut model = model("input 4, Dense 3, BatchNorm, Dense 2", 2);
        let before = params(&model);
        let mut grads = [model.gradient()];
        let mut calls = 0;
        model.train_batch_flat(&[], &mut TrainState::new(1), &mut grads, &mut |out, _| calls += 1 + out.len(), false);
        assert_eq!((calls, params(&model)), (1, before));
    }
}
