//! The progress line on stderr during a long search. On a terminal it is redrawn in place with
//! `\r`; elsewhere (CI logs, files) each tick is its own line, because `\r` in a log file makes
//! one unreadable line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::Progress;

use super::Shared;
use super::style::{group, megabytes, rate};

/// Seconds between ticks: comfortably under the contract's "at least every 2 s", since the
/// engine's timing is approximate.
pub const EVERY_SECONDS: f64 = 1.5;

/// Draws progress ticks to a shared stderr.
pub struct ProgressLine {
    sink: Shared,
    overwrite: bool,
    prefix: String,
    drawn: AtomicBool,
}

impl ProgressLine {
    /// A progress line on `sink`, redrawn in place when `overwrite` (stderr is a terminal).
    /// `prefix` (e.g. `[3/12] `) is put before every tick.
    pub fn new(sink: Shared, overwrite: bool, prefix: String) -> Arc<Self> {
        Arc::new(ProgressLine {
            sink,
            overwrite,
            prefix,
            drawn: AtomicBool::new(false),
        })
    }

    /// The engine callback that draws ticks.
    pub fn callback(self: &Arc<Self>) -> Arc<dyn Fn(&Progress) + Send + Sync> {
        let me = Arc::clone(self);
        Arc::new(move |p: &Progress| me.tick(p))
    }

    fn tick(&self, p: &Progress) {
        let line = format!("{}{}", self.prefix, format_tick(p));
        if self.overwrite {
            // `\x1b[K` clears what a longer previous tick left behind.
            super::emit(&self.sink, &format!("\r{line}\x1b[K"));
            self.drawn.store(true, Ordering::Relaxed);
        } else {
            super::emit(&self.sink, &format!("{line}\n"));
        }
    }

    /// Erase an in-place line so that the next output starts on a clean line.
    pub fn finish(&self) {
        if self.drawn.swap(false, Ordering::Relaxed) {
            super::emit(&self.sink, "\r\x1b[K");
        }
    }
}

/// One tick, e.g. `1,234,567 states  234,567 unique  depth 14  400,000 states/s  512 MB  3 s`.
pub fn format_tick(p: &Progress) -> String {
    let mut line = format!(
        "{} states  {} unique  depth {}  {} states/s",
        group(p.states_total),
        group(p.states_unique),
        p.depth,
        group(rate(p.states_total, p.seconds)),
    );
    if let Some(bytes) = p.memory_bytes {
        line.push_str(&format!("  {}", megabytes(bytes)));
    }
    line.push_str(&format!("  {:.0} s", p.seconds));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn progress() -> Progress {
        Progress {
            states_unique: 1000,
            states_total: 5000,
            depth: 7,
            seconds: 2.0,
            memory_bytes: Some(3 * 1024 * 1024),
        }
    }

    #[test]
    fn tick_names_every_figure() {
        let line = format_tick(&progress());
        assert_eq!(
            line,
            "5,000 states  1,000 unique  depth 7  2,500 states/s  3 MB  2 s"
        );
    }

    #[test]
    fn lines_when_not_a_terminal_and_overwrite_on_one() {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let line = ProgressLine::new(buf.clone(), false, String::new());
        (line.callback())(&progress());
        (line.callback())(&progress());
        line.finish();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains('\r'));

        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let line = ProgressLine::new(buf.clone(), true, String::new());
        (line.callback())(&progress());
        line.finish();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with('\r'));
        assert!(text.ends_with("\r\x1b[K"));
        assert!(!text.contains('\n'));
    }
}
