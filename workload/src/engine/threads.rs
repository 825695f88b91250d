//! The threads of one workload: a start barrier, per-thread latency histograms and progress,
//! and the abort flag that stops the others when one fails.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::{BenchError, Config, Progress, StoreError, Workload};

/// What the threads of one workload measured.
pub(super) struct ThreadOut {
    pub(super) hist: Histogram<u64>,
    pub(super) ops: u64,
    pub(super) user_bytes: u64,
    pub(super) misses: u64,
    pub(super) background: bool,
}

/// Per-thread recording of latencies and progress.
pub(super) struct Recorder<'a> {
    pub(super) hist: Histogram<u64>,
    pub(super) ops: u64,
    pub(super) user_bytes: u64,
    pub(super) misses: u64,
    pub(super) unreported: u64,
    pub(super) progress: &'a dyn Progress,
    pub(super) abort: &'a AtomicBool,
    pub(super) background: bool,
}

/// Progress is reported, and the abort flag checked, every this many operations.
const REPORT_EVERY: u64 = 1024;

impl Recorder<'_> {
    /// Records one operation started at `t` that wrote `user_bytes`.
    #[inline]
    pub(super) fn done(&mut self, t: Instant, user_bytes: u64) -> bool {
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
        self.count(1, user_bytes)
    }

    /// Counts `n` operations; `false` when the run is being aborted.
    #[inline]
    pub(super) fn count(&mut self, n: u64, user_bytes: u64) -> bool {
        self.ops += n;
        self.user_bytes += user_bytes;
        self.unreported += n;
        if self.unreported >= REPORT_EVERY {
            if !self.background {
                self.progress.advance(self.unreported);
            }
            self.unreported = 0;
            return !self.abort.load(Ordering::Relaxed);
        }
        true
    }
}

pub(super) fn new_hist() -> Result<Histogram<u64>, BenchError> {
    // 1 ns to 1000 s at three significant digits.
    Histogram::new_with_bounds(1, 1_000_000_000_000, 3)
        .map_err(|e| BenchError::Config(format!("latency histogram: {e:?}")))
}

/// Operation range of thread `t` of `n` over `total`.
pub(super) fn share(total: u64, t: usize, n: usize) -> Range<u64> {
    let at = |i: usize| ((u128::from(total) * i as u128) / n.max(1) as u128) as u64;
    at(t)..at(t + 1)
}

pub(super) struct Ctx<'a> {
    pub(super) name: String,
    pub(super) cfg: &'a Config,
    pub(super) progress: &'a dyn Progress,
}

impl Ctx<'_> {
    pub(super) fn store_err(&self, workload: &str, error: StoreError) -> BenchError {
        BenchError::Store {
            store: self.name.clone(),
            workload: workload.into(),
            error,
        }
    }

    pub(super) fn verify(&self, workload: Workload, detail: String) -> BenchError {
        BenchError::Verify {
            store: self.name.clone(),
            workload: workload.name().into(),
            detail,
        }
    }

    pub(super) fn seed(&self, w: u64, t: u64) -> u64 {
        self.cfg
            .seed
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add(w.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_add(t.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    /// Runs `f` on `threads` threads (thread `t` gets `f(t, recorder)`); the wall time from the
    /// start barrier to the last thread's end, and each thread's measurements.
    pub(super) fn parallel<F>(
        &self,
        workload: &str,
        threads: usize,
        background: Option<usize>,
        f: F,
    ) -> Result<(Duration, Vec<ThreadOut>), BenchError>
    where
        F: Fn(usize, &mut Recorder<'_>) -> Result<(), BenchError> + Sync,
    {
        let barrier = Barrier::new(threads + 1);
        let abort = AtomicBool::new(false);
        let (f, barrier_ref, abort_ref) = (&f, &barrier, &abort);
        let progress = self.progress;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let hist = match new_hist() {
                            Ok(h) => h,
                            Err(e) => return Err(e),
                        };
                        let mut rec = Recorder {
                            hist,
                            ops: 0,
                            user_bytes: 0,
                            misses: 0,
                            unreported: 0,
                            progress,
                            abort: abort_ref,
                            background: background == Some(t),
                        };
                        barrier_ref.wait();
                        let r = f(t, &mut rec);
                        if r.is_err() {
                            abort_ref.store(true, Ordering::Relaxed);
                        }
                        if !rec.background {
                            progress.advance(rec.unreported);
                        }
                        r.map(|()| ThreadOut {
                            hist: rec.hist,
                            ops: rec.ops,
                            user_bytes: rec.user_bytes,
                            misses: rec.misses,
                            background: rec.background,
                        })
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let mut outs = Vec::with_capacity(threads);
            let mut err = None;
            for h in handles {
                match h.join() {
                    Ok(Ok(o)) => outs.push(o),
                    Ok(Err(e)) => {
                        err.get_or_insert(e);
                    }
                    Err(_) => {
                        err.get_or_insert(BenchError::Panicked {
                            store: self.name.clone(),
                            workload: workload.into(),
                        });
                    }
                }
            }
            let elapsed = start.elapsed();
            match err {
                Some(e) => Err(e),
                None => Ok((elapsed, outs)),
            }
        })
    }
}
