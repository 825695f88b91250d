//! Progress of a run, reported from the benchmark threads: none, or a bar on stderr.

use std::io::{self, IsTerminal};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of a run (a progress bar, or nothing). Called from the benchmark threads.
pub trait Progress: Sync {
    /// A phase starts: `label` (store and workload), `total` operations.
    fn start(&self, label: &str, total: u64);
    /// `n` more operations done.
    fn advance(&self, n: u64);
    /// The phase ended.
    fn finish(&self);
}

/// No progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// A progress bar on stderr, one phase at a time (nothing when stderr is not a terminal).
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Bar {
    /// A bar on stderr if it is a terminal, else nothing.
    #[must_use]
    pub fn new() -> Self {
        Bar {
            bar: Mutex::new(None),
            enabled: io::stderr().is_terminal(),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        if self.enabled {
            let mut g = self
                .bar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut g);
        }
    }
}

impl Progress for Bar {
    fn start(&self, label: &str, total: u64) {
        self.with(|b| {
            let pb = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:28} [{bar:30}] {human_pos:>9}/{human_len:9} {elapsed:>4} eta {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.set_message(label.to_string());
            *b = Some(pb);
        });
    }

    fn advance(&self, n: u64) {
        self.with(|b| {
            if let Some(pb) = b {
                pb.inc(n);
            }
        });
    }

    fn finish(&self) {
        self.with(|b| {
            if let Some(pb) = b.take() {
                pb.finish_and_clear();
            }
        });
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}
