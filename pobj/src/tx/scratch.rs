//! A transaction's DRAM bookkeeping (its allocations, frees, covered ranges and deferred
//! allocator words), kept with its lane and reused by the next transaction there.

use std::collections::{HashMap, HashSet};

use crate::format::object::ObjHeader;
use crate::heap::{AllocWord, Block};
use crate::offset_map::BuildOffset;
use crate::tx::rangeset::RangeSet;

/// A transaction's DRAM bookkeeping, kept per lane so that its buffers are reused.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) covered: RangeSet,
    pub(super) meta: Vec<u64>,
    /// Allocation words whose entries are appended, to be stored after the next fence.
    pub(super) pending: Vec<AllocWord>,
    pub(super) commit_words: Vec<(u64, u64)>,
    pub(super) allocs: Vec<Block>,
    pub(super) new_objs: HashMap<u64, (Block, ObjHeader), BuildOffset>,
    pub(super) frees: Vec<(u64, Block)>,
    pub(super) freed: HashSet<u64, BuildOffset>,
    /// Buffer for the old bytes of a snapshot (reused).
    pub(super) snapshot_buf: Vec<u8>,
    /// Allocation and free entries not yet appended to the log (see `Deferred`).
    pub(super) deferred: Vec<Deferred>,
}

/// An allocation or free entry kept out of the log until another entry must be logged (it is
/// then appended first) or commit needs the log. A transaction whose only persistent change is
/// one allocation or one free commits without the log: its single 8-byte word is the commit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deferred {
    pub(super) kind: u32,
    pub(super) offset: u64,
    pub(super) aux: u64,
    /// The 8 bytes of a chunk-word snapshot (`dlen` 8), or none.
    pub(super) data: [u8; 8],
    pub(super) dlen: usize,
    pub(super) apply: Apply,
}

/// What to store once a deferred entry is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Apply {
    /// Mark the block allocated (an allocation).
    Allocate(AllocWord),
    /// Nothing until commit (a free).
    Nothing,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Scratch {
    pub(crate) fn clear(&mut self) {
        self.covered.clear();
        self.meta.clear();
        self.pending.clear();
        self.commit_words.clear();
        self.allocs.clear();
        self.new_objs.clear();
        self.frees.clear();
        self.freed.clear();
        self.deferred.clear();
        // Do not keep a large snapshot buffer around.
        if self.snapshot_buf.capacity() > 64 << 10 {
            self.snapshot_buf = Vec::new();
        }
    }
}
