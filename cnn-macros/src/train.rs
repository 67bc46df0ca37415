//! The body of `train_batch`: forward in training mode over the whole batch, the loss, then
//! backward down to the first layer with weights. Execution is layer-major: each per-sample layer
//! runs over the batch split into chunks on threads (one gradient accumulator per chunk), and
//! BatchNorm runs once over the whole batch, as its statistics require; Dense calls its batched
//! kernels once per chunk, so its weights are read once per chunk rather than once per sample.
//! Every call goes to a const-generic kernel of `cnn-runtime`.

use cnn_spec::{Activation, Layer, LayerPlan, Network, PoolKind};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

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
    let first_learned = network.first_learned();
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

    let forward: TokenStream = layers.iter().enumerate().map(|(i, p)| forward_layer(i, p, i == last)).collect();
    let out = act(last);
    let out_len = lit(network.output().len());
    let mut swaps = 0;
    let mut backward = TokenStream::new();
    for i in (first_learned..=last).rev() {
        let (code, swapped) = backward_layer(i, &layers[i], i == last, i == first_learned);
        backward.extend(code);
        swaps += usize::from(swapped);
    }
    let mutability = if swaps > 0 { quote!(mut) } else { quote!() };
    let rt = rt();
    let body = quote! {
        use #rt::{kernels as k, tensor as t, train::par};
        let b = xs.len();
        let chunks = grads.len();
        let #rt::train::Buffers { acts, grad_a, grad_b, saved, dropout_seed } =
            state.buffers(b, <Self as #rt::Model>::TRAIN_PER_SAMPLE, <Self as #rt::Model>::TRAIN_MAX_LEN,
                          <Self as #rt::Model>::TRAIN_SAVED);
        #alloc
        let _ = (acts, saved, dropout_seed, fused_softmax, chunks);
        #forward
        let (#mutability ga, #mutability gb) = (grad_a, grad_b);
        loss(t::batch_flat(&*#out), &mut ga[..b * #out_len]);
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

/// The batch entering layer `i`.
fn input_of(i: usize) -> TokenStream {
    match i {
        0 => quote!(xs),
        _ => {
            let a = act(i - 1);
            quote!(&*#a)
        }
    }
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

fn skip_if_fused(act: Activation, is_last: bool, call: TokenStream) -> TokenStream {
    if is_last && act == Activation::Softmax {
        quote!(if !fused_softmax { #call })
    } else {
        call
    }
}

fn forward_layer(i: usize, plan: &LayerPlan, is_last: bool) -> TokenStream {
    let x = input_of(i);
    let a = act(i);
    let (tx, ty) = (tensor_type(plan.input), tensor_type(plan.output));
    let g = kernel_generics(plan);
    let field = format_ident!("{}", plan.name);
    let each = |per_sample: TokenStream| {
        quote! {
            par::each((#x, &mut *#a), chunks, &|(xs, ys): (&[#tx], &mut [#ty])| {
                for (x, y) in xs.iter().zip(ys.iter_mut()) { #per_sample }
            });
        }
    };
    match &plan.layer {
        Layer::Conv2d { activation, .. } => {
            let act = activate(*activation, is_last);
            each(quote!(k::conv2d::forward #g (x, &self.#field.weight, &self.#field.bias, y); #act))
        }
        // One call per chunk, so the weights are read once per chunk rather than once per sample;
        // then the activation, sample by sample.
        Layer::Dense { activation, .. } => {
            let act = activate(*activation, is_last);
            let act = match activation {
                Some(_) => quote!(for y in ys.iter_mut() { #act }),
                None => quote!(),
            };
            quote! {
                par::each((#x, &mut *#a), chunks, &|(xs, ys): (&[#tx], &mut [#ty])| {
                    k::dense::forward_batch #g (xs, &self.#field.weight, &self.#field.bias, ys);
                    #act
                });
            }
        }
        Layer::Pool { kind: PoolKind::Max, .. } => each(quote!(k::pool::max_forward #g (x, y);)),
        Layer::Pool { kind: PoolKind::Avg, .. } => each(quote!(k::pool::avg_forward #g (x, y);)),
        Layer::ZeroPad { .. } => each(quote!(k::zeropad::forward #g (x, y);)),
        Layer::Activation(act) => {
            let act = activate(Some(*act), is_last);
            each(quote!(t::flat_mut(y).copy_from_slice(t::flat(x)); #act))
        }
        Layer::Flatten => quote!(t::batch_flat_mut(#a).copy_from_slice(t::batch_flat(#x));),
        Layer::Dropout { p } => {
            let rt = rt();
            let m = mask(i);
            let p = Literal::f32_suffixed(*p);
            let layer = Literal::u64_suffixed(i as u64);
            quote! {
                par::each((0..b, #x, &mut *#m, &mut *#a), chunks,
                    &|(samples, xs, ms, ys): (core::ops::Range<usize>, &[#tx], &mut [#ty], &mut [#ty])| {
                        for (((s, x), m), y) in samples.zip(xs).zip(ms.iter_mut()).zip(ys.iter_mut()) {
                            let mut rng = #rt::Rng::new(#rt::train::sample_seed(dropout_seed, #layer, s));
                            k::dropout::forward_train(t::flat(x), #p, &mut rng, t::flat_mut(m), t::flat_mut(y));
                        }
                    });
            }
        }
        Layer::BatchNorm => {
            let (mean, invstd) = (saved_mean(i), saved_invstd(i));
            quote! {
                k::batchnorm::forward_train #g (
                    t::batch_reshape(#x), &self.#field.gamma, &self.#field.beta,
                    &mut self.#field.running_mean, &mut self.#field.running_var,
                    k::batchnorm::MOMENTUM, k::batchnorm::EPS,
                    t::batch_reshape_mut(&mut *#a), &mut *#mean, &mut *#invstd);
            }
        }
    }
}

/// The backward statements of layer `i`, and whether they moved the gradient to the other buffer.
fn backward_layer(i: usize, plan: &LayerPlan, is_last: bool, is_first_learned: bool) -> (TokenStream, bool) {
    let a = act(i);
    let (tx, ty) = (tensor_type(plan.input), tensor_type(plan.output));
    let (lx, ly) = (lit(plan.input.len()), lit(plan.output.len()));
    let g = kernel_generics(plan);
    let field = format_ident!("{}", plan.name);
    let dys = quote!(let dys: &mut [#ty] = t::batch_view_mut(&mut ga[..b * #ly]););
    let dxs = quote!(let dxs: &mut [#tx] = t::batch_view_mut(&mut gb[..b * #lx]););
    let swap = quote!(core::mem::swap(&mut ga, &mut gb););
    let code = match &plan.layer {
        // The activation's backward sample by sample, then one call per chunk (see `forward_layer`).
        Layer::Dense { activation, .. } => {
            let x = input_of(i);
            let act = match activation {
                Some(_) => {
                    let act = activate_backward(*activation, is_last);
                    quote!(for (y, dy) in ys.iter().zip(dys.iter_mut()) { #act })
                }
                None => quote!(let _ = ys;),
            };
            let (w, dw, db) =
                (quote!(&self.#field.weight), quote!(&mut grad.#field.weight), quote!(&mut grad.#field.bias));
            if is_first_learned {
                return (
                    quote! {{
                        #dys
                        par::for_chunks((#x, &*#a, dys), grads,
                            &|(xs, ys, dys): (&[#tx], &[#ty], &mut [#ty]), grad: &mut Self| {
                                #act
                                k::dense::backward_batch #g (xs, #w, &*dys, None, #dw, #db);
                            });
                    }},
                    false,
                );
            }
            quote! {{
                #dys
                #dxs
                par::for_chunks((#x, &*#a, dys, dxs), grads,
                    &|(xs, ys, dys, dxs): (&[#tx], &[#ty], &mut [#ty], &mut [#tx]), grad: &mut Self| {
                        #act
                        k::dense::backward_batch #g (xs, #w, &*dys, Some(dxs), #dw, #db);
                    });
            }}
        }
        Layer::Conv2d { activation, .. } => {
            let kernel = quote!(conv2d);
            let act = activate_backward(*activation, is_last);
            let w = quote!(&self.#field.weight);
            let (dw, db) = (quote!(&mut grad.#field.weight), quote!(&mut grad.#field.bias));
            if is_first_learned {
                let x = input_of(i);
                return (
                    quote! {{
                        #dys
                        par::for_chunks((#x, &*#a, dys), grads,
                            &|(xs, ys, dys): (&[#tx], &[#ty], &mut [#ty]), grad: &mut Self| {
                                for ((x, y), dy) in xs.iter().zip(ys).zip(dys.iter_mut()) {
                                    #act
                                    k::#kernel::backward #g (x, #w, dy, None, #dw, #db);
                                }
                            });
                    }},
                    false,
                );
            }
            let x = input_of(i);
            quote! {{
                #dys
                #dxs
                par::for_chunks((#x, &*#a, dys, dxs), grads,
                    &|(xs, ys, dys, dxs): (&[#tx], &[#ty], &mut [#ty], &mut [#tx]), grad: &mut Self| {
                        for (((x, y), dy), dx) in xs.iter().zip(ys).zip(dys.iter_mut()).zip(dxs.iter_mut()) {
                            #act
                            k::#kernel::backward #g (x, #w, dy, Some(dx), #dw, #db);
                        }
                    });
            }}
        }
        Layer::Pool { kind: PoolKind::Max, .. } => {
            let x = input_of(i);
            quote! {{
                #dys
                #dxs
                par::each((#x, &*dys, dxs), chunks, &|(xs, dys, dxs): (&[#tx], &[#ty], &mut [#tx])| {
                    for ((x, dy), dx) in xs.iter().zip(dys).zip(dxs.iter_mut()) { k::pool::max_backward #g (x, dy, dx); }
                });
            }}
        }
        Layer::Pool { kind: PoolKind::Avg, .. } | Layer::ZeroPad { .. } => {
            let kernel = if matches!(plan.layer, Layer::ZeroPad { .. }) {
                quote!(zeropad::backward)
            } else {
                quote!(pool::avg_backward)
            };
            quote! {{
                #dys
                #dxs
                par::each((&*dys, dxs), chunks, &|(dys, dxs): (&[#ty], &mut [#tx])| {
                    for (dy, dx) in dys.iter().zip(dxs.iter_mut()) { k::#kernel #g (dy, dx); }
                });
            }}
        }
        Layer::Activation(act) => {
            let act = activate_backward(Some(*act), is_last);
            return (
                quote! {{
                    #dys
                    par::each((&*#a, dys), chunks, &|(ys, dys): (&[#ty], &mut [#ty])| {
                        for (y, dy) in ys.iter().zip(dys.iter_mut()) { #act }
                    });
                }},
                false,
            );
        }
        // The gradient of a reshape is the gradient: the layer below reads the same floats.
        Layer::Flatten => return (quote!(), false),
        Layer::Dropout { .. } => {
            let m = mask(i);
            quote! {{
                #dys
                #dxs
                k::dropout::backward(t::batch_flat(&*#m), t::batch_flat(&*dys), t::batch_flat_mut(dxs));
            }}
        }
        Layer::BatchNorm => {
            let x = input_of(i);
            let (mean, invstd) = (saved_mean(i), saved_invstd(i));
            quote! {{
                #dys
                #dxs
                let grad = &mut grads[0];
                k::batchnorm::backward #g (
                    t::batch_reshape(#x), &self.#field.gamma, &*#mean, &*#invstd,
                    t::batch_reshape(&*dys), t::batch_reshape_mut(dxs),
                    &mut grad.#field.gamma, &mut grad.#field.beta);
            }}
        }
    };
    (quote!(#code #swap), true)
}
