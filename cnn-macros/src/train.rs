//! The body of `train_batch`: forward in training mode over the whole batch, the loss, then
//! backward down to the first layer with weights. The layers are cut into segments at BatchNorm,
//! whose statistics need the whole batch; within a segment each thread takes its chunk of the
//! batch through every layer (one fork and join per segment, not per layer) and accumulates weight
//! gradients into its own accumulator. Dense layers call their batched kernels once per chunk, so
//! their weights are read once per chunk rather than once per sample. The gradients flowing back
//! live in per-chunk regions (see `cnn_runtime::train::grad_layout`). Every call goes to a
//! const-generic kernel of `cnn-runtime`.

use cnn_spec::{Activation, Layer, LayerPlan, Network, PoolKind, Shape};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

use crate::tokens::{activation_call, kernel_generics, lit, rt, tensor_type};

/// The generated statements and the buffer sizes they need.
pub struct Train {
    pub body: TokenStream,
    /// Floats of activations (and dropout masks) per sample.
    pub per_sample: usize,
    /// The longest per-sample tensor, for the gradient buffers.
    pub max_len: usize,
    /// Floats BatchNorm saves per step.
    pub saved: usize,
}

pub fn train(network: &Network) -> Train {
    let layers = network.layers();
    let last = layers.len() - 1;
    let mut per_sample = 0;
    let mut saved = 0;
    let mut max_len = network.input().len();
    let mut alloc = TokenStream::new();
    for (i, plan) in layers.iter().enumerate() {
        max_len = max_len.max(plan.output.len());
        per_sample += plan.output.len();
        alloc.extend(batch_buffer(&act(i), plan));
        if let Layer::Dropout { .. } = plan.layer {
            per_sample += plan.output.len();
            alloc.extend(batch_buffer(&mask(i), plan));
        }
        if plan.layer == Layer::BatchNorm {
            let c = plan.input.channels();
            saved += 2 * c;
            let (mean, invstd, c) = (saved_mean(i), saved_invstd(i), lit(c));
            alloc.extend(quote! {
                let (#mean, saved) = saved.split_at_mut(#c);
                let #mean: &mut [f32; #c] = t::view_mut(#mean);
                let (#invstd, saved) = saved.split_at_mut(#c);
                let #invstd: &mut [f32; #c] = t::view_mut(#invstd);
            });
        }
    }

    let forward = forward_pass(network);
    let backward = backward_pass(network, max_len);
    let out = act(last);
    let (out_len, max) = (lit(network.output().len()), lit(max_len));
    let rt = rt();
    let body = quote! {
        use #rt::{kernels as k, tensor as t, train::{grad_layout as gl, par}};
        let b = xs.len();
        let chunks = grads.len();
        let #rt::train::Buffers { acts, grad_a, grad_b, saved, dropout_seed } =
            state.buffers(b, <Self as #rt::Model>::TRAIN_PER_SAMPLE, <Self as #rt::Model>::TRAIN_MAX_LEN,
                          <Self as #rt::Model>::TRAIN_SAVED);
        #alloc
        let _ = (acts, saved, dropout_seed, fused_softmax, chunks);
        #forward
        let (ga, gb) = (grad_a, grad_b);
        loss(t::batch_flat(&*#out), &mut ga[..b * #out_len]);
        gl::expand(&mut *ga, chunks, #max, #out_len);
        #backward
        let _ = (ga, gb);
    };
    Train { body, per_sample, max_len, saved }
}

fn act(i: usize) -> Ident {
    format_ident!("a{}", i + 1)
}
fn mask(i: usize) -> Ident {
    format_ident!("mask{}", i + 1)
}
fn saved_mean(i: usize) -> Ident {
    format_ident!("mean{}", i + 1)
}
fn saved_invstd(i: usize) -> Ident {
    format_ident!("invstd{}", i + 1)
}

/// `a{i}`: the layer's outputs for the whole batch, `b x` its output shape.
fn batch_buffer(name: &Ident, plan: &LayerPlan) -> TokenStream {
    let ty = tensor_type(plan.output);
    let len = lit(plan.output.len());
    quote! {
        let (#name, acts) = acts.split_at_mut(b * #len);
        let #name: &mut [#ty] = t::batch_view_mut(#name);
    }
}

/// The buffer holding the batch entering layer `i`, and its per-sample type.
fn input_of(network: &Network, i: usize) -> (Ident, TokenStream) {
    match i {
        0 => (format_ident!("xs"), tensor_type(network.input())),
        _ => (act(i - 1), tensor_type(network.layers()[i - 1].output)),
    }
}

/// A value a segment's closure takes, cut at its chunk's samples: a batch buffer, a sample range,
/// a gradient region.
struct Part {
    name: Ident,
    ty: TokenStream,
    value: TokenStream,
}

impl Part {
    fn read((name, sample): (Ident, TokenStream)) -> Part {
        Part { value: quote!(&*#name), ty: quote!(&[#sample]), name }
    }
    fn write(name: Ident, sample: Shape) -> Part {
        let sample = tensor_type(sample);
        Part { value: quote!(&mut *#name), ty: quote!(&mut [#sample]), name }
    }
    fn samples() -> Part {
        Part { name: format_ident!("samples"), ty: quote!(core::ops::Range<usize>), value: quote!(0..b) }
    }
    fn gradients(name: &str, max_len: usize) -> Part {
        let (name, max) = (format_ident!("{name}"), lit(max_len));
        Part { value: quote!(gl::PerSample::new(&mut *#name, #max)), ty: quote!(gl::PerSample<'_>), name }
    }
}

/// The parts as one nested pair `(p1, (p2, (…)))`: its value, the closure pattern binding each
/// part to its own name, and its type.
fn nest(parts: &[Part]) -> (TokenStream, TokenStream, TokenStream) {
    match parts {
        [] => (quote!(()), quote!(()), quote!(())),
        [only] => (only.value.clone(), only.name.to_token_stream(), only.ty.clone()),
        [first, rest @ ..] => {
            let (value, pattern, ty) = nest(rest);
            let (v, n, t) = (&first.value, &first.name, &first.ty);
            (quote!((#v, #value)), quote!((#n, #pattern)), quote!((#t, #ty)))
        }
    }
}

/// Layer indices cut at BatchNorm: the runs between, and the BatchNorm layers in order.
enum Step {
    Segment(Vec<usize>),
    BatchNorm(usize),
}

fn steps(network: &Network, order: impl Iterator<Item = usize>) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut segment = Vec::new();
    for i in order {
        if network.layers()[i].layer == Layer::BatchNorm {
            steps.push(Step::Segment(core::mem::take(&mut segment)));
            steps.push(Step::BatchNorm(i));
        } else {
            segment.push(i);
        }
    }
    steps.push(Step::Segment(segment));
    steps.retain(|s| !matches!(s, Step::Segment(v) if v.is_empty()));
    steps
}

/// In-place activation of one sample `y`, unless it is the final softmax fused into the loss.
fn activate(act: Option<Activation>, is_last: bool) -> TokenStream {
    let Some(act) = act else { return quote!() };
    skip_if_fused(act, is_last, activation_call(act, quote!(t::flat_mut(y))))
}

/// Backward of the activation of one sample in place on `dy`, from its output `y`.
fn activate_backward(act: Option<Activation>, is_last: bool) -> TokenStream {
    let Some(act) = act else { return quote!(let _ = y;) };
    let call = match act {
        Activation::Relu => quote!(k::activation::relu_backward(t::flat(y), t::flat_mut(dy));),
        Activation::Sigmoid => quote!(k::activation::sigmoid_backward(t::flat(y), t::flat_mut(dy));),
        Activation::Tanh => quote!(k::activation::tanh_backward(t::flat(y), t::flat_mut(dy));),
        Activation::Softmax => quote!(k::activation::softmax_backward(t::flat(y), t::flat_mut(dy));),
        Activation::LeakyRelu { slope } => {
            let slope = Literal::f32_suffixed(slope);
            quote!(k::activation::leaky_relu_backward(t::flat(y), t::flat_mut(dy), #slope);)
        }
    };
    skip_if_fused(act, is_last, call)
}

/// [`activate_backward`] on every sample of a chunk (`ys`, `dys`), before a layer's batched
/// backward.
fn activate_backward_each(act: Option<Activation>, is_last: bool) -> TokenStream {
    if act.is_none() {
        return quote!(let _ = ys;);
    }
    let act = activate_backward(act, is_last);
    quote!(for (y, dy) in ys.iter().zip(dys.iter_mut()) { #act })
}

fn skip_if_fused(act: Activation, is_last: bool, call: TokenStream) -> TokenStream {
    if is_last && act == Activation::Softmax {
        quote!(if !fused_softmax { #call })
    } else {
        call
    }
}

/// Forward in training mode: each segment in one parallel section over the chunks of the batch.
fn forward_pass(network: &Network) -> TokenStream {
    let last = network.layers().len() - 1;
    steps(network, 0..=last)
        .into_iter()
        .map(|step| match step {
            Step::BatchNorm(i) => batchnorm_forward(network, i),
            Step::Segment(layers) => {
                let mut parts = vec![Part::read(input_of(network, layers[0]))];
                let mut body = TokenStream::new();
                for &i in &layers {
                    let plan = &network.layers()[i];
                    parts.push(Part::write(act(i), plan.output));
                    if let Layer::Dropout { .. } = plan.layer {
                        parts.push(Part::write(mask(i), plan.output));
                    }
                    body.extend(forward_layer(network, i, i == last));
                }
                if layers.iter().any(|&i| matches!(network.layers()[i].layer, Layer::Dropout { .. })) {
                    parts.insert(0, Part::samples());
                }
                let (value, pattern, ty) = nest(&parts);
                quote!(par::each(#value, chunks, &|#pattern: #ty| { #body });)
            }
        })
        .collect()
}

/// Layer `i` over one chunk: `xs` in, `ys` out (every name is the chunk's part of that buffer).
fn forward_layer(network: &Network, i: usize, is_last: bool) -> TokenStream {
    let plan = &network.layers()[i];
    let x = input_of(network, i).0;
    let a = act(i);
    let g = kernel_generics(plan);
    let field = format_ident!("{}", plan.name);
    let each = |per_sample: TokenStream| {
        quote! {{
            let (xs, ys) = (&*#x, &mut *#a);
            for (x, y) in xs.iter().zip(ys.iter_mut()) { #per_sample }
        }}
    };
    match &plan.layer {
        Layer::Conv2d { activation, .. } => {
            let act = activate(*activation, is_last);
            each(quote!(k::conv2d::forward #g (x, &self.#field.weight, &self.#field.bias, y); #act))
        }
        // One call per chunk, then the activation sample by sample.
        Layer::Dense { activation, .. } => {
            let act = activate(*activation, is_last);
            let act = match activation {
                Some(_) => quote!(for y in ys.iter_mut() { #act }),
                None => quote!(),
            };
            quote! {{
                let (xs, ys) = (&*#x, &mut *#a);
                k::dense::forward_batch #g (xs, &self.#field.weight, &self.#field.bias, &mut *ys);
                #act
            }}
        }
        Layer::Pool { kind: PoolKind::Max, .. } => each(quote!(k::pool::max_forward #g (x, y);)),
        Layer::Pool { kind: PoolKind::Avg, .. } => each(quote!(k::pool::avg_forward #g (x, y);)),
        Layer::ZeroPad { .. } => each(quote!(k::zeropad::forward #g (x, y);)),
        Layer::Activation(act) => {
            let act = activate(Some(*act), is_last);
            each(quote!(t::flat_mut(y).copy_from_slice(t::flat(x)); #act))
        }
        Layer::Flatten => quote!(t::batch_flat_mut(&mut *#a).copy_from_slice(t::batch_flat(&*#x));),
        Layer::Dropout { p } => {
            let rt = rt();
            let m = mask(i);
            let p = Literal::f32_suffixed(*p);
            let layer = Literal::u64_suffixed(i as u64);
            quote! {{
                let (xs, ms, ys) = (&*#x, &mut *#m, &mut *#a);
                for (((s, x), m), y) in samples.clone().zip(xs).zip(ms.iter_mut()).zip(ys.iter_mut()) {
                    let mut rng = #rt::Rng::new(#rt::train::sample_seed(dropout_seed, #layer, s));
                    k::dropout::forward_train(t::flat(x), #p, &mut rng, t::flat_mut(m), t::flat_mut(y));
                }
            }}
        }
        Layer::BatchNorm => unreachable!("BatchNorm runs over the whole batch, between segments"),
    }
}

/// BatchNorm in training mode over the whole batch: its statistics are the batch's.
fn batchnorm_forward(network: &Network, i: usize) -> TokenStream {
    let plan = &network.layers()[i];
    let (x, a, g) = (input_of(network, i).0, act(i), kernel_generics(plan));
    let field = format_ident!("{}", plan.name);
    let (mean, invstd) = (saved_mean(i), saved_invstd(i));
    quote! {
        k::batchnorm::forward_train #g (
            t::batch_reshape(&*#x), &self.#field.gamma, &self.#field.beta,
            &mut self.#field.running_mean, &mut self.#field.running_var,
            k::batchnorm::MOMENTUM, k::batchnorm::EPS,
            t::batch_reshape_mut(&mut *#a), &mut *#mean, &mut *#invstd);
    }
}

/// Backward from the loss's gradient (in `ga`, chunk regions) down to the first layer with
/// weights: each segment in one parallel section, each chunk with its own weight-gradient
/// accumulator. Which of `ga` and `gb` holds the gradient after a layer is known here, so the
/// generated code swaps the two names rather than the buffers.
fn backward_pass(network: &Network, max_len: usize) -> TokenStream {
    let last = network.layers().len() - 1;
    let first_learned = network.first_learned();
    steps(network, (first_learned..=last).rev())
        .into_iter()
        .map(|step| match step {
            Step::BatchNorm(i) => batchnorm_backward(network, i, max_len),
            Step::Segment(layers) => {
                let mut parts = vec![Part::gradients("ga", max_len), Part::gradients("gb", max_len)];
                let mut body = TokenStream::new();
                let mut swaps = 0;
                for &i in &layers {
                    let layer = backward_layer(network, i, i == last, i == first_learned);
                    for read in layer.reads {
                        if !parts.iter().any(|p| p.name == read.name) {
                            parts.push(read);
                        }
                    }
                    body.extend(layer.code);
                    if layer.swapped {
                        body.extend(quote!(let (ga, gb) = (gb, ga);));
                        swaps += 1;
                    }
                }
                let (value, pattern, ty) = nest(&parts);
                let max = lit(max_len);
                let swap_after = if swaps % 2 == 1 { quote!(let (ga, gb) = (gb, ga);) } else { quote!() };
                quote! {
                    par::for_chunks(#value, grads, &|#pattern: #ty, grad: &mut Self| {
                        let (ga, gb) = (ga.into_slice(), gb.into_slice());
                        let n = ga.len() / #max;
                        #body
                        let _ = (ga, gb, n, &grad);
                    });
                    #swap_after
                }
            }
        })
        .collect()
}

/// One layer's backward over one chunk, and the batch buffers it reads.
struct Backward {
    code: TokenStream,
    reads: Vec<Part>,
    /// Whether the gradient ends in the other buffer.
    swapped: bool,
}

/// The backward of layer `i` over one chunk of `n` samples: `dys` (in `ga`) to `dxs` (in `gb`).
fn backward_layer(network: &Network, i: usize, is_last: bool, is_first_learned: bool) -> Backward {
    let plan = &network.layers()[i];
    let (x, a) = (input_of(network, i), act(i));
    let xn = x.0.clone();
    let y = || Part::read((a.clone(), tensor_type(plan.output)));
    let (tx, ty) = (tensor_type(plan.input), tensor_type(plan.output));
    let (lx, ly) = (lit(plan.input.len()), lit(plan.output.len()));
    let g = kernel_generics(plan);
    let field = format_ident!("{}", plan.name);
    let dys = quote!(let dys: &mut [#ty] = t::batch_view_mut(&mut ga[..n * #ly]););
    let dxs = quote!(let dxs: &mut [#tx] = t::batch_view_mut(&mut gb[..n * #lx]););
    let learned =
        |code: TokenStream| Backward { code, reads: vec![Part::read(x.clone()), y()], swapped: !is_first_learned };
    let dx = if is_first_learned { quote!(None) } else { quote!(Some(&mut *dxs)) };
    let dxs = if is_first_learned { quote!() } else { dxs };
    let (w, dw, db) = (quote!(&self.#field.weight), quote!(&mut grad.#field.weight), quote!(&mut grad.#field.bias));
    match &plan.layer {
        // The activation's backward sample by sample, then one call per chunk.
        Layer::Dense { activation, .. } => {
            let act = activate_backward_each(*activation, is_last);
            learned(quote! {{
                #dys
                #dxs
                let (xs, ys) = (&*#xn, &*#a);
                #act
                k::dense::backward_batch #g (xs, #w, &*dys, #dx, #dw, #db);
            }})
        }
        Layer::Conv2d { activation, .. } => {
            let act = activate_backward_each(*activation, is_last);
            learned(quote! {{
                #dys
                #dxs
                let (xs, ys) = (&*#xn, &*#a);
                #act
                k::conv2d::backward_batch #g (xs, #w, &*dys, #dx, #dw, #db);
            }})
        }
        Layer::Pool { kind: PoolKind::Max, .. } => Backward {
            code: quote! {{
                #dys
                #dxs
                for ((x, dy), dx) in #xn.iter().zip(dys.iter()).zip(dxs.iter_mut()) { k::pool::max_backward #g (x, dy, dx); }
            }},
            reads: vec![Part::read(x)],
            swapped: true,
        },
        Layer::Pool { kind: PoolKind::Avg, .. } | Layer::ZeroPad { .. } => {
            let kernel = match plan.layer {
                Layer::ZeroPad { .. } => quote!(zeropad::backward),
                _ => quote!(pool::avg_backward),
            };
            Backward {
                code: quote! {{
                    #dys
                    #dxs
                    for (dy, dx) in dys.iter().zip(dxs.iter_mut()) { k::#kernel #g (dy, dx); }
                }},
                reads: vec![],
                swapped: true,
            }
        }
        Layer::Activation(act) => {
            let act = activate_backward(Some(*act), is_last);
            Backward {
                code: quote! {{
                    #dys
                    for (y, dy) in #a.iter().zip(dys.iter_mut()) { #act }
                }},
                reads: vec![y()],
                swapped: false,
            }
        }
        // The gradient of a reshape is the gradient: the layer below reads the same floats.
        Layer::Flatten => Backward { code: quote!(), reads: vec![], swapped: false },
        Layer::Dropout { .. } => {
            let m = mask(i);
            Backward {
                code: quote! {{
                    #dys
                    #dxs
                    k::dropout::backward(t::batch_flat(&*#m), t::batch_flat(&*dys), t::batch_flat_mut(dxs));
                }},
                reads: vec![Part::read((m, ty.clone()))],
                swapped: true,
            }
        }
        Layer::BatchNorm => unreachable!("BatchNorm runs over the whole batch, between segments"),
    }
}

/// BatchNorm's backward over the whole batch, whose gradient it sees as one contiguous tensor.
fn batchnorm_backward(network: &Network, i: usize, max_len: usize) -> TokenStream {
    let plan = &network.layers()[i];
    let (x, g) = (input_of(network, i).0, kernel_generics(plan));
    let (tx, ty) = (tensor_type(plan.input), tensor_type(plan.output));
    let (lx, ly, max) = (lit(plan.input.len()), lit(plan.output.len()), lit(max_len));
    let field = format_ident!("{}", plan.name);
    let (mean, invstd) = (saved_mean(i), saved_invstd(i));
    quote! {
        {
            gl::compact(&mut *ga, chunks, #max, #ly);
            let dys: &mut [#ty] = t::batch_view_mut(&mut ga[..b * #ly]);
            let dxs: &mut [#tx] = t::batch_view_mut(&mut gb[..b * #lx]);
            let grad = &mut grads[0];
            k::batchnorm::backward #g (
                t::batch_reshape(&*#x), &self.#field.gamma, &*#mean, &*#invstd,
                t::batch_reshape(&*dys), t::batch_reshape_mut(dxs),
                &mut grad.#field.gamma, &mut grad.#field.beta);
            gl::expand(&mut *gb, chunks, #max, #lx);
        }
        let (ga, gb) = (gb, ga);
    }
}
