//! Loads the real MNIST files from the project's `shared/` checkout (`../shared/data/mnist` beside
//! the repository) and checks them against the well-known facts of the data set.

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use cnn_runtime::data::{Dataset, Mnist, Normalize};

fn mnist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist")
}

/// Loaded once for all tests of this file.
fn mnist() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| {
        let start = Instant::now();
        let m = Mnist::load(mnist_dir()).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("loaded MNIST in {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
        m
    })
}

#[test]
fn sizes_and_well_known_first_labels() {
    let m = mnist();
    assert_eq!((m.train().len(), m.test().len()), (60_000, 10_000));
    for part in [m.train(), m.test()] {
        assert_eq!((part.images().rows(), part.images().cols()), (28, 28));
        assert_eq!(part.images().pixels().len(), part.len() * 784);
    }
    assert_eq!(&m.train().labels()[..8], [5, 0, 4, 1, 9, 2, 1, 3]);
    assert_eq!(&m.test().labels()[..8], [7, 2, 1, 0, 4, 1, 4, 9]);
}

#[test]
fn label_histograms_match_the_published_counts() {
    let histogram = |labels: &[u8]| {
        let mut h = [0usize; 10];
        labels.iter().for_each(|&l| h[usize::from(l)] += 1);
        h
    };
    let (train, test) = (histogram(mnist().train().labels()), histogram(mnist().test().labels()));
    assert_eq!(train, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(test, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert_eq!((train.iter().sum::<usize>(), test.iter().sum::<usize>()), (60_000, 10_000));
}

#[test]
fn normalised_pixels_stay_in_range_and_padding_keeps_images_centred() {
    let train = Dataset::new(mnist().train(), Normalize::default()).unwrap();
    assert_eq!((train.len(), train.shape()), (60_000, [1, 28, 28]));
    let (min, max) = train.images().iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((min, max), (0.0, 1.0));
    let mean = train.images().iter().map(|&v| f64::from(v)).sum::<f64>() / train.images().len() as f64;
    assert!((mean - 0.1307).abs() < 1e-3, "mean pixel {mean}");

    let standard = Dataset::new(mnist().test(), Normalize::MNIST).unwrap();
    let (min, max) = standard.images().iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!((min + 0.1307 / 0.3081).abs() < 1e-5 && (max - 0.8693 / 0.3081).abs() < 1e-5, "{min}..{max}");

    let small = train.subset(500);
    let padded = small.pad(2).unwrap();
    assert_eq!(padded.shape(), [1, 32, 32]);
    let inputs: &[[[[f32; 32]; 32]; 1]] = padded.images_as().unwrap();
    for (i, padded_image) in inputs.iter().enumerate() {
        let sum = |xs: &[f32]| xs.iter().sum::<f32>();
        assert_eq!(sum(small.image(i)), sum(padded.image(i)), "image {i}");
        for r in 0..28 {
            assert_eq!(&padded_image[0][r + 2][2..30], &small.image(i)[r * 28..(r + 1) * 28]);
        }
        assert!(padded_image[0][..2].iter().chain(&padded_image[0][30..]).flatten().all(|&v| v == 0.0));
        assert_eq!(padded.label(i), small.label(i));
    }
}

#[test]
fn decompressed_files_have_the_published_sha256() {
    assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(hex(&sha256(long)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    for (name, digest) in [
        ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ] {
        let gz = std::fs::read(mnist_dir().join(format!("{name}.gz"))).unwrap();
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut raw).unwrap();
        assert_eq!(hex(&sha256(&raw)), digest, "{name}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4), plain and unoptimised: test code only.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut tail = data[data.len() / 64 * 64..].to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    for block in data.chunks_exact(64).chain(tail.chunks_exact(64)) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let t1 = hh.wrapping_add(s1).wrapping_add((e & f) ^ (!e & g)).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let t2 = s0.wrapping_add((a & b) ^ (a & c) ^ (b & c));
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, x) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&x.to_be_bytes());
    }
    out
}
