//! The state a pool's handle and its transactions share: the mapping, the persistence layer,
//! the heap, the lanes and the pool's lock.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use super::lanes::Lanes;
use crate::format::header::PoolHeader;
use crate::format::layout::Geometry;
use crate::heap::Heap;
use crate::media::persist::Persister;
use crate::media::region::Region;
#[cfg(feature = "crash-test")]
use crate::media::sim::Claim;

/// Faults that a test can inject (feature `fault-injection`) to prove that crash tests catch
/// broken persistence protocols. Never enabled in a normal build.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Undo-log snapshot entries are not flushed before the range is modified.
    SkipSnapshotFlush = 1,
    /// Commit does not fence between flushing the data and retiring the log.
    SkipCommitFence = 2,
    /// Commit retires the log before flushing the modified data.
    RetireBeforeDataFlush = 3,
}

pub(crate) const FAULT_SKIP_SNAPSHOT_FLUSH: u8 = 1;
pub(crate) const FAULT_SKIP_COMMIT_FENCE: u8 = 2;
pub(crate) const FAULT_RETIRE_BEFORE_DATA_FLUSH: u8 = 3;

/// What holds the pool's memory.
#[derive(Debug)]
pub(crate) enum Backing {
    /// A mapped file. Field order matters: unmapped before the file (and its lock) is closed.
    File { _map: memmap2::MmapMut, _file: File },
    /// A simulated medium (crash testing), claimed for as long as the pool is open.
    #[cfg(feature = "crash-test")]
    Sim(Claim),
}

/// State shared by a pool handle and its transactions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) region: Region,
    pub(crate) geo: Geometry,
    pub(crate) persister: Persister,
    pub(crate) heap: Heap,
    pub(crate) root_offset: u64,
    pub(crate) lanes: Lanes,
    pub(crate) lock: RwLock<()>,
    pub(crate) id: u64,
    pub(crate) committed: AtomicU64,
    pub(crate) aborted: AtomicU64,
    pub(crate) fault: std::sync::atomic::AtomicU8,
    pub(crate) header: PoolHeader,
    pub(crate) path: PathBuf,
    pub(crate) _backing: Backing,
}

impl Shared {
    /// Whether the injected fault `f` is active (always false without `fault-injection`).
    #[inline]
    pub(crate) fn fault(&self, f: u8) -> bool {
        cfg!(feature = "fault-injection") && self.fault.load(Ordering::Relaxed) == f
    }
}
