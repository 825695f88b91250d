//! One workload on the current store: its inputs prepared before the timing, the threads run,
//! their figures merged and checked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::random::{permutation, Rng, ScrambledZipfian, Zipfian, ZIPFIAN_THETA};
use crate::{BenchError, StoreError, Workload, WorkloadResult, Ycsb};

use super::loops::Worker;
use super::threads::{new_hist, share, Ctx, Recorder};
use super::{latency, Counters, State};

/// What every thread of one workload shares, fixed before the timing starts.
pub(super) struct Plan {
    pub(super) w: Workload,
    /// Operations the measured threads do in all.
    pub(super) total: u64,
    /// Keys `0..count` are present when the workload starts.
    pub(super) count: u64,
    /// The key order of fillrandom and deleterandom.
    pub(super) perm: Vec<u64>,
    /// Threads started, the background writer included.
    pub(super) threads: usize,
    /// The background writer's thread index (readwhilewriting).
    pub(super) background: Option<usize>,
    /// Threads that share `total`.
    pub(super) readers: usize,
    /// The next key number a YCSB insert takes.
    pub(super) next_id: AtomicU64,
    /// Readers still running (the background writer stops at zero).
    pub(super) readers_left: AtomicU64,
    /// YCSB's request distributions (each thread clones them).
    pub(super) scrambled: ScrambledZipfian,
    pub(super) latest: Zipfian,
}

impl Plan {
    fn new(ctx: &Ctx<'_>, count: u64, w: Workload) -> Plan {
        let cfg = ctx.cfg;
        let code = w.code();
        let perm = match w {
            Workload::FillRandom => permutation(cfg.keys, &mut Rng::new(ctx.seed(code, 999))),
            Workload::DeleteRandom => permutation(count, &mut Rng::new(ctx.seed(code, 999))),
            _ => Vec::new(),
        };
        let total = match w {
            Workload::FillSeq | Workload::FillRandom => cfg.keys,
            Workload::ReadSeq | Workload::DeleteRandom => count,
            Workload::Ycsb(Ycsb::E) => cfg.scan_ops(),
            _ => cfg.ops,
        };
        let (threads, background, readers_left) = if w == Workload::ReadWhileWriting {
            let readers = cfg.threads.saturating_sub(1).max(1);
            (readers + 1, Some(readers), readers as u64)
        } else {
            (cfg.threads, None, 0)
        };
        // YCSB: a scrambled zipfian over the keys and the expected inserts.
        let insert_share = match w {
            Workload::Ycsb(Ycsb::D | Ycsb::E) => 0.05,
            _ => 0.0,
        };
        #[expect(clippy::cast_sign_loss, reason = "a product of non-negative factors")]
        let zipf_space = count + (cfg.ops as f64 * insert_share * 2.0) as u64;
        Plan {
            w,
            total,
            count,
            perm,
            threads,
            background,
            readers: background.unwrap_or(threads),
            next_id: AtomicU64::new(count),
            readers_left: AtomicU64::new(readers_left),
            scrambled: ScrambledZipfian::new(zipf_space.max(1)),
            latest: Zipfian::new(count.max(1), ZIPFIAN_THETA),
        }
    }
}

/// Runs one workload on the current store.
pub(super) fn run_one(
    ctx: &Ctx<'_>,
    st: &mut State,
    w: Workload,
) -> Result<WorkloadResult, BenchError> {
    let Some(store) = st.store.as_deref() else {
        return Err(BenchError::Config("no store".into()));
    };
    let name = w.name();
    let errs = |e: StoreError| ctx.store_err(name, e);
    let plan = Plan::new(ctx, st.count, w);

    let before = Counters::read(store);
    ctx.progress
        .start(&format!("{} {name}", ctx.name), plan.total);
    let body = |t: usize, rec: &mut Recorder<'_>| -> Result<(), BenchError> {
        let range = share(plan.total, t, plan.readers);
        Worker::new(ctx, &plan, store, t, range).run(rec)
    };
    let (mut elapsed, outs) = match ctx.parallel(name, plan.threads, plan.background, body) {
        Ok(v) => v,
        Err(e) => {
            ctx.progress.finish();
            return Err(e);
        }
    };
    if w.writes() {
        let t = Instant::now();
        store.flush().map_err(errs)?;
        elapsed += t.elapsed();
    }
    let after = Counters::read(store);
    ctx.progress.finish();

    let mut hist = new_hist()?;
    let (mut ops, mut user_bytes, mut misses, mut background_ops) = (0, 0, 0, 0);
    for o in &outs {
        user_bytes += o.user_bytes;
        if o.background {
            background_ops += o.ops;
            continue;
        }
        // Same bounds, so adding cannot fail; a failure would only lose latency samples.
        let _ = hist.add(&o.hist);
        ops += o.ops;
        misses += o.misses;
    }
    match w {
        Workload::FillSeq | Workload::FillRandom => {
            st.count = ctx.cfg.keys;
            st.full = true;
        }
        Workload::DeleteRandom => {
            st.count = 0;
            st.full = false;
        }
        Workload::Ycsb(_) => st.count = plan.next_id.load(Ordering::Acquire),
        _ => {}
    }
    if ops != plan.total && w != Workload::ReadWhileWriting {
        return Err(ctx.verify(w, format!("{ops} operations done, {} expected", plan.total)));
    }
    let (written, written_source, fences) = after.since(&before);
    Ok(WorkloadResult {
        workload: w,
        ops,
        elapsed,
        latency: latency(&hist),
        user_bytes,
        written,
        written_source,
        fences,
        background_ops,
        misses,
    })
}
