//! What a pool says about itself: identity, persistence mode and figures.

use std::path::Path;

use super::Pool;
use crate::heap::HeapStats;
use crate::media::persist::{PersistMode, PersistStats};
use crate::tx::pool_core::PoolCore;
use crate::Persistent;

/// Pool statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The allocator's figures.
    pub heap: HeapStats,
    /// Flushes and fences since the pool was opened.
    pub persist: PersistStats,
    /// Transactions committed since open.
    pub tx_committed: u64,
    /// Transactions aborted since open.
    pub tx_aborted: u64,
}

/// A read-only view of a pool (from [`Pool::info`]): its identity, persistence mode and
/// figures. It gives no access to the pool's bytes, so it can be lent by a structure whose
/// own protocol owns them.
#[derive(Clone, Copy)]
pub struct PoolInfo<'a> {
    sh: &'a PoolCore,
}

impl std::fmt::Debug for PoolInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolInfo")
            .field("path", &self.sh.path())
            .field("size", &self.size())
            .field("max_size", &self.max_size())
            .field("mode", &self.sh.persister().mode())
            .finish_non_exhaustive()
    }
}

impl<'a> PoolInfo<'a> {
    /// The pool's file (`<simulated>` on a simulated medium).
    pub fn path(&self) -> &'a Path {
        self.sh.path()
    }

    /// The pool's size in bytes now (it grows, for a pool created to grow).
    pub fn size(&self) -> u64 {
        self.sh.heap().sizes().0
    }

    /// The largest size the pool can grow to (its size, for a pool of fixed size).
    pub fn max_size(&self) -> u64 {
        self.sh.heap().sizes().1
    }

    /// Bytes added per growth (0 for a pool that cannot grow).
    pub fn grow_step(&self) -> u64 {
        if self.sh.heap().can_grow() {
            self.sh.header().grow_step
        } else {
            0
        }
    }

    /// Times the pool grew since it was opened.
    pub fn growths(&self) -> u64 {
        self.sh.heap().growths()
    }

    /// The pool's on-media format version.
    pub fn format_version(&self) -> u32 {
        self.sh.header().version
    }

    /// The layout name.
    pub fn layout(&self) -> String {
        self.sh.header().layout_name()
    }

    /// The pool's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.sh.header().uuid)
    }

    /// How the pool is made durable.
    pub fn persist_mode(&self) -> PersistMode {
        self.sh.persister().mode()
    }

    /// Flushes and fences since the pool was opened.
    pub fn persist_stats(&self) -> PersistStats {
        self.sh.persister().stats()
    }

    /// Allocation, transaction and persistence figures.
    pub fn stats(&self) -> Stats {
        Stats {
            heap: self.sh.heap().stats(),
            persist: self.sh.persister().stats(),
            tx_committed: self.sh.tx_counts().0,
            tx_aborted: self.sh.tx_counts().1,
        }
    }

    /// Whether the pool refuses writes after a persistence failure (reopen it).
    pub fn is_poisoned(&self) -> bool {
        self.sh.persister().poisoned()
    }
}

impl<R: Persistent> Pool<R> {
    /// A read-only view of the pool's identity and figures, without access to its objects:
    /// what a structure that owns its pool (such as the key-value store) can lend out.
    pub fn info(&self) -> PoolInfo<'_> {
        PoolInfo { sh: &self.sh }
    }

    /// Allocation, transaction and persistence figures.
    pub fn stats(&self) -> Stats {
        self.info().stats()
    }

    /// The persistence counters alone.
    pub fn persist_stats(&self) -> PersistStats {
        self.info().persist_stats()
    }

    /// Whether the pool refuses writes because a persistence failure left its state unknown
    /// (reopen it: recovery decides).
    pub fn is_poisoned(&self) -> bool {
        self.info().is_poisoned()
    }

    /// How this pool is made durable.
    pub fn persist_mode(&self) -> PersistMode {
        self.info().persist_mode()
    }

    /// The pool's file.
    pub fn path(&self) -> &Path {
        self.sh.path()
    }

    /// The pool's size in bytes now (it grows, for a pool created to grow).
    pub fn size(&self) -> u64 {
        self.info().size()
    }

    /// The largest size the pool can grow to (its size, for a pool of fixed size).
    pub fn max_size(&self) -> u64 {
        self.info().max_size()
    }

    /// Makes every growth of this pool fail as on a full medium (`OutOfSpace` with
    /// `medium_full`), while `on`: for testing what a structure does when the disk fills up.
    #[cfg(feature = "crash-test")]
    pub fn fail_growth(&self, on: bool) {
        self.sh.heap().fail_growth(on);
    }

    /// The layout name.
    pub fn layout(&self) -> String {
        self.info().layout()
    }

    /// The pool's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.info().uuid()
    }
}
