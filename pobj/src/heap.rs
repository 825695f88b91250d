//! The persistent allocator's volatile side: free lists rebuilt at open from the chunk table and
//! run bitmaps, and the pointer check that resolves an offset to a live object.
//!
//! The persistent side is only the chunk header words, the run descriptors and bitmaps, and the
//! object headers. Changing it is the transaction's job (`tx.rs`), which logs each change so that
//! it can be undone; this module hands out *reservations* (blocks no one else will be given) and
//! takes them back on abort or after a committed free.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use crate::chunk::ChunkHeader;
use crate::class::{class_for, class_of_block, CLASSES, MAX_SMALL_PAYLOAD};
use crate::error::{Error, Result};
use crate::layout::{Geometry, CHUNK_SIZE};
use crate::object::{ObjHeader, OBJ_HEADER};
use crate::persist::{Batch, Persister};
use crate::region::Region;
use crate::run::{self, RunDescriptor, BITMAP_OFFSET, RUN_DATA, RUN_MAGIC};

/// Offset of a large object's payload from its first chunk (64-byte aligned).
pub const LARGE_PAYLOAD: u64 = 64;
/// Chunks kept back from user allocations so that undo-log extensions (which a transaction
/// that frees objects in a full pool needs) can still be allocated.
pub const RESERVED_CHUNKS: u64 = 2;

/// Largest object the heap serves (4 GiB).
pub const MAX_ALLOC: u64 = 4 << 30;

const FREE_WORD: u64 = crate::chunk::FREE;

/// Type id of undo-log extension buffers (freed at every open).
pub const LOG_EXT_TYPE_ID: u64 = crate::typeid::TypeHasher::new()
    .str("pobj::log_ext")
    .finish();

/// A block handed out by the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Block {
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
    pub fn header_offset(&self, g: &Geometry) -> u64 {
        self.payload_offset(g) - OBJ_HEADER
    }

    /// Offset of the payload.
    pub fn payload_offset(&self, g: &Geometry) -> u64 {
        match *self {
            Block::Small { chunk, index, bs } => {
                g.chunk_offset(chunk) + RUN_DATA + index * bs + OBJ_HEADER
            }
            Block::Large { chunk, .. } => g.chunk_offset(chunk) + LARGE_PAYLOAD,
        }
    }

    /// Usable payload bytes.
    pub fn capacity(&self) -> u64 {
        match *self {
            Block::Small { bs, .. } => bs - OBJ_HEADER,
            Block::Large { len, .. } => len * CHUNK_SIZE - LARGE_PAYLOAD,
        }
    }

    /// Bytes the block takes from the heap.
    pub fn footprint(&self) -> u64 {
        match *self {
            Block::Small { bs, .. } => bs,
            Block::Large { len, .. } => len * CHUNK_SIZE,
        }
    }

    /// For a small block: the bitmap word's offset and the block's bit.
    pub fn bit(&self, g: &Geometry) -> Option<(u64, u64)> {
        match *self {
            Block::Small { chunk, index, .. } => Some((
                g.chunk_offset(chunk) + BITMAP_OFFSET + (index / 64) * 8,
                1u64 << (index % 64),
            )),
            Block::Large { .. } => None,
        }
    }
}

#[derive(Debug)]
struct RunState {
    bs: u64,
    nblocks: u64,
    /// Volatile bitmap: persistent bits plus reservations not yet committed.
    bits: Vec<u64>,
    free: u64,
    hint: usize,
}

#[derive(Debug, Default)]
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
    state: Mutex<State>,
}

impl Heap {
    /// Formats an empty heap: every chunk header free. Caller flushes and fences.
    ///
    /// # Safety
    /// Exclusive access to the pool (creation).
    pub(crate) unsafe fn format(
        region: &Region,
        g: &Geometry,
        p: &Persister,
        b: &mut Batch,
    ) -> Result<()> {
        // SAFETY: exclusive access during creation (contract).
        unsafe { region.zero(g.chunk_table, g.chunk_count * 8)? };
        p.flush(b, g.chunk_table, g.chunk_count * 8);
        Ok(())
    }

    /// Rebuilds the volatile state from the chunk table and run bitmaps. Also frees leftover
    /// undo-log extensions and empty runs (recovery has run, so nothing refers to them).
    ///
    /// # Safety
    /// Exclusive access to the pool (open).
    pub(crate) unsafe fn rebuild(region: Region, g: Geometry, p: &Persister) -> Result<Heap> {
        let mut st = State {
            avail: vec![Vec::new(); CLASSES.len()],
            ..State::default()
        };
        let mut batch = Batch::new();
        let mut reclaimed = false;
        let mut i = 0;
        while i < g.chunk_count {
            let hoff = g.chunk_header_offset(i);
            let w = region
                .atomic(hoff)?
                .load(core::sync::atomic::Ordering::Acquire);
            let h = ChunkHeader::decode(w).ok_or(Error::Corrupted {
                what: "chunk header",
                offset: hoff,
            })?;
            match h {
                ChunkHeader::Free => {
                    st.add_free(i, 1);
                    i += 1;
                }
                ChunkHeader::Used { len } => {
                    if len > g.chunk_count - i {
                        return Err(Error::Corrupted {
                            what: "large object extent",
                            offset: hoff,
                        });
                    }
                    // The words of the chunks inside the extent are never written while it is
                    // live and pointer resolution reads them: they must say FREE, or a forged
                    // word could make an object (or a run) resolve inside this one.
                    for c in i + 1..i + len {
                        let inner = g.chunk_header_offset(c);
                        let w = region
                            .atomic(inner)?
                            .load(core::sync::atomic::Ordering::Acquire);
                        if w != ChunkHeader::Free.encode() {
                            return Err(Error::Corrupted {
                                what: "chunk header inside a large object extent",
                                offset: inner,
                            });
                        }
                    }
                    let block = Block::Large { chunk: i, len };
                    // SAFETY: exclusive access during open.
                    let oh: ObjHeader = unsafe { region.read(block.header_offset(&g))? };
                    if oh.size > block.capacity() {
                        return Err(Error::Corrupted {
                            what: "large object header",
                            offset: block.header_offset(&g),
                        });
                    }
                    if oh.type_id == LOG_EXT_TYPE_ID {
                        region.atomic(hoff)?.store(
                            ChunkHeader::Free.encode(),
                            core::sync::atomic::Ordering::Release,
                        );
                        p.flush(&mut batch, hoff, 8);
                        reclaimed = true;
                        st.add_free(i, len);
                    } else {
                        st.alloc_objects += 1;
                        st.alloc_bytes += block.footprint();
                    }
                    i += len;
                }
                ChunkHeader::Run => {
                    let coff = g.chunk_offset(i);
                    // SAFETY: exclusive access during open.
                    let d: RunDescriptor = unsafe { region.read(coff)? };
                    let (bs, n) = match (d.magic == RUN_MAGIC)
                        .then(|| run::decode_geometry(d.geometry))
                        .flatten()
                    {
                        Some(x) => x,
                        None => {
                            return Err(Error::Corrupted {
                                what: "run descriptor",
                                offset: coff,
                            })
                        }
                    };
                    let mut bits = vec![0u64; n.div_ceil(64) as usize];
                    let mut used = 0;
                    for (wi, word) in bits.iter_mut().enumerate() {
                        let woff = coff + BITMAP_OFFSET + wi as u64 * 8;
                        let mut v = region
                            .atomic(woff)?
                            .load(core::sync::atomic::Ordering::Acquire);
                        let valid = if (wi as u64 + 1) * 64 <= n {
                            u64::MAX
                        } else {
                            (1u64 << (n % 64)) - 1
                        };
                        if v & !valid != 0 {
                            return Err(Error::Corrupted {
                                what: "run bitmap (bits past the last block)",
                                offset: woff,
                            });
                        }
                        *word = v;
                        used += v.count_ones() as u64;
                        while v != 0 {
                            let b = v.trailing_zeros() as u64;
                            v &= v - 1;
                            let blk = Block::Small {
                                chunk: i,
                                index: wi as u64 * 64 + b,
                                bs,
                            };
                            // SAFETY: exclusive access during open.
                            let oh: ObjHeader = unsafe { region.read(blk.header_offset(&g))? };
                            if oh.size > blk.capacity() {
                                return Err(Error::Corrupted {
                                    what: "object header",
                                    offset: blk.header_offset(&g),
                                });
                            }
                        }
                    }
                    if used == 0 {
                        region.atomic(hoff)?.store(
                            ChunkHeader::Free.encode(),
                            core::sync::atomic::Ordering::Release,
                        );
                        p.flush(&mut batch, hoff, 8);
                        reclaimed = true;
                        st.add_free(i, 1);
                    } else {
                        let class = class_of_block(bs).ok_or(Error::Corrupted {
                            what: "run class",
                            offset: coff,
                        })?;
                        st.alloc_objects += used;
                        st.alloc_bytes += used * bs;
                        if used < n {
                            st.avail[class].push(i);
                        }
                        st.runs.insert(
                            i,
                            RunState {
                                bs,
                                nblocks: n,
                                bits,
                                free: n - used,
                                hint: 0,
                            },
                        );
                    }
                    i += 1;
                }
            }
        }
        if reclaimed {
            p.fence(&mut batch)?;
        }
        Ok(Heap {
            geo: g,
            region,
            state: Mutex::new(st),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` half-updated in a way that breaks
        // memory safety; recover the guard rather than propagate the poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a block for `size` payload bytes. Only the volatile state changes, except that a
    /// new run may be created (and made durable: an empty run is harmless after a crash).
    pub(crate) fn reserve(&self, p: &Persister, size: u64, align: u64) -> Result<Block> {
        self.reserve_inner(p, size, align, false)
    }

    /// Reserves a block for the pool's own use (undo-log extensions): may use the chunks kept
    /// back from user allocations.
    pub(crate) fn reserve_internal(&self, p: &Persister, size: u64) -> Result<Block> {
        self.reserve_inner(p, size, 64, true)
    }

    fn reserve_inner(&self, p: &Persister, size: u64, align: u64, internal: bool) -> Result<Block> {
        if align > 64 {
            return Err(Error::BadAlignment {
                align: align as usize,
            });
        }
        if size > MAX_ALLOC {
            return Err(Error::TooLarge {
                requested: size,
                max: MAX_ALLOC,
            });
        }
        if size <= MAX_SMALL_PAYLOAD {
            if let Some(class) = class_for(size, align) {
                return self.reserve_small(p, class, size);
            }
        }
        let len = (size + LARGE_PAYLOAD).div_ceil(CHUNK_SIZE);
        // (The lock's guard must not live through the `match`: reclaiming takes the lock.)
        let taken = self.lock().take_chunks(len, internal);
        let chunk = match taken {
            Some(c) => c,
            None => {
                self.reclaim_empty_runs(p)?;
                self.lock()
                    .take_chunks(len, internal)
                    .ok_or(Error::OutOfSpace { requested: size })?
            }
        };
        let b = Block::Large { chunk, len };
        let mut st = self.lock();
        st.alloc_objects += 1;
        st.alloc_bytes += b.footprint();
        Ok(b)
    }

    // No fence is ever issued with the heap's lock held: a fence runs foreign code (the
    // simulated medium's hook and after-fence callback), which may call back into the pool
    // (`Pool::stats` takes this lock). Chunks are taken out of the free lists under the lock,
    // set up and made durable without it, then registered under it again.

    fn reserve_small(&self, p: &Persister, class: usize, size: u64) -> Result<Block> {
        loop {
            if let Some(b) = Self::take_block(&mut self.lock(), class) {
                return Ok(b);
            }
            // No run of the class has a free block: make one (other threads may take its
            // blocks first; each round of this loop then follows their progress).
            self.new_run(p, class, size)?;
        }
    }

    /// A free block of `class` from the runs that have one, reserved.
    fn take_block(st: &mut State, class: usize) -> Option<Block> {
        loop {
            let &chunk = st.avail[class].last()?;
            let Some(r) = st.runs.get_mut(&chunk) else {
                st.avail[class].pop();
                continue;
            };
            if r.free == 0 || r.bs != CLASSES[class] {
                st.avail[class].pop();
                continue;
            }
            let words = r.bits.len();
            for k in 0..words {
                let wi = (r.hint + k) % words;
                let w = r.bits[wi];
                if w != u64::MAX {
                    let b = (!w).trailing_zeros() as u64;
                    let index = wi as u64 * 64 + b;
                    if index >= r.nblocks {
                        continue;
                    }
                    r.bits[wi] |= 1 << b;
                    r.free -= 1;
                    r.hint = wi;
                    let bs = r.bs;
                    if r.free == 0 {
                        st.avail[class].pop();
                    }
                    st.alloc_objects += 1;
                    st.alloc_bytes += bs;
                    return Some(Block::Small { chunk, index, bs });
                }
            }
            // Volatile count said free but no bit found: treat the run as full.
            r.free = 0;
            st.avail[class].pop();
        }
    }

    /// Turns a free chunk into an empty run of `class`, durably: descriptor and zeroed bitmap
    /// first, then the chunk header; then the allocator learns of it.
    fn new_run(&self, p: &Persister, class: usize, size: u64) -> Result<()> {
        let taken = self.lock().take_chunks(1, false);
        let chunk = match taken {
            Some(c) => c,
            None => {
                self.reclaim_empty_runs(p)?;
                self.lock()
                    .take_chunks(1, false)
                    .ok_or(Error::OutOfSpace { requested: size })?
            }
        };
        let bs = CLASSES[class];
        let n = run::blocks_per_run(bs);
        let coff = self.geo.chunk_offset(chunk);
        let d = RunDescriptor {
            magic: RUN_MAGIC,
            geometry: run::geometry_word(bs, n),
            reserved: [0; 6],
        };
        let mut b = Batch::new();
        // Atomic stores: pointer resolution in other threads may read these words (through a
        // stale pointer into the chunk's previous use) without a lock.
        let words = crate::persistent::as_bytes(&d)
            .chunks_exact(8)
            .map(|w| {
                let mut v = [0u8; 8];
                v.copy_from_slice(w);
                u64::from_le_bytes(v)
            })
            .chain(std::iter::repeat_n(0u64, n.div_ceil(64) as usize));
        let mut res = Ok(());
        for (i, w) in words.enumerate() {
            match self.region.atomic(coff + i as u64 * 8) {
                Ok(a) => a.store(w, core::sync::atomic::Ordering::Release),
                Err(e) => {
                    res = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = res {
            self.lock().add_free(chunk, 1);
            return Err(e);
        }
        p.flush(&mut b, coff, BITMAP_OFFSET + n.div_ceil(64) * 8);
        if let Err(e) = p.fence(&mut b) {
            // The chunk's word still says FREE: it goes back to the free lists.
            self.lock().add_free(chunk, 1);
            return Err(e);
        }
        let hoff = self.geo.chunk_header_offset(chunk);
        self.region.atomic(hoff)?.store(
            ChunkHeader::Run.encode(),
            core::sync::atomic::Ordering::Release,
        );
        p.flush(&mut b, hoff, 8);
        // If this fence fails the pool is poisoned and the chunk stays out of the allocator
        // (an empty run, or a free chunk, at the next open).
        p.fence(&mut b)?;
        let mut st = self.lock();
        st.runs.insert(
            chunk,
            RunState {
                bs,
                nblocks: n,
                bits: vec![0; n.div_ceil(64) as usize],
                free: n,
                hint: 0,
            },
        );
        st.avail[class].push(chunk);
        Ok(())
    }

    /// Returns runs with no allocated or reserved block to the free chunks: they leave the
    /// allocator first (under its lock, so that nobody reserves a block in them), their chunk
    /// words are made FREE durably, then the chunks join the free lists. Returns whether any
    /// run was reclaimed.
    fn reclaim_empty_runs(&self, p: &Persister) -> Result<bool> {
        let empty: Vec<u64> = {
            let mut st = self.lock();
            let empty: Vec<u64> = st
                .runs
                .iter()
                .filter(|(_, r)| r.free == r.nblocks)
                .map(|(&c, _)| c)
                .collect();
            for c in &empty {
                st.runs.remove(c);
            }
            empty
        };
        if empty.is_empty() {
            return Ok(false);
        }
        let mut b = Batch::new();
        for &c in &empty {
            let hoff = self.geo.chunk_header_offset(c);
            self.region.atomic(hoff)?.store(
                ChunkHeader::Free.encode(),
                core::sync::atomic::Ordering::Release,
            );
            p.flush(&mut b, hoff, 8);
        }
        // If this fence fails the pool is poisoned and the chunks stay out of the allocator
        // until the next open (which finds them free, or empty runs, and reclaims them).
        p.fence(&mut b)?;
        let mut st = self.lock();
        for c in empty {
            st.add_free(c, 1);
        }
        Ok(true)
    }

    /// Gives back a reserved block (abort) or a block whose free has committed.
    pub(crate) fn release(&self, b: Block) {
        let mut st = self.lock();
        st.alloc_objects = st.alloc_objects.saturating_sub(1);
        st.alloc_bytes = st.alloc_bytes.saturating_sub(b.footprint());
        match b {
            Block::Small { chunk, index, bs } => {
                if let Some(r) = st.runs.get_mut(&chunk) {
                    let wi = (index / 64) as usize;
                    if let Some(w) = r.bits.get_mut(wi) {
                        if *w & (1 << (index % 64)) != 0 {
                            *w &= !(1 << (index % 64));
                            r.free += 1;
                            if r.free == 1 {
                                if let Some(class) = class_of_block(bs) {
                                    st.avail[class].push(chunk);
                                }
                            }
                        }
                    }
                }
            }
            Block::Large { chunk, len } => st.add_free(chunk, len),
        }
    }

    /// Resolves the payload offset `off` to its block and header, checking that it is the start
    /// of a live object. Reads only persistent metadata (atomically), so it takes no lock.
    pub(crate) fn resolve(&self, off: u64) -> Result<(Block, ObjHeader)> {
        let bad = |reason| Error::InvalidPointer {
            offset: off,
            reason,
        };
        let g = &self.geo;
        if off == 0 {
            return Err(bad("null pointer"));
        }
        if !off.is_multiple_of(16) {
            return Err(bad("not the start of an object (misaligned)"));
        }
        let rel = off
            .checked_sub(g.chunk_base)
            .ok_or_else(|| bad("outside the heap"))?;
        let chunk = rel / CHUNK_SIZE;
        if chunk >= g.chunk_count {
            return Err(bad("outside the heap"));
        }
        let in_chunk = rel % CHUNK_SIZE;
        let w = self
            .region
            .atomic(g.chunk_header_offset(chunk))?
            .load(core::sync::atomic::Ordering::Acquire);
        let block = match ChunkHeader::decode(w) {
            Some(ChunkHeader::Used { len }) => {
                if len > g.chunk_count - chunk {
                    return Err(Error::Corrupted {
                        what: "large object extent",
                        offset: g.chunk_header_offset(chunk),
                    });
                }
                if in_chunk != LARGE_PAYLOAD {
                    return Err(bad("not the start of an object"));
                }
                Block::Large { chunk, len }
            }
            Some(ChunkHeader::Run) => {
                let coff = g.chunk_offset(chunk);
                if self
                    .region
                    .atomic(coff)?
                    .load(core::sync::atomic::Ordering::Acquire)
                    != RUN_MAGIC
                {
                    return Err(Error::Corrupted {
                        what: "run descriptor",
                        offset: coff,
                    });
                }
                let geo = self
                    .region
                    .atomic(coff + 8)?
                    .load(core::sync::atomic::Ordering::Acquire);
                let (bs, n) = run::decode_geometry(geo).ok_or(Error::Corrupted {
                    what: "run descriptor",
                    offset: coff,
                })?;
                let r = in_chunk
                    .checked_sub(RUN_DATA + OBJ_HEADER)
                    .ok_or_else(|| bad("not the start of an object"))?;
                if r % bs != 0 || r / bs >= n {
                    return Err(bad("not the start of an object"));
                }
                let index = r / bs;
                let blk = Block::Small { chunk, index, bs };
                let (woff, mask) = blk.bit(g).ok_or_else(|| bad("not a small block"))?;
                if self
                    .region
                    .atomic(woff)?
                    .load(core::sync::atomic::Ordering::Acquire)
                    & mask
                    == 0
                {
                    return Err(bad("object is not allocated (freed)"));
                }
                blk
            }
            Some(ChunkHeader::Free) => return Err(bad("object is not allocated (freed)")),
            None => {
                return Err(Error::Corrupted {
                    what: "chunk header",
                    offset: g.chunk_header_offset(chunk),
                })
            }
        };
        let hoff = block.header_offset(g);
        let size = self
            .region
            .atomic(hoff)?
            .load(core::sync::atomic::Ordering::Acquire);
        let type_id = self
            .region
            .atomic(hoff + 8)?
            .load(core::sync::atomic::Ordering::Acquire);
        if size > block.capacity() {
            return Err(Error::Corrupted {
                what: "object header (size larger than block)",
                offset: hoff,
            });
        }
        Ok((block, ObjHeader { size, type_id }))
    }

    /// Every live object, in offset order, from the chunk table and the run bitmaps (atomic
    /// loads, bounded by the chunk count and each run's block count). Objects whose allocation
    /// or free is in flight in a concurrent transaction may or may not be listed.
    pub(crate) fn objects(&self) -> Result<Vec<ObjectInfo>> {
        use core::sync::atomic::Ordering::Acquire;
        let g = &self.geo;
        let mut out = Vec::new();
        let header = |blk: Block| -> Result<ObjectInfo> {
            let hoff = blk.header_offset(g);
            Ok(ObjectInfo {
                offset: blk.payload_offset(g),
                size: self.region.atomic(hoff)?.load(Acquire),
                type_id: self.region.atomic(hoff + 8)?.load(Acquire),
                capacity: blk.capacity(),
            })
        };
        let mut i = 0;
        while i < g.chunk_count {
            let hoff = g.chunk_header_offset(i);
            let w = self.region.atomic(hoff)?.load(Acquire);
            match ChunkHeader::decode(w) {
                Some(ChunkHeader::Free) => i += 1,
                Some(ChunkHeader::Used { len }) if len <= g.chunk_count - i => {
                    let blk = Block::Large { chunk: i, len };
                    let o = header(blk)?;
                    if o.type_id != LOG_EXT_TYPE_ID {
                        out.push(o);
                    }
                    i += len;
                }
                Some(ChunkHeader::Run) => {
                    let coff = g.chunk_offset(i);
                    let magic = self.region.atomic(coff)?.load(Acquire);
                    let geo = self.region.atomic(coff + 8)?.load(Acquire);
                    let Some((bs, n)) = (magic == RUN_MAGIC)
                        .then(|| run::decode_geometry(geo))
                        .flatten()
                    else {
                        return Err(Error::Corrupted {
                            what: "run descriptor",
                            offset: coff,
                        });
                    };
                    for wi in 0..n.div_ceil(64) {
                        let mut v = self
                            .region
                            .atomic(coff + BITMAP_OFFSET + wi * 8)?
                            .load(Acquire);
                        while v != 0 {
                            let b = u64::from(v.trailing_zeros());
                            v &= v - 1;
                            let index = wi * 64 + b;
                            if index < n {
                                out.push(header(Block::Small {
                                    chunk: i,
                                    index,
                                    bs,
                                })?);
                            }
                        }
                    }
                    i += 1;
                }
                _ => {
                    return Err(Error::Corrupted {
                        what: "chunk header",
                        offset: hoff,
                    })
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn stats(&self) -> HeapStats {
        let st = self.lock();
        HeapStats {
            objects: st.alloc_objects,
            allocated_bytes: st.alloc_bytes,
            free_bytes: st.free_bytes(),
            chunks: self.geo.chunk_count,
            runs: st.runs.len() as u64,
        }
    }

    /// Read-only consistency check of the persistent heap against itself and the volatile state.
    /// Appends one line per problem.
    /// Returns the number of objects found on media.
    pub(crate) fn check(&self, problems: &mut Vec<String>) -> u64 {
        let g = &self.geo;
        let st = self.lock();
        let mut objects = 0u64;
        let mut bytes = 0u64;
        let mut i = 0;
        while i < g.chunk_count {
            let hoff = g.chunk_header_offset(i);
            let w = match self.region.atomic(hoff) {
                Ok(a) => a.load(core::sync::atomic::Ordering::Acquire),
                Err(e) => {
                    problems.push(format!("chunk {i}: {e}"));
                    return objects;
                }
            };
            match ChunkHeader::decode(w) {
                None => {
                    problems.push(format!(
                        "chunk {i}: invalid header word {w:#018x} at {hoff:#x}"
                    ));
                    i += 1;
                }
                Some(ChunkHeader::Free) => {
                    let covered = st
                        .free_by_start
                        .range(..=i)
                        .next_back()
                        .is_some_and(|(&s, &l)| i < s + l)
                        || st.runs.get(&i).is_some_and(|r| r.free == r.nblocks);
                    if !covered {
                        problems.push(format!(
                            "chunk {i}: free on media but not in the free lists (leak)"
                        ));
                    }
                    i += 1;
                }
                Some(ChunkHeader::Used { len }) => {
                    if len > g.chunk_count - i {
                        problems.push(format!(
                            "chunk {i}: extent of {len} chunks runs past the heap"
                        ));
                        return objects;
                    }
                    for c in i + 1..i + len {
                        if let Ok(a) = self.region.atomic(g.chunk_header_offset(c)) {
                            if a.load(core::sync::atomic::Ordering::Acquire) != FREE_WORD {
                                problems.push(format!(
                                    "chunk {c}: header word inside the extent of chunk {i} is not FREE"
                                ));
                            }
                        }
                    }
                    for c in i..i + len {
                        if st
                            .free_by_start
                            .range(..=c)
                            .next_back()
                            .is_some_and(|(&s, &l)| c < s + l)
                        {
                            problems.push(format!(
                                "chunk {c}: inside a used extent but listed free (double hand-out)"
                            ));
                        }
                    }
                    let blk = Block::Large { chunk: i, len };
                    match self.region.atomic(blk.header_offset(g)) {
                        Ok(a) if a.load(core::sync::atomic::Ordering::Acquire) > blk.capacity() => {
                            problems.push(format!(
                                "object at {:#x}: size larger than its extent",
                                blk.payload_offset(g)
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(format!("object at chunk {i}: {e}")),
                    }
                    objects += 1;
                    bytes += blk.footprint();
                    i += len;
                }
                Some(ChunkHeader::Run) => {
                    self.check_run(&st, i, problems, &mut objects, &mut bytes);
                    i += 1;
                }
            }
        }
        // Reservations of in-flight transactions are counted in the volatile totals; `check` is
        // run with no transaction in flight, so the totals must agree.
        if objects != st.alloc_objects || bytes != st.alloc_bytes {
            problems.push(format!(
                "object counts disagree: media has {objects} objects / {bytes} bytes, volatile state {} / {}",
                st.alloc_objects, st.alloc_bytes
            ));
        }
        objects
    }

    fn check_run(
        &self,
        st: &State,
        i: u64,
        problems: &mut Vec<String>,
        objects: &mut u64,
        bytes: &mut u64,
    ) {
        let g = &self.geo;
        let coff = g.chunk_offset(i);
        let (magic, geo) = match (self.region.atomic(coff), self.region.atomic(coff + 8)) {
            (Ok(a), Ok(b)) => (
                a.load(core::sync::atomic::Ordering::Acquire),
                b.load(core::sync::atomic::Ordering::Acquire),
            ),
            _ => {
                problems.push(format!("run at chunk {i}: out of bounds"));
                return;
            }
        };
        let Some((bs, n)) = (magic == RUN_MAGIC)
            .then(|| run::decode_geometry(geo))
            .flatten()
        else {
            problems.push(format!("run at chunk {i}: invalid descriptor"));
            return;
        };
        let vol = st.runs.get(&i);
        if vol.is_none() {
            problems.push(format!("run at chunk {i}: not known to the allocator"));
        }
        for wi in 0..n.div_ceil(64) {
            let woff = coff + BITMAP_OFFSET + wi * 8;
            let Ok(a) = self.region.atomic(woff) else {
                continue;
            };
            let mut v = a.load(core::sync::atomic::Ordering::Acquire);
            let valid = if (wi + 1) * 64 <= n {
                u64::MAX
            } else {
                (1u64 << (n % 64)) - 1
            };
            if v & !valid != 0 {
                problems.push(format!(
                    "run at chunk {i}: bitmap bits set past the last block"
                ));
            }
            if let Some(r) = vol {
                if r.bits.get(wi as usize).copied() != Some(v) {
                    problems.push(format!(
                        "run at chunk {i}: bitmap word {wi} differs from the allocator's"
                    ));
                }
            }
            v &= valid;
            while v != 0 {
                let b = u64::from(v.trailing_zeros());
                v &= v - 1;
                let blk = Block::Small {
                    chunk: i,
                    index: wi * 64 + b,
                    bs,
                };
                if let Ok(h) = self.region.atomic(blk.header_offset(g)) {
                    if h.load(core::sync::atomic::Ordering::Acquire) > blk.capacity() {
                        problems.push(format!(
                            "object at {:#x}: size larger than its block",
                            blk.payload_offset(g)
                        ));
                    }
                }
                *objects += 1;
                *bytes += bs;
            }
        }
    }
}
