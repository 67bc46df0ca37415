//! `data::download` against a local HTTP server on 127.0.0.1 that serves the real MNIST files
//! (copied from `../shared/data/mnist`), corrupt or truncated copies, 404s and stalls.
//!
//! Run with `cargo test -p cnn-runtime --features download --test download`.
#![cfg(feature = "download")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cnn_runtime::data::download::{download_mnist, Downloader};
use cnn_runtime::data::mnist::FILES;
use cnn_runtime::data::Mnist;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// The real MNIST files: `shared/data/mnist` beside the project's checkout.
fn shared_mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist")
}

/// A fresh empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnn-runtime-download-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies the real `FILES[i]` for each `i` in `which` from the shared directory into `dir`.
fn copy_real(dir: &Path, which: &[usize]) {
    for &i in which {
        std::fs::copy(shared_mnist().join(FILES[i]), dir.join(FILES[i])).unwrap();
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A local HTTP/1.1 server on 127.0.0.1 that answers `GET /{mode}/{name}` from the files in
/// `root`, one request per connection (`Connection: close`), one connection at a time:
///
/// - `ok`: 200 with the file;
/// - `missing`: 404;
/// - `truncated`: 200 announcing the file's full length, then half of it, then close;
/// - `stall`: reads the request, then says nothing until the server stops (at most 5 s).
///
/// It stops after `max_requests` requests, when dropped, or after 60 s, whichever comes first.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while count.load(Ordering::SeqCst) < max_requests && !halt.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    break;
                }
                match listener.accept() {
                    Ok((stream, _)) => {
                        // A client that hangs up early is the client's business.
                        let _ = serve(stream, &root, &count, &halt);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Server { port, requests, stop, thread: Some(thread) }
    }

    /// The base URL for `mode`.
    fn base(&self, mode: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}", self.port)
    }

    /// Requests received so far.
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.unwrap();
            }
        }
    }
}

fn serve(mut stream: TcpStream, root: &Path, count: &AtomicUsize, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    count.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or("");
    let (mode, name) = target.trim_start_matches('/').split_once('/').unwrap_or(("", ""));
    let file = std::fs::read(root.join(name)).ok().filter(|_| !name.contains(".."));
    let header = |status: &str, length: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
    };
    match (mode, file) {
        ("ok", Some(bytes)) => {
            stream.write_all(header("200 OK", bytes.len()).as_bytes())?;
            stream.write_all(&bytes)?;
        }
        ("truncated", Some(bytes)) => {
            stream.write_all(header("200 OK", bytes.len()).as_bytes())?;
            stream.write_all(&bytes[..bytes.len() / 2])?;
        }
        ("stall", _) => {
            let until = Instant::now() + Duration::from_secs(5);
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        _ => {
            let body = b"not found";
            stream.write_all(header("404 Not Found", body.len()).as_bytes())?;
            stream.write_all(body)?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

#[test]
fn downloads_the_four_files_and_mnist_loads_them() {
    let served = temp_dir("real-served");
    copy_real(&served, &[0, 1, 2, 3]);
    let server = Server::start(served.clone(), 4);
    let dir = temp_dir("real").join("mnist"); // created by the download
    download_mnist(&dir, &[&server.base("ok")]).unwrap();
    assert_eq!(server.requests(), 4);
    let mut expected: Vec<_> = FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listing(&dir), expected, "exactly the four files, no temporary file");
    for name in FILES {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), std::fs::read(served.join(name)).unwrap());
    }
    let mnist = Mnist::load(&dir).unwrap();
    assert_eq!((mnist.train().len(), mnist.test().len()), (60_000, 10_000));
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn a_corrupt_file_is_refused_and_nothing_is_left_under_its_name() {
    let served = temp_dir("corrupt-served");
    let mut labels = gunzip(&std::fs::read(shared_mnist().join(FILES[3])).unwrap());
    labels[8 + 100] = (labels[8 + 100] + 1) % 10; // still a valid label file, but not MNIST's
    std::fs::write(served.join(FILES[3]), gzip(&labels)).unwrap();
    let server = Server::start(served.clone(), 1);
    let dir = temp_dir("corrupt");
    copy_real(&dir, &[0, 1, 2]);

    let url = format!("{}/{}", server.base("ok"), FILES[3]);
    let e = download_mnist(&dir, &[&server.base("ok")]).unwrap_err();
    assert_eq!(server.requests(), 1, "only the missing file is requested");
    assert_eq!(e.path(), Some(dir.join(FILES[3]).as_path()));
    let msg = e.to_string();
    assert!(msg.contains("SHA-256") && msg.contains(&url), "{msg}");
    assert!(msg.contains("Retry later") && msg.contains(&format!("place it in {}", dir.display())), "{msg}");
    let left = listing(&dir);
    assert!(left.iter().all(|n| !n.contains("t10k-labels")), "nothing under the name, no temporary file: {left:?}");
    assert_eq!(left.len(), 3, "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn a_truncated_response_is_refused_and_nothing_is_left() {
    let served = temp_dir("truncated-served");
    copy_real(&served, &[0]);
    let server = Server::start(served.clone(), 1);
    let dir = temp_dir("truncated");
    let e = download_mnist(&dir, &[&server.base("truncated")]).unwrap_err();
    assert_eq!(server.requests(), 1);
    let msg = e.to_string();
    assert!(msg.contains(&format!("{}/{}", server.base("truncated"), FILES[0])), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    assert_eq!(listing(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn a_404_on_the_first_mirror_falls_back_to_the_second() {
    let served = temp_dir("fallback-served");
    copy_real(&served, &[0, 1, 2, 3]);
    let server = Server::start(served.clone(), 8);
    let dir = temp_dir("fallback");
    let fetched = Downloader::new(&[&server.base("missing"), &server.base("ok")]).run(&dir).unwrap();
    assert_eq!(fetched, FILES);
    assert_eq!(server.requests(), 8, "each file: a 404, then the second mirror");
    for name in FILES {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), std::fs::read(served.join(name)).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn valid_files_already_present_are_not_fetched_again() {
    let served = temp_dir("present-served");
    let server = Server::start(served.clone(), 4);
    let dir = temp_dir("present");
    copy_real(&dir, &[0, 1, 2, 3]);
    let fetched = Downloader::new(&[&server.base("ok")]).run(&dir).unwrap();
    assert!(fetched.is_empty(), "{fetched:?}");
    assert_eq!(server.requests(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn invalid_files_present_are_replaced_in_the_form_mnist_load_reads() {
    let served = temp_dir("replace-served");
    copy_real(&served, &[0, 1, 2, 3]);
    let server = Server::start(served.clone(), 2);
    let dir = temp_dir("replace");
    copy_real(&dir, &[0, 2]);
    // Uncompressed and damaged: `Mnist::load` would read it before any .gz, so it is replaced as is.
    std::fs::write(dir.join("train-labels-idx1-ubyte"), b"not MNIST").unwrap();
    // Compressed and cut short.
    let real = std::fs::read(served.join(FILES[3])).unwrap();
    std::fs::write(dir.join(FILES[3]), &real[..real.len() / 2]).unwrap();

    let fetched = Downloader::new(&[&server.base("ok")]).run(&dir).unwrap();
    assert_eq!(fetched, [FILES[1], FILES[3]]);
    assert_eq!(server.requests(), 2);
    let raw_labels = std::fs::read(dir.join("train-labels-idx1-ubyte")).unwrap();
    assert_eq!(raw_labels, gunzip(&std::fs::read(served.join(FILES[1])).unwrap()));
    assert!(!dir.join(FILES[1]).exists());
    assert_eq!(std::fs::read(dir.join(FILES[3])).unwrap(), real);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn a_silent_server_times_out() {
    let served = temp_dir("stall-served");
    let server = Server::start(served.clone(), 1);
    let dir = temp_dir("stall");
    let started = Instant::now();
    let e = Downloader::new(&[&server.base("stall")]).timeout(Duration::from_millis(300)).run(&dir).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let msg = e.to_string();
    assert!(msg.contains("timed out"), "{msg}");
    assert_eq!(listing(&dir), Vec::<String>::new());
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

#[test]
fn no_mirror_is_an_error() {
    let e = download_mnist(Path::new("unused"), &[]).unwrap_err();
    assert!(e.to_string().contains("at least one base URL"), "{e}");
}
