use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::fsutil::write_atomic;

/// What one epoch of `fit` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (with the weights as they moved).
    pub loss: f64,
    /// Training accuracy over the epoch.
    pub accuracy: f64,
    /// Validation loss after the epoch, if validation data was given.
    pub val_loss: Option<f64>,
    /// Validation accuracy after the epoch.
    pub val_accuracy: Option<f64>,
    /// Seconds the epoch's training took (validation excluded).
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// The per-epoch record of a training run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<Epoch>,
}

impl History {
    /// The history as CSV: `epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second\n");
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for e in &self.epochs {
            let _ = writeln!(
                s,
                "{},{:.6},{:.6},{},{},{:.3},{:.1}",
                e.epoch,
                e.loss,
                e.accuracy,
                opt(e.val_loss),
                opt(e.val_accuracy),
                e.seconds,
                e.images_per_second
            );
        }
        s
    }

    /// Writes [`History::to_csv`] to `path` atomically.
    pub fn write_csv(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// The training curve as an SVG picture: loss (left) and accuracy (right) per epoch, training
    /// and validation.
    pub fn to_svg(&self, title: &str) -> String {
        let epochs: Vec<f64> = self.epochs.iter().map(|e| e.epoch as f64).collect();
        let series = |f: &dyn Fn(&Epoch) -> Option<f64>| -> Vec<(f64, f64)> {
            self.epochs.iter().filter_map(|e| f(e).map(|v| (e.epoch as f64, v))).collect()
        };
        let loss = [("train", series(&|e| Some(e.loss))), ("validation", series(&|e| e.val_loss))];
        let acc = [("train", series(&|e| Some(e.accuracy))), ("validation", series(&|e| e.val_accuracy))];
        let x_max = epochs.iter().copied().fold(1.0, f64::max);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="900" height="380" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="900" height="380" fill="white"/>"#);
        let _ = writeln!(svg, r#"<text x="450" y="20" text-anchor="middle" font-size="15">{}</text>"#, escape(title));
        panel(&mut svg, 60.0, "loss", &loss, x_max);
        panel(&mut svg, 510.0, "accuracy", &acc, x_max);
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes [`History::to_svg`] to `path` atomically.
    pub fn write_svg(&self, path: &Path, title: &str) -> io::Result<()> {
        write_atomic(path, self.to_svg(title).as_bytes())
    }
}

/// One chart, 360 x 280 at `left`, with two series (train solid, validation dashed).
fn panel(svg: &mut String, left: f64, name: &str, series: &[(&str, Vec<(f64, f64)>); 2], x_max: f64) {
    let (top, width, height) = (40.0, 360.0, 280.0);
    let values = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.1));
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let x = |e: f64| left + if x_max > 1.0 { (e - 1.0) / (x_max - 1.0) * width } else { width / 2.0 };
    let y = |v: f64| top + height - (v - lo) / (hi - lo) * height;
    let _ =
        writeln!(svg, r##"<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#888"/>"##);
    let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{name}</text>"#, left + width / 2.0, top - 6.0);
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="end">{v:.4}</text>"#, left - 4.0, y(v) + 4.0);
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        left + width / 2.0,
        top + height + 30.0
    );
    for e in 1..=(x_max as usize) {
        let _ =
            writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{e}</text>"#, x(e as f64), top + height + 15.0);
    }
    for ((label, points), (colour, dash)) in series.iter().zip([("#1f77b4", ""), ("#d62728", "6,4")]) {
        if points.is_empty() {
            continue;
        }
        let path: Vec<String> = points.iter().map(|&(e, v)| format!("{:.1},{:.1}", x(e), y(v))).collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            path.join(" ")
        );
        for &(e, v) in points {
            let _ = writeln!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, x(e), y(v));
        }
        let ly = if *label == "train" { top + 16.0 } else { top + 32.0 };
        let _ = writeln!(svg, r#"<text x="{}" y="{ly}" fill="{colour}">{label}</text>"#, left + 10.0);
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        History {
            epochs: (1..=3)
                .map(|e| Epoch {
                    epoch: e,
                    loss: 1.0 / e as f64,
                    accuracy: 0.9 + 0.01 * e as f64,
                    val_loss: Some(1.1 / e as f64),
                    val_accuracy: Some(0.89 + 0.01 * e as f64),
                    seconds: 2.0,
                    images_per_second: 30_000.0,
                })
                .collect(),
        }
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_epoch() {
        let csv = history().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("epoch,loss,accuracy"));
        assert_eq!(lines[1], "1,1.000000,0.910000,1.100000,0.900000,2.000,30000.0");
    }

    #[test]
    fn svg_draws_both_panels_and_both_series() {
        let svg = history().to_svg("LeNet-5 <MNIST>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("LeNet-5 &lt;MNIST&gt;"));
    }
}
