//! Transactions: undo logging in per-thread lanes.
//!
//! Protocol (see `docs/transactions.md` for why each fence is there):
//! 1. Before a range is first modified, its old bytes are appended to the lane's log, flushed and
//!    fenced. Ranges already logged, and objects allocated by this transaction, are not logged.
//! 2. An allocation reserves a block in DRAM, writes the object into it, and appends an
//!    "allocated" entry; the persistent bitmap bit (or chunk header) is set after the next fence,
//!    which makes that entry durable first.
//! 3. A free appends a "freed" entry at once; commit fences if any entry is not yet durable,
//!    applies the frees, flushes every modified range and metadata word, fences, and retires the
//!    log (generation + 1, flushed, fenced). A transaction with only unlogged writes and one
//!    commit word skips the log: data, fence, word, fence.
//! 4. Abort (an `Err`, a panic, or a failed nested transaction) undoes the log's entries in
//!    reverse, fences, and retires the log; the reserved blocks return to the free lists.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use crate::chunk::ChunkHeader;
use crate::error::{Error, Result};
use crate::heap::{Block, LOG_EXT_TYPE_ID};
use crate::lane::{
    self, EntryHeader, ENTRY_HEADER, KIND_ALLOC_BITS, KIND_FREE_BITS, KIND_NEXT, KIND_SNAPSHOT,
    MAX_PIECE,
};
use crate::layout::CHUNK_SIZE;
use crate::object::{ObjHeader, OBJ_HEADER};
use crate::persist::Batch;
use crate::pool::{LaneSlot, Shared};
use crate::ptr::{PBytes, PPtr, BYTES_TYPE_ID};
use crate::rangeset::RangeSet;
use crate::Persistent;

/// A hasher for pool offsets (unique `u64`s chosen by the allocator, not by users).
#[derive(Default, Clone, Copy)]
pub(crate) struct OffsetHash(u64);

impl std::hash::Hasher for OffsetHash {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
}

pub(crate) type BuildOffset = std::hash::BuildHasherDefault<OffsetHash>;

/// A transaction's DRAM bookkeeping, kept per lane so that its buffers are reused.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) covered: RangeSet,
    meta: Vec<u64>,
    pending_bits: Vec<(u64, u64)>,
    pending_headers: Vec<(u64, u64)>,
    commit_words: Vec<(u64, u64)>,
    allocs: Vec<Block>,
    new_objs: HashMap<u64, (Block, ObjHeader), BuildOffset>,
    frees: Vec<(u64, Block)>,
    freed: HashSet<u64, BuildOffset>,
    scratch: Vec<u8>,
    /// Allocation and free entries not yet appended to the log (see `Deferred`).
    deferred: Vec<Deferred>,
}

/// An allocation or free entry kept out of the log until another entry must be logged (it is
/// then appended first) or commit needs the log. A transaction whose only persistent change is
/// one allocation or one free commits without the log: its single 8-byte word is the commit.
#[derive(Clone, Copy, Debug)]
struct Deferred {
    kind: u32,
    offset: u64,
    aux: u64,
    /// The 8 bytes of a chunk-word snapshot (`dlen` 8), or none.
    data: [u8; 8],
    dlen: usize,
    apply: Apply,
}

/// What to store once a deferred entry is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Apply {
    /// Set bits of a bitmap word (an allocation).
    Bit(u64, u64),
    /// Store a chunk header word (a large allocation).
    Header(u64, u64),
    /// Nothing until commit (a free).
    Nothing,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Scratch {
    fn clear(&mut self) {
        self.covered.clear();
        self.meta.clear();
        self.pending_bits.clear();
        self.pending_headers.clear();
        self.commit_words.clear();
        self.allocs.clear();
        self.new_objs.clear();
        self.frees.clear();
        self.freed.clear();
        self.deferred.clear();
        // Do not keep a large snapshot buffer around.
        if self.scratch.capacity() > 64 << 10 {
            self.scratch = Vec::new();
        }
    }
}

/// The lane's log writer.
struct Log {
    gen: u64,
    seed: u32,
    buf: u64,
    cap: u64,
    pos: u64,
    ext_used: usize,
    entries: usize,
    unfenced: bool,
}

/// An open transaction. Every change made through it is undone if the transaction aborts, and
/// durable when [`Pool::transaction`](crate::Pool::transaction) returns `Ok`.
///
/// References handed out by [`Tx::get`] borrow the transaction shared, those of [`Tx::get_mut`]
/// borrow it exclusively, so the borrow checker rules out two live `&mut` to one object.
pub struct Tx<'a, R> {
    sh: &'a Shared,
    slot: LaneSlot,
    log: Log,
    /// DRAM bookkeeping, borrowed from the lane (reused across its transactions).
    s: Box<Scratch>,
    batch: Batch,
    aborted: bool,
    /// Set once commit made its changes irreversible (the commit word or the retire stored):
    /// from then on a failure must not roll back or release anything.
    committed: bool,
    _root: PhantomData<fn() -> R>,
    /// A transaction belongs to the thread that runs it (`!Send`, `!Sync`): the pool's
    /// re-entry check is per thread, so a `Tx` used from another thread (a scoped one, say)
    /// could call back into a pool its own thread holds locked.
    _thread: PhantomData<*const ()>,
}

// A transaction stays on its thread (see `_root`).
static_assertions::assert_not_impl_any!(Tx<'static, u64>: Send, Sync);

impl<'a, R: Persistent> Tx<'a, R> {
    /// Starts a transaction in the lane `slot`; on failure the slot is handed back.
    pub(crate) fn begin(
        sh: &'a Shared,
        slot: LaneSlot,
    ) -> std::result::Result<Self, (Error, LaneSlot)> {
        let gen = match lane::generation(&sh.region, &sh.geo, slot.index) {
            Ok(g) => g,
            Err(e) => return Err((e, slot)),
        };
        let mut slot = slot;
        let seed = *slot
            .seed
            .get_or_insert_with(|| lane::buffer_seed(slot.index, 0));
        let buf = sh.geo.lane(slot.index) + lane::LANE_HEADER;
        let cap = u64::from(sh.geo.lane_size) - lane::LANE_HEADER;
        // The DRAM bookkeeping is reused from the lane's previous transaction (cleared).
        let sc = slot.scratch.take().unwrap_or_default();
        Ok(Tx {
            sh,
            slot,
            log: Log {
                gen,
                seed,
                buf,
                cap,
                pos: 0,
                ext_used: 0,
                entries: 0,
                unfenced: false,
            },
            s: sc,
            batch: Batch::new(),
            aborted: false,
            committed: false,
            _root: PhantomData,
            _thread: PhantomData,
        })
    }

    /// Ends the transaction's use of the lane, keeping its DRAM bookkeeping for the next one.
    pub(crate) fn into_slot(self) -> LaneSlot {
        let mut slot = self.slot;
        let mut sc = self.s;
        sc.clear();
        slot.scratch = Some(sc);
        slot
    }

    fn live(&self) -> Result<()> {
        if self.aborted {
            Err(Error::TxAborted)
        } else if self.sh.persister.poisoned() {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    // ---- log -------------------------------------------------------------------------------

    /// Appends an entry (flushed, not fenced). Any failure dooms the transaction: a log that
    /// could not be written must not be committed.
    fn append(&mut self, kind: u32, offset: u64, aux: u64, data: &[u8]) -> Result<()> {
        let r = self
            .flush_deferred()
            .and_then(|()| self.append_inner(kind, offset, aux, data));
        if r.is_err() {
            self.aborted = true;
        }
        r
    }

    /// Appends the deferred allocation and free entries (in order); their stores are applied
    /// after the next fence, like any entry's.
    fn flush_deferred(&mut self) -> Result<()> {
        if self.s.deferred.is_empty() {
            return Ok(());
        }
        let mut items = std::mem::take(&mut self.s.deferred);
        let mut r = Ok(());
        for d in &items {
            r = self.append_inner(d.kind, d.offset, d.aux, &d.data[..d.dlen]);
            if r.is_err() {
                self.aborted = true;
                break;
            }
            match d.apply {
                Apply::Bit(w, m) => self.s.pending_bits.push((w, m)),
                Apply::Header(h, v) => self.s.pending_headers.push((h, v)),
                Apply::Nothing => {}
            }
        }
        items.clear();
        self.s.deferred = items;
        r
    }

    /// Defers an allocation or free entry; in msync mode (where a fence is a system call) it is
    /// logged and made durable at once, so that commit issues at most two.
    fn defer(&mut self, d: Deferred) -> Result<()> {
        self.s.deferred.push(d);
        if self.sh.persister.mode() == crate::PersistMode::Msync {
            self.flush_deferred()?;
            self.fence_and_apply()?;
        }
        Ok(())
    }

    fn append_inner(&mut self, kind: u32, offset: u64, aux: u64, data: &[u8]) -> Result<()> {
        if self.log.entries >= lane::MAX_LOG_ENTRIES {
            return Err(Error::TooLarge {
                requested: self.log.entries as u64 + 1,
                max: lane::MAX_LOG_ENTRIES as u64,
            });
        }
        let need = lane::entry_size(data.len() as u64);
        // Room is always kept for the `NEXT` entry (header + 8-byte nonce) that links onward.
        if self.log.pos + need + lane::entry_size(8) > self.log.cap {
            self.extend_log()?;
        }
        let at = self.log.buf + self.log.pos;
        let mut h = EntryHeader {
            generation: self.log.gen,
            offset,
            aux,
            kind,
            checksum: 0,
        };
        h.checksum = lane::entry_checksum(self.log.seed, &h, data);
        // SAFETY: the log buffer belongs to this lane, which this transaction holds exclusively;
        // nothing references it.
        unsafe {
            self.sh.region.write(at, &h)?;
            self.sh.region.write_from(at + ENTRY_HEADER, data)?;
        }
        if !(kind == KIND_SNAPSHOT && self.sh.fault(crate::pool::FAULT_SKIP_SNAPSHOT_FLUSH)) {
            self.sh
                .persister
                .flush(&mut self.batch, at, ENTRY_HEADER + data.len() as u64);
        }
        self.log.pos += need;
        self.log.entries += 1;
        self.log.unfenced = true;
        Ok(())
    }

    /// Continues the log in an extension buffer (a whole chunk), linked by a `NEXT` entry that
    /// carries the new buffer's random nonce.
    fn extend_log(&mut self) -> Result<()> {
        let sh = self.sh;
        if self.log.ext_used as u64 + 1 >= lane::MAX_LOG_BUFFERS {
            return Err(Error::TooLarge {
                requested: (self.log.ext_used as u64 + 2) * CHUNK_SIZE,
                max: lane::MAX_LOG_BUFFERS * CHUNK_SIZE,
            });
        }
        if self.slot.exts.len() <= self.log.ext_used {
            let block = sh
                .heap
                .reserve_internal(&sh.persister, CHUNK_SIZE - crate::heap::LARGE_PAYLOAD)?;
            let Block::Large { chunk, .. } = block else {
                sh.heap.release(block);
                return Err(Error::Corrupted {
                    what: "log extension block",
                    offset: 0,
                });
            };
            let hoff = block.header_offset(&sh.geo);
            let cap = block.capacity();
            // Not undone by this transaction: at every open all extension objects are freed.
            // The object header is durable before the chunk is marked used, so that a crash
            // never leaves a used chunk with a stale header.
            sh.region.atomic(hoff)?.store(cap, Ordering::Release);
            sh.region
                .atomic(hoff + 8)?
                .store(LOG_EXT_TYPE_ID, Ordering::Release);
            sh.persister.flush(&mut self.batch, hoff, OBJ_HEADER);
            if let Err(e) = self.fence_and_apply() {
                sh.heap.release(block);
                return Err(e);
            }
            let choff = sh.geo.chunk_header_offset(chunk);
            sh.region
                .atomic(choff)?
                .store(ChunkHeader::Used { len: 1 }.encode(), Ordering::Release);
            sh.persister.flush(&mut self.batch, choff, 8);
            self.slot
                .exts
                .push((block.payload_offset(&sh.geo), cap, block));
        }
        let (off, cap, _) = self.slot.exts[self.log.ext_used];
        let nonce = random_nonce();
        let at = self.log.buf + self.log.pos;
        let mut h = EntryHeader {
            generation: self.log.gen,
            offset: off,
            aux: cap,
            kind: KIND_NEXT,
            checksum: 0,
        };
        let nb = nonce.to_le_bytes();
        h.checksum = lane::entry_checksum(self.log.seed, &h, &nb);
        // SAFETY: this lane's log, held exclusively.
        unsafe {
            sh.region.write(at, &h)?;
            sh.region.write_from(at + ENTRY_HEADER, &nb)?;
        }
        sh.persister.flush(&mut self.batch, at, ENTRY_HEADER + 8);
        self.log.unfenced = true;
        self.log.ext_used += 1;
        self.log.buf = off;
        self.log.cap = cap;
        self.log.pos = 0;
        self.log.seed = lane::buffer_seed(self.slot.index, nonce);
        Ok(())
    }

    /// Fences, then applies the allocation bits whose log entries that fence made durable.
    fn fence_and_apply(&mut self) -> Result<()> {
        let sh = self.sh;
        if let Err(e) = sh.persister.fence(&mut self.batch) {
            // Entries that may not be durable must never be relied on: doom the transaction.
            self.aborted = true;
            return Err(e);
        }
        self.log.unfenced = false;
        for (w, m) in self.s.pending_bits.drain(..) {
            sh.region.atomic(w)?.fetch_or(m, Ordering::AcqRel);
            self.s.meta.push(w);
        }
        for (h, v) in self.s.pending_headers.drain(..) {
            sh.region.atomic(h)?.store(v, Ordering::Release);
            self.s.meta.push(h);
        }
        Ok(())
    }

    /// Logs the old bytes of `off..off+len` (the parts not logged yet) and makes them durable.
    fn snapshot(&mut self, off: u64, len: u64) -> Result<()> {
        self.live()?;
        let end = off.checked_add(len).ok_or(Error::Corrupted {
            what: "range",
            offset: off,
        })?;
        self.sh.region.check(off, len, "snapshot range")?;
        let pieces = self.s.covered.uncovered(off, end);
        if pieces.is_empty() {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.s.scratch);
        for (s, e) in pieces {
            let mut p = s;
            while p < e {
                let n = (e - p).min(MAX_PIECE);
                scratch.resize(n as usize, 0);
                // SAFETY: no reference into the range is live (the `&mut self` borrow rules out
                // outstanding `get`/`get_mut` references) and no other thread writes it (the
                // pool lock, or the shared-transaction contract).
                unsafe { self.sh.region.read_into(p, &mut scratch)? };
                let r = self.append(KIND_SNAPSHOT, p, n, &scratch);
                if let Err(e) = r {
                    self.s.scratch = scratch;
                    return Err(e);
                }
                p += n;
            }
        }
        self.s.scratch = scratch;
        self.s.covered.insert(off, end);
        self.fence_and_apply()
    }

    /// Logs an arbitrary byte range of an object so that it can then be modified through
    /// references obtained elsewhere (advanced use; the typed methods do this themselves).
    fn resolve(&self, off: u64) -> Result<(Block, ObjHeader)> {
        if let Some(&v) = self.s.new_objs.get(&off) {
            return Ok(v);
        }
        self.sh.heap.resolve(off)
    }

    fn resolve_typed<T: Persistent>(&self, p: PPtr<T>) -> Result<u64> {
        let off = p.offset();
        let (_, h) = self.resolve(off)?;
        check_type::<T>(off, &h)?;
        Ok(off)
    }

    // ---- reading ---------------------------------------------------------------------------

    /// The root object.
    pub fn root(&self) -> &R {
        // SAFETY: the root offset was validated at open (allocated, type R, aligned, in bounds);
        // the returned reference borrows `self` shared, so no `&mut` from this transaction can be
        // live, and other threads are excluded by the pool lock (or the shared contract).
        match unsafe { self.sh.region.obj::<R>(self.sh.root_offset) } {
            Ok(r) => r,
            Err(_) => unreachable_root(),
        }
    }

    /// The root object for modification (snapshotted first).
    pub fn root_mut(&mut self) -> Result<&mut R> {
        let off = self.sh.root_offset;
        self.snapshot(off, core::mem::size_of::<R>() as u64)?;
        // SAFETY: as `root`, and the `&mut self` borrow makes this the only reference.
        unsafe { self.sh.region.obj_mut::<R>(off) }
    }

    /// The object at `p`.
    pub fn get<T: Persistent>(&self, p: PPtr<T>) -> Result<&T> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        // SAFETY: `off` is a live object of type T (checked); the reference borrows `self`
        // shared (no `&mut` from this transaction), and the pool lock or the shared contract
        // excludes writers in other threads.
        unsafe { self.sh.region.obj::<T>(off) }
    }

    /// The object at `p`, snapshotted, for modification.
    pub fn get_mut<T: Persistent>(&mut self, p: PPtr<T>) -> Result<&mut T> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        self.snapshot(off, core::mem::size_of::<T>() as u64)?;
        // SAFETY: live object of type T; the `&mut self` borrow makes this the only reference
        // from this transaction; other threads are excluded by the pool lock or the contract.
        unsafe { self.sh.region.obj_mut::<T>(off) }
    }

    /// Replaces the object at `p` with `value`.
    pub fn write<T: Persistent>(&mut self, p: PPtr<T>, value: T) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        self.write_logged(off, &value)
    }

    /// Modifies one field of the object at `p`, logging only that field's bytes (a smaller undo
    /// entry than `get_mut` for large objects).
    pub fn update_field<T: Persistent, F: Persistent>(
        &mut self,
        p: PPtr<T>,
        field: impl FnOnce(&mut T) -> &mut F,
        value: F,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = self.field_offset(off, field)?;
        self.write_logged(foff, &value)
    }

    /// Logs the old bytes of the field at pool offset `foff` (a field of a live object,
    /// checked by the caller), then stores `value` there.
    fn write_logged<F: Persistent>(&mut self, foff: u64, value: &F) -> Result<()> {
        self.snapshot(foff, core::mem::size_of::<F>() as u64)?;
        // SAFETY: in bounds of a live object held exclusively by this transaction; no reference
        // into it is live (`&mut self`); the store is atomic word by word.
        unsafe { self.sh.region.write(foff, value) }
    }

    /// Stores `value` at pool offset `foff` (a field of a live object, checked by the caller)
    /// without logging, and has it flushed at commit.
    fn write_unlogged<F: Persistent>(&mut self, foff: u64, value: &F) -> Result<()> {
        // SAFETY: in bounds of a live object; no reference into it is live (`&mut self`).
        unsafe { self.sh.region.write(foff, value)? };
        self.s
            .covered
            .insert(foff, foff + core::mem::size_of::<F>() as u64);
        Ok(())
    }

    /// Checks a field at byte `offset` of a `T` at `off`, for an `F`: in bounds and aligned.
    fn field_at<T: Persistent, F: Persistent>(off: u64, offset: usize) -> Result<u64> {
        let len = core::mem::size_of::<F>();
        match offset.checked_add(len) {
            Some(end)
                if end <= core::mem::size_of::<T>()
                    && offset.is_multiple_of(core::mem::align_of::<F>()) =>
            {
                Ok(off + offset as u64)
            }
            _ => Err(Error::OutOfBounds {
                offset: off,
                start: offset as u64,
                end: offset.saturating_add(len) as u64,
                len: core::mem::size_of::<T>() as u64,
            }),
        }
    }

    /// Like [`Tx::update_field`], with the field given by its byte offset in `T` (for example
    /// from `core::mem::offset_of!`): cheaper for large objects. Writing any `F` anywhere in a
    /// `T` is memory-safe, since both are valid for every bit pattern.
    pub fn update_at<T: Persistent, F: Persistent>(
        &mut self,
        p: PPtr<T>,
        offset: usize,
        value: F,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = Self::field_at::<T, F>(off, offset)?;
        self.write_logged(foff, &value)
    }

    /// Like [`Tx::update_field_unlogged`], with the field given by its byte offset.
    pub fn update_at_unlogged<T: Persistent, F: Persistent>(
        &mut self,
        p: PPtr<T>,
        offset: usize,
        value: F,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = Self::field_at::<T, F>(off, offset)?;
        self.write_unlogged(foff, &value)
    }

    /// Like [`Tx::commit_word`], with the field given by its byte offset.
    pub fn commit_word_at<T: Persistent>(
        &mut self,
        p: PPtr<T>,
        offset: usize,
        value: u64,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = Self::field_at::<T, u64>(off, offset)?;
        self.push_commit_word(foff, value)
    }

    fn push_commit_word(&mut self, foff: u64, v: u64) -> Result<()> {
        if !foff.is_multiple_of(8) {
            return Err(Error::InvalidPointer {
                offset: foff,
                reason: "a commit word must be an aligned 8-byte field",
            });
        }
        match self.s.commit_words.iter_mut().find(|(w, _)| *w == foff) {
            Some(e) => e.1 = v,
            None => self.s.commit_words.push((foff, v)),
        }
        Ok(())
    }

    /// Finds a field's offset on a DRAM copy of the object at `off` (whatever the closure
    /// writes there is discarded).
    fn field_offset<T: Persistent, F: Persistent>(
        &self,
        off: u64,
        field: impl FnOnce(&mut T) -> &mut F,
    ) -> Result<u64> {
        // SAFETY: a live object of type T; no `&mut` into it is live (callers hold `&mut self`),
        // and other threads are excluded by the pool lock or the shared contract.
        let mut copy: T = unsafe { self.sh.region.read::<T>(off)? };
        let base = &raw mut copy as usize;
        let f = field(&mut copy) as *mut F as usize;
        match f.checked_sub(base) {
            Some(d) if d + core::mem::size_of::<F>() <= core::mem::size_of::<T>() => {
                Ok(off + d as u64)
            }
            _ => Err(Error::OutOfBounds {
                offset: off,
                start: 0,
                end: 0,
                len: core::mem::size_of::<T>() as u64,
            }),
        }
    }

    /// Writes one field **without logging its old bytes**; it is flushed at commit.
    ///
    /// For bytes whose old contents nobody can observe after an abort or a crash — typically a
    /// slot that a validity bitmap marks free, made valid by a [`Tx::commit_word`] or a logged
    /// write in the same transaction. If the transaction aborts or a crash interrupts it, these
    /// bytes may hold the new value, the old one, or a mix.
    pub fn update_field_unlogged<T: Persistent, F: Persistent>(
        &mut self,
        p: PPtr<T>,
        field: impl FnOnce(&mut T) -> &mut F,
        value: F,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = self.field_offset(off, field)?;
        self.write_unlogged(foff, &value)
    }

    /// Sets an aligned 8-byte field **when the transaction commits**, after everything else the
    /// transaction wrote is durable (reads in the transaction still see the old value).
    ///
    /// A transaction whose only changes are unlogged writes and one commit word needs no undo
    /// log at all: it commits with two fences (data, then the word) and the word's 8-byte
    /// atomicity makes it all-or-nothing. Otherwise the word is logged and written like any
    /// other change.
    pub fn commit_word<T: Persistent, F: Persistent>(
        &mut self,
        p: PPtr<T>,
        field: impl FnOnce(&mut T) -> &mut F,
        value: F,
    ) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let foff = self.field_offset(off, field)?;
        if core::mem::size_of::<F>() != 8 || !foff.is_multiple_of(8) {
            return Err(Error::InvalidPointer {
                offset: foff,
                reason: "a commit word must be an aligned 8-byte field",
            });
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(crate::persistent::as_bytes(&value));
        self.push_commit_word(foff, u64::from_le_bytes(b))
    }

    // ---- allocation ------------------------------------------------------------------------

    fn alloc_raw(&mut self, size: u64, align: u64, type_id: u64) -> Result<u64> {
        self.live()?;
        let sh = self.sh;
        let block = match sh.heap.reserve(&sh.persister, size, align) {
            Ok(b) => b,
            Err(e @ Error::OutOfSpace { .. }) => {
                // A full pool aborts the transaction, like libpmemobj.
                self.aborted = true;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.s.allocs.push(block);
        let g = &sh.geo;
        // The header first: the block is reserved, and once its bit is set (after the entry's
        // fence) a resolver must find a valid header.
        let hoff = block.header_offset(g);
        sh.region.atomic(hoff)?.store(size, Ordering::Release);
        sh.region
            .atomic(hoff + 8)?
            .store(type_id, Ordering::Release);
        let d = match block.bit(g) {
            Some((w, m)) => Deferred {
                kind: KIND_ALLOC_BITS,
                offset: w,
                aux: m,
                data: [0; 8],
                dlen: 0,
                apply: Apply::Bit(w, m),
            },
            None => {
                let Block::Large { chunk, len } = block else {
                    unreachable_block()
                };
                let choff = g.chunk_header_offset(chunk);
                let old = sh.region.atomic(choff)?.load(Ordering::Acquire);
                Deferred {
                    kind: KIND_SNAPSHOT,
                    offset: choff,
                    aux: 8,
                    data: old.to_le_bytes(),
                    dlen: 8,
                    apply: Apply::Header(choff, ChunkHeader::Used { len }.encode()),
                }
            }
        };
        self.defer(d)?;
        let payload = block.payload_offset(g);
        self.s.covered.insert(hoff, payload + size);
        self.s
            .new_objs
            .insert(payload, (block, ObjHeader { size, type_id }));
        Ok(payload)
    }

    /// Allocates a new object holding `value`. Undone if the transaction aborts.
    pub fn alloc<T: Persistent>(&mut self, value: T) -> Result<PPtr<T>> {
        let off = self.alloc_raw(
            core::mem::size_of::<T>() as u64,
            core::mem::align_of::<T>() as u64,
            T::TYPE_ID,
        )?;
        // SAFETY: the block is reserved by this transaction and unreachable by anyone else.
        unsafe { self.sh.region.write(off, &value)? };
        Ok(PPtr::from_offset(off))
    }

    /// Allocates a new zeroed object.
    pub fn alloc_zeroed<T: Persistent>(&mut self) -> Result<PPtr<T>> {
        let off = self.alloc_raw(
            core::mem::size_of::<T>() as u64,
            core::mem::align_of::<T>() as u64,
            T::TYPE_ID,
        )?;
        // SAFETY: reserved block, unreachable by anyone else.
        unsafe { self.sh.region.zero(off, core::mem::size_of::<T>() as u64)? };
        Ok(PPtr::from_offset(off))
    }

    /// Frees the object at `p` when the transaction commits (nothing happens if it aborts).
    pub fn free<T: Persistent>(&mut self, p: PPtr<T>) -> Result<()> {
        self.live()?;
        self.resolve_typed(p)?;
        self.free_raw(p.offset())
    }

    fn free_raw(&mut self, off: u64) -> Result<()> {
        if off == self.sh.root_offset {
            return Err(Error::InvalidFree {
                offset: off,
                reason: "the root object cannot be freed",
            });
        }
        if self.s.freed.contains(&off) {
            return Err(Error::InvalidFree {
                offset: off,
                reason: "already freed in this transaction",
            });
        }
        let (block, _) = self.resolve(off)?;
        // The "freed" entry is deferred (logged before the next entry, or at commit); the bit is
        // cleared at commit, once the entry is durable.
        let g = &self.sh.geo;
        let d = match block.bit(g) {
            Some((w, m)) => Deferred {
                kind: KIND_FREE_BITS,
                offset: w,
                aux: m,
                data: [0; 8],
                dlen: 0,
                apply: Apply::Nothing,
            },
            None => {
                let Block::Large { chunk, .. } = block else {
                    unreachable_block()
                };
                let hoff = g.chunk_header_offset(chunk);
                // A block allocated in this transaction may not have its header applied yet.
                let pending = self
                    .s
                    .pending_headers
                    .iter()
                    .find(|(h, _)| *h == hoff)
                    .map(|&(_, v)| v)
                    .or_else(|| {
                        self.s.deferred.iter().find_map(|d| match d.apply {
                            Apply::Header(h, v) if h == hoff => Some(v),
                            _ => None,
                        })
                    });
                let cur = match pending {
                    Some(v) => v,
                    None => self.sh.region.atomic(hoff)?.load(Ordering::Acquire),
                };
                Deferred {
                    kind: KIND_SNAPSHOT,
                    offset: hoff,
                    aux: 8,
                    data: cur.to_le_bytes(),
                    dlen: 8,
                    apply: Apply::Nothing,
                }
            }
        };
        self.defer(d)?;
        self.s.freed.insert(off);
        self.s.frees.push((off, block));
        Ok(())
    }

    // ---- byte buffers ----------------------------------------------------------------------

    /// Allocates a byte buffer holding `data`.
    pub fn alloc_bytes(&mut self, data: &[u8]) -> Result<PBytes> {
        let off = self.alloc_raw(data.len() as u64, 8, BYTES_TYPE_ID)?;
        // SAFETY: reserved block, unreachable by anyone else; `data` is DRAM.
        unsafe { self.sh.region.write_from(off, data)? };
        Ok(PBytes::from_offset(off))
    }

    /// Allocates a zeroed byte buffer of `len` bytes.
    pub fn alloc_bytes_zeroed(&mut self, len: u64) -> Result<PBytes> {
        let off = self.alloc_raw(len, 8, BYTES_TYPE_ID)?;
        // SAFETY: reserved block, unreachable by anyone else.
        unsafe { self.sh.region.zero(off, len)? };
        Ok(PBytes::from_offset(off))
    }

    fn resolve_bytes(&self, p: PBytes) -> Result<(u64, u64)> {
        let off = p.offset();
        let (_, h) = self.resolve(off)?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: off,
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        Ok((off, h.size))
    }

    /// The contents of a byte buffer.
    pub fn bytes(&self, p: PBytes) -> Result<&[u8]> {
        self.live()?;
        let (off, len) = self.resolve_bytes(p)?;
        // SAFETY: a live buffer of `len` bytes (checked against its block); shared borrow of
        // `self` as in `get`.
        unsafe { self.sh.region.bytes(off, len) }
    }

    /// The contents of a byte buffer for modification (all of it is snapshotted).
    pub fn bytes_mut(&mut self, p: PBytes) -> Result<&mut [u8]> {
        self.live()?;
        let (off, len) = self.resolve_bytes(p)?;
        self.snapshot(off, len)?;
        // SAFETY: as `get_mut`.
        unsafe { self.sh.region.bytes_mut(off, len) }
    }

    /// Writes `data` at byte `at` of a buffer, snapshotting only that range.
    pub fn write_bytes(&mut self, p: PBytes, at: u64, data: &[u8]) -> Result<()> {
        self.live()?;
        let (off, len) = self.resolve_bytes(p)?;
        let end = at.checked_add(data.len() as u64).filter(|&e| e <= len);
        let Some(_) = end else {
            return Err(Error::OutOfBounds {
                offset: off,
                start: at,
                end: at.saturating_add(data.len() as u64),
                len,
            });
        };
        self.snapshot(off + at, data.len() as u64)?;
        // SAFETY: in bounds of a live buffer; no reference into it is live (`&mut self`).
        unsafe { self.sh.region.write_from(off + at, data) }
    }

    /// The length of a byte buffer.
    pub fn bytes_len(&self, p: PBytes) -> Result<u64> {
        self.live()?;
        Ok(self.resolve_bytes(p)?.1)
    }

    /// Frees a byte buffer when the transaction commits.
    pub fn free_bytes(&mut self, p: PBytes) -> Result<()> {
        self.live()?;
        self.resolve_bytes(p)?;
        self.free_raw(p.offset())
    }

    // ---- nesting ---------------------------------------------------------------------------

    /// Runs `f` as a nested transaction, flattened into this one: its changes commit or abort
    /// with the outermost transaction. If `f` fails or panics, the whole transaction is aborted
    /// (further calls return [`Error::TxAborted`]).
    pub fn transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<Error>,
    {
        self.live()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.aborted = true;
                Err(e)
            }
            Err(panic) => {
                self.aborted = true;
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Whether the transaction is doomed to abort (a nested one failed, or the pool filled).
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    // ---- end -------------------------------------------------------------------------------

    pub(crate) fn wants_abort(&self) -> bool {
        self.aborted
    }

    /// Makes everything durable and retires the log.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.commit_steps()?;
        if self.sh.persister.commit_in_doubt() {
            // An msync failed while this transaction ran (another thread's, or this commit's
            // last step). The kernel reports a write-back error to one caller only, so this
            // commit's own msyncs may have succeeded over pages that were not written. Its
            // changes stand in memory (logged, unlogged or one-word alike): report them as
            // committed with their durability in doubt (the caller returns `CommitInDoubt`).
            self.committed = true;
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    fn commit_steps(&mut self) -> Result<()> {
        let sh = self.sh;
        self.live()?;
        if self.log.entries == 0 && self.s.commit_words.is_empty() && self.s.deferred.len() == 1 {
            // One allocation, or one free, and nothing logged: its 8-byte word is the commit.
            let d = self.s.deferred[0];
            let single_alloc = matches!(d.apply, Apply::Bit(..) | Apply::Header(..))
                && self.s.allocs.len() == 1
                && self.s.frees.is_empty();
            let single_free =
                d.apply == Apply::Nothing && self.s.frees.len() == 1 && self.s.allocs.is_empty();
            if single_alloc || single_free {
                return self.commit_one_word(d);
            }
        }
        if self.log.entries == 0
            && self.s.frees.is_empty()
            && self.s.commit_words.len() <= 1
            && self.s.deferred.is_empty()
        {
            // No undo log: only unlogged ranges and at most one commit word. The ranges are
            // durable before the word, whose 8-byte atomicity commits the transaction.
            if !self.s.covered.is_empty() {
                for (s, e) in self.s.covered.iter() {
                    sh.persister.flush(&mut self.batch, s, e - s);
                }
                sh.persister.fence(&mut self.batch)?;
            }
            if let Some((w, v)) = self.s.commit_words.pop() {
                sh.region.atomic(w)?.store(v, Ordering::Release);
                self.committed = true;
                sh.persister.flush(&mut self.batch, w, 8);
                sh.persister.fence(&mut self.batch)?;
            }
            return Ok(());
        }
        self.flush_deferred()?;
        // Commit words become logged writes: each word's current bytes are logged (whatever
        // else covered them), one fence makes the entries durable, then the words are stored.
        let words = std::mem::take(&mut self.s.commit_words);
        for &(w, _) in &words {
            let cur = sh.region.atomic(w)?.load(Ordering::Acquire);
            self.append(KIND_SNAPSHOT, w, 8, &cur.to_le_bytes())?;
        }
        if !words.is_empty() {
            self.fence_and_apply()?;
        }
        for (w, v) in words {
            sh.region.atomic(w)?.store(v, Ordering::Release);
            self.s.meta.push(w);
        }
        let g = &sh.geo;
        if self.log.unfenced {
            self.fence_and_apply()?;
        }
        for (_, block) in &self.s.frees {
            match block.bit(g) {
                Some((w, m)) => {
                    sh.region.atomic(w)?.fetch_and(!m, Ordering::AcqRel);
                    self.s.meta.push(w);
                }
                None => {
                    let Block::Large { chunk, .. } = *block else {
                        unreachable_block()
                    };
                    let hoff = g.chunk_header_offset(chunk);
                    sh.region
                        .atomic(hoff)?
                        .store(ChunkHeader::Free.encode(), Ordering::Release);
                    self.s.meta.push(hoff);
                }
            }
        }
        if sh.fault(crate::pool::FAULT_RETIRE_BEFORE_DATA_FLUSH) {
            self.committed = true;
            lane::retire(
                &sh.region,
                g,
                &sh.persister,
                self.slot.index,
                &mut self.batch,
            )?;
        }
        for (s, e) in self.s.covered.iter() {
            sh.persister.flush(&mut self.batch, s, e - s);
        }
        self.s.meta.sort_unstable();
        self.s.meta.dedup();
        for &w in &self.s.meta {
            sh.persister.flush(&mut self.batch, w, 8);
        }
        if sh.fault(crate::pool::FAULT_RETIRE_BEFORE_DATA_FLUSH) {
            sh.persister.fence(&mut self.batch)?;
        } else {
            // Every modified range and metadata word is durable before the log is retired: a
            // crash after the retire must find the new data, since nothing can undo it then.
            if !sh.fault(crate::pool::FAULT_SKIP_COMMIT_FENCE) {
                sh.persister.fence(&mut self.batch)?;
            }
            // From the retire store on, the transaction cannot be undone.
            self.committed = true;
            lane::retire(
                &sh.region,
                g,
                &sh.persister,
                self.slot.index,
                &mut self.batch,
            )?;
        }
        // Durable: hand freed blocks back.
        for (_, block) in self.s.frees.drain(..) {
            sh.heap.release(block);
        }
        self.s.allocs.clear();
        if self.trim_exts().is_err() {
            // The transaction is durable (the retire was fenced); only the extension chunks'
            // words may not be. They are freed at the next open anyway: refuse further writes
            // (the persistence layer failed) but report the commit.
            sh.persister.poison();
        }
        Ok(())
    }

    /// Whether commit stored its irreversible word (the commit word, or the retire): a failure
    /// from then on leaves the changes in place, with their durability unknown.
    pub(crate) fn past_commit_point(&self) -> bool {
        self.committed
    }

    /// Commits a transaction whose only persistent change is one allocation or one free: the
    /// data (the new object, any unlogged bytes) is made durable, then the one word — bitmap
    /// word or chunk header — is stored, flushed and fenced. A crash before that word reaches
    /// the medium leaves the old word: nothing happened.
    fn commit_one_word(&mut self, d: Deferred) -> Result<()> {
        let sh = self.sh;
        self.s.deferred.clear();
        if !self.s.covered.is_empty() {
            for (s, e) in self.s.covered.iter() {
                sh.persister.flush(&mut self.batch, s, e - s);
            }
            sh.persister.fence(&mut self.batch)?;
        }
        let word = match d.apply {
            Apply::Bit(w, m) => {
                self.committed = true;
                sh.region.atomic(w)?.fetch_or(m, Ordering::AcqRel);
                w
            }
            Apply::Header(h, v) => {
                self.committed = true;
                sh.region.atomic(h)?.store(v, Ordering::Release);
                h
            }
            Apply::Nothing => {
                let (_, block) = self.s.frees[0];
                match block.bit(&sh.geo) {
                    Some((w, m)) => {
                        self.committed = true;
                        sh.region.atomic(w)?.fetch_and(!m, Ordering::AcqRel);
                        w
                    }
                    None => {
                        let Block::Large { chunk, .. } = block else {
                            unreachable_block()
                        };
                        let h = sh.geo.chunk_header_offset(chunk);
                        self.committed = true;
                        sh.region
                            .atomic(h)?
                            .store(ChunkHeader::Free.encode(), Ordering::Release);
                        h
                    }
                }
            }
        };
        sh.persister.flush(&mut self.batch, word, 8);
        sh.persister.fence(&mut self.batch)?;
        for (_, block) in self.s.frees.drain(..) {
            sh.heap.release(block);
        }
        self.s.allocs.clear();
        Ok(())
    }

    /// Undoes everything and retires the log.
    pub(crate) fn abort(&mut self) -> Result<()> {
        let sh = self.sh;
        if self.committed {
            // Commit failed after its point of no return (a fence of an irreversible step): the
            // changes stand, or recovery decides at the next open. Roll back nothing, release
            // nothing (allocations are live, frees are kept until reopen), refuse further writes.
            sh.persister.poison();
            self.s.allocs.clear();
            self.s.frees.clear();
            self.s.pending_bits.clear();
            self.s.pending_headers.clear();
            self.s.commit_words.clear();
            return Err(Error::Poisoned);
        }
        let r = if self.log.entries > 0 {
            // SAFETY: this transaction holds the lane; the closure has returned, so no reference
            // into the logged ranges is live; other threads are excluded by the pool lock or the
            // shared contract.
            unsafe {
                lane::rollback(
                    &sh.region,
                    &sh.geo,
                    &sh.persister,
                    self.slot.index,
                    &mut lane::Walked::default(),
                    Some(self.log.entries),
                )
            }
            .map(|_| ())
        } else {
            Ok(())
        };
        self.s.pending_bits.clear();
        self.s.pending_headers.clear();
        self.s.commit_words.clear();
        self.s.deferred.clear();
        self.s.frees.clear();
        if r.is_ok() {
            for b in self.s.allocs.drain(..) {
                sh.heap.release(b);
            }
        }
        r?;
        self.trim_exts()
    }

    /// Frees the log extensions this transaction used. (A lane keeps none between
    /// transactions, so that heap figures do not depend on past transactions.)
    fn trim_exts(&mut self) -> Result<()> {
        if self.slot.exts.is_empty() {
            return Ok(());
        }
        let sh = self.sh;
        let extra: Vec<_> = std::mem::take(&mut self.slot.exts);
        for (_, _, block) in &extra {
            if let Block::Large { chunk, .. } = *block {
                let hoff = sh.geo.chunk_header_offset(chunk);
                sh.region
                    .atomic(hoff)?
                    .store(ChunkHeader::Free.encode(), Ordering::Release);
                sh.persister.flush(&mut self.batch, hoff, 8);
            }
        }
        sh.persister.fence(&mut self.batch)?;
        for (_, _, block) in extra {
            sh.heap.release(block);
        }
        Ok(())
    }
}

/// Checks an object header against `T`.
pub(crate) fn check_type<T: Persistent>(off: u64, h: &ObjHeader) -> Result<()> {
    crate::persistent::layout_proof::<T>();
    if h.type_id != T::TYPE_ID {
        return Err(Error::TypeMismatch {
            offset: off,
            expected: T::TYPE_ID,
            found: h.type_id,
        });
    }
    if h.size != core::mem::size_of::<T>() as u64 {
        return Err(Error::InvalidPointer {
            offset: off,
            reason: "object size differs from the type's size",
        });
    }
    Ok(())
}

/// A random 64-bit value (SipHash of a counter under this process's random keys).
fn random_nonce() -> u64 {
    use std::hash::BuildHasher;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cold]
fn unreachable_block() -> ! {
    // `Block::bit` returns `None` only for large blocks.
    unreachable!("a block without a bitmap bit is large")
}

#[cold]
fn unreachable_root() -> ! {
    // The root was validated at open and the mapping never changes.
    unreachable!("the root object was validated at open")
}
