//! Weight files (`cnn::runtime::io`): PyTorch's weights give PyTorch's logits, `save` then `load`
//! round-trips bit for bit, and every broken or foreign file is refused with its own error,
//! leaving the model unchanged.
//!
//! The PyTorch fixtures are written by `bench/pytorch_weights_fixtures.py`.

use std::fs;
use std::path::{Path, PathBuf};

use cnn::runtime::io::{load, load_pytorch, save, WeightsError, WeightsErrorKind};
use cnn::zoo::{KerasLeNet5, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::Model;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cnn-runtime/tests/fixtures/pytorch");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// A fresh directory for one test, removed by the test when it passes.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnn-weights-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every parameter's bits, by name.
fn snapshot<M: Model>(model: &M) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    model.visit_params(&mut |id, v| {
        out.push((format!("{}.{}", id.layer, id.tensor), v.iter().map(|x| x.to_bits()).collect()))
    });
    out
}

/// The images and PyTorch's logits of `logits.txt`.
struct Expected {
    images: Vec<[[[f32; 28]; 28]; 1]>,
    logits: Vec<(String, usize, [f32; 10])>,
}

fn expected() -> Expected {
    let text = fs::read_to_string(fixture("logits.txt")).unwrap();
    let mut images = Vec::new();
    let mut logits = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "input" => {
                assert_eq!(words[1].parse::<usize>().unwrap(), images.len());
                let pixels: Vec<u8> = words[2..].iter().map(|w| w.parse().unwrap()).collect();
                assert_eq!(pixels.len(), 784);
                let mut image = [[[0f32; 28]; 28]; 1];
                for (i, p) in pixels.iter().enumerate() {
                    image[0][i / 28][i % 28] = f32::from(*p) / 255.0;
                }
                images.push(image);
            }
            "logits" => {
                let values: Vec<f32> = words[3..].iter().map(|w| w.parse().unwrap()).collect();
                logits.push((words[1].to_owned(), words[2].parse().unwrap(), values.try_into().unwrap()));
            }
            other => panic!("unknown record {other}"),
        }
    }
    assert_eq!(images.len(), 4);
    Expected { images, logits }
}

fn assert_pytorch_logits<M: Model<Input = [[[f32; 28]; 28]; 1], Output = [f32; 10]>>(name: &str, file: &str) {
    let mut model = M::new(7);
    load_pytorch(&mut model, &fixture(file)).unwrap();
    let expected = expected();
    let mut checked = 0;
    for (net, i, want) in expected.logits.iter().filter(|(net, ..)| net == name) {
        let got = model.forward(&expected.images[*i]);
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-5, "{net} image {i} logit {k}: got {g}, PyTorch gives {w}");
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn pytorch_lenet5_weights_give_pytorchs_logits() {
    assert_pytorch_logits::<LeNet5>("lenet5", "lenet5.safetensors");
}

#[test]
fn pytorch_lenet5_batchnorm_weights_give_pytorchs_logits() {
    assert_pytorch_logits::<LeNet5BatchNorm>("lenet5_batchnorm", "lenet5_batchnorm.safetensors");
}

#[test]
fn pytorch_batchnorm_statistics_are_loaded() {
    let mut model = LeNet5BatchNorm::new(7);
    load_pytorch(&mut model, &fixture("lenet5_batchnorm.safetensors")).unwrap();
    // PyTorch starts running statistics at mean 0, variance 1; the fixture trained them away.
    assert!(model.batchnorm1.running_mean.iter().all(|&m| m != 0.0));
    assert!(model.batchnorm4.running_var.iter().all(|&v| v != 1.0 && v > 0.0));
    assert!(model.batchnorm2.gamma.iter().all(|&g| g != 1.0));
}

fn round_trip<M: Model>(model: &M, test: &str) {
    let dir = scratch(test);
    let path = dir.join("model.safetensors");
    save(model, &path).unwrap();

    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + n) % 8, 0, "data section aligned to 8 bytes");
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(header.starts_with("{\"__metadata__\":{\"format\":\"cnn\",\"version\":\"1\""), "{header}");
    assert!(header.contains(&format!("\"model\":\"{}\"", M::NAME)));
    assert!(header.contains(&format!("\"declaration\":\"{}\"", M::DECLARATION)));
    assert!(header.trim_end_matches(' ').ends_with('}'));
    let params = M::TRAINABLE_PARAMS + M::NON_TRAINABLE_PARAMS;
    assert_eq!(bytes.len(), 8 + n + 4 * params);

    let mut loaded = M::with_init(cnn::Init::PyTorch, 999);
    assert_ne!(snapshot(&loaded), snapshot(model));
    load(&mut loaded, &path).unwrap();
    assert_eq!(snapshot(&loaded), snapshot(model));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn save_then_load_is_bit_identical() {
    let mut model = LeNet5::new(3);
    // Values whose bits must survive: a NaN payload, negative zero, a subnormal, infinity.
    model.conv1.bias[0] = f32::from_bits(0x7fc0_1234);
    model.conv1.bias[1] = -0.0;
    model.conv1.bias[2] = f32::from_bits(1);
    model.dense3.bias[9] = f32::NEG_INFINITY;
    round_trip(&model, "round_trip_lenet5");

    let mut bn = LeNet5BatchNorm::new(5);
    load_pytorch(&mut bn, &fixture("lenet5_batchnorm.safetensors")).unwrap();
    round_trip(&bn, "round_trip_batchnorm");
}

#[test]
fn saved_header_names_tensors_in_pytorch_style_with_their_shapes() {
    let dir = scratch("header");
    let path = dir.join("bn.safetensors");
    save(&LeNet5BatchNorm::new(1), &path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    for entry in [
        r#""conv1.weight":{"dtype":"F32","shape":[6,1,5,5],"data_offsets":[0,600]}"#,
        r#""conv1.bias":{"dtype":"F32","shape":[6],"data_offsets":[600,624]}"#,
        r#""batchnorm1.weight":{"dtype":"F32","shape":[6],"#,
        r#""batchnorm1.running_mean":{"dtype":"F32","shape":[6],"#,
        r#""batchnorm1.running_var":{"dtype":"F32","shape":[6],"#,
        r#""dense1.weight":{"dtype":"F32","shape":[120,400],"#,
        r#""batchnorm3.bias":{"dtype":"F32","shape":[120],"#,
        r#""dense3.weight":{"dtype":"F32","shape":[10,84],"#,
    ] {
        assert!(header.contains(entry), "{entry} not in {header}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loading_another_architecture_names_both_declarations() {
    let dir = scratch("architecture");
    let path = dir.join("lenet5.safetensors");
    save(&LeNet5::new(1), &path).unwrap();

    let mut tf2 = Tf2Net::new(2);
    let before = snapshot(&tf2);
    let err = load(&mut tf2, &path).unwrap_err();
    assert!(matches!(err.kind(), WeightsErrorKind::Architecture { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: this file holds weights for `{}` (model LeNet5) but Tf2Net is `{}`: load it into that network, or \
             retrain",
            path.display(),
            LeNet5::DECLARATION,
            Tf2Net::DECLARATION
        )
    );
    assert!(err.to_string().contains("`input 1@28x28, Conv2D 6@5x5 padding 2 relu, MaxPool 2"), "{err}");
    assert!(snapshot(&tf2) == before, "a failed load changed the model");

    let mut keras = KerasLeNet5::new(2);
    let before = snapshot(&keras);
    let err = load(&mut keras, &path).unwrap_err();
    assert!(err.to_string().contains(&format!("(model LeNet5) but KerasLeNet5 is `{}`", KerasLeNet5::DECLARATION)));
    assert_eq!(snapshot(&keras), before);
    fs::remove_dir_all(&dir).unwrap();
}

/// One tensor of a hand-made file: name, dtype, shape, data offsets, bytes.
struct Raw {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    offsets: Option<[usize; 2]>,
    bytes: Vec<u8>,
}

/// LeNet5's tensors as `save` would write them, to be edited into broken files.
fn lenet5_raw(model: &LeNet5) -> Vec<Raw> {
    let shapes: [(&str, &[usize]); 10] = [
        ("conv1.weight", &[6, 1, 5, 5]),
        ("conv1.bias", &[6]),
        ("conv2.weight", &[16, 6, 5, 5]),
        ("conv2.bias", &[16]),
        ("dense1.weight", &[120, 400]),
        ("dense1.bias", &[120]),
        ("dense2.weight", &[84, 120]),
        ("dense2.bias", &[84]),
        ("dense3.weight", &[10, 84]),
        ("dense3.bias", &[10]),
    ];
    let mut raw = Vec::new();
    let mut i = 0;
    model.visit_params(&mut |id, v| {
        let (name, shape) = shapes[i];
        assert_eq!(format!("{}.{}", id.layer, id.tensor), name);
        assert_eq!(shape.iter().product::<usize>(), v.len());
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        raw.push(Raw { name: name.into(), dtype: "F32", shape: shape.to_vec(), offsets: None, bytes });
        i += 1;
    });
    raw
}

/// A safetensors file of `tensors` with `metadata`; offsets follow the data unless given.
fn build(metadata: &[(&str, &str)], tensors: &[Raw]) -> Vec<u8> {
    let meta: Vec<String> = metadata.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    let mut entries = vec![format!("\"__metadata__\":{{{}}}", meta.join(","))];
    let mut data = Vec::new();
    for t in tensors {
        let [begin, end] = t.offsets.unwrap_or([data.len(), data.len() + t.bytes.len()]);
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        entries.push(format!(
            "{:?}:{{\"dtype\":{:?},\"shape\":[{}],\"data_offsets\":[{begin},{end}]}}",
            t.name,
            t.dtype,
            shape.join(",")
        ));
        data.extend_from_slice(&t.bytes);
    }
    let header = format!("{{{}}}", entries.join(","));
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn lenet5_metadata() -> [(&'static str, &'static str); 4] {
    [("format", "cnn"), ("version", "1"), ("model", "LeNet5"), ("declaration", LeNet5::DECLARATION)]
}

/// Writes `bytes`, loads them with `loader` into a fresh `M`, and returns the error after checking
/// that it names the file and that the model is unchanged.
fn refused_by<M: Model>(
    test: &str,
    bytes: &[u8],
    loader: fn(&mut M, &Path) -> Result<(), WeightsError>,
) -> WeightsError {
    let dir = scratch(test);
    let path = dir.join("broken.safetensors");
    fs::write(&path, bytes).unwrap();
    let mut model = M::new(11);
    let before = snapshot(&model);
    let err = loader(&mut model, &path).expect_err("a broken file was accepted");
    assert!(snapshot(&model) == before, "{test}: a failed load changed the model");
    assert_eq!(err.path(), path);
    assert!(err.to_string().starts_with(&format!("{}: ", path.display())), "{err}");
    fs::remove_dir_all(&dir).unwrap();
    err
}

fn refused(test: &str, bytes: &[u8]) -> WeightsError {
    refused_by::<LeNet5>(test, bytes, load)
}

#[test]
fn the_hand_made_file_is_valid() {
    // The builder of the broken files below makes loadable files when nothing is broken.
    let source = LeNet5::new(21);
    let dir = scratch("builder");
    let path = dir.join("ok.safetensors");
    fs::write(&path, build(&lenet5_metadata(), &lenet5_raw(&source))).unwrap();
    let mut model = LeNet5::new(1);
    load(&mut model, &path).unwrap();
    assert_eq!(snapshot(&model), snapshot(&source));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_files_are_refused() {
    let dir = scratch("truncated_source");
    let path = dir.join("ok.safetensors");
    save(&LeNet5::new(1), &path).unwrap();
    let bytes = fs::read(&path).unwrap();
    fs::remove_dir_all(&dir).unwrap();

    let err = refused("truncated_data", &bytes[..bytes.len() - 100]);
    let WeightsErrorKind::DataLength { expected, found } = *err.kind() else { panic!("{err:?}") };
    assert_eq!(expected, found + 100);
    assert!(err.to_string().contains("the file is truncated"), "{err}");

    let err = refused("truncated_header", &bytes[..50]);
    assert!(matches!(err.kind(), WeightsErrorKind::HeaderLength { file_len: 50, .. }), "{err:?}");
    assert!(err.to_string().contains("only 42 bytes follow them"), "{err}");

    let err = refused("truncated_length", &bytes[..5]);
    assert!(matches!(err.kind(), WeightsErrorKind::TooShort { len: 5 }), "{err:?}");
    let err = refused("empty", &[]);
    assert!(matches!(err.kind(), WeightsErrorKind::TooShort { len: 0 }), "{err:?}");

    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 12]);
    let err = refused("trailing", &longer);
    assert!(matches!(err.kind(), WeightsErrorKind::DataLength { .. }), "{err:?}");
    assert!(err.to_string().contains("12 bytes after the last tensor belong to no tensor"), "{err}");
}

#[test]
fn a_corrupt_header_length_is_refused() {
    let mut bytes = build(&lenet5_metadata(), &lenet5_raw(&LeNet5::new(1)));
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = refused("header_length_huge", &bytes);
    assert!(matches!(err.kind(), WeightsErrorKind::HeaderLength { header_len: u64::MAX, .. }), "{err:?}");
    assert!(err.to_string().contains("more than the 100000000 a safetensors header may have"), "{err}");

    let len = bytes.len() as u64;
    bytes[..8].copy_from_slice(&len.to_le_bytes());
    let err = refused("header_length_past_end", &bytes);
    assert!(matches!(err.kind(), WeightsErrorKind::HeaderLength { .. }), "{err:?}");
}

#[test]
fn bad_json_is_refused() {
    let mut bytes = build(&lenet5_metadata(), &lenet5_raw(&LeNet5::new(1)));
    assert_eq!(&bytes[8..10], b"{\"");
    bytes[9] = b'x';
    let err = refused("bad_json", &bytes);
    let WeightsErrorKind::Header(problem) = err.kind() else { panic!("{err:?}") };
    assert!(problem.contains("invalid JSON: found `x` where a key in double quotes was expected at byte 1"), "{err}");
}

#[test]
fn a_wrong_dtype_is_refused() {
    let mut raw = lenet5_raw(&LeNet5::new(1));
    let values: Vec<f64> =
        raw[0].bytes.chunks(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap()))).collect();
    raw[0].dtype = "F64";
    raw[0].bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let err = refused("dtype", &build(&lenet5_metadata(), &raw));
    let WeightsErrorKind::Dtype { tensor, dtype, .. } = err.kind() else { panic!("{err:?}") };
    assert_eq!((tensor.as_str(), dtype.as_str()), ("conv1.weight", "F64"));
    assert!(err.to_string().contains("holds F64 values but only F32 can be loaded"), "{err}");
}

#[test]
fn missing_unexpected_and_misshapen_tensors_are_named() {
    let mut raw = lenet5_raw(&LeNet5::new(1));
    raw.remove(7); // dense2.bias
    let err = refused("missing", &build(&lenet5_metadata(), &raw));
    let WeightsErrorKind::Tensors { missing, unexpected, wrong_shape, .. } = err.kind() else { panic!("{err:?}") };
    assert_eq!((missing.as_slice(), unexpected.len(), wrong_shape.len()), (&["dense2.bias".to_owned()][..], 0, 0));
    assert!(err.to_string().contains("missing tensors `dense2.bias`"), "{err}");

    let mut raw = lenet5_raw(&LeNet5::new(1));
    raw.push(Raw { name: "dense4.bias".into(), dtype: "F32", shape: vec![1], offsets: None, bytes: vec![0; 4] });
    raw[0].shape = vec![6, 25];
    let err = refused("unexpected", &build(&lenet5_metadata(), &raw));
    let WeightsErrorKind::Tensors { missing, unexpected, wrong_shape, .. } = err.kind() else { panic!("{err:?}") };
    assert!(missing.is_empty());
    assert_eq!(unexpected, &["dense4.bias".to_owned()]);
    assert_eq!(wrong_shape.len(), 1);
    let text = err.to_string();
    assert!(text.contains("unexpected tensors `dense4.bias`"), "{text}");
    assert!(text.contains("tensor `conv1.weight` has shape [6, 25] where the model holds [6, 1, 5, 5]"), "{text}");
}

#[test]
fn offsets_out_of_range_are_refused() {
    let mut raw = lenet5_raw(&LeNet5::new(1));
    let last = raw.len() - 1;
    let data_len: usize = raw.iter().map(|r| r.bytes.len()).sum();
    raw[last].offsets = Some([data_len + 1000, data_len + 1040]);
    let err = refused("offsets", &build(&lenet5_metadata(), &raw));
    let WeightsErrorKind::Offsets { tensor, .. } = err.kind() else { panic!("{err:?}") };
    assert_eq!(tensor, "dense3.bias");
    assert!(err.to_string().contains("run past the end of the data section"), "{err}");

    let mut raw = lenet5_raw(&LeNet5::new(1));
    raw[1].offsets = Some([0, 24]); // conv1.bias on top of conv1.weight
    let err = refused("overlap", &build(&lenet5_metadata(), &raw));
    assert!(err.to_string().contains("overlap those of tensor"), "{err}");
}

#[test]
fn a_file_of_another_version_or_program_is_refused() {
    let raw = lenet5_raw(&LeNet5::new(1));
    let mut meta = lenet5_metadata();
    meta[1].1 = "2";
    let err = refused("version", &build(&meta, &raw));
    assert!(matches!(err.kind(), WeightsErrorKind::Version { found } if found == "2"), "{err:?}");

    let err = refused("pytorch_to_load", &fs::read(fixture("lenet5.safetensors")).unwrap());
    assert!(matches!(err.kind(), WeightsErrorKind::NotCnnFile { .. }), "{err:?}");
    assert!(err.to_string().contains("read it with `load_pytorch`"), "{err}");

    let err = refused_by::<LeNet5>("cnn_to_load_pytorch", &build(&lenet5_metadata(), &raw), load_pytorch);
    assert!(matches!(err.kind(), WeightsErrorKind::CnnFile), "{err:?}");
}

#[test]
fn pytorch_files_of_another_network_or_dtype_are_refused() {
    let lenet5 = fs::read(fixture("lenet5.safetensors")).unwrap();
    // KerasLeNet5 has no padding: its first dense layer takes 256 inputs, not 400.
    let err = refused_by::<KerasLeNet5>("pytorch_keras", &lenet5, load_pytorch);
    let WeightsErrorKind::Tensors { wrong_shape, .. } = err.kind() else { panic!("{err:?}") };
    assert_eq!(wrong_shape.len(), 1);
    let text = err.to_string();
    assert!(text.contains("tensor `7.weight` has shape [120, 400] where the model holds [120, 256]"), "{text}");
    assert!(
        text.contains(
            "expected the `state_dict` of nn.Sequential(0: Conv2d(1, 6, (5, 5)), 1: Sigmoid, 2: MaxPool2d, 3: Conv2d(6, \
             16, (5, 5)), 4: Sigmoid, 5: MaxPool2d, 6: Flatten, 7: Linear(256, 120), 8: Sigmoid, 9: Linear(120, 84), \
             10: Sigmoid, 11: Linear(84, 10), 12: Softmax)"
        ),
        "{text}"
    );

    let err = refused_by::<LeNet5BatchNorm>("pytorch_bn", &lenet5, load_pytorch);
    let WeightsErrorKind::Tensors { missing, unexpected, .. } = err.kind() else { panic!("{err:?}") };
    assert!(missing.contains(&"2.running_mean".to_owned()) && unexpected.contains(&"7.bias".to_owned()), "{err}");
    assert!(err.to_string().contains("2: BatchNorm2d(6)"), "{err}");
    assert!(err.to_string().contains("11: BatchNorm1d(120)"), "{err}");

    let half = vec![Raw {
        name: "0.weight".into(),
        dtype: "F16",
        shape: vec![6, 1, 5, 5],
        offsets: None,
        bytes: vec![0; 300],
    }];
    let err = refused_by::<LeNet5>("pytorch_f16", &build(&[("format", "pt")], &half), load_pytorch);
    assert!(matches!(err.kind(), WeightsErrorKind::Dtype { .. }), "{err:?}");
    assert!(err.to_string().contains("`model.float()`"), "{err}");

    let counter = vec![Raw {
        name: "2.num_batches_tracked".into(),
        dtype: "F32",
        shape: vec![],
        offsets: None,
        bytes: vec![0; 4],
    }];
    let err = refused_by::<LeNet5BatchNorm>("pytorch_counter", &build(&[], &counter), load_pytorch);
    assert!(matches!(err.kind(), WeightsErrorKind::Dtype { expected: "I64", .. }), "{err:?}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let dir = scratch("missing_file");
    let path = dir.join("nothing.safetensors");
    let err = load(&mut LeNet5::new(1), &path).unwrap_err();
    assert!(matches!(err.kind(), WeightsErrorKind::Read(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.to_string().contains("cannot read the file"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn save_overwrites_atomically_and_leaves_no_temporary_file() {
    let dir = scratch("atomic");
    let path = dir.join("sub").join("model.safetensors");
    let (first, second) = (LeNet5::new(1), LeNet5::new(2));
    save(&first, &path).unwrap();
    save(&second, &path).unwrap();
    let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("model.safetensors")]);
    let mut model = LeNet5::new(3);
    load(&mut model, &path).unwrap();
    assert_eq!(snapshot(&model), snapshot(&second));

    // A failed save (here: the target is a directory) reports the file, keeps what was there and
    // leaves no temporary file.
    let blocked = dir.join("blocked");
    fs::create_dir_all(blocked.join("inside")).unwrap();
    let err = save(&first, &blocked).unwrap_err();
    assert!(matches!(err.kind(), WeightsErrorKind::Write(_)), "{err:?}");
    assert!(err.to_string().contains("cannot write the file"), "{err}");
    let mut names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, [std::ffi::OsString::from("blocked"), std::ffi::OsString::from("sub")]);
    fs::remove_dir_all(&dir).unwrap();
}
