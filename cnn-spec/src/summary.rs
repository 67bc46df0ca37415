use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use crate::layer::Layer;
use crate::network::LayerPlan;
use crate::shape::Shape;

/// One row of a model's summary table; generated models keep a `&'static [LayerInfo<'static>]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo<'a> {
    /// The layer's name in the model (`conv1`).
    pub name: Cow<'a, str>,
    /// The layer as declared (`Conv2D 6@5x5 relu`).
    pub kind: Cow<'a, str>,
    /// The layer itself, for code that needs its sizes (never parse `kind`).
    pub layer: Layer,
    /// Shape of one input sample.
    pub input: Shape,
    /// Shape of one output sample.
    pub output: Shape,
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters.
    pub non_trainable: usize,
    /// Forward multiply-adds per sample.
    pub macs: u64,
}

impl LayerInfo<'_> {
    pub(crate) fn from_plan(plan: &LayerPlan) -> LayerInfo<'static> {
        LayerInfo {
            name: Cow::Owned(plan.name.clone()),
            kind: Cow::Owned(plan.layer.to_string()),
            layer: plan.layer.clone(),
            input: plan.input,
            output: plan.output,
            trainable: plan.trainable,
            non_trainable: plan.non_trainable,
            macs: plan.macs,
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The Keras-style summary table of a model: one row per layer (name and type, output shape,
/// parameters), then the totals.
pub fn summary(model: &str, input: Shape, layers: &[LayerInfo<'_>]) -> String {
    let names: Vec<String> = layers.iter().map(|l| format!("{} ({})", l.name, l.kind)).collect();
    let shapes: Vec<String> = layers.iter().map(|l| l.output.to_string()).collect();
    let params: Vec<String> = layers.iter().map(|l| group_thousands((l.trainable + l.non_trainable) as u64)).collect();
    let w0 = names.iter().map(String::len).chain([12]).max().unwrap_or(0);
    let w1 = shapes.iter().map(String::len).chain([12]).max().unwrap_or(0);
    let w2 = params.iter().map(String::len).chain([7]).max().unwrap_or(0);
    let rule = |c: char| c.to_string().repeat(w0 + w1 + w2 + 6);

    let mut s = String::new();
    let trainable: usize = layers.iter().map(|l| l.trainable).sum();
    let frozen: usize = layers.iter().map(|l| l.non_trainable).sum();
    let macs: u64 = layers.iter().map(|l| l.macs).sum();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "Model: \"{model}\"  (input {input})");
    let _ = writeln!(s, "{}", rule('='));
    let _ = writeln!(s, "{:w0$}   {:w1$}   {:>w2$}", "Layer (type)", "Output Shape", "Param #");
    let _ = writeln!(s, "{}", rule('='));
    for ((name, shape), p) in names.iter().zip(&shapes).zip(&params) {
        let _ = writeln!(s, "{name:w0$}   {shape:w1$}   {p:>w2$}");
    }
    let _ = writeln!(s, "{}", rule('='));
    let total = (trainable + frozen) as u64;
    let _ = writeln!(s, "Total params: {} ({})", group_thousands(total), bytes(total * 4));
    let _ = writeln!(s, "Trainable params: {}", group_thousands(trainable as u64));
    let _ = writeln!(s, "Non-trainable params: {}", group_thousands(frozen as u64));
    let _ = writeln!(s, "Forward multiply-adds per sample: {}", group_thousands(macs));
    s
}

fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.2} KB", n as f64 / 1024.0),
        _ => format!("{:.2} MB", n as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(3_274_634), "3,274,634");
    }
}
