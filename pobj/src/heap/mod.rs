//! The persistent allocator's volatile side: free lists rebuilt at open from the chunk table and
//! run bitmaps, and the pointer check that resolves an offset to a live object.
//!
//! The persistent side is only the chunk header words, the run descriptors and bitmaps, and the
//! object headers. Changing it is the transaction's job (`tx.rs`), which logs each change so that
//! it can be undone; this module hands out *reservations* (blocks no one else will be given) and
//! takes them back on abort or after a committed free.

mod check;
mod grow;
mod quarantine;
mod rebuild;
mod reserve;
mod resolve;
mod word;

pub(crate) use grow::{GrowMedium, Growth};
pub use quarantine::ReadPin;
pub(crate) use word::AllocWord;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::Result;
use crate::format::layout::{Geometry, CHUNK_SIZE};
use crate::format::object::OBJ_HEADER;
use crate::format::run::RUN_DATA;
use crate::media::persist::{Batch, Persister};
use crate::media::region::Region;

/// Offset of a large object's payload from its first chunk (64-byte aligned).
pub(crate) const LARGE_PAYLOAD: u64 = 64;
/// Chunks kept back from user allocations so that undo-log extensions (which a transaction
/// that frees objects in a full pool needs) can still be allocated.
pub(crate) const RESERVED_CHUNKS: u64 = 2;

/// Largest object the heap serves (4 GiB).
pub const MAX_ALLOC: u64 = 4 << 30;

const FREE_WORD: u64 = crate::format::chunk::FREE;

/// Type id of undo-log extension buffers (freed at every open).
pub(crate) const LOG_EXT_TYPE_ID: u64 = crate::types::typeid::TypeHasher::new()
    .str("pobj::log_ext")
    .finish();

/// A block handed out by the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Block {
    /// Block `index` of the run in chunk `chunk`.
    Small {
        /// Chunk index.
        chunk: u64,
        /// Block index in the run.
        index: u64,
        /// Block size.
        bs: u64,
    },
    /// Chunks `chunk..chunk+len`.
    Large {
        /// First chunk.
        chunk: u64,
        /// Chunks.
        len: u64,
    },
}

impl Block {
    /// Offset of the object header.
    pub(crate) fn header_offset(&self, g: &Geometry) -> u64 {
        self.payload_offset(g) - OBJ_HEADER
    }

    /// Offset of the payload.
    pub(crate) fn payload_offset(&self, g: &Geometry) -> u64 {
        match *self {
            Block::Small { chunk, index, bs } => {
                g.chunk_offset(chunk) + RUN_DATA + index * bs + OBJ_HEADER
            }
            Block::Large { chunk, .. } => g.chunk_offset(chunk) + LARGE_PAYLOAD,
        }
    }

    /// Usable payload bytes.
    pub(crate) fn capacity(&self) -> u64 {
        match *self {
            Block::Small { bs, .. } => bs - OBJ_HEADER,
            Block::Large { len, .. } => len * CHUNK_SIZE - LARGE_PAYLOAD,
        }
    }

    /// Bytes the block takes from the heap.
    pub(crate) fn footprint(&self) -> u64 {
        match *self {
            Block::Small { bs, .. } => bs,
            Block::Large { len, .. } => len * CHUNK_SIZE,
        }
    }
}

#[derive(Clone, Debug)]
struct RunState {
    bs: u64,
    nblocks: u64,
    /// Volatile bitmap: persistent bits plus reservations not yet committed.
    bits: Vec<u64>,
    free: u64,
    hint: usize,
}

#[derive(Clone, Debug, Default)]
struct State {
    runs: HashMap<u64, RunState, crate::offset_map::BuildOffset>,
    /// Per class, runs that may have free blocks (stale entries are skipped).
    avail: Vec<Vec<u64>>,
    free_by_start: BTreeMap<u64, u64>,
    free_by_len: BTreeSet<(u64, u64)>,
    alloc_objects: u64,
    alloc_bytes: u64,
}

impl State {
    fn add_free(&mut self, mut start: u64, mut len: u64) {
        if let Some((&ps, &pl)) = self.free_by_start.range(..start).next_back() {
            if ps + pl == start {
                self.free_by_start.remove(&ps);
                self.free_by_len.remove(&(pl, ps));
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = self.free_by_start.get(&(start + len)) {
            self.free_by_start.remove(&(start + len));
            self.free_by_len.remove(&(nl, start + len));
            len += nl;
        }
        self.free_by_start.insert(start, len);
        self.free_by_len.insert((len, start));
    }

    /// Length of the free extent that ends at chunk `end` (0 if chunk `end - 1` is not free).
    fn free_run_ending_at(&self, end: u64) -> u64 {
        self.free_by_start
            .range(..end)
            .next_back()
            .filter(|&(&s, &l)| s + l == end)
            .map_or(0, |(_, &l)| l)
    }

    /// The longest free extent, in chunks.
    fn largest_free_run(&self) -> u64 {
        self.free_by_len.last().map_or(0, |&(l, _)| l)
    }

    /// Free chunks in all.
    fn free_chunks(&self) -> u64 {
        self.free_by_start.values().sum()
    }

    fn take_chunks(&mut self, len: u64, internal: bool) -> Option<u64> {
        if !internal {
            let total: u64 = self.free_by_start.values().sum();
            if total < len + RESERVED_CHUNKS {
                return None;
            }
        }
        let &(flen, fstart) = self.free_by_len.range((len, 0)..).next()?;
        self.free_by_len.remove(&(flen, fstart));
        self.free_by_start.remove(&fstart);
        if flen > len {
            self.free_by_start.insert(fstart + len, flen - len);
            self.free_by_len.insert((flen - len, fstart + len));
        }
        Some(fstart)
    }

    fn free_bytes(&self) -> u64 {
        let chunks: u64 = self.free_by_start.values().sum();
        let runs: u64 = self
            .runs
            .values()
            .map(|r| {
                if r.free == r.nblocks {
                    CHUNK_SIZE
                } else {
                    r.free * r.bs
                }
            })
            .sum();
        chunks * CHUNK_SIZE + runs
    }
}

/// One live object, as listed by `Pool::objects`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectInfo {
    /// The object's offset (what a `PPtr` to it holds).
    pub offset: u64,
    /// Its size as recorded in its header (for byte buffers, their length).
    pub size: u64,
    /// Its type id (`Persistent::TYPE_ID`, or the byte-buffer id).
    pub type_id: u64,
    /// Payload bytes its block holds: the object occupies `offset - 16 .. offset + capacity`.
    pub capacity: u64,
}

/// Heap statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Live objects (including the root and uncommitted allocations).
    pub objects: u64,
    /// Bytes their blocks take (headers included).
    pub allocated_bytes: u64,
    /// Bytes free: free chunks, free blocks of runs, and whole empty runs.
    pub free_bytes: u64,
    /// Chunks in the heap.
    pub chunks: u64,
    /// Chunks holding runs.
    pub runs: u64,
}

/// The allocator of one pool.
#[derive(Debug)]
pub(crate) struct Heap {
    geo: Geometry,
    region: Region,
    /// Chunks in use now: grows (never shrinks) as the pool grows. Stored after the chunks
    /// are mapped and durable in the extent word, before they join the free lists.
    chunks: AtomicU64,
    /// How the pool grows, for a pool that can (`grow.rs`).
    growth: Option<Growth>,
    /// The largest size the pool may reach (`grow.rs`, `max_len`).
    max_len: u64,
    state: Mutex<State>,
    /// Blocks of freed shared objects in their grace period (`quarantine.rs`).
    quarantine: quarantine::Quarantine,
}

impl Heap {
    /// Formats an empty heap of `chunks` chunks: their header words free (the table's other
    /// words are not touched: their pages may be holes of the file). Caller flushes and fences.
    ///
    /// # Safety
    /// Exclusive access to the pool (creation).
    pub(crate) unsafe fn format(
        region: &Region,
        g: &Geometry,
        chunks: u64,
        p: &Persister,
        b: &mut Batch,
    ) -> Result<()> {
        // SAFETY: exclusive access during creation (contract).
        unsafe { region.zero(g.chunk_table, chunks * 8)? };
        p.flush(b, g.chunk_table, chunks * 8);
        Ok(())
    }

    /// Chunks in use now.
    #[inline]
    pub(crate) fn chunks(&self) -> u64 {
        self.chunks.load(Ordering::Acquire)
    }

    /// Lets the heap grow the pool when it is full (`growth`, where this session can), up to
    /// `max_len` bytes (the maximum size a pool created to grow has on media).
    pub(crate) fn set_growth(&mut self, growth: Option<Growth>, max_len: u64) {
        self.growth = growth;
        self.max_len = max_len.max(self.region.len());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` half-updated in a way that breaks
        // memory safety; recover the guard rather than propagate the poison.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> HeapStats {
        let st = self.lock();
        HeapStats {
            objects: st.alloc_objects,
            allocated_bytes: st.alloc_bytes,
            free_bytes: st.free_bytes() + self.quarantined_bytes(),
            chunks: self.chunks(),
            runs: st.runs.len() as u64,
        }
    }
}
