//! Per-layer kernel speed: the convolution and dense layers of LeNet-5, the Keras tutorial's LeNet
//! and the TF2 tutorial's network, forward and backward, one sample per call on one thread, on
//! every vector path this CPU has (AVX-512, AVX2+FMA, portable).
//!
//! ```text
//! cargo bench --bench layers [-- FILTER]          # e.g. -- conv2  or  -- avx512
//! ```
//!
//! Throughput is reported in elements per second where **one element is one FLOP** (a multiply-add
//! counts 2, over the nominal `F·C·OH·OW·KH·KW` taps, padding included): `Gelem/s` reads as
//! GFLOP/s. The `xN` dense cases run the batched kernels of the training step on `N` samples per
//! call. A backward pass counts its weight gradient and, when it computes one, its input
//! gradient; the first layer of a network computes none, as in training. Compare with the FMA peak
//! from `cargo run --release --example peak`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

use cnn::runtime::kernels::isa::{with_isa, Isa};
use cnn::runtime::kernels::{conv2d, dense};
use cnn::runtime::tensor::{flat_mut, zeroed_box, Tensor};
use cnn::runtime::Rng;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// A heap tensor of values uniform in `[-1, 1)`.
fn random<T: Tensor>(rng: &mut Rng) -> Box<T> {
    let mut t = zeroed_box::<T>();
    rng.fill_uniform(flat_mut(&mut *t), -1.0, 1.0);
    t
}

/// Forward and backward of a stride-1 `K`x`K` convolution with padding `P` on every ISA.
fn conv<
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const P: usize,
    const OH: usize,
    const OW: usize,
>(
    group: &mut Group<'_>,
    layer: &str,
    with_dx: bool,
) {
    let mut rng = Rng::new(1);
    let x = random::<[[[f32; W]; H]; C]>(&mut rng);
    let w = random::<[[[[f32; K]; K]; C]; F]>(&mut rng);
    let b = random::<[f32; F]>(&mut rng);
    let dy = random::<[[[f32; OW]; OH]; F]>(&mut rng);
    let mut y = zeroed_box::<[[[f32; OW]; OH]; F]>();
    let mut dx = zeroed_box::<[[[f32; W]; H]; C]>();
    let mut dw = zeroed_box::<[[[[f32; K]; K]; C]; F]>();
    let mut db = zeroed_box::<[f32; F]>();
    let flop = 2 * (F * C * OH * OW * K * K) as u64;
    for isa in Isa::available() {
        group.throughput(Throughput::Elements(flop));
        group.bench_function(format!("{layer}/forward/{}", isa.name()), |bench| {
            with_isa(isa, || {
                bench.iter(|| conv2d::forward::<C, H, W, F, K, K, 1, 1, P, P, OH, OW>(black_box(&x), &w, &b, &mut y))
            })
        });
        group.throughput(Throughput::Elements(if with_dx { 2 * flop } else { flop }));
        group.bench_function(format!("{layer}/backward/{}", isa.name()), |bench| {
            with_isa(isa, || {
                bench.iter(|| {
                    let dx = if with_dx { Some(&mut *dx) } else { None };
                    conv2d::backward::<C, H, W, F, K, K, 1, 1, P, P, OH, OW>(
                        black_box(&x),
                        &w,
                        &dy,
                        dx,
                        &mut dw,
                        &mut db,
                    )
                })
            })
        });
    }
}

/// Forward and backward (with the input gradient) of an `I`→`O` dense layer on every ISA.
fn dense<const I: usize, const O: usize>(group: &mut Group<'_>, layer: &str) {
    let mut rng = Rng::new(2);
    let x = random::<[f32; I]>(&mut rng);
    let w = random::<[[f32; I]; O]>(&mut rng);
    let b = random::<[f32; O]>(&mut rng);
    let dy = random::<[f32; O]>(&mut rng);
    let mut y = zeroed_box::<[f32; O]>();
    let mut dx = zeroed_box::<[f32; I]>();
    let mut dw = zeroed_box::<[[f32; I]; O]>();
    let mut db = zeroed_box::<[f32; O]>();
    let flop = 2 * (I * O) as u64;
    for isa in Isa::available() {
        group.throughput(Throughput::Elements(flop));
        group.bench_function(format!("{layer}/forward/{}", isa.name()), |bench| {
            with_isa(isa, || bench.iter(|| dense::forward::<I, O>(black_box(&x), &w, &b, &mut y)))
        });
        group.throughput(Throughput::Elements(2 * flop));
        group.bench_function(format!("{layer}/backward/{}", isa.name()), |bench| {
            with_isa(isa, || {
                bench.iter(|| dense::backward::<I, O>(black_box(&x), &w, &dy, Some(&mut *dx), &mut dw, &mut db))
            })
        });
    }
}

/// Forward and backward (with the input gradient) of an `I`→`O` dense layer over `N` samples in
/// one call, as the training step runs it, on every ISA.
fn dense_batch<const I: usize, const O: usize, const N: usize>(group: &mut Group<'_>, layer: &str) {
    let mut rng = Rng::new(3);
    let xs = random::<[[f32; I]; N]>(&mut rng);
    let w = random::<[[f32; I]; O]>(&mut rng);
    let b = random::<[f32; O]>(&mut rng);
    let dys = random::<[[f32; O]; N]>(&mut rng);
    let mut ys = zeroed_box::<[[f32; O]; N]>();
    let mut dxs = zeroed_box::<[[f32; I]; N]>();
    let mut dw = zeroed_box::<[[f32; I]; O]>();
    let mut db = zeroed_box::<[f32; O]>();
    let flop = 2 * (I * O * N) as u64;
    for isa in Isa::available() {
        group.throughput(Throughput::Elements(flop));
        group.bench_function(format!("{layer} x{N}/forward_batch/{}", isa.name()), |bench| {
            with_isa(isa, || bench.iter(|| dense::forward_batch::<I, O>(black_box(&xs[..]), &w, &b, &mut ys[..])))
        });
        group.throughput(Throughput::Elements(2 * flop));
        group.bench_function(format!("{layer} x{N}/backward_batch/{}", isa.name()), |bench| {
            with_isa(isa, || {
                bench.iter(|| {
                    dense::backward_batch::<I, O>(
                        black_box(&xs[..]),
                        &w,
                        &dys[..],
                        Some(&mut dxs[..]),
                        &mut dw,
                        &mut db,
                    )
                })
            })
        });
        // The weight gradient alone (a first layer's backward): the rest of the line above is the
        // input gradient.
        group.throughput(Throughput::Elements(flop));
        group.bench_function(format!("{layer} x{N}/weight_grad_batch/{}", isa.name()), |bench| {
            with_isa(isa, || {
                bench.iter(|| dense::backward_batch::<I, O>(black_box(&xs[..]), &w, &dys[..], None, &mut dw, &mut db))
            })
        });
    }
}

fn layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("layers");
    conv::<1, 28, 28, 6, 5, 2, 28, 28>(&mut group, "lenet5 conv1 1→6 28x28 k5 pad 2", false);
    conv::<6, 14, 14, 16, 5, 0, 10, 10>(&mut group, "lenet5 conv2 6→16 14x14 k5", true);
    conv::<1, 28, 28, 6, 5, 0, 24, 24>(&mut group, "keras conv1 1→6 28x28 k5", false);
    conv::<6, 12, 12, 16, 5, 0, 8, 8>(&mut group, "keras conv2 6→16 12x12 k5", true);
    conv::<1, 28, 28, 32, 5, 2, 28, 28>(&mut group, "tf2 conv1 1→32 28x28 k5 same", false);
    conv::<32, 14, 14, 64, 5, 2, 14, 14>(&mut group, "tf2 conv2 32→64 14x14 k5 same", true);
    dense::<400, 120>(&mut group, "lenet5 dense1 400→120");
    dense::<256, 120>(&mut group, "keras dense1 256→120");
    dense::<3136, 1024>(&mut group, "tf2 dense1 3136→1024");
    // The batched kernels of the training step: a chunk of batch 64 on 2 threads (50 for TF2).
    dense_batch::<400, 120, 32>(&mut group, "lenet5 dense1 400→120");
    dense_batch::<3136, 1024, 25>(&mut group, "tf2 dense1 3136→1024");
    group.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
