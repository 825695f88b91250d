//! The engine: runs workloads in order on stores made by a [`Backend`], loading a full store
//! where a workload needs one, and measures the open (recovery) time and memory.

mod loops;
mod one;
mod threads;

use std::time::Instant;

use hdrhistogram::Histogram;

use crate::keys::present;
use crate::random::Rng;
use crate::{
    proc, Backend, BenchError, Config, Latency, Progress, Report, Store, Workload, WriteCounters,
    WrittenSource,
};

use self::one::run_one;
use self::threads::Ctx;

/// The state carried between workloads.
pub(super) struct State {
    pub(super) store: Option<Box<dyn Store>>,
    /// Keys `0..count` are present.
    pub(super) count: u64,
    /// Whether the store holds every key of the last fill.
    pub(super) full: bool,
    /// Whether anything was written since the last open-time measurement.
    pub(super) filled_once: bool,
}

/// Counter readings around a workload.
pub(super) struct Counters {
    store: Option<WriteCounters>,
    io: Option<(u64, u64)>,
}

impl Counters {
    pub(super) fn read(store: &dyn Store) -> Self {
        Counters {
            store: store.write_counters(),
            io: proc::io_written(),
        }
    }

    /// Bytes written since `before`, where they were counted, and fences.
    pub(super) fn since(&self, before: &Counters) -> (u64, WrittenSource, Option<u64>) {
        if let (Some(a), Some(b)) = (self.store, before.store) {
            let fences = match (a.fences, b.fences) {
                (Some(x), Some(y)) => Some(x.saturating_sub(y)),
                _ => None,
            };
            return (
                a.bytes.saturating_sub(b.bytes),
                WrittenSource::Store,
                fences,
            );
        }
        if let (Some((wc, wb)), Some((wc0, wb0))) = (self.io, before.io) {
            let bytes = wc.saturating_sub(wc0).max(wb.saturating_sub(wb0));
            // Nothing seen: the store wrote nothing, or wrote through a memory mapping that
            // these counters cannot see (on tmpfs) — not measurable either way.
            if bytes == 0 {
                return (0, WrittenSource::None, None);
            }
            return (bytes, WrittenSource::Process, None);
        }
        (0, WrittenSource::None, None)
    }
}

/// Runs `workloads` in order on stores made by `backend`, and returns the report.
pub fn run(
    backend: &dyn Backend,
    workloads: &[Workload],
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<Report, BenchError> {
    cfg.validate()?;
    let ctx = Ctx {
        name: backend.name(),
        cfg,
        progress,
    };
    let mut report = Report {
        store: ctx.name.clone(),
        description: backend.description(),
        config: cfg.clone(),
        results: Vec::new(),
        skipped: Vec::new(),
        open: None,
        dram_bytes_per_key: None,
        anon_bytes_per_key: None,
        peak_rss: None,
    };
    let mut st = State {
        store: None,
        count: 0,
        full: false,
        filled_once: false,
    };
    let last_delete = workloads.iter().rposition(|w| *w == Workload::DeleteRandom);
    for (i, &w) in workloads.iter().enumerate() {
        // The open time of the filled store: before the first delete that empties it.
        if w == Workload::DeleteRandom
            && report.open.is_none()
            && st.full
            && st.filled_once
            && Some(i) <= last_delete
        {
            measure_open(&ctx, backend, &mut st, &mut report)?;
        }
        if w.fills() {
            fresh(&ctx, backend, &mut st)?;
            let first = !st.filled_once;
            let anon0 = proc::anon_rss();
            let r = run_one(&ctx, &mut st, w)?;
            if first {
                record_memory(&ctx, &st, anon0, &mut report);
            }
            st.filled_once = true;
            report.results.push(r);
            continue;
        }
        if !st.full {
            // Load a full store first (untimed).
            fresh(&ctx, backend, &mut st)?;
            let first = !st.filled_once;
            let anon0 = proc::anon_rss();
            run_one(&ctx, &mut st, Workload::FillRandom).map_err(|e| match e {
                BenchError::Store { store, error, .. } => BenchError::Store {
                    store,
                    workload: format!("loading for {w}"),
                    error,
                },
                other => other,
            })?;
            if first {
                record_memory(&ctx, &st, anon0, &mut report);
            }
            st.filled_once = true;
        }
        match run_one(&ctx, &mut st, w) {
            Ok(r) => report.results.push(r),
            Err(BenchError::Store { error, .. }) if error.is_unsupported() => {
                progress.finish();
                report.skipped.push((w, error.message().to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if report.open.is_none() && st.full && st.filled_once {
        measure_open(&ctx, backend, &mut st, &mut report)?;
    }
    drop(st.store.take());
    report.peak_rss = proc::peak_rss();
    Ok(report)
}

fn fresh(ctx: &Ctx<'_>, backend: &dyn Backend, st: &mut State) -> Result<(), BenchError> {
    drop(st.store.take());
    st.store = Some(backend.create().map_err(|e| ctx.store_err("create", e))?);
    st.count = 0;
    st.full = false;
    Ok(())
}

fn record_memory(ctx: &Ctx<'_>, st: &State, anon0: Option<u64>, report: &mut Report) {
    let keys = st.count.max(1) as f64;
    if let Some(s) = &st.store {
        report.dram_bytes_per_key = s.dram_bytes().map(|b| b as f64 / keys);
    }
    if let (Some(a0), Some(a1)) = (anon0, proc::anon_rss()) {
        report.anon_bytes_per_key = Some(a1.saturating_sub(a0) as f64 / keys);
    }
    let _ = ctx;
}

/// Drops the store, reopens it and times the open; checks a sample of keys.
fn measure_open(
    ctx: &Ctx<'_>,
    backend: &dyn Backend,
    st: &mut State,
    report: &mut Report,
) -> Result<(), BenchError> {
    drop(st.store.take());
    let t = Instant::now();
    let reopened = backend.reopen().map_err(|e| ctx.store_err("open", e))?;
    let elapsed = t.elapsed();
    if let Some(s) = reopened {
        let mut rng = Rng::new(ctx.seed(1000, 0));
        let mut key = vec![0u8; ctx.cfg.key_size];
        let mut out = Vec::new();
        for _ in 0..st.count.min(1000) {
            let i = rng.below(st.count);
            present(i, &mut key);
            if !s
                .get(&key, &mut out)
                .map_err(|e| ctx.store_err("open", e))?
            {
                return Err(BenchError::Verify {
                    store: ctx.name.clone(),
                    workload: "open".into(),
                    detail: format!("key {i} missing after reopening"),
                });
            }
        }
        st.store = Some(s);
        report.open = Some((elapsed, st.count));
    } else {
        // Not persistent: the store is gone; the next workload reloads.
        st.full = false;
        st.count = 0;
    }
    Ok(())
}

/// The latency summary of merged histograms.
pub(super) fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        p50: h.value_at_quantile(0.50),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: h.mean(),
    }
}
