//! The safetensors container: reading and checking a whole file, writing one, and [`save`] and
//! [`load`] for this crate's own weight files.

use std::collections::HashMap;
use std::path::Path;

use super::json::{self, Value};
use super::{layout, Layout, ShapeMismatch, WeightsError, WeightsErrorKind};
use crate::trainable::Trainable;

/// The largest header accepted (the limit of the reference implementation).
pub(crate) const MAX_HEADER_LEN: u64 = 100_000_000;

/// The `version` metadata this crate writes and reads.
pub(crate) const VERSION: &str = "1";

/// The `format` metadata this crate writes.
pub(crate) const FORMAT: &str = "cnn";

/// Bytes per element of the dtypes of the safetensors specification that have whole-byte elements.
fn dtype_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// One tensor of a checked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) dtype: String,
    pub(crate) shape: Vec<usize>,
    /// Byte range in the data section.
    pub(crate) begin: usize,
    pub(crate) end: usize,
}

/// A safetensors file whose structure has been checked: every tensor's bytes lie in the data
/// section, match its dtype and shape, and the tensors tile the data section exactly.
#[derive(Debug)]
pub(crate) struct File<'a> {
    /// The `__metadata__` pairs, in file order (empty when there are none).
    pub(crate) metadata: Vec<(String, String)>,
    /// The tensors, in header order.
    pub(crate) entries: Vec<Entry>,
    /// The data section.
    pub(crate) data: &'a [u8],
}

impl File<'_> {
    /// The metadata value of `key`.
    pub(crate) fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The tensor `entry` as `f32` values (its dtype must be `F32`).
    fn f32_values(&self, entry: &Entry) -> Vec<f32> {
        let bytes = self.data.get(entry.begin..entry.end).unwrap_or_default();
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

fn header_err(problem: impl Into<String>) -> WeightsErrorKind {
    WeightsErrorKind::Header(problem.into())
}

fn as_usize(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok())
}

fn parse_entry(name: &str, value: &Value) -> Result<Entry, WeightsErrorKind> {
    let Value::Object(fields) = value else {
        return Err(header_err(format!("tensor `{name}` is described by {} instead of an object", value.kind())));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (key, v) in fields {
        match key.as_str() {
            "dtype" => dtype = Some(v),
            "shape" => shape = Some(v),
            "data_offsets" => offsets = Some(v),
            other => {
                return Err(header_err(format!(
                    "tensor `{name}` has a field `{other}`; only `dtype`, `shape` and `data_offsets` are allowed"
                )))
            }
        }
    }
    let missing = |field: &str| header_err(format!("tensor `{name}` has no `{field}`"));
    let Value::String(dtype) = dtype.ok_or_else(|| missing("dtype"))? else {
        return Err(header_err(format!("the `dtype` of tensor `{name}` is not a string")));
    };
    let Value::Array(dims) = shape.ok_or_else(|| missing("shape"))? else {
        return Err(header_err(format!("the `shape` of tensor `{name}` is not an array")));
    };
    let shape = dims.iter().map(as_usize).collect::<Option<Vec<usize>>>().ok_or_else(|| {
        header_err(format!("the `shape` of tensor `{name}` holds something other than non-negative integers"))
    })?;
    let bad_offsets = || header_err(format!("the `data_offsets` of tensor `{name}` are not two non-negative integers"));
    let Value::Array(range) = offsets.ok_or_else(|| missing("data_offsets"))? else {
        return Err(bad_offsets());
    };
    let [begin, end] = range.as_slice() else {
        return Err(bad_offsets());
    };
    let (Some(begin), Some(end)) = (as_usize(begin), as_usize(end)) else {
        return Err(bad_offsets());
    };
    Ok(Entry { name: name.to_owned(), dtype: dtype.clone(), shape, begin, end })
}

/// Reads and checks the structure of a whole safetensors file (not what its tensors are).
pub(crate) fn parse(bytes: &[u8]) -> Result<File<'_>, WeightsErrorKind> {
    let file_len = bytes.len() as u64;
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(WeightsErrorKind::TooShort { len: file_len });
    };
    let header_len = u64::from_le_bytes(*len_bytes);
    if header_len > MAX_HEADER_LEN || header_len > rest.len() as u64 {
        return Err(WeightsErrorKind::HeaderLength { header_len, file_len });
    }
    // header_len <= rest.len(), so it fits a usize.
    let (header, data) = rest.split_at(header_len as usize);
    let header = std::str::from_utf8(header)
        .map_err(|e| header_err(format!("the header is not valid UTF-8 (at byte {})", e.valid_up_to())))?;
    if !header.starts_with('{') {
        return Err(header_err("the header does not start with `{`"));
    }
    let root = json::parse(header).map_err(|e| header_err(format!("invalid JSON: {e}")))?;
    let Value::Object(items) = root else {
        return Err(header_err(format!("the header is {} instead of an object", root.kind())));
    };

    let mut metadata = Vec::new();
    let mut entries = Vec::with_capacity(items.len());
    for (name, value) in &items {
        if name == "__metadata__" {
            let Value::Object(pairs) = value else {
                return Err(header_err(format!("`__metadata__` is {} instead of an object", value.kind())));
            };
            for (key, v) in pairs {
                let Value::String(v) = v else {
                    return Err(header_err(format!("metadata `{key}` is {} instead of a string", v.kind())));
                };
                metadata.push((key.clone(), v.clone()));
            }
        } else {
            entries.push(parse_entry(name, value)?);
        }
    }

    for e in &entries {
        let Some(size) = dtype_size(&e.dtype) else {
            return Err(WeightsErrorKind::Dtype { tensor: e.name.clone(), dtype: e.dtype.clone(), expected: "F32" });
        };
        let offsets = format!("data_offsets [{}, {}]", e.begin, e.end);
        let bytes = e.shape.iter().try_fold(size, |n, &d| n.checked_mul(d));
        let Some(bytes) = bytes else {
            return Err(WeightsErrorKind::Offsets {
                tensor: e.name.clone(),
                problem: format!("its shape {:?} has more elements than memory can hold", e.shape),
            });
        };
        if e.end < e.begin {
            return Err(WeightsErrorKind::Offsets {
                tensor: e.name.clone(),
                problem: format!("its {offsets} end before they begin"),
            });
        }
        if e.end - e.begin != bytes {
            if e.end > data.len() {
                return Err(out_of_range(e, data.len()));
            }
            return Err(WeightsErrorKind::Offsets {
                tensor: e.name.clone(),
                problem: format!(
                    "its {offsets} span {} bytes but {} of shape {:?} take {bytes}",
                    e.end - e.begin,
                    e.dtype,
                    e.shape
                ),
            });
        }
    }

    // The tensors must tile the data section: sorted by offset, each begins where the last ended.
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_by_key(|e| (e.begin, e.end));
    let mut covered = 0usize;
    let mut previous: Option<&Entry> = None;
    for e in order {
        if e.begin != covered {
            if e.end > data.len() {
                return Err(out_of_range(e, data.len()));
            }
            let problem = match previous {
                Some(p) if e.begin < covered => {
                    format!(
                        "its bytes {}..{} overlap those of tensor `{}` ({}..{})",
                        e.begin, e.end, p.name, p.begin, p.end
                    )
                }
                Some(p) => format!(
                    "its bytes begin at {} but tensor `{}` ends at {}: bytes between tensors belong to none",
                    e.begin, p.name, p.end
                ),
                None => format!("its bytes begin at {} but the first tensor must begin at 0", e.begin),
            };
            return Err(WeightsErrorKind::Offsets { tensor: e.name.clone(), problem });
        }
        covered = e.end;
        previous = Some(e);
    }
    if covered != data.len() {
        return Err(WeightsErrorKind::DataLength { expected: covered as u64, found: data.len() as u64 });
    }
    Ok(File { metadata, entries, data })
}

fn out_of_range(e: &Entry, data_len: usize) -> WeightsErrorKind {
    WeightsErrorKind::Offsets {
        tensor: e.name.clone(),
        problem: format!(
            "its data_offsets [{}, {}] run past the end of the data section, which holds {data_len} bytes",
            e.begin, e.end
        ),
    }
}

/// A safetensors file of `tensors` (name, shape, values) stored as F32 in the order given, with
/// `metadata`; the header is padded with spaces so that the data starts at a multiple of 8.
pub(crate) fn encode(metadata: &[(&str, &str)], tensors: &[(&str, &[usize], &[f32])]) -> Vec<u8> {
    let mut header = String::from("{");
    if !metadata.is_empty() {
        header.push_str("\"__metadata__\":{");
        for (i, (k, v)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str(&json::quote(k));
            header.push(':');
            header.push_str(&json::quote(v));
        }
        header.push('}');
    }
    let mut offset = 0usize;
    for (i, (name, shape, values)) in tensors.iter().enumerate() {
        if i > 0 || !metadata.is_empty() {
            header.push(',');
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + values.len() * 4;
        header.push_str(&format!(
            "{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json::quote(name),
            dims.join(",")
        ));
        offset = end;
    }
    header.push('}');
    while !(8 + header.len()).is_multiple_of(8) {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, values) in tensors {
        for v in values.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, WeightsError> {
    std::fs::read(path).map_err(|e| WeightsError::new(path, WeightsErrorKind::Read(e)))
}

fn model_error(model: &str, problem: String) -> WeightsErrorKind {
    WeightsErrorKind::Model(format!("model {model}: {problem}"))
}

/// Saves every parameter tensor of `model` (BatchNorm running statistics included) to a
/// safetensors file at `path`, with the network's declaration in its metadata (see the
/// [module documentation](super) for the format).
///
/// The file is written beside `path` under a temporary name, flushed to disk, then renamed over
/// `path`: a crash never leaves a half-written file, and a failure leaves any previous file intact.
/// Missing parent directories are created.
///
/// # Errors
/// [`WeightsErrorKind::Write`] when the file cannot be written.
pub fn save<M: Trainable>(model: &M, path: &Path) -> Result<(), WeightsError> {
    let err = |kind| WeightsError::new(path, kind);
    let Layout { tensors: specs, .. } = layout(model).map_err(|p| err(model_error(model.name(), p)))?;
    let mut values: Vec<Vec<f32>> = Vec::with_capacity(specs.len());
    model.visit_params(&mut |_, v| values.push(v.to_vec()));
    let tensors: Vec<(&str, &[usize], &[f32])> =
        specs.iter().zip(&values).map(|(s, v)| (s.name.as_str(), s.shape.as_slice(), v.as_slice())).collect();
    let metadata =
        [("format", FORMAT), ("version", VERSION), ("model", model.name()), ("declaration", model.declaration())];
    let bytes = encode(&metadata, &tensors);
    crate::fsutil::write_atomic(path, &bytes).map_err(|e| err(WeightsErrorKind::Write(e)))
}

/// Loads into `model` the weights that [`save`] wrote to `path` from a model of the same
/// architecture, bit for bit.
///
/// The whole file is checked before anything is copied, so on error the model is unchanged: the
/// safetensors structure (header length, JSON, dtypes, offsets, data length), then that its
/// `declaration` metadata is the model's [`Trainable::declaration`] (a file saved from another
/// network is refused, naming both), then that it holds every tensor of the model, each with
/// its shape, and nothing else.
///
/// # Errors
/// A [`WeightsError`] whose [`kind`](WeightsError::kind) says what is wrong; for a file written by
/// PyTorch, [`WeightsErrorKind::NotCnnFile`] (use [`load_pytorch`](super::load_pytorch)).
pub fn load<M: Trainable>(model: &mut M, path: &Path) -> Result<(), WeightsError> {
    let bytes = read(path)?;
    load_bytes(model, &bytes).map_err(|kind| WeightsError::new(path, kind))
}

fn load_bytes<M: Trainable>(model: &mut M, bytes: &[u8]) -> Result<(), WeightsErrorKind> {
    let file = parse(bytes)?;
    let Some(declaration) = file.meta("declaration") else {
        return Err(WeightsErrorKind::NotCnnFile { format: file.meta("format").map(str::to_owned) });
    };
    if file.meta("format") != Some(FORMAT) {
        return Err(WeightsErrorKind::NotCnnFile { format: file.meta("format").map(str::to_owned) });
    }
    match file.meta("version") {
        Some(VERSION) => {}
        other => return Err(WeightsErrorKind::Version { found: other.unwrap_or("(none)").to_owned() }),
    }
    if declaration != model.declaration() {
        return Err(WeightsErrorKind::Architecture {
            file_model: file.meta("model").unwrap_or("unnamed").to_owned(),
            file_declaration: declaration.to_owned(),
            model: model.name().to_owned(),
            declaration: model.declaration().to_owned(),
        });
    }
    if let Some(e) = file.entries.iter().find(|e| e.dtype != "F32") {
        return Err(WeightsErrorKind::Dtype { tensor: e.name.clone(), dtype: e.dtype.clone(), expected: "F32" });
    }
    let layout = layout(model).map_err(|p| model_error(model.name(), p))?;
    let names: Vec<(&str, &[usize])> = layout.tensors.iter().map(|t| (t.name.as_str(), t.shape.as_slice())).collect();
    fill(model, &file, &names, &[], None)
}

/// Checks that `file` holds exactly the tensors `wanted` (file name, shape; in `visit_params`
/// order) besides the names in `ignored`, then copies them into `model`. Nothing is copied unless
/// every check passes.
pub(crate) fn fill<M: Trainable>(
    model: &mut M,
    file: &File<'_>,
    wanted: &[(&str, &[usize])],
    ignored: &[String],
    expected_layout: Option<String>,
) -> Result<(), WeightsErrorKind> {
    let by_name: HashMap<&str, &Entry> = file.entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    for &(name, shape) in wanted {
        match by_name.get(name) {
            None => missing.push(name.to_owned()),
            Some(e) if e.shape != shape => wrong_shape.push(ShapeMismatch {
                tensor: name.to_owned(),
                expected: shape.to_vec(),
                found: e.shape.clone(),
            }),
            Some(_) => {}
        }
    }
    let unexpected: Vec<String> = file
        .entries
        .iter()
        .filter(|e| !wanted.iter().any(|(n, _)| *n == e.name) && !ignored.contains(&e.name))
        .map(|e| e.name.clone())
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !wrong_shape.is_empty() {
        return Err(WeightsErrorKind::Tensors { missing, unexpected, wrong_shape, expected_layout });
    }
    // Every tensor is present, F32 and of the model's shape: decode them all, then copy.
    let mut values: Vec<Vec<f32>> =
        wanted.iter().filter_map(|(name, _)| by_name.get(name)).map(|e| file.f32_values(e)).collect();
    let mut index = 0;
    let mut short = false;
    model.visit_params_mut(&mut |_, dst| {
        match values.get_mut(index) {
            Some(src) if src.len() == dst.len() => dst.copy_from_slice(src),
            _ => short = true,
        }
        index += 1;
    });
    values.clear();
    if short || index != wanted.len() {
        // `layout` checked every tensor's length against `visit_params`; reaching this means the
        // model's two visitors disagree.
        return Err(model_error(model.name(), "visit_params_mut gives other tensors than visit_params".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn kind(bytes: &[u8]) -> WeightsErrorKind {
        parse(bytes).expect_err("should be refused")
    }

    #[test]
    fn io_encode_then_parse_round_trips_and_aligns_the_data() {
        let a = [1.0f32, -2.5, f32::NAN, 0.0, f32::MIN_POSITIVE, -0.0];
        let b = [3.0f32];
        let bytes =
            encode(&[("format", "cnn"), ("note", "a \"quoted\" value")], &[("a", &[2, 3], &a), ("b", &[1], &b)]);
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + header_len) % 8, 0);
        let file = parse(&bytes).unwrap();
        assert_eq!(file.meta("note"), Some("a \"quoted\" value"));
        assert_eq!(file.entries.len(), 2);
        assert_eq!(
            file.entries[0],
            Entry { name: "a".into(), dtype: "F32".into(), shape: vec![2, 3], begin: 0, end: 24 }
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&file.f32_values(&file.entries[0])), bits(&a));
        assert_eq!(file.f32_values(&file.entries[1]), b);
    }

    #[test]
    fn io_parse_accepts_an_empty_file_and_scalars_and_other_dtypes() {
        assert!(parse(&file_with("{}", &[])).unwrap().entries.is_empty());
        let h = r#"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]}}"#;
        let bytes = file_with(h, &[0; 8]);
        let file = parse(&bytes).unwrap();
        assert_eq!(file.entries[0].shape, Vec::<usize>::new());
    }

    #[test]
    fn io_parse_refuses_broken_structure() {
        assert!(matches!(kind(&[1, 2, 3]), WeightsErrorKind::TooShort { len: 3 }));
        let mut huge = file_with("{}", &[]);
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(kind(&huge), WeightsErrorKind::HeaderLength { header_len: u64::MAX, .. }));
        let mut long = file_with("{}", &[]);
        long[..8].copy_from_slice(&3u64.to_le_bytes());
        assert!(matches!(kind(&long), WeightsErrorKind::HeaderLength { header_len: 3, file_len: 10 }));

        let header = |h: &str| match kind(&file_with(h, &[0; 16])) {
            WeightsErrorKind::Header(p) => p,
            other => panic!("{h}: {other:?}"),
        };
        assert!(header(" {}").contains("does not start with `{`"));
        assert!(header("{\"a\":").contains("invalid JSON"));
        assert!(header("{\"a\":1}").contains("a number instead of an object"));
        assert!(header(r#"{"a":{"dtype":"F32","shape":[1]}}"#).contains("no `data_offsets`"));
        assert!(header(r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#).contains("`shape`"));
        assert!(header(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#).contains("two non-negative"));
        assert!(header(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#).contains("field `x`"));
        assert!(header(r#"{"__metadata__":{"k":1}}"#).contains("metadata `k`"));
        let mut not_utf8 = file_with("{\"\u{e9}\":1}", &[]);
        not_utf8[11] = 0xff;
        assert!(matches!(kind(&not_utf8), WeightsErrorKind::Header(p) if p.contains("UTF-8")));

        let offsets = |h: &str, data: usize| match kind(&file_with(h, &vec![0; data])) {
            WeightsErrorKind::Offsets { tensor, problem } => format!("{tensor}: {problem}"),
            other => panic!("{h}: {other:?}"),
        };
        let t = |name: &str, shape: &str, b: usize, e: usize| {
            format!(r#""{name}":{{"dtype":"F32","shape":{shape},"data_offsets":[{b},{e}]}}"#)
        };
        let two = |x: String, y: String| format!("{{{x},{y}}}");
        assert!(
            offsets(&format!("{{{}}}", t("a", "[2]", 0, 4)), 4).contains("span 4 bytes but F32 of shape [2] take 8")
        );
        assert!(offsets(&format!("{{{}}}", t("a", "[1]", 4, 0)), 4).contains("end before they begin"));
        assert!(offsets(&two(t("a", "[2]", 0, 8), t("b", "[2]", 4, 12)), 12).contains("overlap those of tensor `a`"));
        assert!(offsets(&two(t("a", "[1]", 0, 4), t("b", "[1]", 8, 12)), 12).contains("belong to none"));
        assert!(offsets(&format!("{{{}}}", t("a", "[1]", 4, 8)), 8).contains("must begin at 0"));
        assert!(offsets(&two(t("a", "[1]", 0, 4), t("b", "[1]", 100, 104)), 8).contains("run past the end"));
        assert!(matches!(
            kind(&file_with(&format!("{{{}}}", t("a", "[3]", 0, 12)), &[0; 8])),
            WeightsErrorKind::DataLength { expected: 12, found: 8 }
        ));
        assert!(matches!(
            kind(&file_with(&format!("{{{}}}", t("a", "[1]", 0, 4)), &[0; 8])),
            WeightsErrorKind::DataLength { expected: 4, found: 8 }
        ));
        assert!(matches!(
            kind(&file_with(r#"{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#, &[0])),
            WeightsErrorKind::Dtype { .. }
        ));
        let big = format!("{{{}}}", t("a", &format!("[{}, {}]", usize::MAX, 2), 0, 4));
        assert!(offsets(&big, 4).contains("more elements than memory"));
    }
}
