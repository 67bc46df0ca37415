//! The serde [`Description`] of a network: the `cnn!` notation as data, read from and written
//! to JSON, and checked by `cnn-spec` as declarations are.

use std::fmt;

use cnn_spec::{Activation, Layer, Network, Padding, PoolKind, Shape};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::build::{self, BuildError, Diagnostic};

/// A network as data: its name, the shape of one input sample and its layers, as in a `cnn!`
/// declaration. Read it with [`Description::from_json`] (or any serde format), check it with
/// [`Description::network`], build a model with
/// [`DynModel::from_description`](super::DynModel::from_description) (or straight from JSON with
/// [`DynModel::from_json`](super::DynModel::from_json)); [`DynModel::description`](super::DynModel::description)
/// gives it back.
///
/// A description names the same layers, options and defaults as the notation, one JSON object
/// per layer, tagged by `"type"`. It is only a representation: the network it describes is
/// checked by [`Network::new`], the code that checks the macro's declarations, so every rule and
/// every message is the notation's. Unknown fields, unknown layer types and values that cannot be
/// what they stand for (a negative size, a fractional count, an unknown padding) are refused while
/// reading the JSON.
///
/// LeNet-5 from the Keras tutorial, as JSON and as its declaration:
///
/// ```
/// use cnn_runtime::dynamic::{DynModel, LayerDescription};
/// use cnn_runtime::Init;
///
/// let json = r#"{
///   "name": "LeNet5",
///   "input": [1, 28, 28],
///   "layers": [
///     {"type": "Conv2D", "filters": 6, "kernel": 5, "activation": "sigmoid"},
///     {"type": "MaxPool", "size": 2},
///     {"type": "Conv2D", "filters": 16, "kernel": [5, 5], "activation": "sigmoid"},
///     {"type": "MaxPool", "size": 2},
///     {"type": "Flatten"},
///     {"type": "Dense", "units": 120, "activation": "sigmoid"},
///     {"type": "Dense", "units": 84, "activation": "sigmoid"},
///     {"type": "Dense", "units": 10, "activation": "softmax"}
///   ]
/// }"#;
/// let from_json = DynModel::from_json(json, Init::GlorotUniform, 42)?;
/// let from_text = DynModel::from_declaration(
///     "input 1@28x28, Conv2D 6@5x5 sigmoid, MaxPool 2, Conv2D 16@5x5 sigmoid, MaxPool 2, \
///      Flatten, Dense 120 sigmoid, Dense 84 sigmoid, Dense 10 softmax",
///     Init::GlorotUniform,
///     42,
/// )?;
/// assert_eq!(from_json.network(), from_text.network());
/// assert_eq!(from_json.network().trainable_params(), 44_426);
///
/// // And back: a model's description, with every default left out.
/// let description = from_text.description();
/// assert_eq!((description.name.as_str(), description.layers.len()), ("Dynamic", 8));
/// assert_eq!(description.layers[1], LayerDescription::MaxPool { size: [2, 2], stride: None });
/// assert!(description.to_json().starts_with("{\n  \"name\": \"Dynamic\",\n  \"input\": [\n    1,"));
/// # Ok::<(), cnn_runtime::dynamic::BuildError>(())
/// ```
///
/// The layers, with their defaults (every default is the notation's):
///
/// | `"type"` | fields |
/// | --- | --- |
/// | `"Conv2D"` | `"filters": 6`, `"kernel": 5` or `[5, 3]`; optional `"stride"` (`1` or `[2, 1]`, default 1), `"padding"` (`"valid"` (default), `"same"`, `2` or `[2, 1]`), `"activation"` |
/// | `"MaxPool"`, `"AvgPool"` | `"size": 2` or `[3, 2]`; optional `"stride"` (default: the size) |
/// | `"Flatten"`, `"BatchNorm"` | none |
/// | `"Dense"` | `"units": 120`; optional `"activation"` |
/// | `"ReLU"`, `"Sigmoid"`, `"Tanh"`, `"Softmax"` | none |
/// | `"LeakyReLU"` | optional `"slope"` (default 0.01) |
/// | `"Dropout"` | `"p": 0.5` |
/// | `"ZeroPad"` | `"size": 2` or `[2, 1]` |
///
/// An activation is `"relu"`, `"sigmoid"`, `"tanh"`, `"softmax"`, `"leaky_relu"` (slope 0.01) or
/// `{"leaky_relu": 0.2}`. The input is `[channels, rows, columns]` or `[features]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// The model's name, `"Dynamic"` when the JSON has none.
    #[serde(default = "default_name")]
    pub name: String,
    /// One sample: `[channels, rows, columns]` for an image, `[features]` for a flat vector.
    pub input: Vec<usize>,
    /// The layers, in order.
    #[serde(deserialize_with = "deserialize_layers")]
    pub layers: Vec<LayerDescription>,
}

fn default_name() -> String {
    String::from(build::DEFAULT_NAME)
}

/// One layer of a [`Description`], named and tagged (`"type"`) as in the notation. Optional
/// fields are `None` when not given, which means the notation's default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum LayerDescription {
    /// `Conv2D 6@5x5 [stride S] [padding P] [activation]`.
    Conv2D {
        /// Output channels.
        filters: usize,
        /// `[rows, columns]` of the kernel; JSON `5` or `[5, 3]`.
        #[serde(with = "repr")]
        kernel: [usize; 2],
        /// Default `[1, 1]`; JSON `1` or `[2, 1]`.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        stride: Option<[usize; 2]>,
        /// Default [`Padding::Valid`]; JSON `"valid"`, `"same"`, `2` or `[2, 1]`.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        padding: Option<Padding>,
        /// Applied to the output; JSON `"relu"`, …, `{"leaky_relu": 0.2}`.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        activation: Option<Activation>,
    },
    /// `MaxPool 2 [stride S]`.
    MaxPool {
        /// The window, `[rows, columns]`; JSON `2` or `[3, 2]`.
        #[serde(with = "repr")]
        size: [usize; 2],
        /// Default: the window.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        stride: Option<[usize; 2]>,
    },
    /// `AvgPool 2 [stride S]`.
    AvgPool {
        /// The window, `[rows, columns]`; JSON `2` or `[3, 2]`.
        #[serde(with = "repr")]
        size: [usize; 2],
        /// Default: the window.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        stride: Option<[usize; 2]>,
    },
    /// `Flatten`.
    Flatten,
    /// `Dense 120 [activation]`.
    Dense {
        /// Output features.
        units: usize,
        /// Applied to the output; JSON `"relu"`, …, `{"leaky_relu": 0.2}`.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]
        activation: Option<Activation>,
    },
    /// `ReLU`.
    ReLU,
    /// `Sigmoid`.
    Sigmoid,
    /// `Tanh`.
    Tanh,
    /// `Softmax`.
    Softmax,
    /// `LeakyReLU [slope]`.
    LeakyReLU {
        /// Default [`Activation::DEFAULT_LEAKY_SLOPE`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slope: Option<f32>,
    },
    /// `BatchNorm`.
    BatchNorm,
    /// `Dropout 0.5`.
    Dropout {
        /// The fraction dropped in training.
        p: f32,
    },
    /// `ZeroPad 2`.
    ZeroPad {
        /// Zero rows above and below, zero columns left and right; JSON `2` or `[2, 1]`.
        #[serde(with = "repr")]
        size: [usize; 2],
    },
}

impl LayerDescription {
    /// The layer in the shared vocabulary, with every default filled in by `cnn-spec`'s
    /// constructors. Not checked: that is [`Network::new`]'s job.
    pub fn to_layer(&self) -> Layer {
        let activation = |layer: Layer, a: &Option<Activation>| match a {
            Some(a) => layer.with_activation(*a),
            None => layer,
        };
        let stride = |layer: Layer, s: &Option<[usize; 2]>| match s {
            Some(s) => layer.with_stride(*s),
            None => layer,
        };
        match self {
            LayerDescription::Conv2D { filters, kernel, stride: s, padding, activation: a } => {
                let layer = stride(Layer::conv2d(*filters, *kernel), s);
                let layer = match padding {
                    Some(p) => layer.with_padding(*p),
                    None => layer,
                };
                activation(layer, a)
            }
            LayerDescription::MaxPool { size, stride: s } => stride(Layer::max_pool(*size), s),
            LayerDescription::AvgPool { size, stride: s } => stride(Layer::avg_pool(*size), s),
            LayerDescription::Flatten => Layer::Flatten,
            LayerDescription::Dense { units, activation: a } => activation(Layer::dense(*units), a),
            LayerDescription::ReLU => Layer::Activation(Activation::Relu),
            LayerDescription::Sigmoid => Layer::Activation(Activation::Sigmoid),
            LayerDescription::Tanh => Layer::Activation(Activation::Tanh),
            LayerDescription::Softmax => Layer::Activation(Activation::Softmax),
            LayerDescription::LeakyReLU { slope } => {
                Layer::Activation(Activation::LeakyRelu { slope: slope.unwrap_or(Activation::DEFAULT_LEAKY_SLOPE) })
            }
            LayerDescription::BatchNorm => Layer::BatchNorm,
            LayerDescription::Dropout { p } => Layer::Dropout { p: *p },
            LayerDescription::ZeroPad { size: [h, w] } => Layer::ZeroPad { h: *h, w: *w },
        }
    }

    /// The description of `layer`, leaving out every option that has its default value (as the
    /// canonical declaration does). The defaults are read off `cnn-spec`'s constructors.
    pub fn from_layer(layer: &Layer) -> LayerDescription {
        // `set` is `plain` with one option applied: the option is its default iff nothing changed.
        let given = |plain: &Layer, set: Layer| set != *plain;
        match *layer {
            Layer::Conv2d { filters, kernel, stride, padding, activation } => {
                let plain = Layer::conv2d(filters, kernel);
                LayerDescription::Conv2D {
                    filters,
                    kernel,
                    stride: given(&plain, plain.clone().with_stride(stride)).then_some(stride),
                    padding: given(&plain, plain.clone().with_padding(padding)).then_some(padding),
                    activation,
                }
            }
            Layer::Pool { kind, size, stride } => {
                let plain = match kind {
                    PoolKind::Max => Layer::max_pool(size),
                    PoolKind::Avg => Layer::avg_pool(size),
                };
                let stride = given(&plain, plain.clone().with_stride(stride)).then_some(stride);
                match kind {
                    PoolKind::Max => LayerDescription::MaxPool { size, stride },
                    PoolKind::Avg => LayerDescription::AvgPool { size, stride },
                }
            }
            Layer::Flatten => LayerDescription::Flatten,
            Layer::Dense { units, activation } => LayerDescription::Dense { units, activation },
            Layer::Activation(Activation::Relu) => LayerDescription::ReLU,
            Layer::Activation(Activation::Sigmoid) => LayerDescription::Sigmoid,
            Layer::Activation(Activation::Tanh) => LayerDescription::Tanh,
            Layer::Activation(Activation::Softmax) => LayerDescription::Softmax,
            Layer::Activation(Activation::LeakyRelu { slope }) => LayerDescription::LeakyReLU {
                slope: (slope.to_bits() != Activation::DEFAULT_LEAKY_SLOPE.to_bits()).then_some(slope),
            },
            Layer::BatchNorm => LayerDescription::BatchNorm,
            Layer::Dropout { p } => LayerDescription::Dropout { p },
            Layer::ZeroPad { h, w } => LayerDescription::ZeroPad { size: [h, w] },
        }
    }
}

impl Description {
    /// Reads a description from JSON. Errors carry serde_json's line and column and, inside
    /// `"layers"`, the layer's number and type: ``layer 2 (Conv2D): unknown field `filter`, …``.
    /// The network is not checked yet: see [`Description::network`].
    pub fn from_json(json: &str) -> Result<Description, BuildError> {
        serde_json::from_str(json).map_err(|e| BuildError::from_json(&e, json))
    }

    /// The description as pretty-printed JSON, one field per line.
    pub fn to_json(&self) -> String {
        // Every field serializes to JSON (a float that is not finite becomes `null`).
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The description of a checked network, under `name`; every option at its default is left
    /// out. Its [`network`](Description::network) is `network` again.
    pub fn from_network(name: impl Into<String>, network: &Network) -> Description {
        let input = match network.input() {
            Shape::Image { c, h, w } => vec![c, h, w],
            Shape::Flat { n } => vec![n],
        };
        let layers = network.layers().iter().map(|plan| LayerDescription::from_layer(&plan.layer)).collect();
        Description { name: name.into(), input, layers }
    }

    /// The description of the network a declaration defines (`struct Name { input …, … }` or
    /// just its body, named `"Dynamic"`), checked as the `cnn!` macro checks it. Errors are the
    /// macro's, at the line and column of `text`: see
    /// [`DynModel::from_declaration`](super::DynModel::from_declaration).
    pub fn from_declaration(text: &str) -> Result<Description, BuildError> {
        let (name, network) = build::parse_declaration(text)?;
        Ok(Description::from_network(name, &network))
    }

    /// The input shape: `[c, h, w]` is an image, `[n]` a flat vector.
    pub fn input_shape(&self) -> Result<Shape, BuildError> {
        match self.input[..] {
            [c, h, w] => Ok(Shape::image(c, h, w)),
            [n] => Ok(Shape::flat(n)),
            _ => Err(BuildError::new(vec![Diagnostic::unplaced(format!(
                "input: expected [channels, rows, columns] for an image or [features] for a flat vector, got {:?}",
                self.input
            ))])),
        }
    }

    /// The layers in the shared vocabulary, defaults filled in.
    pub fn to_layers(&self) -> Vec<Layer> {
        self.layers.iter().map(LayerDescription::to_layer).collect()
    }

    /// The checked network: [`Network::new`] applies every rule of the notation, and each broken
    /// rule is an error naming its layer, `layer 3 (Conv2D 16@5x5): <the macro's message>`.
    pub fn network(&self) -> Result<Network, BuildError> {
        let input = self.input_shape()?;
        let layers = self.to_layers();
        Network::new(input, layers.clone()).map_err(|errors| BuildError::from_spec(&errors, &layers))
    }
}

/// `"layers"`: each element read on its own, so an error names the layer it is in.
fn deserialize_layers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<LayerDescription>, D::Error> {
    struct Layers;

    impl<'de> Visitor<'de> for Layers {
        type Value = Vec<LayerDescription>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of layers, e.g. [{\"type\": \"Dense\", \"units\": 10}]")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut layers = Vec::new();
            // Errors of the JSON itself (syntax, end of input) pass through as serde_json made them.
            while let Some(element) = seq.next_element::<LayerObject>()? {
                let number = layers.len() + 1;
                let kind = |object: &serde_json::Map<String, serde_json::Value>| match object.get("type") {
                    Some(serde_json::Value::String(kind)) => format!(" ({kind})"),
                    _ => String::new(),
                };
                let object = match element {
                    LayerObject::Object(object) => object,
                    LayerObject::Repeated(key, object) => {
                        let kind = kind(&object);
                        return Err(de::Error::custom(format_args!("layer {number}{kind}: duplicate field `{key}`")));
                    }
                    LayerObject::Other(what) => {
                        return Err(de::Error::custom(format_args!(
                            "layer {number}: invalid type: {what}, expected {LAYER_OBJECT}"
                        )));
                    }
                };
                let kind = kind(&object);
                let object = serde_json::Value::Object(object);
                let layer = match LayerDescription::deserialize(&object) {
                    Ok(layer) => layer,
                    Err(e) => return Err(de::Error::custom(format_args!("layer {number}{kind}: {e}"))),
                };
                // serde lets a unit variant (`Flatten`) ignore other fields; what it keeps, it writes.
                let written = serde_json::to_value(&layer).unwrap_or_default();
                let mut fields = object.as_object().into_iter().flat_map(|o| o.keys());
                if let Some(extra) = fields.find(|key| written.get(key.as_str()).is_none()) {
                    return Err(de::Error::custom(format_args!(
                        "layer {number}{kind}: unknown field `{extra}`, there are no fields"
                    )));
                }
                layers.push(layer);
            }
            Ok(layers)
        }
    }

    deserializer.deserialize_seq(Layers)
}

const LAYER_OBJECT: &str = "a layer object such as {\"type\": \"Dense\", \"units\": 10}";

/// One element of `"layers"` as read: an object, an object that repeats a key (JSON allows it, a
/// layer does not), or what it is instead of an object. Reading fails only on malformed JSON.
enum LayerObject {
    Object(serde_json::Map<String, serde_json::Value>),
    Repeated(String, serde_json::Map<String, serde_json::Value>),
    /// serde's words for what was found (`string "Flatten"`).
    Other(String),
}

impl<'de> Deserialize<'de> for LayerObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Element;

        fn other<E>(what: de::Unexpected) -> Result<LayerObject, E> {
            Ok(LayerObject::Other(what.to_string()))
        }

        impl<'de> Visitor<'de> for Element {
            type Value = LayerObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(LAYER_OBJECT)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LayerObject, A::Error> {
                let mut object = serde_json::Map::new();
                let mut repeated = None;
                while let Some(key) = map.next_key::<String>()? {
                    if object.contains_key(&key) {
                        map.next_value::<IgnoredAny>()?;
                        repeated.get_or_insert(key);
                    } else {
                        let value = map.next_value()?;
                        object.insert(key, value);
                    }
                }
                Ok(match repeated {
                    Some(key) => LayerObject::Repeated(key, object),
                    None => LayerObject::Object(object),
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LayerObject, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                other(de::Unexpected::Seq)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<LayerObject, E> {
                other(de::Unexpected::Str(s))
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<LayerObject, E> {
                other(de::Unexpected::Bool(b))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<LayerObject, E> {
                other(de::Unexpected::Signed(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<LayerObject, E> {
                other(de::Unexpected::Unsigned(n))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<LayerObject, E> {
                other(de::Unexpected::Float(n))
            }

            fn visit_unit<E: de::Error>(self) -> Result<LayerObject, E> {
                other(de::Unexpected::Unit)
            }
        }

        deserializer.deserialize_any(Element)
    }
}

/// How a value of the notation is written in JSON.
trait Repr: Sized {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// `#[serde(with = "repr")]` for a field of a [`Repr`] type.
mod repr {
    use super::Repr;
    use serde::{Deserializer, Serializer};

    pub fn serialize<T: Repr, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        value.write(serializer)
    }

    pub fn deserialize<'de, T: Repr, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
        T::read(deserializer)
    }
}

/// `#[serde(default, skip_serializing_if = "Option::is_none", with = "optional")]` for an
/// optional field of a [`Repr`] type: absent means the default, `null` is not a value.
mod optional {
    use super::Repr;
    use serde::{Deserializer, Serializer};

    pub fn serialize<T: Repr, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.write(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Repr, D: Deserializer<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
        T::read(deserializer).map(Some)
    }
}

const SIZE: &str = "a whole number such as 5, or [rows, columns] such as [5, 3]";

/// A size: `5` (square) or `[5, 3]`.
impl Repr for [usize; 2] {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let [h, w] = *self;
        if h == w {
            serializer.serialize_u64(h as u64)
        } else {
            let mut seq = serializer.serialize_seq(Some(2))?;
            seq.serialize_element(&h)?;
            seq.serialize_element(&w)?;
            seq.end()
        }
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor(SIZE))
    }
}

/// Reads a size; `.0` says what is expected.
struct SizeVisitor(&'static str);

impl<'de> Visitor<'de> for SizeVisitor {
    type Value = [usize; 2];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<[usize; 2], E> {
        let n = usize::try_from(n).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))?;
        Ok([n, n])
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<[usize; 2], E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(n), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[usize; 2], A::Error> {
        let h = seq.next_element::<usize>()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let w = seq.next_element::<usize>()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let mut len = 2;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            len += 1;
        }
        if len != 2 {
            return Err(de::Error::invalid_length(len, &self));
        }
        Ok([h, w])
    }
}

const PADDING: &str = "a padding: \"valid\", \"same\", a whole number such as 2, or [rows, columns] such as [2, 1]";

/// `"valid"`, `"same"`, `2` or `[2, 1]`.
impl Repr for Padding {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Padding::Valid => serializer.serialize_str("valid"),
            Padding::Same => serializer.serialize_str("same"),
            Padding::Explicit { h, w } => [h, w].write(serializer),
        }
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PaddingVisitor;

        impl<'de> Visitor<'de> for PaddingVisitor {
            type Value = Padding;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(PADDING)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Padding, E> {
                match s {
                    "valid" => Ok(Padding::Valid),
                    "same" => Ok(Padding::Same),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Padding, E> {
                SizeVisitor(PADDING).visit_u64(n).map(explicit)
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Padding, E> {
                SizeVisitor(PADDING).visit_i64(n).map(explicit)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Padding, A::Error> {
                SizeVisitor(PADDING).visit_seq(seq).map(explicit)
            }
        }

        fn explicit([h, w]: [usize; 2]) -> Padding {
            Padding::Explicit { h, w }
        }

        deserializer.deserialize_any(PaddingVisitor)
    }
}

/// The activations an option can name, by [`Activation::option_name`].
const ACTIVATIONS: [Activation; 5] = [
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
    Activation::LeakyRelu { slope: Activation::DEFAULT_LEAKY_SLOPE },
];

const ACTIVATION_NAMES: &[&str] = &["relu", "sigmoid", "tanh", "softmax", "leaky_relu"];

/// `"relu"`, `"sigmoid"`, `"tanh"`, `"softmax"`, `"leaky_relu"` or `{"leaky_relu": 0.2}`.
impl Repr for Activation {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Activation::LeakyRelu { slope } if slope.to_bits() != Activation::DEFAULT_LEAKY_SLOPE.to_bits() => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(self.option_name(), &slope)?;
                map.end()
            }
            _ => serializer.serialize_str(self.option_name()),
        }
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ActivationVisitor;

        impl<'de> Visitor<'de> for ActivationVisitor {
            type Value = Activation;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an activation: \"relu\", \"sigmoid\", \"tanh\", \"softmax\", \"leaky_relu\" or {\"leaky_relu\": 0.2}")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Activation, E> {
                ACTIVATIONS
                    .into_iter()
                    .find(|a| a.option_name() == s)
                    .ok_or_else(|| E::unknown_variant(s, ACTIVATION_NAMES))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Activation, A::Error> {
                let leaky = Activation::LeakyRelu { slope: Activation::DEFAULT_LEAKY_SLOPE };
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::invalid_length(0, &self));
                };
                if key != leaky.option_name() {
                    return Err(de::Error::custom(format_args!(
                        "unknown activation `{key}` with a value: the one activation with a value is \
                         {{\"leaky_relu\": 0.2}} (a slope)"
                    )));
                }
                let slope: f32 = map.next_value()?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(2, &self));
                }
                Ok(Activation::LeakyRelu { slope })
            }
        }

        deserializer.deserialize_any(ActivationVisitor)
    }
}
