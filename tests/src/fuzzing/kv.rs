//! `kv_crash`: arbitrary puts, removes and batches on the key-value store under an arbitrary
//! crash choice; the recovered store must pass `Db::check` and hold the contents before or after
//! the interrupted operation. Written on the public fuzzing API (`pobj::crash::fuzz`).

use std::collections::BTreeMap;

use arbitrary::Arbitrary;

use pobj::crash::fuzz::{Fuzzer, Outcome, Run, Structure};
use pobj::{Pool, PoolOptions};
use pobj_kv::{Db, KvRoot, WriteBatch};

/// The size of the fuzzed stores' pools.
pub const SIZE: u64 = 4 << 20;
/// Operations per batch that run.
pub const MAX_BATCH: usize = 16;

/// One key-value operation of a `kv_crash` input.
#[derive(Arbitrary, Clone, Debug)]
pub enum KvOp {
    /// Put key `k` (one of 256 keys of varying length) with `len % 300` bytes of `byte`
    /// (out of line above 120 bytes in all).
    Put(u8, u16, u8),
    /// Remove key `k`.
    Remove(u8),
    /// A batch of puts (`Some`) and removes (`None`); only the first [`MAX_BATCH`] run.
    Batch(Vec<(u8, Option<(u16, u8)>)>),
}

/// The model: the store's contents.
pub type KvModel = BTreeMap<Vec<u8>, Vec<u8>>;

fn kv_key(k: u8) -> Vec<u8> {
    let mut v = format!("k{k:03}").into_bytes();
    v.extend(std::iter::repeat_n(b'.', usize::from(k % 7) * 3));
    v
}

fn value(len: u16, byte: u8) -> Vec<u8> {
    vec![byte; usize::from(len) % 300]
}

fn batch(ops: &[(u8, Option<(u16, u8)>)]) -> &[(u8, Option<(u16, u8)>)] {
    &ops[..ops.len().min(MAX_BATCH)]
}

/// The description of the key-value store for crash fuzzing.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvFuzz;

impl Structure for KvFuzz {
    type Root = KvRoot;
    type Store = Db;
    type Op = KvOp;
    type Model = KvModel;

    fn layout(&self) -> &str {
        pobj_kv::LAYOUT
    }

    fn pool_options(&self) -> PoolOptions {
        SIZE.into()
    }

    fn open(&self, pool: Pool<KvRoot>) -> Result<Db, String> {
        Db::from_pool(pool).map_err(|e| e.to_string())
    }

    fn model(&self) -> KvModel {
        KvModel::new()
    }

    fn apply(&self, db: &Db, op: &KvOp) -> Result<Outcome, String> {
        let r = match op {
            KvOp::Put(k, len, b) => db.put(kv_key(*k), value(*len, *b)),
            KvOp::Remove(k) => db.remove(kv_key(*k)).map(|_| ()),
            KvOp::Batch(ops) => {
                let mut wb = WriteBatch::new();
                for (k, v) in batch(ops) {
                    match v {
                        Some((len, b)) => wb.put(kv_key(*k), value(*len, *b)),
                        None => wb.remove(kv_key(*k)),
                    };
                }
                db.write(&wb)
            }
        };
        match r {
            Ok(()) => Ok(Outcome::Applied),
            // A full pool refuses the operation as a whole: correct behaviour, not a failure.
            Err(pobj_kv::Error::OutOfSpace { .. }) => Ok(Outcome::Refused),
            Err(e) => Err(e.to_string()),
        }
    }

    fn apply_model(&self, m: &mut KvModel, op: &KvOp) {
        match op {
            KvOp::Put(k, len, b) => {
                m.insert(kv_key(*k), value(*len, *b));
            }
            KvOp::Remove(k) => {
                m.remove(&kv_key(*k));
            }
            KvOp::Batch(ops) => {
                for (k, v) in batch(ops) {
                    match v {
                        Some((len, b)) => m.insert(kv_key(*k), value(*len, *b)),
                        None => m.remove(&kv_key(*k)),
                    };
                }
            }
        }
    }

    fn check(&self, db: &Db, before: &KvModel, after: &KvModel) -> Result<(), String> {
        let report = db.check();
        if !report.is_ok() {
            return Err(format!("Db::check: {report}"));
        }
        let got: KvModel = db
            .iter()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        if &got == before || &got == after {
            Ok(())
        } else {
            Err(format!(
                "the store holds {} keys, neither the {} before nor the {} after the \
                 interrupted operation",
                got.len(),
                before.len(),
                after.len()
            ))
        }
    }
}

/// The `kv_crash` fuzzer: at most 60 operations per input.
pub fn fuzzer() -> Fuzzer<KvFuzz> {
    Fuzzer::new(KvFuzz).max_ops(60)
}

/// The `kv_crash` target: what the run covered, or the failure's report if the recovered store is wrong.
pub fn kv_crash(data: &[u8]) -> Result<Run, String> {
    fuzzer().run(data).map_err(|f| f.to_string())
}
