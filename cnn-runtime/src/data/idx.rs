//! The IDX file format of MNIST and its relatives: a big-endian header, then unsigned bytes.
//!
//! | bytes | images (magic 2051 = `0x00000803`) | labels (magic 2049 = `0x00000801`) |
//! | --- | --- | --- |
//! | 0..4 | magic: `00 00`, element type `08` (u8), dimension count `03` | magic, dimension count `01` |
//! | 4..8 | number of images `n` | number of labels `n` |
//! | 8..16 | rows, columns | — |
//! | then | `n · rows · cols` pixels, row by row, 0 = background | `n` labels, each 0–9 |
//!
//! A file is read whole, gunzipped when it starts with the gzip magic `1f 8b` (whatever its name),
//! and checked completely: magic number, dimensions, the exact byte count the header promises
//! (nothing missing, nothing left over), at least one item, labels below 10.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{DataError, DataErrorKind};

/// Magic number of an IDX file of unsigned-byte images (`n × rows × cols`).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (`n`).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Labels must be below this (the ten digits).
pub const NUM_CLASSES: u8 = 10;

/// Larger bodies are not allocated up front (a damaged header may promise gigabytes); they grow
/// as data actually arrives. MNIST's largest body (47 MB) is below it.
const MAX_PREALLOCATION: usize = 64 << 20;

/// Grayscale images read from an IDX file: `len() × rows × cols` bytes, image after image.
#[derive(Clone, PartialEq, Eq)]
pub struct Images {
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
}

impl Images {
    /// Images of `rows × cols` pixels from `pixels` (image after image, row by row).
    ///
    /// Fails if a dimension is zero or `pixels` is not a whole number of images.
    pub fn new(rows: usize, cols: usize, pixels: Vec<u8>) -> Result<Self, DataError> {
        let size = rows.checked_mul(cols).filter(|&s| s > 0).ok_or_else(|| {
            DataError::invalid_argument(format!("images of {rows}x{cols} pixels: both sizes must be at least 1"))
        })?;
        if !pixels.len().is_multiple_of(size) {
            return Err(DataError::invalid_argument(format!(
                "{} pixels are not a whole number of {rows}x{cols} images ({size} pixels each)",
                pixels.len()
            )));
        }
        Ok(Images { rows, cols, pixels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols)
    }

    /// Whether there are no images (never the case for images read from a file).
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// Rows of each image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of each image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All pixels, image after image, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels of image `i`, or `None` if `i >= len()`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let size = self.rows * self.cols;
        self.pixels.get(i.checked_mul(size)?..i.checked_add(1)?.checked_mul(size)?)
    }

    /// The pixel buffer, giving up the shape.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
}

impl fmt::Debug for Images {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Images {{ len: {}, rows: {}, cols: {} }}", self.len(), self.rows, self.cols)
    }
}

/// Reads an IDX image file (magic 2051), raw or gzip-compressed.
pub fn read_images(path: impl AsRef<Path>) -> Result<Images, DataError> {
    let path = path.as_ref();
    parse_images(&read_file(path)?, path)
}

/// Reads an IDX label file (magic 2049), raw or gzip-compressed; every label must be below 10.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    parse_labels(&read_file(path)?, path)
}

/// Parses the bytes of an IDX image file (raw, or gzip when they start with `1f 8b`); `path` is
/// only used in error messages.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<Images, DataError> {
    let (dims, pixels) = parse(bytes, path, Kind::Images)?;
    let (rows, cols) = (dims[1], dims[2]);
    Ok(Images { rows, cols, pixels })
}

/// Parses the bytes of an IDX label file (raw, or gzip when they start with `1f 8b`); `path` is
/// only used in error messages. Every label must be below 10.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let (_, labels) = parse(bytes, path, Kind::Labels)?;
    if let Some(index) = labels.iter().position(|&l| l >= NUM_CLASSES) {
        return Err(DataError::new(path, DataErrorKind::LabelOutOfRange { index, label: labels[index] }));
    }
    Ok(labels)
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::new(path, DataErrorKind::Io(e)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    fn ndims(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }

    fn item(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
}

/// Checks the header and byte count; returns the dimensions and the body.
fn parse(bytes: &[u8], path: &Path, kind: Kind) -> Result<([usize; 3], Vec<u8>), DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse_stream(MultiGzDecoder::new(bytes), path, kind, true)
    } else {
        parse_stream(bytes, path, kind, false)
    }
}

fn parse_stream(mut r: impl Read, path: &Path, kind: Kind, gzip: bool) -> Result<([usize; 3], Vec<u8>), DataError> {
    let err = |kind| DataError::new(path, kind);
    let io_err = |e| err(if gzip { DataErrorKind::Gzip(e) } else { DataErrorKind::Io(e) });
    let header_len = 4 + 4 * kind.ndims();

    let mut header = [0u8; 16];
    let got = read_full(&mut r, &mut header[..4]).map_err(io_err)?;
    if got < 4 {
        return Err(err(DataErrorKind::TruncatedHeader { expected: header_len, found: got }));
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != kind.magic() {
        return Err(err(DataErrorKind::BadMagic { expected: kind.magic(), found: magic }));
    }
    let got = 4 + read_full(&mut r, &mut header[4..header_len]).map_err(io_err)?;
    if got < header_len {
        let rest = count_rest(&mut r).map_err(io_err)?;
        return Err(err(DataErrorKind::TruncatedHeader { expected: header_len, found: got + rest }));
    }
    let mut dims = [1usize; 3];
    for (d, chunk) in dims.iter_mut().zip(header[4..header_len].chunks_exact(4)) {
        let v = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        *d = usize::try_from(v).map_err(|_| err(DataErrorKind::BadHeader(format!("dimension {v} is too large"))))?;
    }
    if kind == Kind::Images && (dims[1] == 0 || dims[2] == 0) {
        return Err(err(DataErrorKind::BadHeader(format!(
            "the header says each image is {}x{} pixels; both sizes must be at least 1: download the file again",
            dims[1], dims[2]
        ))));
    }
    let count = dims[0];
    if count == 0 {
        return Err(err(DataErrorKind::Empty { item: kind.item() }));
    }
    let too_large = || {
        err(DataErrorKind::BadHeader(format!(
            "the header promises {count} {} of {}x{} pixels, more bytes than this machine can address; the file is \
             damaged: download it again",
            kind.item(),
            dims[1],
            dims[2]
        )))
    };
    let body_len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(too_large)?;
    let expected = body_len.checked_add(header_len).ok_or_else(too_large)?;

    let mut body = Vec::with_capacity(body_len.min(MAX_PREALLOCATION));
    (&mut r).take(body_len as u64).read_to_end(&mut body).map_err(io_err)?;
    if body.len() < body_len {
        let found = header_len + body.len();
        return Err(err(DataErrorKind::Truncated { count, item: kind.item(), expected, found, gzip }));
    }
    let rest = count_rest(&mut r).map_err(io_err)?;
    if rest > 0 {
        let found = expected.saturating_add(rest);
        return Err(err(DataErrorKind::TrailingBytes { count, item: kind.item(), expected, found, gzip }));
    }
    Ok((dims, body))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads the stream to its end, counting the bytes without keeping them.
fn count_rest(r: &mut impl Read) -> io::Result<usize> {
    let n = io::copy(r, &mut io::sink())?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The `BadMagic` message: which magic was expected, what was found, and the likely cause.
pub(super) fn describe_bad_magic(f: &mut fmt::Formatter<'_>, expected: u32, found: u32) -> fmt::Result {
    let what = |m: u32| if m == IMAGES_MAGIC { "an IDX image file" } else { "an IDX label file" };
    let b = found.to_be_bytes();
    write!(f, "wrong magic number: expected {expected} (0x{expected:08x}, {}) but found ", what(expected))?;
    write!(f, "{found} (0x{found:08x}); ")?;
    if found == IMAGES_MAGIC || found == LABELS_MAGIC {
        write!(f, "this is {}: the image and label files are swapped; give each file its own name", what(found))
    } else if b[0] == 0 && b[1] == 0 && b[2] == 0x08 {
        write!(f, "this IDX file has {} dimensions, which is not the MNIST layout: download the file again", b[3])
    } else if b[0] == 0 && b[1] == 0 {
        write!(
            f,
            "this IDX file holds elements of type 0x{:02x}, not unsigned bytes (0x08): download the file again",
            b[2]
        )
    } else if b.iter().all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace()) {
        let text: String = b.iter().map(|&c| c as char).collect();
        write!(
            f,
            "the file starts with the text {text:?}, not an IDX header (two zero bytes, then 08); it is probably an \
             error page saved by a failed download: download the file again"
        )
    } else {
        write!(f, "this is not an IDX file (they start with two zero bytes): download the file again")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    /// An IDX image file of `n` images of `rows × cols`, pixel `(i, j)` of image `k` being `k + i + j`.
    pub(crate) fn image_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut v = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [n, rows, cols] {
            v.extend_from_slice(&d.to_be_bytes());
        }
        for k in 0..n {
            for i in 0..rows {
                for j in 0..cols {
                    v.push((k + i + j) as u8);
                }
            }
        }
        v
    }

    /// An IDX label file holding `labels`.
    pub(crate) fn label_bytes(labels: &[u8]) -> Vec<u8> {
        let mut v = LABELS_MAGIC.to_be_bytes().to_vec();
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn p() -> &'static Path {
        Path::new("dir/train-labels-idx1-ubyte.gz")
    }

    #[test]
    fn good_files_parse() {
        let images = parse_images(&image_bytes(3, 4, 5), p()).unwrap();
        assert_eq!((images.len(), images.rows(), images.cols()), (3, 4, 5));
        assert_eq!(images.get(2).unwrap()[4 * 5 - 1], 2 + 3 + 4);
        assert_eq!(images.get(3), None);
        let labels = parse_labels(&label_bytes(&[5, 0, 4, 9]), p()).unwrap();
        assert_eq!(labels, [5, 0, 4, 9]);
    }

    #[test]
    fn gzip_round_trip_gives_the_same_data() {
        let raw = image_bytes(7, 28, 28);
        let gz = gzip(&raw);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(parse_images(&gz, p()).unwrap(), parse_images(&raw, p()).unwrap());
        let labels = [1, 2, 3, 9, 0];
        assert_eq!(parse_labels(&gzip(&label_bytes(&labels)), p()).unwrap(), labels);
    }

    #[test]
    fn wrong_magic_says_which_was_expected() {
        let e = parse_images(&label_bytes(&[1, 2]), p()).unwrap_err().to_string();
        assert!(e.starts_with("dir/train-labels-idx1-ubyte.gz: wrong magic number: expected 2051"), "{e}");
        assert!(e.contains("found 2049") && e.contains("swapped"), "{e}");
        let e = parse_labels(&image_bytes(1, 2, 2), p()).unwrap_err().to_string();
        assert!(e.contains("expected 2049") && e.contains("found 2051"), "{e}");
        let e = parse_labels(b"<!DOCTYPE html><html>", p()).unwrap_err().to_string();
        assert!(e.contains("\"<!DO\"") && e.contains("download"), "{e}");
        let mut f32_images = image_bytes(1, 1, 1);
        f32_images[2] = 0x0d;
        let e = parse_images(&f32_images, p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::BadMagic { expected: 2051, found: 0x0d03 }));
        assert!(e.to_string().contains("type 0x0d"), "{e}");
    }

    #[test]
    fn truncated_header_says_how_many_bytes() {
        let e = parse_images(&image_bytes(2, 3, 3)[..11], p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::TruncatedHeader { expected: 16, found: 11 }), "{e:?}");
        assert!(e.to_string().contains("16-byte header but the file holds only 11 bytes"), "{e}");
        let e = parse_labels(&label_bytes(&[1])[..2], p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::TruncatedHeader { expected: 8, found: 2 }), "{e:?}");
        let e = parse_labels(&[], p()).unwrap_err().to_string();
        assert!(e.contains("the file is empty"), "{e}");
    }

    #[test]
    fn truncated_body_says_expected_and_found_bytes() {
        let labels: Vec<u8> = (0..100).map(|i| i % 10).collect();
        let e = parse_labels(&label_bytes(&labels)[..50], p()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/train-labels-idx1-ubyte.gz: truncated: the header promises 100 labels (108 bytes) but the file \
             holds 50 bytes; download it again"
        );
        let gz = gzip(&image_bytes(4, 5, 5)[..60]);
        let e = parse_images(&gz, p()).unwrap_err().to_string();
        assert!(e.contains("promises 4 images (116 bytes) but the file holds 60 bytes once decompressed"), "{e}");
    }

    #[test]
    fn cut_gzip_stream_is_reported_as_corrupt_gzip() {
        let gz = gzip(&image_bytes(30, 28, 28));
        let e = parse_images(&gz[..gz.len() / 2], p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::Gzip(_)), "{e:?}");
        assert!(e.to_string().contains("corrupt or cut short"), "{e}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = label_bytes(&[1, 2, 3]);
        bytes.extend_from_slice(&[0; 5]);
        let e = parse_labels(&bytes, p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::TrailingBytes { expected: 11, found: 16, .. }), "{e:?}");
        assert!(e.to_string().contains("(5 too many)"), "{e}");
        let e = parse_labels(&gzip(&bytes), p()).unwrap_err().to_string();
        assert!(e.contains("holds 16 bytes once decompressed"), "{e}");
    }

    #[test]
    fn label_ten_is_refused() {
        let e = parse_labels(&label_bytes(&[3, 9, 10, 2]), p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::LabelOutOfRange { index: 2, label: 10 }));
        assert!(e.to_string().contains("label 2 is 10, but labels must be digits 0 to 9"), "{e}");
    }

    #[test]
    fn empty_and_absurd_headers_are_refused() {
        let e = parse_labels(&label_bytes(&[]), p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::Empty { item: "labels" }), "{e:?}");
        let e = parse_images(&image_bytes(2, 0, 28), p()).unwrap_err().to_string();
        assert!(e.contains("0x28 pixels"), "{e}");
        // A header promising ~2^48 bytes: no huge allocation, a plain truncation error.
        let mut huge = image_bytes(0, 0, 0);
        huge[4..16].copy_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff]);
        huge.extend_from_slice(&[1, 2, 3]);
        let e = parse_images(&huge, p()).unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::Truncated { found: 19, .. } | DataErrorKind::BadHeader(_)), "{e:?}");
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let e = read_labels("/nonexistent/t10k-labels-idx1-ubyte").unwrap_err();
        assert!(matches!(e.kind(), DataErrorKind::Io(_)));
        assert!(e.to_string().starts_with("/nonexistent/t10k-labels-idx1-ubyte: cannot read the file"), "{e}");
    }
}
