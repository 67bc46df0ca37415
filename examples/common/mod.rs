//! What the training examples share: arguments, loading MNIST, training, reporting, saving.

use std::path::PathBuf;
use std::process::ExitCode;

pub use cnn::runtime::data::Normalize;
use cnn::runtime::data::{resolve_dir, DataErrorKind, Dataset, Mnist};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::Optimizer;
use cnn::runtime::train::{evaluate, Fit};
use cnn::{Init, Model};

/// How a seed tutorial trains its network.
pub struct Recipe {
    /// Title for the report and the training curve.
    pub title: &'static str,
    /// Output folder name under `target/`.
    pub name: &'static str,
    /// Epochs (the tutorial's count).
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// The optimiser, built once the arguments are known.
    pub optimizer: fn() -> Box<dyn Optimizer>,
    /// How weights start.
    pub init: Init,
    /// How pixels become inputs.
    pub normalize: Normalize,
    /// The tutorial's published test accuracy, printed beside ours.
    pub published: &'static str,
}

/// The command line all training examples accept.
pub struct Args {
    /// `--data DIR`: where MNIST is.
    pub data: Option<PathBuf>,
    /// `--epochs N`: overrides the recipe's count.
    pub epochs: Option<usize>,
    /// `--threads N`: 0 (default) uses every core.
    pub threads: usize,
    /// `--out DIR`: where the history, curve and weights go.
    pub out: Option<PathBuf>,
    /// `--seed N`: initialisation, shuffling and dropout.
    pub seed: Option<u64>,
    /// `--download`: first fetch the MNIST files missing (or damaged) in the data directory from a
    /// public mirror. Only with the `download` feature; without it the flag is refused.
    #[cfg(feature = "download")]
    pub download: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: None,
        epochs: None,
        threads: 0,
        out: None,
        seed: None,
        #[cfg(feature = "download")]
        download: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = Some(PathBuf::from(value()?)),
            "--epochs" => args.epochs = Some(value()?.parse().map_err(|e| format!("--epochs: {e}"))?),
            "--threads" => args.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--seed" => args.seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            #[cfg(feature = "download")]
            "--download" => args.download = true,
            #[cfg(not(feature = "download"))]
            "--download" => {
                let example = std::env::current_exe().ok().and_then(|p| Some(p.file_stem()?.to_string_lossy().into()));
                return Err(format!(
                    "--download: this example was built without the `download` feature; rebuild with --features \
                     download: cargo run --release --features download --example {} -- --download",
                    example.unwrap_or_else(|| String::from("NAME"))
                ));
            }
            "--help" | "-h" => {
                return Err(
                    "options: [--data DIR] [--download] [--epochs N] [--threads N] [--seed N] [--out DIR]".into()
                )
            }
            other => return Err(format!("unknown argument {other}: try --help")),
        }
    }
    Ok(args)
}

/// Trains `M` as `recipe` says and reports: the test accuracy, the time per epoch, and where the
/// history (CSV), the training curve (SVG) and the weights (safetensors) were written.
pub fn main<M: Model>(recipe: Recipe, seed: u64) -> ExitCode {
    match parse_args().map_err(Into::into).and_then(|args| run::<M>(&recipe, args, seed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Fetches into `dir` the MNIST files it lacks, or holds damaged, from the public mirrors.
#[cfg(feature = "download")]
fn download(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use cnn::runtime::data::download::{Downloader, MIRRORS};
    println!("MNIST: checking {} and downloading what is missing or damaged…", dir.display());
    let fetched = Downloader::new(MIRRORS).run(dir)?;
    if fetched.is_empty() {
        println!("MNIST: the four files were already there and valid");
    } else {
        println!("MNIST: downloaded and verified {}", fetched.join(", "));
    }
    Ok(())
}

fn run<M: Model>(recipe: &Recipe, args: Args, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = resolve_dir(args.data);
    #[cfg(feature = "download")]
    if args.download {
        download(&dir)?;
    }
    let mnist = Mnist::load(&dir).map_err(|e| -> Box<dyn std::error::Error> {
        match e.kind() {
            DataErrorKind::MissingFiles { .. } if cfg!(feature = "download") => {
                format!("{e}; or fetch them there with --download").into()
            }
            DataErrorKind::MissingFiles { .. } => {
                format!("{e}; or fetch them there with --download (after rebuilding with --features download)").into()
            }
            _ => e.into(),
        }
    })?;
    let train = Dataset::new(mnist.train(), recipe.normalize)?;
    let test = Dataset::new(mnist.test(), recipe.normalize)?;
    println!("{}: MNIST from {} ({} training, {} test images)", recipe.title, dir.display(), train.len(), test.len());
    println!("{}", M::summary());

    let epochs = args.epochs.unwrap_or(recipe.epochs);
    let seed = args.seed.unwrap_or(seed);
    let mut model = M::with_init(recipe.init, seed);
    let mut optimizer = (recipe.optimizer)();
    let history = Fit::new(epochs, recipe.batch_size).threads(args.threads).seed(seed).validation(&test).run(
        &mut model,
        &train,
        optimizer.as_mut(),
    )?;
    let (loss, accuracy) = evaluate(&model, &test, Loss::CrossEntropy)?;
    for e in &history.epochs {
        println!(
            "epoch {}: {:.1} s, {:.0} images/s, test accuracy {:.2}%",
            e.epoch,
            e.seconds,
            e.images_per_second,
            100.0 * e.val_accuracy.unwrap_or(f64::NAN)
        );
    }
    println!(
        "test accuracy {:.2}% (loss {loss:.4}) after {epochs} epochs; the tutorial reports {}",
        100.0 * accuracy,
        recipe.published
    );

    let out = args.out.unwrap_or_else(|| PathBuf::from("target").join(recipe.name));
    let (csv, svg, weights) = (out.join("history.csv"), out.join("training.svg"), out.join("weights.safetensors"));
    history.write_csv(&csv)?;
    history.write_svg(&svg, recipe.title)?;
    cnn::runtime::io::save(&model, &weights)?;
    println!("history: {}\ntraining curve: {}\nweights: {}", csv.display(), svg.display(), weights.display());
    Ok(())
}
