//! The MNIST database of handwritten digits: 60,000 training and 10,000 test images, 28x28.
//!
//! [`Mnist::load`] reads the four files under their standard names from one directory, each either
//! gzip-compressed (`name.gz`, as distributed) or uncompressed (`name`); [`resolve_dir`] says which
//! directory: `--data DIR`, else `$MNIST_DIR`, else `../shared/data/mnist`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::idx::{read_images, read_labels, Images};
use super::{DataError, DataErrorKind};

/// Environment variable naming the MNIST directory when no directory is given explicitly.
pub const ENV_VAR: &str = "MNIST_DIR";

/// The MNIST directory when neither `--data DIR` nor [`ENV_VAR`] is given, relative to the current
/// directory: the project's `shared/` checkout beside its repository.
pub const DEFAULT_DIR: &str = "../shared/data/mnist";

/// Rows and columns of every MNIST image.
pub const IMAGE_SIZE: usize = 28;

/// The four files, in the order training images, training labels, test images, test labels.
/// Each may also be stored uncompressed, without `.gz`.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// The MNIST directory to use, in this order:
///
/// 1. `explicit`, the value of a `--data DIR` command-line option, if given;
/// 2. else the [`ENV_VAR`] (`MNIST_DIR`) environment variable, if set and not empty;
/// 3. else [`DEFAULT_DIR`] (`../shared/data/mnist`), relative to the current directory.
///
/// The directory is not checked here; [`Mnist::load`] reports what is missing from it.
pub fn resolve_dir(explicit: Option<PathBuf>) -> PathBuf {
    resolve(explicit, std::env::var_os(ENV_VAR))
}

fn resolve(explicit: Option<PathBuf>, env: Option<std::ffi::OsString>) -> PathBuf {
    explicit.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from)).unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Images with one label each: the image and label counts agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledImages {
    images: Images,
    labels: Vec<u8>,
}

impl LabeledImages {
    /// Pairs `images` with `labels`; fails if their counts differ.
    pub fn new(images: Images, labels: Vec<u8>) -> Result<Self, DataError> {
        if images.len() != labels.len() {
            return Err(DataError::invalid_argument(format!(
                "{} images but {} labels: give exactly one label per image",
                images.len(),
                labels.len()
            )));
        }
        Ok(LabeledImages { images, labels })
    }

    /// The images.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Number of images (and labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The MNIST training and test sets as stored: bytes, 0 = background, labels 0–9.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mnist {
    train: LabeledImages,
    test: LabeledImages,
}

impl Mnist {
    /// Reads [`FILES`] from `dir` (each as `name.gz`, or uncompressed as `name` when that exists),
    /// checks each file completely (see [`idx`](super::idx)), that every set has as many labels as
    /// images, and that images are 28x28.
    ///
    /// When files are missing the error lists which files to put where, and how to point to
    /// another directory (`--data DIR`, `MNIST_DIR`).
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist, DataError> {
        let dir = dir.as_ref();
        let mut paths = Vec::with_capacity(FILES.len());
        let mut missing = Vec::new();
        for name in FILES {
            match find(dir, name) {
                Some(p) => paths.push(p),
                None => missing.push(name),
            }
        }
        if !missing.is_empty() {
            return Err(DataError::new(
                dir,
                DataErrorKind::MissingFiles { dir_exists: dir.is_dir(), missing, all: FILES.to_vec() },
            ));
        }
        // Decompressing the training images takes most of the time: read the test set meanwhile.
        let (train, test) = std::thread::scope(|s| {
            let test = s.spawn(|| load_part(&paths[2], &paths[3]));
            let train = load_part(&paths[0], &paths[1]);
            (train, test.join())
        });
        let test = test.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok(Mnist { train: train?, test: test? })
    }

    /// The 60,000 training images and labels.
    pub fn train(&self) -> &LabeledImages {
        &self.train
    }

    /// The 10,000 test images and labels.
    pub fn test(&self) -> &LabeledImages {
        &self.test
    }

    /// The training and test sets, by value.
    pub fn into_parts(self) -> (LabeledImages, LabeledImages) {
        (self.train, self.test)
    }
}

/// `dir/name` without `.gz` if it exists, else `dir/name`.
fn find(dir: &Path, gz_name: &str) -> Option<PathBuf> {
    let raw = dir.join(gz_name.strip_suffix(".gz").unwrap_or(gz_name));
    let gz = dir.join(gz_name);
    [raw, gz].into_iter().find(|p| p.is_file())
}

fn load_part(images_path: &Path, labels_path: &Path) -> Result<LabeledImages, DataError> {
    let images = read_images(images_path)?;
    if (images.rows(), images.cols()) != (IMAGE_SIZE, IMAGE_SIZE) {
        return Err(DataError::new(
            images_path,
            DataErrorKind::WrongImageSize {
                rows: images.rows(),
                cols: images.cols(),
                expected_rows: IMAGE_SIZE,
                expected_cols: IMAGE_SIZE,
            },
        ));
    }
    let labels = read_labels(labels_path)?;
    if labels.len() != images.len() {
        return Err(DataError::new(
            images_path,
            DataErrorKind::CountMismatch {
                images: images.len(),
                labels: labels.len(),
                labels_path: Some(labels_path.to_path_buf()),
            },
        ));
    }
    Ok(LabeledImages { images, labels })
}

/// The `MissingFiles` message (after `dir: `).
pub(super) fn describe_missing(
    f: &mut fmt::Formatter<'_>,
    dir: Option<&Path>,
    dir_exists: bool,
    missing: &[&str],
    all: &[&str],
) -> fmt::Result {
    let cwd = std::env::current_dir().ok();
    let absolute = match (dir, &cwd) {
        (Some(d), Some(cwd)) if d.is_relative() => format!(" ({})", cwd.join(d).display()),
        _ => String::new(),
    };
    if !dir_exists {
        write!(f, "the MNIST directory does not exist{absolute}")?;
    } else if missing.len() == all.len() {
        write!(f, "no MNIST files in this directory{absolute}")?;
    } else {
        write!(f, "MNIST files missing from this directory{absolute}: {}", missing.join(", "))?;
    }
    write!(
        f,
        ". Put the files {} there (each may also be uncompressed, without .gz), or point to the directory that \
         holds them with --data DIR or the {ENV_VAR} environment variable",
        all.join(", ")
    )?;
    if dir.is_some_and(Path::is_relative) {
        write!(f, "; a relative directory is taken from the current directory")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::idx::tests::{gzip, image_bytes, label_bytes};
    use super::*;

    /// A fresh empty directory under the target directory's temp space.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cnn-runtime-mnist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_set(dir: &Path, train: (u32, u32), test: (u32, u32)) {
        let labels = |n: u32| label_bytes(&(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
        std::fs::write(dir.join(FILES[0]), gzip(&image_bytes(train.0, 28, 28))).unwrap();
        // Uncompressed, under the name without .gz.
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(train.1)).unwrap();
        std::fs::write(dir.join(FILES[2]), gzip(&image_bytes(test.0, 28, 28))).unwrap();
        std::fs::write(dir.join(FILES[3]), gzip(&labels(test.1))).unwrap();
    }

    #[test]
    fn loads_a_small_synthetic_set_mixing_gz_and_raw_files() {
        let dir = temp_dir("good");
        write_set(&dir, (12, 12), (5, 5));
        let m = Mnist::load(&dir).unwrap();
        assert_eq!((m.train().len(), m.test().len()), (12, 5));
        assert_eq!(m.train().labels()[11], 1);
        assert_eq!(m.test().images().get(4).unwrap()[28 * 28 - 1], (4 + 27 + 27) as u8);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = temp_dir("mismatch");
        write_set(&dir, (12, 12), (5, 4));
        let e = Mnist::load(&dir).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::CountMismatch { images: 5, labels: 4, .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("t10k-images-idx3-ubyte.gz: holds 5 images but "), "{msg}");
        assert!(msg.contains("t10k-labels-idx1-ubyte.gz holds 4 labels"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let dir = temp_dir("size");
        write_set(&dir, (3, 3), (2, 2));
        std::fs::write(dir.join(FILES[2]), image_bytes(2, 32, 32)).unwrap();
        let e = Mnist::load(&dir).unwrap_err().to_string();
        assert!(e.contains("t10k-images-idx3-ubyte.gz: the images are 32x32 but MNIST images are 28x28"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_lists_the_four_files_and_how_to_point_elsewhere() {
        let e = Mnist::load("/nonexistent/mnist").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/nonexistent/mnist: the MNIST directory does not exist. Put the files "), "{msg}");
        for name in FILES {
            assert!(msg.contains(name), "{msg}");
        }
        assert!(msg.contains("--data DIR") && msg.contains("MNIST_DIR"), "{msg}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = temp_dir("missing");
        write_set(&dir, (3, 3), (2, 2));
        std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).unwrap();
        std::fs::remove_file(dir.join(FILES[3])).unwrap();
        let e = Mnist::load(&dir).unwrap_err();
        match e.kind() {
            DataErrorKind::MissingFiles { dir_exists: true, missing, .. } => {
                assert_eq!(missing, &[FILES[1], FILES[3]])
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(
                "MNIST files missing from this directory: train-labels-idx1-ubyte.gz, t10k-labels-idx1-ubyte.gz."
            ),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn directory_comes_from_the_option_then_the_environment_then_the_default() {
        let env = Some(std::ffi::OsString::from("/env"));
        assert_eq!(resolve(Some("/cli".into()), env.clone()), PathBuf::from("/cli"));
        assert_eq!(resolve(None, env), PathBuf::from("/env"));
        assert_eq!(resolve(None, Some("".into())), PathBuf::from(DEFAULT_DIR));
        assert_eq!(resolve(None, None), PathBuf::from("../shared/data/mnist"));
        assert_eq!(resolve_dir(Some("/x".into())), PathBuf::from("/x"));
    }
}
