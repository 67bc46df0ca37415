//! Images per second of the generated models (`cnn!`) and of the dynamic runtime (`cnn::dynamic`)
//! on the same networks, the same weights and real MNIST: inference at batch 1, 64 and 256, and a
//! training epoch.
//!
//! ```text
//! cargo run --release --features dynamic,zoo --example throughput -- [--net lenet5|keras_lenet5|tf2|all]
//!     [--threads N] [--images N] [--seconds S] [--data DIR] [--json]
//! ```
//!
//! - `--net`: one network, a comma-separated list, or `all` (default): `lenet5` (`cnn::zoo::LeNet5`,
//!   MNIST mean/std inputs), `keras_lenet5` (`KerasLeNet5`, x/255) and `tf2` (`Tf2Net`, x/255), each
//!   built from its declaration twice: generated, and `DynModel::from_declaration(M::DECLARATION)`,
//!   with the same initialisation and seed (so the same weights; their outputs are compared first).
//! - `--threads N`: threads for batches 64 and 256 and for training (default: every core).
//! - `--images N`: training images in the timed epoch (default: all 60,000).
//! - `--seconds S`: time spent on each inference measurement (default 2).
//! - `--data DIR`: MNIST (default `$MNIST_DIR`, else `../shared/data/mnist`).
//! - `--json`: one JSON object per line per (network, engine, measurement), for `bench/compare.py`.
//!
//! Measurements, written once for both engines through [`Trainable`]'s flat API:
//! - `batch1`: one image per `forward_batch_flat` call, on one thread (a rayon pool of 1, so the
//!   dynamic runtime cannot spread either), cycling over the test images;
//! - `batch64`, `batch256`: batches of consecutive test images in a rayon pool of N threads. A
//!   generated model's forward pass runs one sample after another, so the batch is cut into one
//!   contiguous chunk per thread, each with its own scratch memory (as `cnn::runtime::train::infer`
//!   does); the dynamic runtime's forward pass is already parallel over the batch and gets it whole;
//! - `train`: one shuffled epoch with `Fit::new(1, BATCH).threads(N).quiet()` and Adam 1e-3,
//!   BATCH 64 for the LeNets and 50 for tf2; the figure is `History`'s images per second.
//!
//! An inference figure is the median of 5 runs of about S/5 seconds each, after a warm-up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;

use cnn::dynamic::DynModel;
use cnn::runtime::data::{resolve_dir, DataErrorKind, Dataset, Mnist, Normalize};
use cnn::runtime::optim::Adam;
use cnn::runtime::train::Fit;
use cnn::zoo::{KerasLeNet5, LeNet5, Tf2Net};
use cnn::{Init, Model, Trainable};

type Error = Box<dyn std::error::Error>;

/// Seed of both engines' weights and of the training shuffle.
const SEED: u64 = 1;
/// Inference batch sizes measured on N threads.
const BATCHES: [usize; 2] = [64, 256];
/// Networks known to `--net`.
const NETS: [&str; 3] = ["lenet5", "keras_lenet5", "tf2"];

/// The command line.
struct Args {
    nets: Vec<&'static str>,
    threads: usize,
    json: bool,
    images: usize,
    seconds: f64,
    data: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { nets: NETS.to_vec(), threads: 0, json: false, images: 60_000, seconds: 2.0, data: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--net" | "--nets" => args.nets = parse_nets(&value()?)?,
            "--threads" => args.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--images" => args.images = value()?.parse().map_err(|e| format!("--images: {e}"))?,
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !args.seconds.is_finite() || args.seconds <= 0.0 {
                    return Err("--seconds must be positive".into());
                }
            }
            "--data" => args.data = Some(PathBuf::from(value()?)),
            "--json" => args.json = true,
            "--help" | "-h" => {
                return Err("options: [--net lenet5|keras_lenet5|tf2|all|a,b] [--threads N] [--images N] \
                            [--seconds S] [--data DIR] [--json]"
                    .into())
            }
            other => return Err(format!("unknown argument {other}: try --help")),
        }
    }
    if args.threads == 0 {
        args.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    Ok(args)
}

/// `all`, or a comma-separated list of known networks.
fn parse_nets(text: &str) -> Result<Vec<&'static str>, String> {
    if text == "all" {
        return Ok(NETS.to_vec());
    }
    text.split(',')
        .map(|name| {
            NETS.iter()
                .copied()
                .find(|n| *n == name.trim())
                .ok_or_else(|| format!("--net: unknown network {name:?}; known: {}, or all", NETS.join(", ")))
        })
        .collect()
}

/// How a network is fed and trained.
struct Recipe {
    name: &'static str,
    normalize: Normalize,
    init: Init,
    train_batch: usize,
}

/// The two implementations of a network.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Generated,
    Dynamic,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Generated => "generated",
            Engine::Dynamic => "dynamic",
        }
    }
}

/// One figure.
struct Measured {
    net: &'static str,
    engine: Engine,
    measurement: String,
    batch: usize,
    threads: usize,
    images_per_second: f64,
}

impl Measured {
    fn json(&self) -> String {
        format!(
            "{{\"net\": \"{}\", \"engine\": \"{}\", \"measurement\": \"{}\", \"batch\": {}, \"threads\": {}, \
             \"images_per_second\": {:.3}, \"us_per_image\": {:.4}}}",
            self.net,
            self.engine.name(),
            self.measurement,
            self.batch,
            self.threads,
            self.images_per_second,
            1e6 / self.images_per_second
        )
    }
}

/// Median images per second of `call(k)` (`k` counting calls), each call `images` images: 5 runs of
/// about `seconds / 5`, after a warm-up that also sets how many calls a run makes.
fn images_per_second(mut call: impl FnMut(usize), images: usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut calls = 0;
    while calls < 3 || start.elapsed().as_secs_f64() < seconds / 20.0 {
        call(calls);
        calls += 1;
    }
    let per_run = ((seconds / 5.0) / (start.elapsed().as_secs_f64() / calls as f64)).ceil().max(1.0) as usize;
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for k in 0..per_run {
                call(k);
            }
            (per_run * images) as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[2]
}

fn pool(threads: usize) -> Result<rayon::ThreadPool, Error> {
    Ok(rayon::ThreadPoolBuilder::new().num_threads(threads).build()?)
}

/// Outputs of `model` for the batch `xs` into `ys`: split over the pool's threads, one scratch each
/// (generated), or in one call that parallelises itself (dynamic).
fn forward_batch<T: Trainable>(model: &T, engine: Engine, xs: &[f32], ys: &mut [f32], scratch: &mut [T::Scratch]) {
    let samples = ys.len() / model.output_shape().len();
    if engine == Engine::Dynamic || scratch.len() == 1 {
        return model.forward_batch_flat(xs, ys, &mut scratch[0]);
    }
    let per = samples.div_ceil(scratch.len()).max(1);
    let (input_len, output_len) = (model.input_shape().len(), model.output_shape().len());
    xs.par_chunks(per * input_len)
        .zip(ys.par_chunks_mut(per * output_len))
        .zip(scratch.par_iter_mut())
        .for_each(|((xs, ys), scratch)| model.forward_batch_flat(xs, ys, scratch));
}

/// Inference figures of one engine: batch 1 on one thread, then each of [`BATCHES`] on `threads`.
fn inference<T: Trainable>(
    model: &T,
    engine: Engine,
    test: &Dataset,
    threads: usize,
    seconds: f64,
) -> Result<Vec<(usize, usize, f64)>, Error> {
    let (input_len, output_len) = (model.input_shape().len(), model.output_shape().len());
    let images = test.images();
    let mut results = Vec::new();
    for (batch, threads) in std::iter::once((1, 1)).chain(BATCHES.map(|b| (b, threads))) {
        let batches = test.len() / batch;
        let mut scratch: Vec<T::Scratch> = (0..threads).map(|_| model.scratch()).collect();
        let mut ys = vec![0.0f32; batch * output_len];
        let rate = pool(threads)?.install(|| {
            images_per_second(
                |k| {
                    let first = (k % batches) * batch * input_len;
                    let xs = &images[first..first + batch * input_len];
                    forward_batch(model, engine, xs, &mut ys, &mut scratch);
                    std::hint::black_box(&mut ys);
                },
                batch,
                seconds,
            )
        });
        results.push((batch, threads, rate));
    }
    Ok(results)
}

/// Images per second of one training epoch over `train` (Adam 1e-3).
fn training<T: Trainable>(mut model: T, train: &Dataset, batch: usize, threads: usize) -> Result<f64, Error> {
    let history =
        Fit::new(1, batch).threads(threads).seed(SEED).quiet().run(&mut model, train, &mut Adam::new(1e-3))?;
    Ok(history.epochs.first().map_or(f64::NAN, |e| e.images_per_second))
}

/// Largest difference between the two engines' outputs on the first 64 test images.
fn engines_differ<M: Model>(generated: &M, dynamic: &DynModel, test: &Dataset) -> f32 {
    let n = 64.min(test.len());
    let xs = &test.images()[..n * test.image_len()];
    let out = Trainable::output_shape(generated).len();
    let (mut a, mut b) = (vec![0.0; n * out], vec![0.0; n * out]);
    generated.forward_batch_flat(xs, &mut a, &mut Trainable::scratch(generated));
    dynamic.forward_batch_flat(xs, &mut b, &mut dynamic.scratch());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Every figure of network `M` for both engines, printed as they come when `json`.
fn measure<M: Model>(recipe: &Recipe, mnist: &Mnist, args: &Args) -> Result<Vec<Measured>, Error> {
    let test = Dataset::new(mnist.test(), recipe.normalize)?;
    let train = Dataset::new(mnist.train(), recipe.normalize)?.subset(args.images);
    let generated = M::with_init(recipe.init, SEED);
    let dynamic = DynModel::from_declaration(M::DECLARATION, recipe.init, SEED)?;
    let difference = engines_differ(&generated, &dynamic, &test);
    if !args.json {
        println!(
            "{}: {} ({} parameters); outputs of the two engines differ by at most {difference:.1e}",
            recipe.name,
            M::NAME,
            M::TRAINABLE_PARAMS
        );
    }
    if difference > 1e-4 {
        eprintln!("warning: {}: the generated and dynamic outputs differ by {difference:.1e}", recipe.name);
    }
    let mut out = Vec::new();
    let mut report = |m: Measured| {
        if args.json {
            println!("{}", m.json());
        }
        out.push(m);
    };
    for engine in [Engine::Generated, Engine::Dynamic] {
        let figures = match engine {
            Engine::Generated => inference(&generated, engine, &test, args.threads, args.seconds)?,
            Engine::Dynamic => inference(&dynamic, engine, &test, args.threads, args.seconds)?,
        };
        for (batch, threads, rate) in figures {
            let measurement = format!("batch{batch}");
            report(Measured { net: recipe.name, engine, measurement, batch, threads, images_per_second: rate });
        }
    }
    if args.images > 0 {
        for engine in [Engine::Generated, Engine::Dynamic] {
            let rate = match engine {
                Engine::Generated => {
                    training(M::with_init(recipe.init, SEED), &train, recipe.train_batch, args.threads)?
                }
                Engine::Dynamic => training(
                    DynModel::from_declaration(M::DECLARATION, recipe.init, SEED)?,
                    &train,
                    recipe.train_batch,
                    args.threads,
                )?,
            };
            let measurement = String::from("train");
            let (batch, threads) = (recipe.train_batch, args.threads);
            report(Measured { net: recipe.name, engine, measurement, batch, threads, images_per_second: rate });
        }
    }
    Ok(out)
}

fn print_table(all: &[Measured], threads: usize, images: usize) {
    println!();
    println!(
        "images per second (µs per image); inference batch 1 on 1 thread, the rest on {threads}; \
         training: one epoch of {images} images"
    );
    println!("| network | measurement | generated | dynamic | generated/dynamic |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for g in all.iter().filter(|m| m.engine == Engine::Generated) {
        let d = all.iter().find(|d| d.engine == Engine::Dynamic && d.net == g.net && d.measurement == g.measurement);
        let cell = |m: &Measured| format!("{:.0} ({:.1} µs)", m.images_per_second, 1e6 / m.images_per_second);
        let what = match g.measurement.as_str() {
            "train" => format!("train, batch {}", g.batch),
            _ => format!("infer, batch {}, {} thread{}", g.batch, g.threads, if g.threads == 1 { "" } else { "s" }),
        };
        println!(
            "| {} | {what} | {} | {} | {} |",
            g.net,
            cell(g),
            d.map_or(String::from("—"), cell),
            d.map_or(String::from("—"), |d| format!("{:.2}x", g.images_per_second / d.images_per_second))
        );
    }
}

fn run(args: Args) -> Result<(), Error> {
    let dir = resolve_dir(args.data.clone());
    let mnist = Mnist::load(&dir).map_err(|e| -> Error {
        match e.kind() {
            DataErrorKind::MissingFiles { .. } => format!("{e}; or pass --data DIR").into(),
            _ => e.into(),
        }
    })?;
    if !args.json {
        println!("{}; MNIST from {}; {} threads", cnn::runtime::cpu_features(), dir.display(), args.threads);
    }
    let mut all = Vec::new();
    for &net in &args.nets {
        let figures = match net {
            "lenet5" => {
                let recipe = Recipe { name: net, normalize: Normalize::MNIST, init: Init::PyTorch, train_batch: 64 };
                measure::<LeNet5>(&recipe, &mnist, &args)?
            }
            "keras_lenet5" => {
                let recipe =
                    Recipe { name: net, normalize: Normalize::UNIT, init: Init::GlorotUniform, train_batch: 64 };
                measure::<KerasLeNet5>(&recipe, &mnist, &args)?
            }
            _ => {
                let recipe =
                    Recipe { name: net, normalize: Normalize::UNIT, init: Init::GlorotUniform, train_batch: 50 };
                measure::<Tf2Net>(&recipe, &mnist, &args)?
            }
        };
        all.extend(figures);
    }
    if !args.json {
        print_table(&all, args.threads, args.images.min(60_000));
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().map_err(Error::from).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
