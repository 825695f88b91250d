//! The figures of a run: per workload and per store, and their JSON form.

use std::time::Duration;

use serde_json::json;

use crate::{Config, Workload};

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

    /// The report as a JSON object (the schema is in `docs/benchmarks.md`).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let workloads: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                json!({
                    "name": r.workload.name(),
                    "ops": r.ops,
                    "seconds": r.elapsed.as_secs_f64(),
                    "ops_per_sec": r.ops_per_sec(),
                    "latency_ns": {
                        "p50": r.latency.p50,
                        "p99": r.latency.p99,
                        "p999": r.latency.p999,
                        "max": r.latency.max,
                        "mean": r.latency.mean,
                    },
                    "user_bytes": r.user_bytes,
                    "bytes_written": r.written,
                    "bytes_written_source": r.written_source.name(),
                    "write_amplification": r.write_amplification(),
                    "fences": r.fences,
                    "fences_per_op": r.fences_per_op(),
                    "background_ops": r.background_ops,
                    "background_ops_per_sec": r.background_ops_per_sec(),
                    "misses": r.misses,
                })
            })
            .collect();
        let skipped: Vec<serde_json::Value> = self
            .skipped
            .iter()
            .map(|(w, why)| json!({ "name": w.name(), "reason": why }))
            .collect();
        let c = &self.config;
        json!({
            "store": self.store,
            "description": self.description,
            "config": {
                "keys": c.keys,
                "ops": c.ops,
                "key_size": c.key_size,
                "value_size": c.value_size,
                "threads": c.threads,
                "seed": c.seed,
                "scan_max": c.scan_max,
            },
            "workloads": workloads,
            "skipped": skipped,
            "open_ms": self.open.map(|(d, _)| d.as_secs_f64() * 1e3),
            "open_keys": self.open.map(|(_, k)| k),
            "dram_bytes_per_key": self.dram_bytes_per_key,
            "anon_bytes_per_key": self.anon_bytes_per_key,
            "peak_rss_bytes": self.peak_rss,
        })
    }
}
