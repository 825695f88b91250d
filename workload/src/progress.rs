//! Progress of a run, reported from the benchmark threads.

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
