//! The progress line `Fit` writes to stderr while it trains.
//!
//! On a terminal, one line per epoch is redrawn in place (a carriage return, at most ten times a
//! second): the epoch, a bar, batches done, the running loss and accuracy, images per second and
//! the time left. When the epoch ends, the line is drawn once more with the validation accuracy
//! and the epoch's duration, and kept. When stderr is not a terminal (a log file, CI), only that
//! last line is written, once per epoch, so logs stay readable.
//!
//! Only the standard library is used: no escape sequences, so a shorter line overwrites a longer
//! one with spaces, and the width is `$COLUMNS` when set, else 80 columns. A line that would not
//! fit drops its bar, then its tail.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The least time between two redraws on a terminal.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Characters inside the bar's brackets.
const BAR_WIDTH: usize = 12;
/// The line's width when `$COLUMNS` does not say.
const DEFAULT_COLUMNS: usize = 80;

/// Running totals of an epoch, as the progress line shows them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Totals {
    /// Batches done.
    pub batches: usize,
    /// Sum of the per-sample losses so far.
    pub loss_sum: f64,
    /// Correctly classified samples so far.
    pub correct: usize,
    /// Samples seen so far.
    pub seen: usize,
    /// Seconds since the epoch started.
    pub seconds: f64,
}

impl Totals {
    fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.seen.max(1) as f64
    }

    fn images_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.seen as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The progress line of one epoch.
pub(crate) struct Progress {
    epoch: usize,
    epochs: usize,
    batches: usize,
    terminal: bool,
    columns: usize,
    last_draw: Option<Instant>,
    /// Length of the line on screen, so that a shorter one can blank its tail.
    drawn: usize,
}

impl Progress {
    /// The line of epoch `epoch` of `epochs`, over `batches` batches, on stderr.
    pub(crate) fn new(epoch: usize, epochs: usize, batches: usize) -> Self {
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).unwrap_or(DEFAULT_COLUMNS);
        Progress {
            epoch,
            epochs,
            batches,
            terminal: std::io::stderr().is_terminal(),
            columns,
            last_draw: None,
            drawn: 0,
        }
    }

    /// After a batch: redraws the line on a terminal, at most every [`REDRAW_EVERY`] and always
    /// after the last batch; nothing otherwise.
    pub(crate) fn update(&mut self, totals: &Totals) {
        if !self.terminal {
            return;
        }
        let now = Instant::now();
        let due = self.last_draw.is_none_or(|t| now.duration_since(t) >= REDRAW_EVERY);
        if due || totals.batches >= self.batches {
            self.last_draw = Some(now);
            let line = self.fitting(|with_bar| self.running_line(totals, with_bar));
            self.draw(&line, false);
        }
    }

    /// At the end of the epoch: the final line, with the validation accuracy when there is one,
    /// kept on the terminal (or written as a line of its own when stderr is not a terminal).
    pub(crate) fn finish(&mut self, totals: &Totals, val_accuracy: Option<f64>) {
        let line = self.fitting(|with_bar| self.final_line(totals, val_accuracy, with_bar));
        self.draw(&line, true);
    }

    /// The line with its bar on a terminal wide enough, else without.
    fn fitting(&self, line: impl Fn(bool) -> String) -> String {
        if !self.terminal {
            return line(false);
        }
        let with_bar = line(true);
        if with_bar.len() < self.columns {
            with_bar
        } else {
            line(false)
        }
    }

    fn draw(&mut self, line: &str, end: bool) {
        let mut err = std::io::stderr().lock();
        // A progress line that cannot be written must not stop training: errors are ignored.
        let _ = if self.terminal {
            let line = fit_width(line, self.columns);
            let blank = self.drawn.saturating_sub(line.len());
            self.drawn = if end { 0 } else { line.len() };
            write!(err, "\r{line}{:blank$}{}", "", if end { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn running_line(&self, totals: &Totals, with_bar: bool) -> String {
        let eta = if totals.batches == 0 {
            "--".to_string()
        } else {
            let left = self.batches.saturating_sub(totals.batches);
            clock(totals.seconds / totals.batches as f64 * left as f64)
        };
        format!(
            "{} loss {:.4} acc {:.4} {:.0} img/s ETA {eta}",
            self.head(totals, with_bar),
            totals.loss(),
            totals.accuracy(),
            totals.images_per_second()
        )
    }

    fn final_line(&self, totals: &Totals, val_accuracy: Option<f64>, with_bar: bool) -> String {
        let val = val_accuracy.map_or(String::new(), |a| format!(" val_acc {a:.4}"));
        format!(
            "{} loss {:.4} acc {:.4}{val} {:.0} img/s {}",
            self.head(totals, with_bar),
            totals.loss(),
            totals.accuracy(),
            totals.images_per_second(),
            clock(totals.seconds)
        )
    }

    /// `epoch 2/10 [=====>    ] 312/938`, without the bar in logs.
    fn head(&self, totals: &Totals, with_bar: bool) -> String {
        let epoch = format!("epoch {}/{}", self.epoch, self.epochs);
        let count = format!("{}/{}", totals.batches, self.batches);
        if with_bar {
            format!("{epoch} [{}] {count}", bar(totals.batches, self.batches))
        } else {
            format!("{epoch} {count}")
        }
    }
}

/// `=====>    `: [`BAR_WIDTH`] characters, filled in proportion to `done` of `total`.
fn bar(done: usize, total: usize) -> String {
    let filled = (done.min(total) * BAR_WIDTH).checked_div(total).unwrap_or(BAR_WIDTH);
    let mut s = "=".repeat(filled);
    if filled < BAR_WIDTH {
        s.push(if done == 0 { ' ' } else { '>' });
        s.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    s
}

/// Seconds as `m:ss`, or `h:mm:ss` from an hour on.
fn clock(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 { seconds.round() as u64 } else { 0 };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The line cut to one column less than the terminal, so that it never wraps (a wrapped line
/// cannot be redrawn with a carriage return). The line is ASCII.
fn fit_width(line: &str, columns: usize) -> &str {
    let max = columns.saturating_sub(1).max(1);
    if line.len() <= max || !line.is_char_boundary(max) {
        line
    } else {
        &line[..max]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(terminal: bool, columns: usize) -> Progress {
        Progress { epoch: 2, epochs: 10, batches: 938, terminal, columns, last_draw: None, drawn: 0 }
    }

    fn totals(batches: usize) -> Totals {
        Totals { batches, loss_sum: 12.5, correct: 90, seen: 100, seconds: 2.0 }
    }

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(bar(0, 12), " ".repeat(12));
        assert_eq!(bar(6, 12), format!("{}>{}", "=".repeat(6), " ".repeat(5)));
        assert_eq!(bar(12, 12), "=".repeat(BAR_WIDTH));
        assert_eq!(bar(13, 12), "=".repeat(BAR_WIDTH));
        assert_eq!(bar(0, 0), "=".repeat(BAR_WIDTH));
        for done in 0..=10 {
            assert_eq!(bar(done, 10).len(), BAR_WIDTH);
        }
    }

    #[test]
    fn clocks_read_as_minutes_or_hours() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(9.6), "0:10");
        assert_eq!(clock(125.0), "2:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(clock(f64::NAN), "0:00");
        assert_eq!(clock(-3.0), "0:00");
    }

    #[test]
    fn the_running_line_shows_epoch_batches_loss_accuracy_speed_and_eta() {
        let p = progress(true, 80);
        let line = p.fitting(|with_bar| p.running_line(&totals(469), with_bar));
        let bar = format!("{}>{}", "=".repeat(6), " ".repeat(5));
        assert_eq!(line, format!("epoch 2/10 [{bar}] 469/938 loss 0.1250 acc 0.9000 50 img/s ETA 0:02"));
        assert!(p.running_line(&totals(0), true).ends_with("ETA --"));
    }

    #[test]
    fn a_narrow_terminal_drops_the_bar() {
        let p = progress(true, 70);
        let line = p.fitting(|with_bar| p.running_line(&totals(469), with_bar));
        assert_eq!(line, "epoch 2/10 469/938 loss 0.1250 acc 0.9000 50 img/s ETA 0:02");
    }

    #[test]
    fn the_final_line_adds_validation_and_time_and_drops_the_bar_in_logs() {
        let t = totals(938);
        let log = progress(false, 200);
        assert_eq!(
            log.fitting(|with_bar| log.final_line(&t, Some(0.98765), with_bar)),
            "epoch 2/10 938/938 loss 0.1250 acc 0.9000 val_acc 0.9877 50 img/s 0:02"
        );
        let terminal = progress(true, 200);
        assert_eq!(
            terminal.fitting(|with_bar| terminal.final_line(&t, None, with_bar)),
            format!("epoch 2/10 [{}] 938/938 loss 0.1250 acc 0.9000 50 img/s 0:02", "=".repeat(BAR_WIDTH))
        );
    }

    #[test]
    fn lines_are_cut_to_the_terminal() {
        assert_eq!(fit_width("abcdef", 80), "abcdef");
        assert_eq!(fit_width("abcdef", 4), "abc");
        assert_eq!(fit_width("abcdef", 0), "a");
    }

    #[test]
    fn an_empty_epoch_shows_no_speed() {
        let t = Totals { batches: 0, loss_sum: 0.0, correct: 0, seen: 0, seconds: 0.0 };
        assert_eq!((t.loss(), t.accuracy(), t.images_per_second()), (0.0, 0.0, 0.0));
    }
}
