//! Appending to the lane's undo log: entries, extension buffers, the fences that make entries
//! durable before the bytes they cover change, and snapshots.

use std::sync::atomic::Ordering;

use super::pool_core::Fault;
use super::scratch::{Apply, Deferred};
use super::{random_nonce, Tx};
use crate::error::{Error, Result};
use crate::format::layout::CHUNK_SIZE;
use crate::format::object::OBJ_HEADER;
use crate::heap::{Block, LOG_EXT_TYPE_ID};
use crate::lane::{self, EntryHeader, ENTRY_HEADER, KIND_NEXT, KIND_SNAPSHOT, MAX_PIECE};
use crate::Persistent;

impl<R: Persistent> Tx<'_, R> {
    /// Appends an entry (flushed, not fenced). Any failure dooms the transaction: a log that
    /// could not be written must not be committed.
    pub(super) fn append(&mut self, kind: u32, offset: u64, aux: u64, data: &[u8]) -> Result<()> {
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
    pub(super) fn flush_deferred(&mut self) -> Result<()> {
        if self.book.deferred.is_empty() {
            return Ok(());
        }
        let mut items = std::mem::take(&mut self.book.deferred);
        let mut r = Ok(());
        for d in &items {
            r = self.append_inner(d.kind, d.offset, d.aux, &d.data[..d.dlen]);
            if r.is_err() {
                self.aborted = true;
                break;
            }
            if let Apply::Allocate(word) = d.apply {
                self.book.pending.push(word);
            }
        }
        items.clear();
        self.book.deferred = items;
        r
    }

    /// Defers an allocation or free entry; in msync mode (where a fence is a system call) it is
    /// logged and made durable at once, so that commit issues at most two.
    pub(super) fn defer(&mut self, d: Deferred) -> Result<()> {
        self.book.deferred.push(d);
        if self.sh.persister().mode() == crate::PersistMode::Msync {
            self.flush_deferred()?;
            self.fence_and_apply()?;
        }
        Ok(())
    }

    pub(super) fn append_inner(
        &mut self,
        kind: u32,
        offset: u64,
        aux: u64,
        data: &[u8],
    ) -> Result<()> {
        if self.log.entries >= lane::MAX_LOG_ENTRIES {
            return Err(Error::LogFull {
                entries: self.log.entries as u64 + 1,
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
        unsafe { self.sh.region().write(at, &h)? };
        // SAFETY: as above (the entry's data follows its header in the same buffer).
        unsafe { self.sh.region().write_from(at + ENTRY_HEADER, data)? };
        if !(kind == KIND_SNAPSHOT && self.sh.fault(Fault::SkipSnapshotFlush)) {
            self.sh
                .flush(&mut self.batch, at, ENTRY_HEADER + data.len() as u64);
        }
        self.log.pos += need;
        self.log.entries += 1;
        self.log.unfenced = true;
        Ok(())
    }

    /// Continues the log in an extension buffer (a whole chunk), linked by a `NEXT` entry that
    /// carries the new buffer's random nonce.
    pub(super) fn extend_log(&mut self) -> Result<()> {
        let sh = self.sh;
        if self.log.ext_used as u64 + 1 >= lane::MAX_LOG_BUFFERS {
            return Err(Error::LogTooLarge {
                bytes: (self.log.ext_used as u64 + 2) * CHUNK_SIZE,
                max: lane::MAX_LOG_BUFFERS * CHUNK_SIZE,
            });
        }
        if self.slot.exts.len() <= self.log.ext_used {
            let block = sh
                .heap()
                .reserve_internal(sh.persister(), CHUNK_SIZE - crate::heap::LARGE_PAYLOAD)?;
            if !matches!(block, Block::Large { len: 1, .. }) {
                sh.release(block);
                return Err(Error::Internal {
                    what: "a whole-chunk reservation returned another block",
                });
            }
            let hoff = block.header_offset(sh.geo());
            let cap = block.capacity();
            // Not undone by this transaction: at every open all extension objects are freed.
            // The object header is durable before the chunk is marked used, so that a crash
            // never leaves a used chunk with a stale header.
            sh.atomic(hoff)?.store(cap, Ordering::Release);
            sh.region()
                .atomic(hoff + 8)?
                .store(LOG_EXT_TYPE_ID, Ordering::Release);
            sh.flush(&mut self.batch, hoff, OBJ_HEADER);
            if let Err(e) = self.fence_and_apply() {
                sh.release(block);
                return Err(e);
            }
            let choff = block.alloc_word(sh.geo()).mark_allocated(sh.region())?;
            sh.flush(&mut self.batch, choff, 8);
            self.slot
                .exts
                .push((block.payload_offset(sh.geo()), cap, block));
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
        unsafe { sh.region().write(at, &h)? };
        // SAFETY: as above.
        unsafe { sh.region().write_from(at + ENTRY_HEADER, &nb)? };
        sh.flush(&mut self.batch, at, ENTRY_HEADER + 8);
        self.log.unfenced = true;
        self.log.ext_used += 1;
        self.log.buf = off;
        self.log.cap = cap;
        self.log.pos = 0;
        self.log.seed = lane::buffer_seed(self.slot.index, nonce);
        Ok(())
    }

    /// Fences, then applies the allocation bits whose log entries that fence made durable.
    pub(super) fn fence_and_apply(&mut self) -> Result<()> {
        let sh = self.sh;
        if let Err(e) = sh.fence(&mut self.batch) {
            // Entries that may not be durable must never be relied on: doom the transaction.
            self.aborted = true;
            return Err(e);
        }
        self.log.unfenced = false;
        for word in self.book.pending.drain(..) {
            self.book.meta.push(word.mark_allocated(sh.region())?);
        }
        Ok(())
    }

    /// Logs the old bytes of `off..off+len` (the parts not logged yet) and makes them durable.
    pub(super) fn snapshot(&mut self, off: u64, len: u64) -> Result<()> {
        self.live()?;
        let end = off.checked_add(len).ok_or(Error::Corrupted {
            what: "range",
            offset: off,
        })?;
        self.sh.region().check(off, len, "snapshot range")?;
        let pieces = self.book.covered.uncovered(off, end);
        if pieces.is_empty() {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.book.snapshot_buf);
        for (s, e) in pieces {
            let mut p = s;
            while p < e {
                let n = (e - p).min(MAX_PIECE);
                scratch.resize(n as usize, 0);
                // SAFETY: no reference into the range is live (the `&mut self` borrow rules out
                // outstanding `get`/`get_mut` references) and no other thread writes it (the
                // pool lock, or the shared-transaction contract).
                unsafe { self.sh.region().read_into(p, &mut scratch)? };
                let r = self.append(KIND_SNAPSHOT, p, n, &scratch);
                if let Err(e) = r {
                    self.book.snapshot_buf = scratch;
                    return Err(e);
                }
                p += n;
            }
        }
        self.book.snapshot_buf = scratch;
        self.book.covered.insert(off, end);
        self.fence_and_apply()
    }
}
