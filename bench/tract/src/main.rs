//! Images per second of tract (the pure-Rust ONNX inference engine) on an ONNX file, for the tract
//! column of `bench/compare.py`, which exports the networks, writes their inputs and expected outputs,
//! and runs this for each network and batch size.
//!
//! ```text
//! cnn-bench-tract --model NET.onnx --images X.f32 [--input C,H,W] [--batch 1,64,256] [--threads T]
//!     [--seconds S] [--expected Y.f32] [--net NAME] [--json]
//! ```
//!
//! - `--model`: an ONNX file with one input `N x C x H x W` (f32) and one output `N x K`.
//! - `--images`: the inputs, already normalised: raw little-endian f32, image after image, each
//!   `C x H x W` (`--input`, default 1,28,28); the figures cycle over them as the Rust throughput
//!   example does over the test set.
//! - `--batch`: one batch size or a comma-separated list (default 1). For each, the model is given the
//!   concrete input fact `[N, C, H, W]` f32, then `into_optimized()` and made runnable.
//! - `--threads T`: tract's executor (default 1): 1 is tract's single-threaded default, more is
//!   `Executor::multithread(T)` (a rayon pool of T, tract_linalg's `multithread-mm` feature) passed in
//!   the plan's `RunOptions`, used by the matrix products, convolutions, pooling and element-wise ops.
//! - `--panel-threshold P`: tract_linalg's `set_threading_panel_threshold` (default: tract's, 64): a
//!   matrix product of fewer than P register tiles (and under its multiply-add threshold) stays on one
//!   thread even with `--threads 2`; 0 threads every product.
//! - `--seconds S`: time per figure (default 2): the median of 5 runs of about S/5 each, after a
//!   warm-up of at least 3 calls and S/20 seconds.
//! - `--expected`: raw little-endian f32 outputs of the first images (from PyTorch), `K` per image.
//!   Before timing, the outputs of the first `max(N, 64)` images (at most those expected, whole
//!   batches) are computed with the optimised model and their largest difference is reported.
//! - `--json`: one JSON object per line per batch size, the fields of the Rust throughput example plus
//!   `max_abs_diff` and `checked_images`; without it, one readable line per batch size.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::RunOptions;

type Error = Box<dyn std::error::Error>;

struct Args {
    model: PathBuf,
    images: PathBuf,
    input: [usize; 3],
    batches: Vec<usize>,
    threads: usize,
    panel_threshold: Option<usize>,
    seconds: f64,
    expected: Option<PathBuf>,
    net: Option<String>,
    json: bool,
}

const USAGE: &str = "usage: cnn-bench-tract --model NET.onnx --images X.f32 [--input C,H,W] [--batch 1,64,256] \
                     [--threads T] [--panel-threshold P] [--seconds S] [--expected Y.f32] [--net NAME] [--json]";

fn parse_list(flag: &str, text: &str) -> Result<Vec<usize>, String> {
    let values = text
        .split(',')
        .map(|v| v.trim().parse::<usize>().map_err(|e| format!("{flag}: {v:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if values.contains(&0) {
        return Err(format!("{flag}: sizes must be positive"));
    }
    Ok(values)
}

fn parse_args() -> Result<Args, String> {
    let (mut model, mut images, mut expected, mut net, mut panel_threshold) = (None, None, None, None, None);
    let (mut input, mut batches, mut threads, mut seconds, mut json) = ([1, 28, 28], vec![1], 1, 2.0, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--images" => images = Some(PathBuf::from(value()?)),
            "--expected" => expected = Some(PathBuf::from(value()?)),
            "--net" => net = Some(value()?),
            "--input" => {
                input = parse_list("--input", &value()?)?
                    .try_into()
                    .map_err(|_| String::from("--input: three sizes, C,H,W"))?
            }
            "--batch" => batches = parse_list("--batch", &value()?)?,
            "--threads" => {
                threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?;
                if threads == 0 {
                    return Err("--threads must be positive".into());
                }
            }
            "--panel-threshold" => {
                panel_threshold = Some(value()?.parse().map_err(|e| format!("--panel-threshold: {e}"))?)
            }
            "--seconds" => {
                seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !(seconds > 0.0 && f64::is_finite(seconds)) {
                    return Err("--seconds must be positive".into());
                }
            }
            "--json" => json = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let model = model.ok_or_else(|| format!("--model is required\n{USAGE}"))?;
    let images = images.ok_or_else(|| format!("--images is required\n{USAGE}"))?;
    Ok(Args { model, images, input, batches, threads, panel_threshold, seconds, expected, net, json })
}

/// A raw little-endian f32 file, whose length must be a whole number of `chunk` values.
fn read_f32(path: &PathBuf, chunk: usize) -> Result<Vec<f32>, Error> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.is_empty() || bytes.len() % (4 * chunk) != 0 {
        return Err(
            format!("{}: {} bytes is not a whole number of {chunk} f32 values", path.display(), bytes.len()).into()
        );
    }
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Median images per second of `call(k)` (`k` counting calls), each call `images` images: 5 runs of
/// about `seconds / 5`, after a warm-up that also sets how many calls a run makes (as the Rust
/// throughput example measures).
fn images_per_second(mut call: impl FnMut(usize) -> TractResult<()>, images: usize, seconds: f64) -> TractResult<f64> {
    let start = Instant::now();
    let mut calls = 0;
    while calls < 3 || start.elapsed().as_secs_f64() < seconds / 20.0 {
        call(calls)?;
        calls += 1;
    }
    let per_run = ((seconds / 5.0) / (start.elapsed().as_secs_f64() / calls as f64)).ceil().max(1.0) as usize;
    let mut rates = Vec::with_capacity(5);
    for _ in 0..5 {
        let start = Instant::now();
        for k in 0..per_run {
            call(k)?;
        }
        rates.push((per_run * images) as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[2])
}

fn run(args: Args) -> Result<(), Error> {
    let [c, h, w] = args.input;
    let image_len = c * h * w;
    let images = read_f32(&args.images, image_len)?;
    let count = images.len() / image_len;
    let name = args
        .net
        .clone()
        .unwrap_or_else(|| args.model.file_stem().map_or(String::from("model"), |s| s.to_string_lossy().into_owned()));
    let model =
        tract_onnx::onnx().model_for_path(&args.model).map_err(|e| format!("{}: {e:?}", args.model.display()))?;
    let executor = if args.threads == 1 { Executor::SingleThread } else { Executor::multithread(args.threads) };
    if let Some(panels) = args.panel_threshold {
        tract_linalg::multithread::set_threading_panel_threshold(panels);
    }
    let options = RunOptions { executor: Some(executor), ..RunOptions::default() };
    for &batch in &args.batches {
        if batch > count {
            return Err(format!("--batch {batch} is more than the {count} images of {}", args.images.display()).into());
        }
        let plan = model
            .clone()
            .with_input_fact(0, f32::fact([batch, c, h, w]).into())?
            .into_optimized()?
            .into_runnable_with_options(&options)?;
        let mut state = plan.spawn()?;
        let inputs: Vec<TValue> = images
            .chunks_exact(batch * image_len)
            .map(|xs| Tensor::from_shape(&[batch, c, h, w], xs).map(IntoTValue::into_tvalue))
            .collect::<TractResult<_>>()?;

        // The outputs of the first images against the expected ones.
        let (mut max_abs_diff, mut checked_images) = (None, 0);
        if let Some(path) = &args.expected {
            let expected = read_f32(path, 1)?;
            let outputs = state.run(tvec![inputs[0].clone()])?;
            let per_image = outputs[0].len() / batch;
            let available = (expected.len() / per_image).min(count);
            let calls = (batch.max(64).min(available) / batch).max(1);
            if calls * batch > available {
                return Err(
                    format!("{}: {available} images expected, fewer than a batch of {batch}", path.display()).into()
                );
            }
            let mut diff = 0.0f32;
            for (k, x) in inputs.iter().take(calls).enumerate() {
                let outputs = state.run(tvec![x.clone()])?;
                let got = outputs[0].try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
                let want = &expected[k * batch * per_image..(k + 1) * batch * per_image];
                diff = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(diff, |m, d| m.max(d));
                if got.iter().any(|v| !v.is_finite()) {
                    diff = f32::INFINITY;
                }
            }
            max_abs_diff = Some(diff);
            checked_images = calls * batch;
        }

        let rate = images_per_second(
            |k| {
                let outputs = state.run(tvec![inputs[k % inputs.len()].clone()])?;
                std::hint::black_box(outputs);
                Ok(())
            },
            batch,
            args.seconds,
        )?;
        let diff = match max_abs_diff {
            None => String::from("null"),
            Some(d) if d.is_finite() => format!("{d:e}"),
            Some(_) => String::from("Infinity"), // as Python's json reads it
        };
        let threads = args.threads;
        if args.json {
            println!(
                "{{\"net\": \"{name}\", \"engine\": \"tract\", \"measurement\": \"batch{batch}\", \"batch\": {batch}, \
                 \"threads\": {threads}, \"images_per_second\": {rate:.3}, \"us_per_image\": {:.4}, \
                 \"max_abs_diff\": {diff}, \"checked_images\": {checked_images}}}",
                1e6 / rate
            );
        } else {
            println!(
                "{name}: tract, batch {batch}, {threads} thread(s): {rate:.0} images/s ({:.1} µs per image); \
                 largest difference over {checked_images} images: {diff}",
                1e6 / rate
            );
        }
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
