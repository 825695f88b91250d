//! The parameters of a run.

use crate::BenchError;

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
        if self.key_size == 0 || self.key_size > pobj_kv::MAX_KEY_LEN {
            return Err(BenchError::Config(format!(
                "--key-size must be 1 to {}",
                pobj_kv::MAX_KEY_LEN
            )));
        }
        if self.value_size > pobj_kv::MAX_VALUE_LEN {
            return Err(BenchError::Config(format!(
                "--value-size {} exceeds the maximum of {}",
                self.value_size,
                pobj_kv::MAX_VALUE_LEN
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
