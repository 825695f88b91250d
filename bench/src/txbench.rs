//! The transaction micro-benchmarks of `pobj/benches/tx.rs` (empty transaction, snapshot and
//! write 64 B, allocate and write 128 B, free, atomic allocation), timed the same way for pobj
//! and for PMDK's libpmemobj on the same medium.
//!
//! Each case runs `ops` times after `ops / 10` untimed warm-up runs; every operation is timed
//! into an `HdrHistogram`. Objects allocated by a case are freed afterwards (untimed), and the
//! objects a free case frees are allocated before it (untimed, in batches).

use std::path::Path;
use std::time::Instant;

use hdrhistogram::Histogram;
use pobj::{Error, PPtr, Persistent, Pool};
use serde_json::json;

/// The cases, in order: name in tables, key in JSON.
pub(crate) const CASES: [(&str, &str); 5] = [
    ("empty tx", "empty"),
    ("snapshot+write 64 B", "snapshot_write_64"),
    ("alloc+write 128 B", "alloc_write_128"),
    ("free", "free"),
    ("atomic alloc", "atomic_alloc"),
];

/// The figures of one case.
#[derive(Clone, Debug, Default)]
pub(crate) struct CaseResult {
    pub key: String,
    pub ops: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub fences_per_op: Option<f64>,
}

impl CaseResult {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "case": self.key,
            "ops": self.ops,
            "mean_ns": self.mean_ns,
            "p50_ns": self.p50_ns,
            "p99_ns": self.p99_ns,
            "fences_per_op": self.fences_per_op,
        })
    }
}

/// The results of one implementation as JSON.
pub(crate) fn to_json(implementation: &str, results: &[CaseResult]) -> String {
    let cases: Vec<serde_json::Value> = results.iter().map(CaseResult::to_json).collect();
    json!({ "implementation": implementation, "cases": cases }).to_string()
}

/// Times `ops` calls of `op` (after `ops / 10` warm-up calls).
fn time_case(
    key: &str,
    ops: u64,
    mut op: impl FnMut(bool) -> Result<(), String>,
) -> Result<CaseResult, String> {
    for _ in 0..ops / 10 {
        op(false)?;
    }
    let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000_000_000, 3)
        .map_err(|e| format!("histogram: {e:?}"))?;
    let start = Instant::now();
    for _ in 0..ops {
        let t = Instant::now();
        op(true)?;
        h.saturating_record(
            u64::try_from(t.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1),
        );
    }
    let total = start.elapsed();
    Ok(CaseResult {
        key: key.to_string(),
        ops,
        mean_ns: total.as_nanos() as f64 / ops.max(1) as f64,
        p50_ns: h.value_at_quantile(0.5),
        p99_ns: h.value_at_quantile(0.99),
        fences_per_op: None,
    })
}

// ---- pobj -----------------------------------------------------------------------------------------

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Obj128 {
    words: [u64; 16],
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    data: [u64; 8],
    slot: PPtr<Obj128>,
}

fn free_all(pool: &Pool<Root>, ptrs: &mut Vec<PPtr<Obj128>>) -> Result<(), String> {
    for chunk in ptrs.chunks(2000) {
        pool.transaction(|tx| {
            for p in chunk {
                tx.free(*p)?;
            }
            Ok::<_, Error>(())
        })
        .map_err(|err| err.to_string())?;
    }
    ptrs.clear();
    Ok(())
}

/// pobj's cases on a pool at `path`.
pub(crate) fn run_pobj(path: &Path, ops: u64) -> Result<Vec<CaseResult>, String> {
    let _ = std::fs::remove_file(path);
    let pool = Pool::<Root>::create(path, "bench", 1 << 30).map_err(|err| err.to_string())?;
    let r = pobj_cases(&pool, ops);
    drop(pool);
    let _ = std::fs::remove_file(path);
    r
}

fn pobj_cases(pool: &Pool<Root>, ops: u64) -> Result<Vec<CaseResult>, String> {
    let val = Obj128 { words: [7; 16] };
    let mut out = Vec::new();
    let fenced = |pool: &Pool<Root>,
                  key: &str,
                  f: &mut dyn FnMut(bool) -> Result<(), String>|
     -> Result<CaseResult, String> {
        let s = pool.persist_stats();
        let mut r = time_case(key, ops, f)?;
        let d = pool.persist_stats().since(&s);
        let total_ops = ops + ops / 10;
        r.fences_per_op = Some(d.fences as f64 / total_ops.max(1) as f64);
        Ok(r)
    };

    out.push(fenced(pool, CASES[0].1, &mut |_| {
        pool.transaction(|_| Ok::<_, Error>(()))
            .map_err(|err| err.to_string())
    })?);

    let mut k = 0u64;
    out.push(fenced(pool, CASES[1].1, &mut |_| {
        k += 1;
        pool.transaction(|tx| {
            tx.root_mut()?.data = [k; 8];
            Ok::<_, Error>(())
        })
        .map_err(|err| err.to_string())
    })?);

    let mut ptrs = Vec::with_capacity((ops + ops / 10) as usize);
    out.push(fenced(pool, CASES[2].1, &mut |_| {
        ptrs.push(
            pool.transaction(|tx| tx.alloc(val))
                .map_err(|err| err.to_string())?,
        );
        Ok(())
    })?);
    free_all(pool, &mut ptrs)?;

    // free: allocate everything first (untimed), then free one per transaction.
    let n = ops + ops / 10;
    let mut to_free = Vec::with_capacity(n as usize);
    for chunk in 0..n.div_ceil(2000) {
        let m = (n - chunk * 2000).min(2000);
        pool.transaction(|tx| {
            for _ in 0..m {
                to_free.push(tx.alloc(val)?);
            }
            Ok::<_, Error>(())
        })
        .map_err(|err| err.to_string())?;
    }
    let mut it = to_free.into_iter();
    out.push(fenced(pool, CASES[3].1, &mut |_| {
        let p = it.next().ok_or("ran out of objects to free")?;
        pool.transaction(|tx| tx.free(p))
            .map_err(|err| err.to_string())
    })?);

    let root = pool.root_ptr();
    let mut ptrs = Vec::with_capacity(n as usize);
    out.push(fenced(pool, CASES[4].1, &mut |_| {
        ptrs.push(
            pool.alloc_into(root, |r| &mut r.slot, val)
                .map_err(|err| err.to_string())?,
        );
        Ok(())
    })?);
    pool.transaction(|tx| tx.update_field(root, |r| &mut r.slot, PPtr::null()))
        .map_err(|err| err.to_string())?;
    free_all(pool, &mut ptrs)?;
    Ok(out)
}

// ---- PMDK -----------------------------------------------------------------------------------------

#[cfg(feature = "pmdk")]
pub use pmdk_cases::run_pmdk;

#[cfg(feature = "pmdk")]
mod pmdk_cases {
    use std::ffi::{c_int, c_void};
    use std::path::Path;

    use super::{time_case, CaseResult, CASES};
    use crate::pmdk::{self, PmemObjPool, PmemOid, Pool};

    /// The root: 64 bytes of data and an object slot, like pobj's.
    #[repr(C)]
    struct Root {
        data: [u64; 8],
        slot: PmemOid,
    }

    const VAL: [u64; 16] = [7; 16];

    /// The constructor of the atomic allocation: copies the value and persists it.
    unsafe extern "C" fn construct(
        pop: *mut PmemObjPool,
        ptr: *mut c_void,
        _arg: *mut c_void,
    ) -> c_int {
        // SAFETY: `ptr` is the new object of 128 bytes (the size passed to pmemobj_alloc).
        unsafe {
            std::ptr::copy_nonoverlapping(VAL.as_ptr(), ptr.cast::<u64>(), 16);
            pmdk::pmemobj_persist(pop, ptr, 128);
        }
        0
    }

    fn free_all(pool: &Pool, oids: &mut Vec<PmemOid>) -> Result<(), String> {
        for chunk in oids.chunks(2000) {
            pool.transaction(|| {
                // SAFETY: inside a transaction; each oid is a live object of this pool.
                chunk
                    .iter()
                    .all(|o| unsafe { pmdk::pmemobj_tx_free(*o) } == 0)
            })?;
        }
        oids.clear();
        Ok(())
    }

    /// libpmemobj's cases on a pool at `path` (run with PMEM_IS_PMEM_FORCE=1 on tmpfs).
    pub fn run_pmdk(path: &Path, ops: u64) -> Result<Vec<CaseResult>, String> {
        let pool = Pool::create(path, "bench", 1 << 30)?;
        let r = cases(&pool, ops);
        drop(pool);
        let _ = std::fs::remove_file(path);
        r
    }

    fn cases(pool: &Pool, ops: u64) -> Result<Vec<CaseResult>, String> {
        let root_oid = pool.root(std::mem::size_of::<Root>())?;
        // SAFETY: the root object is mapped while the pool is open and is a `Root` in size.
        let root = unsafe { pmdk::pmemobj_direct(root_oid) }.cast::<Root>();
        if root.is_null() {
            return Err("pmemobj_direct(root) returned NULL".into());
        }
        let mut out = Vec::new();

        out.push(time_case(CASES[0].1, ops, |_| pool.transaction(|| true))?);

        let mut k = 0u64;
        out.push(time_case(CASES[1].1, ops, |_| {
            k += 1;
            pool.transaction(|| {
                // SAFETY: inside a transaction; the range is the root's first 64 bytes,
                // snapshotted before they are written through the root's direct pointer.
                unsafe {
                    if pmdk::pmemobj_tx_add_range(root_oid, 0, 64) != 0 {
                        return false;
                    }
                    (*root).data = [k; 8];
                }
                true
            })
        })?);

        let n = ops + ops / 10;
        let mut oids = Vec::with_capacity(n as usize);
        out.push(time_case(CASES[2].1, ops, |_| {
            let mut oid = PmemOid::default();
            pool.transaction(|| {
                // SAFETY: inside a transaction; a new object needs no snapshot, and its 128
                // bytes are written through its direct pointer before commit persists it.
                unsafe {
                    oid = pmdk::pmemobj_tx_alloc(128, 1);
                    if oid.is_null() {
                        return false;
                    }
                    let p = pmdk::pmemobj_direct(oid).cast::<u64>();
                    std::ptr::copy_nonoverlapping(VAL.as_ptr(), p, 16);
                }
                true
            })?;
            oids.push(oid);
            Ok(())
        })?);
        free_all(pool, &mut oids)?;

        let mut to_free = Vec::with_capacity(n as usize);
        for chunk in 0..n.div_ceil(2000) {
            let m = (n - chunk * 2000).min(2000);
            pool.transaction(|| {
                for _ in 0..m {
                    // SAFETY: inside a transaction.
                    let oid = unsafe { pmdk::pmemobj_tx_alloc(128, 1) };
                    if oid.is_null() {
                        return false;
                    }
                    to_free.push(oid);
                }
                true
            })?;
        }
        let mut it = to_free.into_iter();
        out.push(time_case(CASES[3].1, ops, |_| {
            let oid = it.next().ok_or("ran out of objects to free")?;
            pool.transaction(|| {
                // SAFETY: inside a transaction; `oid` is a live object of this pool.
                unsafe { pmdk::pmemobj_tx_free(oid) == 0 }
            })
        })?);

        let mut oids = Vec::with_capacity(n as usize);
        out.push(time_case(CASES[4].1, ops, |_| {
            // SAFETY: `slot` is a PMEMoid inside the root object (in the pool), as
            // pmemobj_alloc requires of its destination; the constructor writes 128 bytes.
            let rc = unsafe {
                pmdk::pmemobj_alloc(
                    pool.raw(),
                    std::ptr::addr_of_mut!((*root).slot),
                    128,
                    1,
                    Some(construct),
                    std::ptr::null_mut(),
                )
            };
            if rc != 0 {
                return Err(format!("pmemobj_alloc: {}", pmdk::last_error()));
            }
            // SAFETY: reads the slot just written (plain data in the root object).
            oids.push(unsafe { (*root).slot });
            Ok(())
        })?);
        // Free them atomically (the counterpart of the atomic allocation), the last one
        // through the root's slot so that it ends null.
        let last = oids.pop();
        for mut oid in oids {
            // SAFETY: `oid` is a live object of this pool, not referenced from the pool
            // (only the root's slot is, and it holds the last one).
            unsafe { pmdk::pmemobj_free(&mut oid) };
        }
        if last.is_some() {
            // SAFETY: the root's slot holds the last object allocated; pmemobj_free frees it
            // and sets the slot to OID_NULL atomically.
            unsafe { pmdk::pmemobj_free(std::ptr::addr_of_mut!((*root).slot)) };
        }
        Ok(out)
    }
}
