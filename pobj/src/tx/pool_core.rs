//! The core of an open pool, which its handle and its transactions share: the mapping, the
//! persistence layer, the heap, the lanes and the pool's lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::sync::RwLock;

use super::lanes::Lanes;
use crate::error::Result;
use crate::format::header::PoolHeader;
use crate::format::layout::Geometry;
use crate::format::object::ObjHeader;
use crate::heap::{Block, Heap};
use crate::media::mapping::FileMapping;
use crate::media::persist::{Batch, Persister};
use crate::media::region::Region;
#[cfg(feature = "crash-test")]
use crate::media::sim::SimBacking;

/// Faults that a test can inject (feature `fault-injection`) to prove that crash tests catch
/// broken persistence protocols. Never injected in a normal build, where the checks compile to
/// nothing.
#[cfg_attr(
    not(feature = "fault-injection"),
    allow(
        unreachable_pub,
        reason = "exported only with the fault-injection feature"
    )
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Undo-log snapshot entries are not flushed before the range is modified.
    SkipSnapshotFlush = 1,
    /// Commit does not fence between flushing the data and retiring the log.
    SkipCommitFence = 2,
    /// Commit retires the log before flushing the modified data.
    RetireBeforeDataFlush = 3,
    /// Growth stores the pool's new extent word but never flushes it.
    #[cfg_attr(
        not(feature = "fault-injection"),
        expect(dead_code, reason = "injected only with the fault-injection feature")
    )]
    SkipExtentFlush = 4,
    /// Growth does not make the new chunks' table words FREE (whatever the file held there
    /// becomes chunk headers).
    #[cfg_attr(
        not(feature = "fault-injection"),
        expect(dead_code, reason = "injected only with the fault-injection feature")
    )]
    SkipGrowTableWords = 5,
}

/// What holds the pool's memory.
#[derive(Debug)]
pub(crate) enum Backing {
    /// A mapped file (which holds the file's lock), shared with the heap's growth.
    File(
        #[expect(
            dead_code,
            reason = "held for its drop: the mapping lives as long as the pool"
        )]
        Arc<FileMapping>,
    ),
    /// A simulated medium (crash testing), claimed for as long as the pool is open.
    #[cfg(feature = "crash-test")]
    Sim(Arc<SimBacking>),
}

/// What a pool is made of when it opens, handed to [`PoolCore::new`].
#[derive(Debug)]
pub(crate) struct CoreParts {
    pub(crate) region: Region,
    pub(crate) geo: Geometry,
    pub(crate) persister: Persister,
    pub(crate) heap: Heap,
    pub(crate) lanes: Lanes,
    pub(crate) header: PoolHeader,
    pub(crate) path: PathBuf,
    pub(crate) backing: Backing,
}

/// The core of an open pool, shared by its handle and its transactions: the mapping, the
/// persistence layer, the heap, the lanes and the pool's lock. Its parts are reached through
/// these methods only.
#[derive(Debug)]
pub(crate) struct PoolCore {
    region: Region,
    geo: Geometry,
    persister: Persister,
    heap: Heap,
    root_offset: u64,
    lanes: Lanes,
    lock: RwLock<()>,
    id: u64,
    committed: AtomicU64,
    aborted: AtomicU64,
    fault: AtomicU8,
    header: PoolHeader,
    path: PathBuf,
    /// Held for its drop (the mapping lives as long as the pool); read only by the crash
    /// harness, to reach a simulated medium.
    #[cfg_attr(
        not(feature = "crash-test"),
        expect(
            dead_code,
            reason = "held for its drop: the mapping lives as long as the pool"
        )
    )]
    backing: Backing,
}

/// Identifies pools within the process (for the per-thread "inside a transaction" marks).
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

impl PoolCore {
    /// Assembles an opened pool's core, with a process-unique id.
    pub(crate) fn new(parts: CoreParts) -> PoolCore {
        PoolCore {
            root_offset: parts.header.root_offset,
            region: parts.region,
            geo: parts.geo,
            persister: parts.persister,
            heap: parts.heap,
            lanes: parts.lanes,
            lock: RwLock::new(()),
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            committed: AtomicU64::new(0),
            aborted: AtomicU64::new(0),
            fault: AtomicU8::new(0),
            header: parts.header,
            path: parts.path,
            backing: parts.backing,
        }
    }

    /// The pool's mapping.
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    /// The pool's geometry (validated at open).
    #[inline]
    pub(crate) fn geo(&self) -> &Geometry {
        &self.geo
    }

    /// The persistence layer.
    #[inline]
    pub(crate) fn persister(&self) -> &Persister {
        &self.persister
    }

    /// The allocator.
    #[inline]
    pub(crate) fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The lanes' DRAM side.
    #[inline]
    pub(crate) fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// The pool's header as validated at open.
    pub(crate) fn header(&self) -> &PoolHeader {
        &self.header
    }

    /// The pool file's path (or the simulated medium's name).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What holds the pool's memory.
    #[cfg(feature = "crash-test")]
    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }

    /// Offset of the root object.
    #[inline]
    pub(crate) fn root_offset(&self) -> u64 {
        self.root_offset
    }

    /// The pool's process-unique id.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The pool's lock: shared by reads and concurrent transactions, exclusive for a safe
    /// transaction and `check`.
    pub(crate) fn lock(&self) -> &RwLock<()> {
        &self.lock
    }

    /// The atomic word at `off` (8-byte aligned, in bounds).
    #[inline]
    pub(crate) fn atomic(&self, off: u64) -> Result<&AtomicU64> {
        self.region.atomic(off)
    }

    /// Queues `off..off+len` for write-back.
    #[inline]
    pub(crate) fn flush(&self, batch: &mut Batch, off: u64, len: u64) {
        self.persister.flush(batch, off, len);
    }

    /// Makes every queued write-back durable.
    #[inline]
    pub(crate) fn fence(&self, batch: &mut Batch) -> Result<()> {
        self.persister.fence(batch)
    }

    /// Refuses every further change (the persistence layer failed).
    pub(crate) fn poison(&self) {
        self.persister.poison();
    }

    /// The live object at payload offset `off`, checked.
    #[inline]
    pub(crate) fn resolve(&self, off: u64) -> Result<(Block, ObjHeader)> {
        self.heap.resolve(off)
    }

    /// Hands a reserved or freed block back to the allocator.
    pub(crate) fn release(&self, block: Block) {
        self.heap.release(block);
    }

    /// Gives back the block of an object (freed, or allocated by an aborted transaction): a
    /// shared object's after its grace period (`heap/quarantine.rs`), any other at once.
    pub(crate) fn release_object(&self, block: Block) {
        let word = self
            .region()
            .atomic(block.header_offset(self.geo()))
            .map(|a| a.load(std::sync::atomic::Ordering::Acquire));
        // A header that cannot be read (it is inside the heap, so this does not happen) is
        // treated as shared: waiting is always safe.
        if word.is_ok_and(|w| w & crate::format::object::SHARED_FLAG == 0) {
            self.heap.release(block);
        } else {
            self.heap.release_shared(block);
        }
    }

    /// Counts a committed transaction.
    pub(crate) fn count_commit(&self) {
        self.committed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an aborted transaction.
    pub(crate) fn count_abort(&self) {
        self.aborted.fetch_add(1, Ordering::Relaxed);
    }

    /// Transactions committed and aborted since open.
    pub(crate) fn tx_counts(&self) -> (u64, u64) {
        (
            self.committed.load(Ordering::Relaxed),
            self.aborted.load(Ordering::Relaxed),
        )
    }

    /// Injects `fault`, or none.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn inject(&self, fault: Option<Fault>) {
        self.fault
            .store(fault.map_or(0, |f| f as u8), Ordering::Relaxed);
        self.heap.seed_growth_faults(
            fault == Some(Fault::SkipExtentFlush),
            fault == Some(Fault::SkipGrowTableWords),
        );
    }

    /// Whether the injected fault `f` is active (always false without `fault-injection`).
    #[inline]
    pub(crate) fn fault(&self, f: Fault) -> bool {
        cfg!(feature = "fault-injection") && self.fault.load(Ordering::Relaxed) == f as u8
    }
}
