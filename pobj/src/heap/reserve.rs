//! Reservation and release: blocks taken from the free lists and runs, new runs set up, empty
//! runs reclaimed.

use super::word::store_chunk_header;
use super::{Block, Heap, RunState, State, LARGE_PAYLOAD, MAX_ALLOC};
use crate::error::{Error, Result};
use crate::format::chunk::ChunkHeader;
use crate::format::class::{class_for, class_of_block, CLASSES, MAX_SMALL_PAYLOAD};
use crate::format::layout::CHUNK_SIZE;
use crate::format::run::{self, RunDescriptor, BITMAP_OFFSET, RUN_MAGIC};
use crate::media::persist::{Batch, Persister};

/// How often a reservation that finds the pool full waits for quarantined blocks.
const QUARANTINE_WAITS: u32 = 64;

impl Heap {
    // No fence is ever issued with the heap's lock held: a fence runs foreign code (the
    // simulated medium's hook and after-fence callback), which may call back into the pool
    // (`Pool::stats` takes this lock). Chunks are taken out of the free lists under the lock,
    // set up and made durable without it, then registered under it again.

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

    /// `reserve_once`, first handing back the quarantined blocks whose grace period is over;
    /// when the pool looks full, it waits out the grace period a bounded number of times.
    pub(super) fn reserve_inner(
        &self,
        p: &Persister,
        size: u64,
        align: u64,
        internal: bool,
    ) -> Result<Block> {
        self.settle_quarantine();
        let mut tries = 0;
        loop {
            match self.reserve_once(p, size, align, internal) {
                Err(Error::OutOfSpace { .. })
                    if tries < QUARANTINE_WAITS && self.in_quarantine() =>
                {
                    tries += 1;
                    self.wait_quarantine();
                }
                r => return r,
            }
        }
    }

    fn reserve_once(&self, p: &Persister, size: u64, align: u64, internal: bool) -> Result<Block> {
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
        let chunk = self.take_or_grow(p, len, internal, size)?;
        let b = Block::Large { chunk, len };
        let mut st = self.lock();
        st.alloc_objects += 1;
        st.alloc_bytes += b.footprint();
        Ok(b)
    }

    pub(super) fn reserve_small(&self, p: &Persister, class: usize, size: u64) -> Result<Block> {
        loop {
            if let Some(b) = Self::take_block(&mut self.lock(), class) {
                return Ok(b);
            }
            // No run of the class has a free block: make one (other threads may take its
            // blocks first; each round of this loop then follows their progress).
            self.new_run(p, class, size)?;
        }
    }

    /// Takes `len` free chunks: from the free lists, else after reclaiming empty runs, else
    /// after growing the pool (`grow.rs`). `size` is the request, for `OutOfSpace`.
    fn take_or_grow(&self, p: &Persister, len: u64, internal: bool, size: u64) -> Result<u64> {
        let mut reclaimed = false;
        // Each round takes, reclaims once, or grows the pool (or sees another thread grow it),
        // so the count of chunks rises each time; it is bounded by the table's slots.
        for _ in 0..=self.geo.chunk_slots + 1 {
            // The count read under the lock of the failed take: growth publishes the count and
            // the new free chunks under that lock together.
            let (taken, seen) = {
                let mut st = self.lock();
                (st.take_chunks(len, internal), self.chunks())
            };
            if let Some(c) = taken {
                return Ok(c);
            }
            if !reclaimed {
                reclaimed = true;
                if self.reclaim_empty_runs(p)? {
                    continue;
                }
            }
            self.grow(p, len, internal, seen, size)?;
        }
        Err(self.out_of_space(size, false))
    }

    /// A free block of `class` from the runs that have one, reserved.
    pub(super) fn take_block(st: &mut State, class: usize) -> Option<Block> {
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
                    let b = u64::from((!w).trailing_zeros());
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
    pub(super) fn new_run(&self, p: &Persister, class: usize, size: u64) -> Result<()> {
        let chunk = self.take_or_grow(p, 1, false, size)?;
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
        let words = crate::types::persistent::as_bytes(&d)
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
        let hoff = store_chunk_header(&self.region, &self.geo, chunk, ChunkHeader::Run)?;
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
    pub(super) fn reclaim_empty_runs(&self, p: &Persister) -> Result<bool> {
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
            let hoff = store_chunk_header(&self.region, &self.geo, c, ChunkHeader::Free)?;
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
        Self::hand_back(&mut st, b);
    }

    /// Puts `b` back into the free lists (its accounting is done).
    pub(super) fn hand_back(st: &mut State, b: Block) {
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
}
