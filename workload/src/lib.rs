//! pobj-workload: the benchmark workload engine shared by `pkv bench` and the `pobj-bench` peer
//! comparison (tooling: the libraries do not depend on it).
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
//! - **YCSB A-F** as in the YCSB paper (Cooper et al., `SoCC` 2010) and its core workloads: A 50%
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
//! `HdrHistogram` (p50, p99, p99.9, in nanoseconds), bytes written per byte of user data (key +
//! value per write, key per delete) and fences per operation — from the store's own counters
//! ([`Store::write_counters`]) where it has them, else from the process's I/O counters
//! (`/proc/self/io`: the larger of the bytes passed to write system calls and the bytes sent to
//! the storage layer). Per run: the open (recovery) time of the filled store, the store's own
//! count of its DRAM bytes per key where it keeps one, the growth of the process's anonymous
//! memory per key over the first fill, and the peak RSS (`VmHWM`).
//!
//! Reports serialise to JSON ([`Report::to_json`]) and draw as SVG and PNG bar charts
//! ([`chart`]).
#![deny(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod chart;
mod config;
mod engine;
mod error;
mod keys;
mod kv_backend;
pub mod proc;
mod progress;
pub mod random;
mod report;
mod store;
mod workloads;

pub use config::Config;
pub use engine::run;
pub use error::{BenchError, StoreError};
pub use keys::encode_key;
pub use kv_backend::KvBackend;
pub use progress::{Bar, Progress, Silent};
pub use report::{Latency, Report, WorkloadResult, WrittenSource};
pub use store::{Backend, Store, WriteCounters};
pub use workloads::{Workload, Ycsb};

#[cfg(test)]
mod tests;
