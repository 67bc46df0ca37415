//! Fetches the four MNIST files from a public mirror (cargo feature `download`).
//!
//! [`download_mnist`] puts into a directory each of the four [`FILES`] that is
//! not already there and valid, trying each mirror in turn. A file is valid when the SHA-256 of its
//! decompressed contents is the one published for MNIST ([`SHA256`]); a download is checked the
//! same way, in memory, before anything is written, and is then written atomically (a temporary
//! file beside the target, then a rename), so an interrupted, truncated or corrupt download never
//! leaves a file that looks like an MNIST file.
//!
//! ```no_run
//! use cnn_runtime::data::{self, download};
//!
//! # fn main() -> Result<(), data::DataError> {
//! let dir = data::resolve_dir(None);
//! download::download_mnist(&dir, download::MIRRORS)?;
//! let mnist = data::Mnist::load(&dir)?;
//! # let _ = mnist;
//! # Ok(())
//! # }
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::mnist::FILES;
use super::{DataError, DataErrorKind};
use crate::fsutil::write_atomic;

/// Public mirrors of the original MNIST files, tried in this order. A file is fetched from
/// `{mirror}/{name}`, e.g. `https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz`.
pub const MIRRORS: &[&str] =
    &["https://ossci-datasets.s3.amazonaws.com/mnist", "https://storage.googleapis.com/cvdf-datasets/mnist"];

/// SHA-256 (lower-case hex) of the decompressed contents of each of [`FILES`],
/// in the same order. The same for every faithful copy, whatever its gzip compression.
pub const SHA256: [&str; 4] = [
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
];

/// Size in bytes of the decompressed contents of each of [`FILES`]: header plus
/// 60,000 or 10,000 images of 28x28 bytes, or labels of one byte.
const SIZES: [usize; 4] = [16 + 60_000 * 784, 8 + 60_000, 16 + 10_000 * 784, 8 + 10_000];

/// Largest response body accepted (the largest file is about 10 MB compressed).
const MAX_BODY: u64 = 64 << 20;

/// Default for [`Downloader::timeout`].
const TIMEOUT: Duration = Duration::from_secs(30);

/// Default for [`Downloader::file_timeout`].
const FILE_TIMEOUT: Duration = Duration::from_secs(600);

/// Puts the four MNIST files into `dir` (created if need be), fetching each one that is not already
/// there and valid from `{base}/{name}` for each of `base_urls` in turn (usually [`MIRRORS`]).
///
/// The same as `Downloader::new(base_urls).run(dir)` with the default timeouts; see
/// [`Downloader::run`].
pub fn download_mnist(dir: &Path, base_urls: &[&str]) -> Result<(), DataError> {
    Downloader::new(base_urls).run(dir).map(drop)
}

/// Fetches the MNIST files from a list of mirrors, with timeouts.
///
/// A request is given up, and the next mirror tried, when connecting, waiting for the response or
/// waiting for any further bytes of it takes longer than [`timeout`](Downloader::timeout) (30 s by
/// default), or when one file takes longer than [`file_timeout`](Downloader::file_timeout) (10
/// minutes by default).
#[derive(Clone, Debug)]
pub struct Downloader {
    base_urls: Vec<String>,
    timeout: Duration,
    file_timeout: Duration,
}

impl Downloader {
    /// A downloader that tries `base_urls` (usually [`MIRRORS`]) in this order.
    pub fn new(base_urls: &[&str]) -> Self {
        Downloader {
            base_urls: base_urls.iter().map(|b| b.trim_end_matches('/').to_owned()).collect(),
            timeout: TIMEOUT,
            file_timeout: FILE_TIMEOUT,
        }
    }

    /// Longest wait to connect, for the response, and for each further part of it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Longest time to fetch one file from one mirror, from connecting to the last byte.
    pub fn file_timeout(mut self, timeout: Duration) -> Self {
        self.file_timeout = timeout;
        self
    }

    /// Puts the four MNIST files into `dir` (created if need be) and returns the names of those it
    /// fetched, in the order of [`FILES`].
    ///
    /// A file already in `dir` is kept, and not fetched, when the SHA-256 of its decompressed
    /// contents is right. [`Mnist::load`](super::Mnist::load) reads `name` (uncompressed) in
    /// preference to `name.gz`: a valid uncompressed file is enough, and an invalid one is replaced
    /// by the verified decompressed download; otherwise the download is written as `name.gz`, as the
    /// mirrors serve it.
    ///
    /// Each download is decompressed and checked in memory, then written atomically. The first file
    /// that no mirror provides intact stops the run with an error that names every URL tried and
    /// what went wrong with it (HTTP status, timeout, truncated body, wrong SHA-256, …); files
    /// fetched before it are kept, and nothing is written for it.
    pub fn run(&self, dir: &Path) -> Result<Vec<&'static str>, DataError> {
        if self.base_urls.is_empty() {
            return Err(DataError::invalid_argument(
                "no mirror to download MNIST from: give at least one base URL (e.g. download::MIRRORS)",
            ));
        }
        let agent = self.agent();
        let mut fetched = Vec::new();
        for (index, name) in FILES.into_iter().enumerate() {
            let gz = dir.join(name);
            let raw = dir.join(name.strip_suffix(".gz").unwrap_or(name));
            // Write where `Mnist::load` will read: an existing uncompressed file is read first.
            let target = if raw.is_file() {
                if existing_is_valid(&raw, index, false) {
                    continue;
                }
                &raw
            } else {
                if gz.is_file() && existing_is_valid(&gz, index, true) {
                    continue;
                }
                &gz
            };
            let (compressed, decompressed) = self.fetch(&agent, index, target, dir)?;
            let bytes = if target == &raw { &decompressed } else { &compressed };
            write_atomic(target, bytes).map_err(|e| {
                download_error(
                    target,
                    format!(
                        "downloaded and verified, but could not be written ({e}); check that {} is a writable \
                         directory, or use another one with --data DIR",
                        dir.display()
                    ),
                )
            })?;
            fetched.push(name);
        }
        Ok(fetched)
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout))
            .timeout_per_call(Some(self.file_timeout))
            .user_agent(concat!("cnn-runtime/", env!("CARGO_PKG_VERSION"), " (MNIST download)"))
            .build()
            .new_agent()
    }

    /// The `.gz` bytes and their verified decompressed contents, from the first mirror that gives
    /// them intact.
    fn fetch(
        &self,
        agent: &ureq::Agent,
        index: usize,
        target: &Path,
        dir: &Path,
    ) -> Result<(Vec<u8>, Vec<u8>), DataError> {
        let name = FILES[index];
        let mut failures = Vec::with_capacity(self.base_urls.len());
        for base in &self.base_urls {
            let url = format!("{base}/{name}");
            match fetch_one(agent, &url, index) {
                Ok(bytes) => return Ok(bytes),
                Err(problem) => failures.push(format!("{url}: {problem}")),
            }
        }
        let tried =
            if failures.len() == 1 { "could not be downloaded" } else { "could not be downloaded from any mirror" };
        Err(download_error(
            target,
            format!(
                "{tried} ({}); nothing was written for it. Retry later, try another mirror, or download {name} \
                 yourself and place it in {} (or point to a directory that holds the MNIST files with --data DIR)",
                failures.join("; "),
                dir.display()
            ),
        ))
    }
}

/// One attempt: the body of `url`, decompressed and checked against [`SHA256`]; or what went wrong.
fn fetch_one(agent: &ureq::Agent, url: &str, index: usize) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut response = agent.get(url).call().map_err(|e| describe(&e))?;
    let declared = response.body().content_length();
    let body = response.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(|e| describe(&e))?;
    if let Some(declared) = declared.filter(|&n| n != body.len() as u64) {
        return Err(format!("truncated response: {} of the {declared} bytes announced arrived", body.len()));
    }
    let decompressed = gunzip(&body, index).map_err(|problem| format!("{problem} ({} bytes received)", body.len()))?;
    check(&decompressed, index)?;
    Ok((body, decompressed))
}

/// The decompressed contents of gzip data `bytes`, refusing more than the file should hold.
fn gunzip(bytes: &[u8], index: usize) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err("the data is not gzip-compressed (not an MNIST .gz file)".into());
    }
    let expected = SIZES[index];
    let mut out = Vec::with_capacity(expected);
    MultiGzDecoder::new(bytes)
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip data is corrupt or cut short ({e})"))?;
    Ok(out)
}

/// Whether `data` has the size and SHA-256 of the decompressed file `FILES[index]`.
fn check(data: &[u8], index: usize) -> Result<(), String> {
    let expected = SIZES[index];
    if data.len() != expected {
        return Err(format!("{} bytes once decompressed, but the MNIST file holds {expected}", data.len()));
    }
    let digest = hex(&Sha256::digest(data));
    if digest != SHA256[index] {
        return Err(format!(
            "SHA-256 mismatch: the decompressed data hashes to {digest}, but MNIST's is {} (corrupt or altered copy)",
            SHA256[index]
        ));
    }
    Ok(())
}

/// Whether the file at `path` (gzip-compressed if `gz`) holds exactly `FILES[index]`'s contents.
fn existing_is_valid(path: &Path, index: usize, gz: bool) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    if gz {
        gunzip(&bytes, index).is_ok_and(|data| check(&data, index).is_ok())
    } else {
        check(&bytes, index).is_ok()
    }
}

/// A sentence about a failed request, for a person.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(code) => format!("HTTP status {code}"),
        ureq::Error::Timeout(what) => format!("timed out ({what})"),
        ureq::Error::HostNotFound => "host not found (no network, or a wrong URL?)".into(),
        ureq::Error::ConnectionFailed => "connection failed (no network, or the server is down?)".into(),
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the response is larger than {limit} bytes: not an MNIST file")
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated response: the connection closed before the whole file arrived ({io})")
        }
        ureq::Error::Io(io) => format!("network error ({io})"),
        other => other.to_string(),
    }
}

/// Lower-case hex digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A download error about `path` whose message is `message`.
fn download_error(path: &Path, message: String) -> DataError {
    DataError { path: Some(PathBuf::from(path)), kind: DataErrorKind::Download(message) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
    }

    #[test]
    fn check_reports_size_then_hash() {
        assert!(check(&[0; 3], 3).unwrap_err().contains("3 bytes once decompressed"));
        let e = check(&vec![0; SIZES[3]], 3).unwrap_err();
        assert!(e.starts_with("SHA-256 mismatch") && e.contains(SHA256[3]), "{e}");
    }

    #[test]
    fn non_gzip_data_is_refused() {
        assert!(gunzip(b"<html>", 0).unwrap_err().contains("not gzip"));
    }
}
