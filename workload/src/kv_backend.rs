//! pobj-kv as a store under test.

use std::path::{Path, PathBuf};

use pobj_kv::Db;

use crate::{Backend, Store, StoreError, WriteCounters};

impl Store for Db {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        Ok(self.map().put(key, value)?)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        let found = self.get_with(key, |v| {
            value.clear();
            value.extend_from_slice(v);
        })?;
        Ok(found.is_some())
    }

    fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.map().remove(key)?)
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
    pool: pobj::PoolOptions,
    mode: std::sync::Mutex<Option<pobj::PersistMode>>,
}

impl KvBackend {
    /// Stores in the pool file `path` created with `pool` (a fixed size in bytes, or
    /// `PoolOptions` for a pool that grows), replaced at each create; the caller removes it at
    /// the end.
    pub fn new(path: impl Into<PathBuf>, pool: impl Into<pobj::PoolOptions>) -> Self {
        KvBackend {
            path: path.into(),
            pool: pool.into(),
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

    /// The pool's size at creation.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.pool.get_initial_size()
    }

    /// The pool's sizes at creation.
    #[must_use]
    pub fn pool_options(&self) -> pobj::PoolOptions {
        self.pool
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
        let db = Db::create(&self.path, self.pool)?;
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
