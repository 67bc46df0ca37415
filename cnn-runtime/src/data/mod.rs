//! Training data: the IDX file format, the MNIST database, and in-memory data sets cut into
//! mini-batches.
//!
//! - [`idx`]: reads IDX image and label files, raw or gzip-compressed, and checks every byte count.
//! - [`mnist`]: finds and loads the four MNIST files ([`Mnist::load`], [`resolve_dir`]).
//! - [`dataset`]: images as normalised `f32` ([`Dataset`]), padding, splits, seeded shuffling and
//!   allocation-free mini-batches, and typed views of image buffers as a model's input tensors.
//!
//! ```no_run
//! use cnn_runtime::data::{self, Dataset, Holdout, Normalize};
//! use cnn_runtime::Rng;
//!
//! # fn main() -> Result<(), data::DataError> {
//! let mnist = data::Mnist::load(data::resolve_dir(None))?;
//! let (train, validation) = Dataset::new(mnist.train(), Normalize::default())?.split(Holdout::Count(5_000))?;
//! let mut rng = Rng::new(1);
//! let order = data::shuffled_order(train.len(), &mut rng);
//! let (mut images, mut labels) = (Vec::new(), Vec::new());
//! for k in 0..data::batch_count(order.len(), 64) {
//!     let n = train.batch_into(&order, k, 64, &mut images, &mut labels)?;
//!     let inputs: &[[[[f32; 28]; 28]; 1]] = train.batch_as(&images)?;
//!     assert_eq!(inputs.len(), n);
//! }
//! # let _ = validation;
//! # Ok(())
//! # }
//! ```
//!
//! Every failure is a [`DataError`] whose message names the file or argument at fault, says what is
//! wrong with it, and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod dataset;
#[cfg(feature = "download")]
pub mod download;
pub mod idx;
pub mod mnist;

pub use dataset::{batch_count, batch_inputs, shuffle, shuffled_order, Dataset, Holdout, Normalize};
#[cfg(feature = "download")]
pub use download::{download_mnist, Downloader, MIRRORS};
pub use idx::{parse_images, parse_labels, read_images, read_labels, Images};
pub use mnist::{resolve_dir, LabeledImages, Mnist};

/// Why data could not be read or used: the file (or directory) concerned and what is wrong.
///
/// `Display` gives one sentence for a person: `path: problem; what to do`.
#[derive(Debug)]
pub struct DataError {
    path: Option<PathBuf>,
    kind: DataErrorKind,
}

/// What went wrong, with the numbers that describe it.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file starts like gzip but its compressed data is corrupt or cut short.
    Gzip(std::io::Error),
    /// The file does not start with the magic number of the expected kind of IDX file.
    BadMagic {
        /// The magic number wanted (2051 for images, 2049 for labels).
        expected: u32,
        /// The first four bytes of the (decompressed) file, big-endian.
        found: u32,
    },
    /// The file ends inside its header.
    TruncatedHeader {
        /// Bytes the header takes.
        expected: usize,
        /// Bytes the (decompressed) file holds.
        found: usize,
    },
    /// The header's dimensions cannot describe a usable file (zero rows, absurd sizes, …).
    BadHeader(String),
    /// The header promises zero items.
    Empty {
        /// `"images"` or `"labels"`.
        item: &'static str,
    },
    /// The file holds fewer bytes than its header promises.
    Truncated {
        /// Items the header promises.
        count: usize,
        /// `"images"` or `"labels"`.
        item: &'static str,
        /// Bytes (header included) the header promises.
        expected: usize,
        /// Bytes (header included) the file holds.
        found: usize,
        /// Whether the file was gzip-compressed (byte counts are then after decompression).
        gzip: bool,
    },
    /// The file holds more bytes than its header promises.
    TrailingBytes {
        /// Items the header promises.
        count: usize,
        /// `"images"` or `"labels"`.
        item: &'static str,
        /// Bytes (header included) the header promises.
        expected: usize,
        /// Bytes (header included) the file holds.
        found: usize,
        /// Whether the file was gzip-compressed (byte counts are then after decompression).
        gzip: bool,
    },
    /// A label is not a digit 0–9.
    LabelOutOfRange {
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        label: u8,
    },
    /// An image file and its label file disagree on the number of samples.
    CountMismatch {
        /// Images in the image file (the error's path).
        images: usize,
        /// Labels in the label file.
        labels: usize,
        /// The label file, if known.
        labels_path: Option<PathBuf>,
    },
    /// The images do not have the size the data set is known to have.
    WrongImageSize {
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
        /// Rows expected.
        expected_rows: usize,
        /// Columns expected.
        expected_cols: usize,
    },
    /// Files of the data set are not in the directory (the error's path).
    MissingFiles {
        /// Whether the directory itself exists.
        dir_exists: bool,
        /// The names (compressed form) of the files that were not found.
        missing: Vec<&'static str>,
        /// Every file the directory must hold.
        all: Vec<&'static str>,
    },
    /// An argument passed to a function of this module is unusable; the text says which and why.
    InvalidArgument(String),
    /// A file could not be downloaded from any mirror (the `download` feature); the message
    /// names the addresses tried, what went wrong and what to do.
    Download(String),
}

impl DataError {
    /// An error about `path`.
    pub fn new(path: impl Into<PathBuf>, kind: DataErrorKind) -> Self {
        DataError { path: Some(path.into()), kind }
    }

    /// An error about an argument rather than a file.
    pub fn invalid_argument(problem: impl Into<String>) -> Self {
        DataError { path: None, kind: DataErrorKind::InvalidArgument(problem.into()) }
    }

    /// The file or directory concerned, if the error is about one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &DataErrorKind {
        &self.kind
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        match &self.kind {
            DataErrorKind::Io(e) => write!(f, "cannot read the file ({e}); check that it exists and is readable"),
            DataErrorKind::Gzip(e) => write!(
                f,
                "the file starts like gzip but its compressed data is corrupt or cut short ({e}); download it again"
            ),
            DataErrorKind::BadMagic { expected, found } => idx::describe_bad_magic(f, *expected, *found),
            DataErrorKind::TruncatedHeader { expected, found } => {
                if *found == 0 {
                    write!(f, "the file is empty; an IDX file starts with a {expected}-byte header; download it again")
                } else {
                    write!(
                        f,
                        "truncated header: an IDX file of this kind starts with a {expected}-byte header but the file \
                         holds only {found} bytes; download it again"
                    )
                }
            }
            DataErrorKind::BadHeader(problem) => write!(f, "unusable IDX header: {problem}"),
            DataErrorKind::Empty { item } => {
                write!(f, "the header promises 0 {item}: the file holds no data; download it again")
            }
            DataErrorKind::Truncated { count, item, expected, found, gzip } => write!(
                f,
                "truncated: the header promises {count} {item} ({expected} bytes) but the file holds {found} \
                 bytes{}; download it again",
                if *gzip { " once decompressed" } else { "" }
            ),
            DataErrorKind::TrailingBytes { count, item, expected, found, gzip } => write!(
                f,
                "trailing bytes: the header promises {count} {item} ({expected} bytes) but the file holds {found} \
                 bytes{} ({} too many); the file is damaged or not what its name says: download it again",
                if *gzip { " once decompressed" } else { "" },
                found - expected
            ),
            DataErrorKind::LabelOutOfRange { index, label } => write!(
                f,
                "label {index} is {label}, but labels must be digits 0 to 9; this is not an MNIST label file \
                 (or it is damaged): download it again"
            ),
            DataErrorKind::CountMismatch { images, labels, labels_path } => {
                write!(f, "holds {images} images but ")?;
                match labels_path {
                    Some(p) => write!(f, "{} holds {labels} labels", p.display())?,
                    None => write!(f, "{labels} labels were given")?,
                }
                write!(
                    f,
                    "; images and labels must come from the same set (train-images with train-labels, t10k-images \
                     with t10k-labels), so replace the file that does not match"
                )
            }
            DataErrorKind::WrongImageSize { rows, cols, expected_rows, expected_cols } => write!(
                f,
                "the images are {rows}x{cols} but MNIST images are {expected_rows}x{expected_cols}; this file is \
                 not the MNIST file of that name: download it again"
            ),
            DataErrorKind::MissingFiles { dir_exists, missing, all } => {
                mnist::describe_missing(f, self.path.as_deref(), *dir_exists, missing, all)
            }
            DataErrorKind::InvalidArgument(problem) | DataErrorKind::Download(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DataErrorKind::Io(e) | DataErrorKind::Gzip(e) => Some(e),
            _ => None,
        }
    }
}
