//! Speed of the hot kernels on one thread, in GFLOP/s, on every vector path this CPU has.
//!
//! ```text
//! cargo run --release --example kernel_speed -- [--quick] [--only TEXT]
//! ```
//!
//! `--quick` takes fewer, shorter runs; `--only TEXT` measures only the layers whose name
//! contains `TEXT`.
//!
//! Layers: LeNet-5's two convolutions, the TF2 tutorial's two convolutions and its 3136→1024
//! dense layer; forward and backward (the first layers without an input gradient, as in
//! training). A multiply-add counts as 2 FLOP, over the nominal `F·C·OH·OW·KH·KW` taps (padding
//! included); a backward pass counts its weight gradient and, if computed, its input gradient.
//! Each figure is the median of several timed runs of many calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cnn::runtime::kernels::isa::{cpu_features, with_isa, Isa};
use cnn::runtime::kernels::{activation, conv2d, dense, pool};
use cnn::runtime::tensor::{flat_mut, zeroed_box, Tensor};
use cnn::runtime::Rng;

/// A heap tensor of values uniform in `[-1, 1)`.
fn random<T: Tensor>(rng: &mut Rng) -> Box<T> {
    let mut t = zeroed_box::<T>();
    rng.fill_uniform(flat_mut(&mut *t), -1.0, 1.0);
    t
}

/// Median seconds per call of `f`, over `runs` runs of about `target` each.
fn time(mut f: impl FnMut(), runs: usize, target: Duration) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < target / 4 || calls < 2 {
        f();
        calls += 1;
    }
    let per_run = ((calls as f64 * 4.0) as u32).max(1);
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_run {
                f();
            }
            t.elapsed().as_secs_f64() / per_run as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[runs / 2]
}

/// GFLOP/s of a convolution's forward and backward passes.
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
    with_dx: bool,
    runs: usize,
    target: Duration,
) -> [f64; 2] {
    let mut rng = Rng::new(1);
    let x = random::<[[[f32; W]; H]; C]>(&mut rng);
    let w = random::<[[[[f32; K]; K]; C]; F]>(&mut rng);
    let b = random::<[f32; F]>(&mut rng);
    let dy = random::<[[[f32; OW]; OH]; F]>(&mut rng);
    let mut y = zeroed_box::<[[[f32; OW]; OH]; F]>();
    let mut dx = zeroed_box::<[[[f32; W]; H]; C]>();
    let mut dw = zeroed_box::<[[[[f32; K]; K]; C]; F]>();
    let mut db = zeroed_box::<[f32; F]>();
    let flop = 2.0 * (F * C * OH * OW * K * K) as f64;
    let fwd =
        time(|| conv2d::forward::<C, H, W, F, K, K, 1, 1, P, P, OH, OW>(black_box(&x), &w, &b, &mut y), runs, target);
    let bwd = time(
        || {
            let dx = if with_dx { Some(&mut *dx) } else { None };
            conv2d::backward::<C, H, W, F, K, K, 1, 1, P, P, OH, OW>(black_box(&x), &w, &dy, dx, &mut dw, &mut db)
        },
        runs,
        target,
    );
    let bwd_flop = if with_dx { 2.0 * flop } else { flop };
    [flop / fwd / 1e9, bwd_flop / bwd / 1e9]
}

/// GFLOP/s of a dense layer's forward and backward passes (with the input gradient).
fn dense<const I: usize, const O: usize>(runs: usize, target: Duration) -> [f64; 2] {
    let mut rng = Rng::new(2);
    let x = random::<[f32; I]>(&mut rng);
    let w = random::<[[f32; I]; O]>(&mut rng);
    let b = random::<[f32; O]>(&mut rng);
    let dy = random::<[f32; O]>(&mut rng);
    let mut y = zeroed_box::<[f32; O]>();
    let mut dx = zeroed_box::<[f32; I]>();
    let mut dw = zeroed_box::<[[f32; I]; O]>();
    let mut db = zeroed_box::<[f32; O]>();
    let flop = 2.0 * (I * O) as f64;
    let fwd = time(|| dense::forward::<I, O>(black_box(&x), &w, &b, &mut y), runs, target);
    let bwd = time(|| dense::backward::<I, O>(black_box(&x), &w, &dy, Some(&mut *dx), &mut dw, &mut db), runs, target);
    [flop / fwd / 1e9, 2.0 * flop / bwd / 1e9]
}

/// Microseconds per call of a 2x2 max pool's forward and backward passes.
fn max_pool<const C: usize, const H: usize, const OH: usize>(runs: usize, target: Duration) -> [f64; 2] {
    let mut rng = Rng::new(3);
    let x = random::<[[[f32; H]; H]; C]>(&mut rng);
    let dy = random::<[[[f32; OH]; OH]; C]>(&mut rng);
    let mut y = zeroed_box::<[[[f32; OH]; OH]; C]>();
    let mut dx = zeroed_box::<[[[f32; H]; H]; C]>();
    let fwd = time(|| pool::max_forward::<C, H, H, 2, 2, 2, 2, OH, OH>(black_box(&x), &mut y), runs, target);
    let bwd = time(|| pool::max_backward::<C, H, H, 2, 2, 2, 2, OH, OH>(black_box(&x), &dy, &mut dx), runs, target);
    [fwd * 1e6, bwd * 1e6]
}

/// Microseconds per call of an element-wise activation's forward and backward passes on `N`
/// values.
fn activation<const N: usize>(
    forward: fn(&mut [f32]),
    backward: fn(&[f32], &mut [f32]),
    runs: usize,
    target: Duration,
) -> [f64; 2] {
    let mut rng = Rng::new(4);
    let x = random::<[f32; N]>(&mut rng);
    let mut y = x.clone();
    let mut dy = random::<[f32; N]>(&mut rng);
    let fwd = time(
        || {
            y.copy_from_slice(&x[..]);
            forward(black_box(&mut y[..]))
        },
        runs,
        target,
    );
    let bwd = time(|| backward(black_box(&y[..]), &mut dy[..]), runs, target);
    [fwd * 1e6, bwd * 1e6]
}

/// The CPU's model name, from `/proc/cpuinfo` where there is one.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args.iter().position(|a| a == "--only").and_then(|k| args.get(k + 1)).cloned().unwrap_or_default();
    let (runs, target) = if quick { (3, Duration::from_millis(20)) } else { (9, Duration::from_millis(100)) };
    println!("{} ({}), one thread, median of {runs} runs", cpu_model(), cpu_features());
    type Case = (&'static str, fn(usize, Duration) -> [f64; 2]);
    let cases: [Case; 6] = [
        ("LeNet conv1 1→6 28x28 k5 pad 2", |r, t| conv::<1, 28, 28, 6, 5, 2, 28, 28>(false, r, t)),
        ("LeNet conv2 6→16 14x14→10x10 k5", |r, t| conv::<6, 14, 14, 16, 5, 0, 10, 10>(true, r, t)),
        ("TF2 conv1 1→32 28x28 k5 same", |r, t| conv::<1, 28, 28, 32, 5, 2, 28, 28>(false, r, t)),
        ("TF2 conv2 32→64 14x14 k5 same", |r, t| conv::<32, 14, 14, 64, 5, 2, 14, 14>(true, r, t)),
        ("TF2 dense 3136→1024", dense::<3136, 1024>),
        ("LeNet dense1 400→120", dense::<400, 120>),
    ];
    let others: [Case; 4] = [
        ("LeNet max pool 6@28x28 2x2", max_pool::<6, 28, 14>),
        ("TF2 max pool 32@28x28 2x2", max_pool::<32, 28, 14>),
        ("ReLU 6@28x28", |r, t| activation::<4704>(activation::relu, activation::relu_backward, r, t)),
        ("sigmoid 6@28x28", |r, t| activation::<4704>(activation::sigmoid, activation::sigmoid_backward, r, t)),
    ];
    let isas: Vec<Isa> = Isa::available().collect();
    print!("{:<34}", "GFLOP/s (forward / backward)");
    for isa in &isas {
        print!("{:>18}", isa.name());
    }
    println!();
    for (name, case) in cases.into_iter().filter(|(name, _)| name.contains(&only)) {
        print!("{name:<34}");
        for &isa in &isas {
            let [f, b] = with_isa(isa, || case(runs, target));
            print!("{:>18}", format!("{f:.1} / {b:.1}"));
        }
        println!();
    }
    println!("{:<34}", "µs per call (forward / backward)");
    for (name, case) in others.into_iter().filter(|(name, _)| name.contains(&only)) {
        print!("{name:<34}");
        for &isa in &isas {
            let [f, b] = with_isa(isa, || case(runs, target));
            print!("{:>18}", format!("{f:.2} / {b:.2}"));
        }
        println!();
    }
}
