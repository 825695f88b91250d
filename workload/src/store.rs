//! The interface a store under test implements, and the maker of fresh and reopened stores.

use crate::StoreError;

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
