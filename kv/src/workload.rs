//! The benchmark workload engine shared by `pkv bench` and the `pobj-bench` peer comparison.
//!
//! A store under test implements [`Store`] (put, get, remove, a forward scan, flush; `Send +
//! Sync`, every method takes `&self`), and a [`Backend`] creates and reopens it. [`run`] drives a
//! list of [`Workload`]s through it in order and returns a [`Report`]:
//!
//! - **Keys** are key numbers written big-endian into `key_size` bytes (zero-padded on the left).
//!   Stored keys have even numbers (`2i` for the i-th key), so a missing key (`2i + 1`) falls
//!   between two stored ones rather than past the end. Values are `value_size` bytes.
//! - **fillseq** and **fillrandom** start from a fresh, empty store and write `keys` keys, in
//!   ascending order or in a seeded random permutation (every key once). Any other workload that
//!   finds no full store first loads one (fillrandom, untimed).
//! - **overwrite**, **readrandom** (hits; each checked), **readmissing** (misses; checked):
//!   `ops` operations on uniformly random keys (YCSB E does a tenth of `ops`: each of its scans
//!   reads 50 entries on average). **readseq** scans the whole store in key order.
//!   **deleterandom** removes every key in a random order (each must be found).
//! - **readwhilewriting**: one writer thread overwrites random keys for as long as the readers
//!   run; the readers (`threads - 1` of them, at least one) do `ops` random reads. The figures are
//!   the readers'; the writer's rate is reported beside them.
//! - **YCSB A-F** as in the YCSB paper (Cooper et al., SoCC 2010) and its core workloads: A 50%
//!   reads / 50% updates, B 95/5, C reads only, D 95% reads / 5% inserts with the *latest*
//!   distribution, E 95% short scans (uniform length 1..=`scan_max` from a zipfian start key) /
//!   5% inserts, F 50% reads / 50% read-modify-writes. The request distribution is the *scrambled
//!   zipfian* one (Gray et al.'s generator, theta 0.99, over a large item space hashed with
//!   FNV-1a onto the keys); *latest* is a zipfian over the insert order, skewed to the newest.
//!   Inserts take new key numbers past the existing ones.
//! - With `threads` > 1 the operations of a workload are split evenly among the threads.
//!
//! Figures per workload: ops/s (operations over the wall time from the start barrier to the
//! last thread's end, including a final [`Store::flush`]), latency percentiles from an
//! HdrHistogram (p50, p99, p99.9, in nanoseconds), bytes written per byte of user data (key +
//! value per write, key per delete) and fences per operation — from the store's own counters
//! ([`Store::write_counters`]) where it has them, else from the process's I/O counters
//! (`/proc/self/io`: the larger of the bytes passed to write system calls and the bytes sent to
//! the storage layer). Per run: the open (recovery) time of the filled store, the store's own
//! count of its DRAM bytes per key where it keeps one, the growth of the process's anonymous
//! memory per key over the first fill, and the peak RSS (`VmHWM`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::Db;

// ---- errors -----------------------------------------------------------------------------------

/// An error returned by a store under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    unsupported: bool,
    message: String,
}

impl StoreError {
    /// A failed operation.
    pub fn new(message: impl fmt::Display) -> Self {
        StoreError {
            unsupported: false,
            message: message.to_string(),
        }
    }

    /// An operation the store does not offer (the workload is skipped for it).
    pub fn unsupported(what: impl fmt::Display) -> Self {
        StoreError {
            unsupported: true,
            message: what.to_string(),
        }
    }

    /// Whether the store does not offer the operation.
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unsupported {
            write!(f, "unsupported: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for StoreError {}

impl From<crate::Error> for StoreError {
    fn from(e: crate::Error) -> Self {
        StoreError::new(e)
    }
}

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration cannot be run.
    #[error("{0}")]
    Config(String),
    /// A workload name that is not known.
    #[error("unknown workload {0:?}; known: {known}", known = Workload::names())]
    UnknownWorkload(String),
    /// The store failed.
    #[error("{store}: {workload}: {error}")]
    Store {
        /// The store's name.
        store: String,
        /// The workload (or phase) running.
        workload: String,
        /// The store's error.
        error: StoreError,
    },
    /// The store returned a wrong result.
    #[error("{store}: {workload}: wrong result: {detail}")]
    Verify {
        /// The store's name.
        store: String,
        /// The workload running.
        workload: String,
        /// What was wrong.
        detail: String,
    },
    /// A benchmark thread panicked (inside the store's code).
    #[error("{store}: {workload}: a benchmark thread panicked")]
    Panicked {
        /// The store's name.
        store: String,
        /// The workload running.
        workload: String,
    },
}

// ---- the store interface ----------------------------------------------------------------------

/// Bytes a store wrote and fences it issued, by its own count (monotonic counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounters {
    /// Bytes written to the medium (flushed cache lines, or the bytes of flushes, compactions
    /// and log writes).
    pub bytes: u64,
    /// Fences (ordering points), where the store counts them.
    pub fences: Option<u64>,
}

/// A key-value store under test. Every method takes `&self`; the engine calls them from several
/// threads at once.
pub trait Store: Send + Sync {
    /// Inserts or replaces `key`'s value.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Copies `key`'s value into `value` (replacing its contents); `false` if absent.
    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError>;
    /// Removes `key`; `false` if it was absent.
    fn remove(&self, key: &[u8]) -> Result<bool, StoreError>;
    /// Calls `visit` for up to `count` entries with keys at or after `start`, in key order;
    /// returns the number visited.
    fn scan(
        &self,
        start: &[u8],
        count: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError>;
    /// Makes every write so far durable (for stores that batch); called at the end of each
    /// writing workload, inside its timing.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The store's own write counters, if it keeps them; otherwise the engine reads the
    /// process's I/O counters.
    fn write_counters(&self) -> Option<WriteCounters> {
        None
    }
    /// The store's own count of the DRAM it uses for its index, if it keeps one.
    fn dram_bytes(&self) -> Option<u64> {
        None
    }
}

/// Creates and reopens one kind of store.
pub trait Backend {
    /// The store's name in tables (`pobj-kv`, `rocksdb-sync`, ...).
    fn name(&self) -> String;
    /// One line on how it is configured (durability, batching).
    fn description(&self) -> String {
        String::new()
    }
    /// Creates a fresh, empty store (replacing the one created before, which has been dropped).
    fn create(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Reopens the store created last (dropped just before); `None` if the store does not
    /// persist.
    fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError>;
}

// ---- pobj-kv as a store -------------------------------------------------------------------------

impl Store for Db {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        Ok(Db::put(self, key, value)?)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        let found = self.get_with(key, |v| {
            value.clear();
            value.extend_from_slice(v);
        })?;
        Ok(found.is_some())
    }

    fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(Db::remove(self, key)?)
    }

    fn scan(
        &self,
        start: &[u8],
        count: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        if count == 0 {
            return Ok(0);
        }
        self.get_equal_above(start, |k, v| {
            visit(k, v);
            n += 1;
            n < count
        })?;
        Ok(n)
    }

    fn write_counters(&self) -> Option<WriteCounters> {
        let s = self.pool_info().persist_stats();
        Some(WriteCounters {
            bytes: s.bytes_flushed,
            fences: Some(s.fences),
        })
    }

    fn dram_bytes(&self) -> Option<u64> {
        Some(self.stats().dram_bytes)
    }
}

/// pobj-kv in a pool file: [`Backend`] for [`Db`].
#[derive(Debug)]
pub struct KvBackend {
    path: PathBuf,
    size: u64,
    mode: std::sync::Mutex<Option<pobj::PersistMode>>,
}

impl KvBackend {
    /// Stores in the pool file `path` of `size` bytes (replaced at each create; the caller
    /// removes it at the end).
    pub fn new(path: impl Into<PathBuf>, size: u64) -> Self {
        KvBackend {
            path: path.into(),
            size,
            mode: std::sync::Mutex::new(None),
        }
    }

    /// The persistence mode of the pool created last (`None` before the first).
    #[must_use]
    pub fn persist_mode(&self) -> Option<pobj::PersistMode> {
        *self
            .mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pool size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The pool file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pool size for a run: room for `keys` entries of `key_size + value_size` bytes twice
    /// over (leaves are half full after splits), with per-entry overhead, at least 64 MiB.
    #[must_use]
    pub fn pool_size(keys: u64, key_size: u64, value_size: u64) -> Option<u64> {
        const MIB: u64 = 1 << 20;
        keys.checked_mul(key_size.checked_add(value_size)?.checked_add(200)?)
            .and_then(|b| b.checked_mul(2))
            .and_then(|b| b.checked_next_multiple_of(MIB))
            .map(|b| b.max(64 * MIB))
    }
}

impl Backend for KvBackend {
    fn name(&self) -> String {
        "pobj-kv".into()
    }

    fn description(&self) -> String {
        let mode = self
            .persist_mode()
            .map_or_else(String::new, |m| format!(", persistence {m}"));
        format!("every put and remove durable when it returns{mode}")
    }

    fn create(&self) -> Result<Box<dyn Store>, StoreError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::new(format!(
                    "removing {}: {e}",
                    self.path.display()
                )))
            }
        }
        let db = Db::create(&self.path, self.size)?;
        *self
            .mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(db.pool_info().persist_mode());
        Ok(Box::new(db))
    }

    fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
        Ok(Some(Box::new(Db::open(&self.path)?)))
    }
}

// ---- workloads ----------------------------------------------------------------------------------

/// A YCSB core workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ycsb {
    /// 50% reads, 50% updates, zipfian.
    A,
    /// 95% reads, 5% updates, zipfian.
    B,
    /// Reads only, zipfian.
    C,
    /// 95% reads, 5% inserts, latest.
    D,
    /// 95% short scans, 5% inserts, zipfian.
    E,
    /// 50% reads, 50% read-modify-writes, zipfian.
    F,
}

/// A workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Fresh store, keys in ascending order.
    FillSeq,
    /// Fresh store, keys in a random order (each once).
    FillRandom,
    /// Puts to random existing keys.
    Overwrite,
    /// Gets of random existing keys.
    ReadRandom,
    /// Gets of random absent keys.
    ReadMissing,
    /// A scan of the whole store.
    ReadSeq,
    /// Removes of every key in a random order.
    DeleteRandom,
    /// Random gets while one thread overwrites.
    ReadWhileWriting,
    /// A YCSB core workload.
    Ycsb(Ycsb),
}

impl Workload {
    /// Every workload, in the default order of a run.
    pub const ALL: [Workload; 14] = [
        Workload::FillSeq,
        Workload::ReadSeq,
        Workload::FillRandom,
        Workload::ReadRandom,
        Workload::ReadMissing,
        Workload::Overwrite,
        Workload::ReadWhileWriting,
        Workload::Ycsb(Ycsb::A),
        Workload::Ycsb(Ycsb::B),
        Workload::Ycsb(Ycsb::C),
        Workload::Ycsb(Ycsb::D),
        Workload::Ycsb(Ycsb::E),
        Workload::Ycsb(Ycsb::F),
        Workload::DeleteRandom,
    ];

    /// The name in tables and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::ReadSeq => "readseq",
            Workload::DeleteRandom => "deleterandom",
            Workload::ReadWhileWriting => "readwhilewriting",
            Workload::Ycsb(Ycsb::A) => "ycsb-a",
            Workload::Ycsb(Ycsb::B) => "ycsb-b",
            Workload::Ycsb(Ycsb::C) => "ycsb-c",
            Workload::Ycsb(Ycsb::D) => "ycsb-d",
            Workload::Ycsb(Ycsb::E) => "ycsb-e",
            Workload::Ycsb(Ycsb::F) => "ycsb-f",
        }
    }

    /// The known names, comma-separated.
    #[must_use]
    pub fn names() -> String {
        let v: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
        format!("{}, all, ycsb", v.join(", "))
    }

    /// Parses one name (`ycsb-a`, `ycsba` and `a` are the same; case-insensitive).
    pub fn parse(s: &str) -> Result<Workload, BenchError> {
        let l = s.trim().to_ascii_lowercase();
        let norm = l
            .strip_prefix("ycsb")
            .map_or(l.as_str(), |r| r.trim_start_matches(['-', '_']));
        for w in Workload::ALL {
            if w.name() == l {
                return Ok(w);
            }
            if let Workload::Ycsb(_) = w {
                if w.name().ends_with(&format!("-{norm}")) && norm.len() == 1 {
                    return Ok(w);
                }
            }
        }
        Err(BenchError::UnknownWorkload(s.to_string()))
    }

    /// Parses a comma-separated list; `all` is every workload and `ycsb` the six YCSB ones.
    pub fn parse_list(s: &str) -> Result<Vec<Workload>, BenchError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "all" => out.extend(Workload::ALL),
                "ycsb" => out.extend(
                    Workload::ALL
                        .into_iter()
                        .filter(|w| matches!(w, Workload::Ycsb(_))),
                ),
                _ => out.push(Workload::parse(part)?),
            }
        }
        if out.is_empty() {
            return Err(BenchError::Config("no workload named".into()));
        }
        Ok(out)
    }

    /// Whether the workload writes.
    #[must_use]
    pub fn writes(self) -> bool {
        !matches!(
            self,
            Workload::ReadRandom
                | Workload::ReadMissing
                | Workload::ReadSeq
                | Workload::Ycsb(Ycsb::C)
        )
    }

    fn fills(self) -> bool {
        matches!(self, Workload::FillSeq | Workload::FillRandom)
    }

    fn code(self) -> u64 {
        Workload::ALL
            .iter()
            .position(|w| *w == self)
            .map_or(99, |p| p as u64)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---- configuration ------------------------------------------------------------------------------

/// The parameters of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Keys written by the fills.
    pub keys: u64,
    /// Operations of the random-access and YCSB workloads.
    pub ops: u64,
    /// Bytes per key.
    pub key_size: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Threads sharing each workload's operations.
    pub threads: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Longest YCSB-E scan (lengths are uniform in `1..=scan_max`).
    pub scan_max: usize,
}

impl Config {
    /// `keys` keys of 16 bytes with 100-byte values, as many operations per workload, one
    /// thread, seed 42, scans of up to 100 entries.
    #[must_use]
    pub fn new(keys: u64) -> Self {
        Config {
            keys,
            ops: keys,
            key_size: 16,
            value_size: 100,
            threads: 1,
            seed: 42,
            scan_max: 100,
        }
    }

    /// Operations of YCSB E: a tenth of `ops` (at least one), since each of its scans reads
    /// 50 entries on average.
    #[must_use]
    pub fn scan_ops(&self) -> u64 {
        (self.ops / 10).max(1)
    }

    /// Checks that the run can be done: at least one key and thread, and keys wide enough for
    /// every key number the run can use (2 × (keys + ops)).
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.keys == 0 {
            return Err(BenchError::Config("--keys must be at least 1".into()));
        }
        if self.threads == 0 {
            return Err(BenchError::Config("--threads must be at least 1".into()));
        }
        if self.key_size == 0 || self.key_size > crate::MAX_KEY_LEN {
            return Err(BenchError::Config(format!(
                "--key-size must be 1 to {}",
                crate::MAX_KEY_LEN
            )));
        }
        if self.value_size > crate::MAX_VALUE_LEN {
            return Err(BenchError::Config(format!(
                "--value-size {} exceeds the maximum of {}",
                self.value_size,
                crate::MAX_VALUE_LEN
            )));
        }
        let needed = self
            .keys
            .checked_add(self.ops)
            .and_then(|n| n.checked_mul(2));
        let room = if self.key_size >= 8 {
            Some(u64::MAX)
        } else {
            1u64.checked_shl(8 * self.key_size as u32)
        };
        match (needed, room) {
            (Some(n), Some(r)) if n <= r => Ok(()),
            _ => Err(BenchError::Config(format!(
                "--key-size {} holds only {} distinct keys; the run needs 2 × (keys + ops) = {}",
                self.key_size,
                room.map_or_else(|| "2^64".to_string(), |r| r.to_string()),
                needed.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
            ))),
        }
    }
}

// ---- random numbers and distributions -----------------------------------------------------------

/// splitmix64: a small, fast, seeded generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-high.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `0..n` in a random order (Fisher-Yates).
#[must_use]
pub fn permutation(n: u64, rng: &mut Rng) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// The zipfian constant of YCSB.
pub const ZIPFIAN_THETA: f64 = 0.99;

/// `sum_{i=from+1}^{to} i^-theta`, summed exactly.
fn zeta_range(from: u64, to: u64, theta: f64) -> f64 {
    (from + 1..=to).map(|i| (i as f64).powf(-theta)).sum()
}

/// Where [`zeta`] switches from summing to the Euler-Maclaurin formula.
const ZETA_EXACT: u64 = 1 << 20;

/// The generalised harmonic number `zeta(n, theta) = sum_{i=1}^{n} i^-theta`: summed exactly up
/// to 2^20 terms, beyond that the exact head plus the Euler-Maclaurin tail (integral, half end
/// terms and the first derivative correction), accurate to better than 1e-12 relative.
#[must_use]
pub fn zeta(n: u64, theta: f64) -> f64 {
    if n <= ZETA_EXACT {
        return zeta_range(0, n, theta);
    }
    let m = ZETA_EXACT as f64;
    let x = n as f64;
    let f = |t: f64| t.powf(-theta);
    let df = |t: f64| -theta * t.powf(-theta - 1.0);
    let integral = (x.powf(1.0 - theta) - m.powf(1.0 - theta)) / (1.0 - theta);
    zeta_range(0, ZETA_EXACT, theta) + integral + (f(x) - f(m)) / 2.0 + (df(x) - df(m)) / 12.0
}

/// Gray et al.'s zipfian generator ("Quickly generating billion-record synthetic databases",
/// SIGMOD 1994), as YCSB uses it: item 0 is the most popular; the item count may grow (the zeta
/// constant is then extended incrementally).
#[derive(Clone, Debug)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zeta2: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `0..items` (`items` ≥ 1) with exponent `theta` (0 < theta < 1).
    #[must_use]
    pub fn new(items: u64, theta: f64) -> Self {
        Zipfian::with_zetan(items, theta, zeta(items.max(1), theta))
    }

    fn with_zetan(items: u64, theta: f64, zetan: f64) -> Self {
        let items = items.max(1);
        let zeta2 = zeta(2, theta);
        let mut z = Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta2,
            zetan,
            eta: 0.0,
        };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        let denom = 1.0 - self.zeta2 / self.zetan;
        if items <= 2 || denom <= 0.0 {
            0.0
        } else {
            (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / denom
        }
    }

    /// The item count.
    #[must_use]
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Grows the item space to `items` (never shrinks it).
    pub fn grow(&mut self, items: u64) {
        if items > self.items {
            self.zetan += zeta_range(self.items, items, self.theta);
            self.items = items;
            self.eta = self.eta_for(items);
        }
    }

    /// The next item, in `0..items`.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        let v = (self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        v.min(self.items - 1)
    }
}

/// FNV-1a over the eight little-endian bytes of `v` (YCSB's key scrambling hash).
#[must_use]
pub fn fnv1a64(v: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// YCSB's scrambled zipfian: a zipfian over a space of 10^10 items, hashed onto `0..items`, so
/// the popular keys are spread over the key space instead of clustered at its start.
#[derive(Clone, Debug)]
pub struct ScrambledZipfian {
    inner: Zipfian,
    items: u64,
}

impl ScrambledZipfian {
    /// The size of the underlying zipfian's item space.
    pub const SPACE: u64 = 10_000_000_000;

    /// A generator over `0..items` (`items` ≥ 1).
    #[must_use]
    pub fn new(items: u64) -> Self {
        ScrambledZipfian {
            inner: Zipfian::new(Self::SPACE, ZIPFIAN_THETA),
            items: items.max(1),
        }
    }

    /// The next item, in `0..items`.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        fnv1a64(self.inner.next(rng)) % self.items
    }
}

// ---- keys and values ----------------------------------------------------------------------------

/// Writes key number `id` big-endian into `buf` (zero-padded on the left, or its low bytes when
/// `buf` is shorter than 8 bytes).
pub fn encode_key(id: u64, buf: &mut [u8]) {
    let be = id.to_be_bytes();
    if buf.len() >= 8 {
        let pad = buf.len() - 8;
        buf[..pad].fill(0);
        buf[pad..].copy_from_slice(&be);
    } else {
        let n = buf.len();
        buf.copy_from_slice(&be[8 - n..]);
    }
}

/// The key of the i-th stored key (`2i`).
fn present(i: u64, buf: &mut [u8]) {
    encode_key(i.wrapping_mul(2), buf);
}

/// A key between the i-th and the next stored key (`2i + 1`).
fn absent(i: u64, buf: &mut [u8]) {
    encode_key(i.wrapping_mul(2).wrapping_add(1), buf);
}

/// Writes a value for key `i`: a pattern from `salt`, with the key number in front.
fn fill_value(i: u64, salt: u8, buf: &mut [u8]) {
    buf.fill(salt);
    let le = i.to_le_bytes();
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&le[..n]);
}

/// The successor of `key` in bytewise order (`key` followed by a zero byte).
fn successor(key: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    out.push(0);
}

// ---- process measurements -----------------------------------------------------------------------

/// Measurements of the running process from `/proc` (Linux); `None` elsewhere.
pub mod proc {
    /// A `kB` field of `/proc/self/status`, in bytes.
    #[must_use]
    pub fn status_bytes(field: &str) -> Option<u64> {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        s.lines().find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            kb.checked_mul(1024)
        })
    }

    /// The peak resident set size (`VmHWM`), in bytes.
    #[must_use]
    pub fn peak_rss() -> Option<u64> {
        status_bytes("VmHWM")
    }

    /// The resident anonymous memory (`RssAnon`: heap and stacks, not mapped files), in bytes.
    #[must_use]
    pub fn anon_rss() -> Option<u64> {
        status_bytes("RssAnon")
    }

    /// The process's I/O counters: bytes passed to write system calls (`wchar`) and bytes sent
    /// to the storage layer (`write_bytes`; zero on tmpfs, which has none).
    #[must_use]
    pub fn io_written() -> Option<(u64, u64)> {
        let s = std::fs::read_to_string("/proc/self/io").ok()?;
        let field = |name: &str| {
            s.lines().find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(':')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        Some((field("wchar")?, field("write_bytes")?))
    }

    /// The machine: CPU model, logical CPUs, memory in bytes.
    #[must_use]
    pub fn machine() -> (String, usize, Option<u64>) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim() == "model name").then(|| v.trim().to_string())
                })
            })
            .unwrap_or_else(|| "unknown".to_string());
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines().find_map(|l| {
                let kb: u64 = l
                    .strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()?;
                kb.checked_mul(1024)
            })
        });
        (cpu, cpus, mem)
    }
}

// ---- progress -----------------------------------------------------------------------------------

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

// ---- results ------------------------------------------------------------------------------------

/// Latency percentiles of one workload, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// Where the written bytes of a workload were counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrittenSource {
    /// The store's own counters ([`Store::write_counters`]).
    Store,
    /// The process's I/O counters (`/proc/self/io`).
    Process,
    /// Not measured.
    None,
}

impl WrittenSource {
    /// The name in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WrittenSource::Store => "store counters",
            WrittenSource::Process => "process I/O",
            WrittenSource::None => "none",
        }
    }
}

/// The figures of one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadResult {
    /// The workload.
    pub workload: Workload,
    /// Operations measured (for readwhilewriting, the readers').
    pub ops: u64,
    /// Wall time of the measured operations.
    pub elapsed: Duration,
    /// Latencies of the measured operations.
    pub latency: Latency,
    /// Key and value bytes written by the operations (key per delete).
    pub user_bytes: u64,
    /// Bytes written, by [`Self::written_source`].
    pub written: u64,
    /// Where `written` was counted.
    pub written_source: WrittenSource,
    /// Fences, where the store counts them.
    pub fences: Option<u64>,
    /// Operations of the background writer (readwhilewriting), 0 otherwise.
    pub background_ops: u64,
    /// Reads that found nothing where a hit was possible but not certain (YCSB D and E reading
    /// keys inserted concurrently).
    pub misses: u64,
}

impl WorkloadResult {
    /// Operations per second.
    #[must_use]
    pub fn ops_per_sec(&self) -> f64 {
        rate(self.ops, self.elapsed)
    }

    /// The background writer's operations per second.
    #[must_use]
    pub fn background_ops_per_sec(&self) -> f64 {
        rate(self.background_ops, self.elapsed)
    }

    /// Bytes written per byte of user data, if the workload wrote and the bytes were counted.
    #[must_use]
    pub fn write_amplification(&self) -> Option<f64> {
        (self.user_bytes > 0 && self.written_source != WrittenSource::None)
            .then(|| self.written as f64 / self.user_bytes as f64)
    }

    /// Fences per operation (measured and background), where counted.
    #[must_use]
    pub fn fences_per_op(&self) -> Option<f64> {
        let ops = (self.ops + self.background_ops).max(1);
        self.fences.map(|f| f as f64 / ops as f64)
    }
}

fn rate(ops: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        ops as f64 / s
    } else {
        0.0
    }
}

/// The results of a run on one store.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The store's name.
    pub store: String,
    /// How it is configured.
    pub description: String,
    /// The run's parameters.
    pub config: Config,
    /// The workloads run, in order.
    pub results: Vec<WorkloadResult>,
    /// Workloads the store does not support, with the reason.
    pub skipped: Vec<(Workload, String)>,
    /// Time to reopen the filled store (recovery), and the keys it held; `None` if the store does
    /// not persist or no fill ran.
    pub open: Option<(Duration, u64)>,
    /// The store's own DRAM count per key after the first fill.
    pub dram_bytes_per_key: Option<f64>,
    /// Growth of the process's anonymous memory per key over the first fill.
    pub anon_bytes_per_key: Option<f64>,
    /// Peak RSS of the process at the end.
    pub peak_rss: Option<u64>,
}

impl Report {
    /// The result of `w`, if it ran.
    #[must_use]
    pub fn result(&self, w: Workload) -> Option<&WorkloadResult> {
        self.results.iter().find(|r| r.workload == w)
    }

    /// The report as a JSON object.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut o = json::Object::new();
        o.str("store", &self.store);
        o.str("description", &self.description);
        let mut c = json::Object::new();
        c.num("keys", self.config.keys as f64);
        c.num("ops", self.config.ops as f64);
        c.num("key_size", self.config.key_size as f64);
        c.num("value_size", self.config.value_size as f64);
        c.num("threads", self.config.threads as f64);
        c.num("seed", self.config.seed as f64);
        c.num("scan_max", self.config.scan_max as f64);
        o.raw("config", &c.finish());
        let rows: Vec<String> = self
            .results
            .iter()
            .map(|r| {
                let mut w = json::Object::new();
                w.str("name", r.workload.name());
                w.num("ops", r.ops as f64);
                w.num("seconds", r.elapsed.as_secs_f64());
                w.num("ops_per_sec", r.ops_per_sec());
                let mut l = json::Object::new();
                l.num("p50", r.latency.p50 as f64);
                l.num("p99", r.latency.p99 as f64);
                l.num("p999", r.latency.p999 as f64);
                l.num("max", r.latency.max as f64);
                l.num("mean", r.latency.mean);
                w.raw("latency_ns", &l.finish());
                w.num("user_bytes", r.user_bytes as f64);
                w.num("bytes_written", r.written as f64);
                w.str("bytes_written_source", r.written_source.name());
                w.opt("write_amplification", r.write_amplification());
                w.opt("fences", r.fences.map(|f| f as f64));
                w.opt("fences_per_op", r.fences_per_op());
                w.num("background_ops", r.background_ops as f64);
                w.num("background_ops_per_sec", r.background_ops_per_sec());
                w.num("misses", r.misses as f64);
                w.finish()
            })
            .collect();
        o.raw("workloads", &format!("[{}]", rows.join(",")));
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(w, why)| {
                let mut s = json::Object::new();
                s.str("name", w.name());
                s.str("reason", why);
                s.finish()
            })
            .collect();
        o.raw("skipped", &format!("[{}]", skipped.join(",")));
        o.opt("open_ms", self.open.map(|(d, _)| d.as_secs_f64() * 1e3));
        o.opt("open_keys", self.open.map(|(_, k)| k as f64));
        o.opt("dram_bytes_per_key", self.dram_bytes_per_key);
        o.opt("anon_bytes_per_key", self.anon_bytes_per_key);
        o.opt("peak_rss_bytes", self.peak_rss.map(|b| b as f64));
        o.finish()
    }
}

/// A minimal JSON writer (objects of numbers, strings and raw JSON).
pub mod json {
    use std::fmt::Write as _;

    /// A JSON string literal.
    #[must_use]
    pub fn string(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A JSON number (`null` if not finite); integers without a fraction.
    #[must_use]
    pub fn number(v: f64) -> String {
        if !v.is_finite() {
            "null".into()
        } else if v.fract() == 0.0 && v.abs() < 9e15 {
            format!("{}", v as i64)
        } else {
            format!("{v:.6}")
        }
    }

    /// An object being written.
    #[derive(Debug, Default)]
    pub struct Object {
        fields: Vec<String>,
    }

    impl Object {
        /// An empty object.
        #[must_use]
        pub fn new() -> Self {
            Object::default()
        }
        /// A string field.
        pub fn str(&mut self, k: &str, v: &str) {
            self.raw(k, &string(v));
        }
        /// A number field.
        pub fn num(&mut self, k: &str, v: f64) {
            self.raw(k, &number(v));
        }
        /// A number or `null`.
        pub fn opt(&mut self, k: &str, v: Option<f64>) {
            self.raw(k, &v.map_or_else(|| "null".into(), number));
        }
        /// A field holding JSON text.
        pub fn raw(&mut self, k: &str, v: &str) {
            self.fields.push(format!("{}:{v}", string(k)));
        }
        /// The object's text.
        #[must_use]
        pub fn finish(&self) -> String {
            format!("{{{}}}", self.fields.join(","))
        }
    }
}

// ---- the engine ---------------------------------------------------------------------------------

/// What the threads of one workload measured.
struct ThreadOut {
    hist: Histogram<u64>,
    ops: u64,
    user_bytes: u64,
    misses: u64,
    background: bool,
}

/// Per-thread recording of latencies and progress.
struct Recorder<'a> {
    hist: Histogram<u64>,
    ops: u64,
    user_bytes: u64,
    misses: u64,
    unreported: u64,
    progress: &'a dyn Progress,
    abort: &'a AtomicBool,
    background: bool,
}

/// Progress is reported, and the abort flag checked, every this many operations.
const REPORT_EVERY: u64 = 1024;

impl Recorder<'_> {
    /// Records one operation started at `t` that wrote `user_bytes`.
    #[inline]
    fn done(&mut self, t: Instant, user_bytes: u64) -> bool {
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
        self.count(1, user_bytes)
    }

    /// Counts `n` operations; `false` when the run is being aborted.
    #[inline]
    fn count(&mut self, n: u64, user_bytes: u64) -> bool {
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

fn new_hist() -> Result<Histogram<u64>, BenchError> {
    // 1 ns to 1000 s at three significant digits.
    Histogram::new_with_bounds(1, 1_000_000_000_000, 3)
        .map_err(|e| BenchError::Config(format!("latency histogram: {e:?}")))
}

/// Operation range of thread `t` of `n` over `total`.
fn share(total: u64, t: usize, n: usize) -> Range<u64> {
    let at = |i: usize| ((u128::from(total) * i as u128) / n.max(1) as u128) as u64;
    at(t)..at(t + 1)
}

/// The state carried between workloads.
struct State {
    store: Option<Box<dyn Store>>,
    /// Keys `0..count` are present.
    count: u64,
    /// Whether the store holds every key of the last fill.
    full: bool,
    /// Whether anything was written since the last open-time measurement.
    filled_once: bool,
}

struct Ctx<'a> {
    name: String,
    cfg: &'a Config,
    progress: &'a dyn Progress,
}

impl Ctx<'_> {
    fn store_err(&self, workload: &str, error: StoreError) -> BenchError {
        BenchError::Store {
            store: self.name.clone(),
            workload: workload.into(),
            error,
        }
    }

    fn verify(&self, workload: Workload, detail: String) -> BenchError {
        BenchError::Verify {
            store: self.name.clone(),
            workload: workload.name().into(),
            detail,
        }
    }

    fn seed(&self, w: u64, t: u64) -> u64 {
        self.cfg
            .seed
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add(w.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_add(t.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    /// Runs `f` on `threads` threads (thread `t` gets `f(t, recorder)`); the wall time from the
    /// start barrier to the last thread's end, and each thread's measurements.
    fn parallel<F>(
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

/// Counter readings around a workload.
struct Counters {
    store: Option<WriteCounters>,
    io: Option<(u64, u64)>,
}

impl Counters {
    fn read(store: &dyn Store) -> Self {
        Counters {
            store: store.write_counters(),
            io: proc::io_written(),
        }
    }

    /// Bytes written since `before`, where they were counted, and fences.
    fn since(&self, before: &Counters) -> (u64, WrittenSource, Option<u64>) {
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
    match reopened {
        Some(s) => {
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
        }
        None => {
            // Not persistent: the store is gone; the next workload reloads.
            st.full = false;
            st.count = 0;
        }
    }
    Ok(())
}

/// The latency summary of merged histograms.
fn latency(h: &Histogram<u64>) -> Latency {
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

/// Runs one workload on the current store.
fn run_one(ctx: &Ctx<'_>, st: &mut State, w: Workload) -> Result<WorkloadResult, BenchError> {
    let Some(store) = st.store.as_deref() else {
        return Err(BenchError::Config("no store".into()));
    };
    let cfg = ctx.cfg;
    let (ks, vs) = (cfg.key_size, cfg.value_size);
    let kv = (ks + vs) as u64;
    let threads = cfg.threads;
    let n = cfg.keys;
    let count = st.count;
    let name = w.name();
    let code = w.code();
    let label = format!("{} {name}", ctx.name);
    let errs = |e: StoreError| ctx.store_err(name, e);

    // Inputs prepared before the timing.
    let perm = match w {
        Workload::FillRandom => permutation(n, &mut Rng::new(ctx.seed(code, 999))),
        Workload::DeleteRandom => permutation(count, &mut Rng::new(ctx.seed(code, 999))),
        _ => Vec::new(),
    };
    let next_id = AtomicU64::new(count);
    let readers_left = AtomicU64::new(0);
    let total = match w {
        Workload::FillSeq | Workload::FillRandom => n,
        Workload::ReadSeq | Workload::DeleteRandom => count,
        Workload::Ycsb(Ycsb::E) => cfg.scan_ops(),
        _ => cfg.ops,
    };
    let (work_threads, background) = if w == Workload::ReadWhileWriting {
        let readers = threads.saturating_sub(1).max(1);
        readers_left.store(readers as u64, Ordering::Relaxed);
        (readers + 1, Some(readers))
    } else {
        (threads, None)
    };
    let readers = background.unwrap_or(work_threads);
    // YCSB key choosers: a scrambled zipfian over the keys and the expected inserts.
    let insert_share = match w {
        Workload::Ycsb(Ycsb::D | Ycsb::E) => 0.05,
        _ => 0.0,
    };
    let zipf_space = count + (cfg.ops as f64 * insert_share * 2.0) as u64;
    let scrambled = ScrambledZipfian::new(zipf_space.max(1));
    let latest = Zipfian::new(count.max(1), ZIPFIAN_THETA);

    let before = Counters::read(store);
    ctx.progress.start(&label, total);
    let body = |t: usize, rec: &mut Recorder<'_>| -> Result<(), BenchError> {
        let mut key = vec![0u8; ks];
        let mut val = vec![0u8; vs];
        let mut out: Vec<u8> = Vec::with_capacity(vs);
        let mut rng = Rng::new(ctx.seed(code, t as u64));
        let range = share(total, t, readers);
        match w {
            Workload::FillSeq => {
                for i in range {
                    present(i, &mut key);
                    fill_value(i, 1, &mut val);
                    let t0 = Instant::now();
                    store.put(&key, &val).map_err(errs)?;
                    if !rec.done(t0, kv) {
                        break;
                    }
                }
            }
            Workload::FillRandom => {
                let slice = perm
                    .get(range.start as usize..range.end as usize)
                    .unwrap_or(&[]);
                for &i in slice {
                    present(i, &mut key);
                    fill_value(i, 2, &mut val);
                    let t0 = Instant::now();
                    store.put(&key, &val).map_err(errs)?;
                    if !rec.done(t0, kv) {
                        break;
                    }
                }
            }
            Workload::Overwrite => {
                for _ in range {
                    let i = rng.below(count);
                    present(i, &mut key);
                    fill_value(i, 3, &mut val);
                    let t0 = Instant::now();
                    store.put(&key, &val).map_err(errs)?;
                    if !rec.done(t0, kv) {
                        break;
                    }
                }
            }
            Workload::ReadRandom => {
                for _ in range {
                    let i = rng.below(count);
                    present(i, &mut key);
                    let t0 = Instant::now();
                    let found = store.get(&key, &mut out).map_err(errs)?;
                    let ok = rec.done(t0, 0);
                    if !found {
                        return Err(ctx.verify(w, format!("key {i} is missing")));
                    }
                    if out.len() != vs {
                        return Err(ctx.verify(
                            w,
                            format!("key {i} has a value of {} bytes, not {vs}", out.len()),
                        ));
                    }
                    if !ok {
                        break;
                    }
                }
            }
            Workload::ReadMissing => {
                for _ in range {
                    let i = rng.below(count);
                    absent(i, &mut key);
                    let t0 = Instant::now();
                    let found = store.get(&key, &mut out).map_err(errs)?;
                    let ok = rec.done(t0, 0);
                    if found {
                        return Err(ctx.verify(w, format!("absent key {i} was found")));
                    }
                    if !ok {
                        break;
                    }
                }
            }
            Workload::ReadSeq => {
                const CHUNK: usize = 1024;
                let mut left = range.end - range.start;
                present(range.start, &mut key);
                let mut start = key.clone();
                let mut last = Vec::with_capacity(ks);
                while left > 0 {
                    let want = left.min(CHUNK as u64) as usize;
                    let t0 = Instant::now();
                    let got = store
                        .scan(&start, want, &mut |k, _| {
                            last.clear();
                            last.extend_from_slice(k);
                        })
                        .map_err(errs)?;
                    let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    if got == 0 {
                        return Err(ctx.verify(w, format!("the scan ended {left} keys early")));
                    }
                    let per = (ns / got as u64).max(1);
                    rec.hist.saturating_record_n(per, got as u64);
                    left -= got as u64;
                    successor(&last, &mut start);
                    if !rec.count(got as u64, 0) {
                        break;
                    }
                }
            }
            Workload::DeleteRandom => {
                let slice = perm
                    .get(range.start as usize..range.end as usize)
                    .unwrap_or(&[]);
                for &i in slice {
                    present(i, &mut key);
                    let t0 = Instant::now();
                    let found = store.remove(&key).map_err(errs)?;
                    let ok = rec.done(t0, ks as u64);
                    if !found {
                        return Err(ctx.verify(w, format!("key {i} is missing")));
                    }
                    if !ok {
                        break;
                    }
                }
            }
            Workload::ReadWhileWriting => {
                if Some(t) == background {
                    // The writer: overwrite until the readers are done.
                    while readers_left.load(Ordering::Acquire) > 0 {
                        let i = rng.below(count);
                        present(i, &mut key);
                        fill_value(i, 4, &mut val);
                        let t0 = Instant::now();
                        store.put(&key, &val).map_err(errs)?;
                        if !rec.done(t0, kv) {
                            break;
                        }
                    }
                } else {
                    let r = (|| {
                        for _ in range {
                            let i = rng.below(count);
                            present(i, &mut key);
                            let t0 = Instant::now();
                            let found = store.get(&key, &mut out).map_err(errs)?;
                            let ok = rec.done(t0, 0);
                            if !found {
                                return Err(ctx.verify(w, format!("key {i} is missing")));
                            }
                            if !ok {
                                break;
                            }
                        }
                        Ok(())
                    })();
                    readers_left.fetch_sub(1, Ordering::AcqRel);
                    r?;
                }
            }
            Workload::Ycsb(y) => {
                let (read, update, insert, scan) = match y {
                    Ycsb::A => (0.5, 0.5, 0.0, 0.0),
                    Ycsb::B => (0.95, 0.05, 0.0, 0.0),
                    Ycsb::C => (1.0, 0.0, 0.0, 0.0),
                    Ycsb::D => (0.95, 0.0, 0.05, 0.0),
                    Ycsb::E => (0.0, 0.0, 0.05, 0.95),
                    // F: the other half are read-modify-writes.
                    Ycsb::F => (0.5, 0.0, 0.0, 0.0),
                };
                let mut scrambled = scrambled.clone();
                let mut latest = latest.clone();
                for _ in range {
                    let p = rng.unit();
                    // The key of a read, update or scan: latest (D) or scrambled zipfian
                    // over the keys inserted so far.
                    let inserted = next_id.load(Ordering::Acquire);
                    let choose =
                        |rng: &mut Rng, scrambled: &mut ScrambledZipfian, latest: &mut Zipfian| {
                            if y == Ycsb::D {
                                latest.grow(inserted.max(1));
                                inserted.saturating_sub(1).saturating_sub(latest.next(rng))
                            } else {
                                loop {
                                    let k = scrambled.next(rng);
                                    if k < inserted.max(1) {
                                        break k;
                                    }
                                }
                            }
                        };
                    if p < read {
                        let i = choose(&mut rng, &mut scrambled, &mut latest);
                        present(i, &mut key);
                        let t0 = Instant::now();
                        let found = store.get(&key, &mut out).map_err(errs)?;
                        let ok = rec.done(t0, 0);
                        if !found {
                            if i < count {
                                return Err(ctx.verify(w, format!("key {i} is missing")));
                            }
                            rec.misses += 1;
                        }
                        if !ok {
                            break;
                        }
                    } else if p < read + update {
                        let i = choose(&mut rng, &mut scrambled, &mut latest);
                        present(i, &mut key);
                        fill_value(i, 5, &mut val);
                        let t0 = Instant::now();
                        store.put(&key, &val).map_err(errs)?;
                        if !rec.done(t0, kv) {
                            break;
                        }
                    } else if p < read + update + insert {
                        let i = next_id.fetch_add(1, Ordering::AcqRel);
                        present(i, &mut key);
                        fill_value(i, 6, &mut val);
                        let t0 = Instant::now();
                        store.put(&key, &val).map_err(errs)?;
                        if !rec.done(t0, kv) {
                            break;
                        }
                    } else if p < read + update + insert + scan {
                        let i = choose(&mut rng, &mut scrambled, &mut latest);
                        present(i, &mut key);
                        let len = 1 + rng.below(cfg.scan_max.max(1) as u64) as usize;
                        let t0 = Instant::now();
                        let got = store.scan(&key, len, &mut |_, _| {}).map_err(errs)?;
                        let ok = rec.done(t0, 0);
                        if got == 0 && i < count {
                            return Err(ctx.verify(w, format!("scan from key {i} found nothing")));
                        }
                        if !ok {
                            break;
                        }
                    } else {
                        // Read-modify-write (F).
                        let i = choose(&mut rng, &mut scrambled, &mut latest);
                        present(i, &mut key);
                        let t0 = Instant::now();
                        let found = store.get(&key, &mut out).map_err(errs)?;
                        if !found {
                            return Err(ctx.verify(w, format!("key {i} is missing")));
                        }
                        out.resize(vs, 0);
                        if let Some(b) = out.last_mut() {
                            *b = b.wrapping_add(1);
                        }
                        store.put(&key, &out).map_err(errs)?;
                        if !rec.done(t0, kv) {
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    };
    let r = ctx.parallel(name, work_threads, background, body);
    let (mut elapsed, outs) = match r {
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
    // Verify the counts.
    match w {
        Workload::FillSeq | Workload::FillRandom => {
            st.count = n;
            st.full = true;
        }
        Workload::DeleteRandom => {
            st.count = 0;
            st.full = false;
        }
        Workload::Ycsb(_) => st.count = next_id.load(Ordering::Acquire),
        _ => {}
    }
    if ops != total && w != Workload::ReadWhileWriting {
        return Err(ctx.verify(w, format!("{ops} operations done, {total} expected")));
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

// ---- charts -------------------------------------------------------------------------------------

/// Bar charts as SVG and PNG (no drawing library: rectangles and an 8×8 bitmap font).
pub mod chart {
    use std::fmt::Write as _;

    /// RGB colours: background, text, grid, axis, then the series.
    const PALETTE: [[u8; 3]; 14] = [
        [255, 255, 255],
        [20, 20, 20],
        [225, 225, 225],
        [120, 120, 120],
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    const BG: u8 = 0;
    const TEXT: u8 = 1;
    const GRID: u8 = 2;
    const AXIS: u8 = 3;
    const SERIES0: u8 = 4;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Anchor {
        Start,
        Middle,
        End,
    }

    #[derive(Clone, Debug)]
    enum Shape {
        Rect {
            x: i64,
            y: i64,
            w: i64,
            h: i64,
            color: u8,
        },
        Text {
            x: i64,
            y: i64,
            text: String,
            scale: i64,
            color: u8,
            anchor: Anchor,
        },
    }

    /// A grouped bar chart: one group per category (workload), one bar per series (store).
    #[derive(Clone, Debug, Default)]
    pub struct BarChart {
        /// Title, at the top.
        pub title: String,
        /// The value axis' label.
        pub y_label: String,
        /// Category names, along the x axis.
        pub groups: Vec<String>,
        /// Series: a name and one value per group (`None`: no bar).
        pub series: Vec<(String, Vec<Option<f64>>)>,
    }

    fn text_width(s: &str, scale: i64) -> i64 {
        s.chars().count() as i64 * 8 * scale
    }

    /// `v` with a k/M/G suffix.
    #[must_use]
    pub fn si(v: f64) -> String {
        let a = v.abs();
        let (d, s) = if a >= 1e9 {
            (1e9, "G")
        } else if a >= 1e6 {
            (1e6, "M")
        } else if a >= 1e3 {
            (1e3, "k")
        } else {
            (1.0, "")
        };
        let x = v / d;
        if (x - x.round()).abs() < 1e-9 {
            format!("{}{s}", x.round() as i64)
        } else {
            format!("{x:.1}{s}")
        }
    }

    impl BarChart {
        fn layout(&self) -> (i64, i64, Vec<Shape>) {
            let nser = self.series.len().max(1) as i64;
            let bar = 14i64;
            let label_w = self
                .groups
                .iter()
                .map(|g| text_width(g, 1))
                .max()
                .unwrap_or(0);
            let group_w = (nser * bar + 16).max(label_w + 12);
            let left = 80i64;
            let top = 70i64;
            let plot_h = 360i64;
            let width = (left + group_w * self.groups.len().max(1) as i64 + 30).max(
                left + self
                    .series
                    .iter()
                    .map(|(n, _)| text_width(n, 1) + 34)
                    .sum::<i64>()
                    + 30,
            );
            let height = top + plot_h + 60;
            let mut shapes = vec![Shape::Rect {
                x: 0,
                y: 0,
                w: width,
                h: height,
                color: BG,
            }];
            shapes.push(Shape::Text {
                x: width / 2,
                y: 8,
                text: self.title.clone(),
                scale: 2,
                color: TEXT,
                anchor: Anchor::Middle,
            });
            // Legend.
            let mut lx = left;
            for (i, (name, _)) in self.series.iter().enumerate() {
                let color = SERIES0 + (i % (PALETTE.len() - SERIES0 as usize)) as u8;
                shapes.push(Shape::Rect {
                    x: lx,
                    y: 36,
                    w: 12,
                    h: 12,
                    color,
                });
                shapes.push(Shape::Text {
                    x: lx + 18,
                    y: 38,
                    text: name.clone(),
                    scale: 1,
                    color: TEXT,
                    anchor: Anchor::Start,
                });
                lx += text_width(name, 1) + 34;
            }
            // Scale.
            let values: Vec<f64> = self
                .series
                .iter()
                .flat_map(|(_, v)| v.iter().flatten().copied())
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect();
            let max = values.iter().copied().fold(0.0f64, f64::max);
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let log = max > 0.0 && min.is_finite() && max / min > 30.0;
            let (lo, hi, ticks): (f64, f64, Vec<f64>) = if log {
                let lo = min.log10().floor();
                let hi = max.log10().ceil().max(lo + 1.0);
                let ticks = (lo as i64..=hi as i64)
                    .map(|e| 10f64.powi(e as i32))
                    .collect();
                (lo, hi, ticks)
            } else {
                let hi = if max > 0.0 { max } else { 1.0 };
                let step = {
                    let raw = hi / 5.0;
                    let mag = 10f64.powf(raw.log10().floor());
                    let f = raw / mag;
                    mag * if f <= 1.0 {
                        1.0
                    } else if f <= 2.0 {
                        2.0
                    } else if f <= 5.0 {
                        5.0
                    } else {
                        10.0
                    }
                };
                let top_v = (hi / step).ceil() * step;
                let ticks = (0..=((top_v / step).round() as i64))
                    .map(|i| i as f64 * step)
                    .collect();
                (0.0, top_v, ticks)
            };
            let y_of = |v: f64| -> i64 {
                let frac = if log {
                    (v.max(1e-300).log10() - lo) / (hi - lo)
                } else {
                    (v - lo) / (hi - lo)
                };
                top + plot_h - (frac.clamp(0.0, 1.0) * plot_h as f64).round() as i64
            };
            let plot_w = group_w * self.groups.len().max(1) as i64;
            for t in &ticks {
                let y = y_of(*t);
                shapes.push(Shape::Rect {
                    x: left,
                    y,
                    w: plot_w,
                    h: 1,
                    color: GRID,
                });
                shapes.push(Shape::Text {
                    x: left - 6,
                    y: y - 4,
                    text: si(*t),
                    scale: 1,
                    color: TEXT,
                    anchor: Anchor::End,
                });
            }
            shapes.push(Shape::Text {
                x: 8,
                y: top - 20,
                text: format!("{}{}", self.y_label, if log { " (log scale)" } else { "" }),
                scale: 1,
                color: TEXT,
                anchor: Anchor::Start,
            });
            shapes.push(Shape::Rect {
                x: left,
                y: top,
                w: 1,
                h: plot_h + 1,
                color: AXIS,
            });
            shapes.push(Shape::Rect {
                x: left,
                y: top + plot_h,
                w: plot_w,
                h: 1,
                color: AXIS,
            });
            for (g, name) in self.groups.iter().enumerate() {
                let gx = left + g as i64 * group_w;
                let bars_w = nser * bar;
                let x0 = gx + (group_w - bars_w) / 2;
                for (s, (_, vals)) in self.series.iter().enumerate() {
                    let Some(Some(v)) = vals.get(g) else { continue };
                    if !v.is_finite() || *v <= 0.0 {
                        continue;
                    }
                    let y = y_of(*v);
                    let color = SERIES0 + (s % (PALETTE.len() - SERIES0 as usize)) as u8;
                    shapes.push(Shape::Rect {
                        x: x0 + s as i64 * bar,
                        y,
                        w: bar - 2,
                        h: (top + plot_h - y).max(1),
                        color,
                    });
                }
                shapes.push(Shape::Text {
                    x: gx + group_w / 2,
                    y: top + plot_h + 10,
                    text: name.clone(),
                    scale: 1,
                    color: TEXT,
                    anchor: Anchor::Middle,
                });
            }
            (width, height, shapes)
        }

        /// The chart as an SVG document.
        #[must_use]
        pub fn to_svg(&self) -> String {
            let (w, h, shapes) = self.layout();
            let hex = |c: u8| {
                let [r, g, b] = PALETTE[c as usize % PALETTE.len()];
                format!("#{r:02x}{g:02x}{b:02x}")
            };
            let mut s = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
                 viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n"
            );
            for sh in &shapes {
                match sh {
                    Shape::Rect { x, y, w, h, color } => {
                        let _ = writeln!(
                            s,
                            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{}\"/>",
                            hex(*color)
                        );
                    }
                    Shape::Text {
                        x,
                        y,
                        text,
                        scale,
                        color,
                        anchor,
                    } => {
                        let a = match anchor {
                            Anchor::Start => "start",
                            Anchor::Middle => "middle",
                            Anchor::End => "end",
                        };
                        let esc = text
                            .replace('&', "&amp;")
                            .replace('<', "&lt;")
                            .replace('>', "&gt;");
                        let _ = writeln!(
                            s,
                            "<text x=\"{x}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{a}\" fill=\"{}\">{esc}</text>",
                            y + 7 * scale,
                            12 * scale,
                            hex(*color)
                        );
                    }
                }
            }
            s.push_str("</svg>\n");
            s
        }

        /// The chart as a PNG image (8-bit palette).
        #[must_use]
        pub fn to_png(&self) -> Vec<u8> {
            let (w, h, shapes) = self.layout();
            let (wu, hu) = (w.max(1) as usize, h.max(1) as usize);
            let mut px = vec![BG; wu * hu];
            let mut put = |x: i64, y: i64, c: u8| {
                if x >= 0 && y >= 0 && (x as usize) < wu && (y as usize) < hu {
                    px[y as usize * wu + x as usize] = c;
                }
            };
            for sh in &shapes {
                match sh {
                    Shape::Rect { x, y, w, h, color } => {
                        for yy in *y..y + h {
                            for xx in *x..x + w {
                                put(xx, yy, *color);
                            }
                        }
                    }
                    Shape::Text {
                        x,
                        y,
                        text,
                        scale,
                        color,
                        anchor,
                    } => {
                        let tw = text_width(text, *scale);
                        let x0 = match anchor {
                            Anchor::Start => *x,
                            Anchor::Middle => x - tw / 2,
                            Anchor::End => x - tw,
                        };
                        for (i, ch) in text.chars().enumerate() {
                            let glyph = font8x8::legacy::BASIC_LEGACY
                                .get(ch as usize)
                                .copied()
                                .unwrap_or(font8x8::legacy::BASIC_LEGACY[b'?' as usize]);
                            for (row, bits) in glyph.iter().enumerate() {
                                for col in 0..8 {
                                    if bits >> col & 1 == 1 {
                                        for dy in 0..*scale {
                                            for dx in 0..*scale {
                                                put(
                                                    x0 + (i as i64 * 8 + col) * scale + dx,
                                                    y + row as i64 * scale + dy,
                                                    *color,
                                                );
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            encode_png(wu as u32, hu as u32, &px)
        }
    }

    /// Writes `chart` as SVG and PNG: `FILE` names either (`x.svg`, `x.png`) or neither (`x`);
    /// both `x.svg` and `x.png` are written. Returns the paths written.
    pub fn write_both(
        file: &std::path::Path,
        chart: &BarChart,
    ) -> std::io::Result<Vec<std::path::PathBuf>> {
        let ext = file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let stem = match ext.as_deref() {
            Some("svg" | "png") => file.with_extension(""),
            _ => file.to_path_buf(),
        };
        let mut svg = stem.clone().into_os_string();
        svg.push(".svg");
        let mut png = stem.into_os_string();
        png.push(".png");
        let (svg, png) = (std::path::PathBuf::from(svg), std::path::PathBuf::from(png));
        std::fs::write(&svg, chart.to_svg())?;
        std::fs::write(&png, chart.to_png())?;
        Ok(vec![svg, png])
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut table = [0u32; 256];
        for (i, e) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        c ^ 0xffff_ffff
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A PNG of palette indices `px` (`w × h`, row-major).
    fn encode_png(w: u32, h: u32, px: &[u8]) -> Vec<u8> {
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        let plte: Vec<u8> = PALETTE.iter().flatten().copied().collect();
        chunk(&mut out, b"PLTE", &plte);
        let mut raw = Vec::with_capacity(px.len() + h as usize);
        for row in px.chunks(w.max(1) as usize) {
            raw.push(0);
            raw.extend_from_slice(row);
        }
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn crc_of_iend() {
            assert_eq!(crc32(b"IEND"), 0xae42_6082);
        }

        #[test]
        fn renders() {
            let c = BarChart {
                title: "t".into(),
                y_label: "ops/s".into(),
                groups: vec!["fillseq".into(), "readrandom".into()],
                series: vec![
                    ("a".into(), vec![Some(1000.0), Some(2_000_000.0)]),
                    ("b".into(), vec![None, Some(50.0)]),
                ],
            };
            let svg = c.to_svg();
            assert!(
                svg.starts_with("<svg") && svg.contains("readrandom") && svg.contains("log scale")
            );
            let png = c.to_png();
            assert_eq!(&png[1..4], b"PNG");
            let inflated = miniz_oxide::inflate::decompress_to_vec_zlib(
                &png[png
                    .windows(4)
                    .position(|w| w == b"IDAT")
                    .map_or(0, |p| p + 4)..png.len() - 16],
            );
            assert!(inflated.is_ok());
            assert_eq!(si(1_500_000.0), "1.5M");
            assert_eq!(si(100.0), "100");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::RwLock;

    #[test]
    fn keys_are_big_endian_and_ordered() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        encode_key(255, &mut a);
        encode_key(256, &mut b);
        assert!(a < b);
        assert_eq!(&a[8..], &255u64.to_be_bytes());
        let mut c = [0u8; 2];
        encode_key(0x1234, &mut c);
        assert_eq!(c, [0x12, 0x34]);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut rng = Rng::new(7);
        let mut p = permutation(1000, &mut rng);
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn zeta_tail_matches_the_sum() {
        let n = ZETA_EXACT * 3;
        let exact = zeta_range(0, n, ZIPFIAN_THETA);
        let approx = zeta(n, ZIPFIAN_THETA);
        assert!((exact - approx).abs() / exact < 1e-10, "{exact} {approx}");
        // zeta(10^10, 0.99), the constant YCSB's scrambled zipfian uses.
        let z = zeta(ScrambledZipfian::SPACE, ZIPFIAN_THETA);
        assert!((z - 26.469_028_201_783_02).abs() < 1e-6, "{z}");
    }

    #[test]
    fn zipfian_is_skewed_and_in_range() {
        let mut rng = Rng::new(1);
        let mut z = Zipfian::new(1000, ZIPFIAN_THETA);
        let mut hist = vec![0u64; 1000];
        for _ in 0..100_000 {
            let v = z.next(&mut rng) as usize;
            hist[v] += 1;
        }
        // Item 0 has probability 1/zeta(1000) ≈ 0.134.
        let p0 = hist[0] as f64 / 100_000.0;
        assert!((p0 - 1.0 / zeta(1000, ZIPFIAN_THETA)).abs() < 0.01, "{p0}");
        assert!(hist[0] > hist[1] && hist[1] > hist[10] && hist[10] > hist[500]);
        z.grow(2000);
        assert_eq!(z.items(), 2000);
        for _ in 0..10_000 {
            assert!(z.next(&mut rng) < 2000);
        }
        let mut s = ScrambledZipfian::new(777);
        for _ in 0..10_000 {
            assert!(s.next(&mut rng) < 777);
        }
        // One item: always 0.
        let mut one = Zipfian::new(1, ZIPFIAN_THETA);
        assert_eq!(one.next(&mut rng), 0);
    }

    #[test]
    fn parse_workloads() {
        assert_eq!(
            Workload::parse("ycsb-a").ok(),
            Some(Workload::Ycsb(Ycsb::A))
        );
        assert_eq!(Workload::parse("YCSBc").ok(), Some(Workload::Ycsb(Ycsb::C)));
        assert_eq!(Workload::parse("fillseq").ok(), Some(Workload::FillSeq));
        assert!(Workload::parse("nope").is_err());
        assert_eq!(Workload::parse_list("all").map(|v| v.len()).ok(), Some(14));
        assert_eq!(
            Workload::parse_list("ycsb,readseq").map(|v| v.len()).ok(),
            Some(7)
        );
        assert!(Workload::parse_list(" , ").is_err());
    }

    #[test]
    fn config_checks_the_key_space() {
        let mut c = Config::new(1000);
        c.key_size = 1;
        assert!(c.validate().is_err());
        c.key_size = 2;
        assert!(c.validate().is_ok());
        c.threads = 0;
        assert!(c.validate().is_err());
    }

    /// A DRAM store for the engine's own tests.
    struct Map(RwLock<BTreeMap<Vec<u8>, Vec<u8>>>);

    impl Store for Map {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.0
                .write()
                .map_err(|_| StoreError::new("poisoned"))?
                .insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
            let m = self.0.read().map_err(|_| StoreError::new("poisoned"))?;
            Ok(m.get(key)
                .map(|v| {
                    value.clear();
                    value.extend_from_slice(v);
                })
                .is_some())
        }
        fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
            Ok(self
                .0
                .write()
                .map_err(|_| StoreError::new("poisoned"))?
                .remove(key)
                .is_some())
        }
        fn scan(
            &self,
            start: &[u8],
            count: usize,
            visit: &mut dyn FnMut(&[u8], &[u8]),
        ) -> Result<usize, StoreError> {
            let m = self.0.read().map_err(|_| StoreError::new("poisoned"))?;
            let mut n = 0;
            for (k, v) in m.range(start.to_vec()..).take(count) {
                visit(k, v);
                n += 1;
            }
            Ok(n)
        }
    }

    struct MapBackend;

    impl Backend for MapBackend {
        fn name(&self) -> String {
            "map".into()
        }
        fn create(&self) -> Result<Box<dyn Store>, StoreError> {
            Ok(Box::new(Map(RwLock::new(BTreeMap::new()))))
        }
        fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
            Ok(None)
        }
    }

    #[test]
    fn every_workload_runs_on_a_map() {
        for threads in [1, 3] {
            let mut cfg = Config::new(3000);
            cfg.ops = 2000;
            cfg.threads = threads;
            let r = run(&MapBackend, &Workload::ALL, &cfg, &Silent);
            let r = match r {
                Ok(r) => r,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(r.results.len(), Workload::ALL.len());
            let fill = r.result(Workload::FillRandom).map(|x| x.ops);
            assert_eq!(fill, Some(3000));
            let rw = r.result(Workload::ReadWhileWriting);
            assert!(rw.is_some_and(|x| x.ops == 2000));
            assert!(r.open.is_none());
            assert!(r.to_json().contains("\"ycsb-e\""));
        }
    }

    #[test]
    fn every_workload_runs_on_pobj_kv() {
        let dir = std::env::temp_dir().join(format!("pkv-workload-{}", std::process::id()));
        assert!(std::fs::create_dir_all(&dir).is_ok());
        let backend = KvBackend::new(dir.join("w.pool"), 64 << 20);
        let mut cfg = Config::new(2000);
        cfg.threads = 2;
        let r = run(&backend, &Workload::ALL, &cfg, &Silent);
        let _ = std::fs::remove_dir_all(&dir);
        let r = match r {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert!(r.open.is_some_and(|(_, k)| k >= 2000));
        assert!(r.dram_bytes_per_key.is_some());
        let fill = r.result(Workload::FillRandom);
        assert!(
            fill.is_some_and(|f| f.write_amplification().is_some() && f.fences_per_op().is_some())
        );
    }
}
