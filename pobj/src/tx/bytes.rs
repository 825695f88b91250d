//! Byte buffers (`PBytes`) inside a transaction.

use super::Tx;
use crate::error::{Error, Result};
use crate::types::ptr::{PBytes, BYTES_TYPE_ID};
use crate::Persistent;

impl<R: Persistent> Tx<'_, R> {
    /// Allocates a byte buffer holding `data`.
    pub fn alloc_bytes(&mut self, data: &[u8]) -> Result<PBytes> {
        let off = self.alloc_raw(data.len() as u64, 8, BYTES_TYPE_ID)?;
        // SAFETY: reserved block, unreachable by anyone else; `data` is DRAM.
        unsafe { self.sh.region().write_from(off, data)? };
        Ok(PBytes::from_offset(off))
    }

    /// Allocates a zeroed byte buffer of `len` bytes.
    pub fn alloc_bytes_zeroed(&mut self, len: u64) -> Result<PBytes> {
        self.alloc_bytes_zeroed_aligned(len, 8)
    }

    /// Allocates a zeroed byte buffer of `len` bytes whose payload is aligned to `align` (at
    /// most 64, else `BadAlignment`): the element buffers of pobj's collections.
    pub(crate) fn alloc_bytes_zeroed_aligned(&mut self, len: u64, align: u64) -> Result<PBytes> {
        let off = self.alloc_raw(len, align, BYTES_TYPE_ID)?;
        // SAFETY: reserved block, unreachable by anyone else.
        unsafe { self.sh.region().zero(off, len)? };
        Ok(PBytes::from_offset(off))
    }

    /// Allocates a *shared* byte buffer holding `data` (see [`Tx::alloc_shared`]).
    pub fn alloc_bytes_shared(&mut self, data: &[u8]) -> Result<PBytes> {
        let off = self.alloc_flagged(data.len() as u64, 8, BYTES_TYPE_ID, true)?;
        // SAFETY: reserved block, unreachable by anyone else; `data` is DRAM.
        unsafe { self.sh.region().write_from(off, data)? };
        Ok(PBytes::from_offset(off))
    }

    /// Allocates a zeroed *shared* byte buffer of `len` bytes (see [`Tx::alloc_shared`]): no
    /// `&[u8]` into it is lent; read it with [`Tx::load_bytes`], write it with `write_bytes`.
    pub fn alloc_bytes_zeroed_shared(&mut self, len: u64) -> Result<PBytes> {
        let off = self.alloc_flagged(len, 8, BYTES_TYPE_ID, true)?;
        // SAFETY: reserved block, unreachable by anyone else.
        unsafe { self.sh.region().zero(off, len)? };
        Ok(PBytes::from_offset(off))
    }

    pub(super) fn resolve_bytes(&self, p: PBytes) -> Result<(u64, u64)> {
        let off = p.offset();
        let (_, h) = self.resolve(off)?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: off,
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        Ok((off, h.len()))
    }

    /// `resolve_bytes` for a reference lent out: refuses shared buffers.
    fn resolve_bytes_lent(&self, p: PBytes) -> Result<(u64, u64)> {
        let (_, h) = self.resolve(p.offset())?;
        super::refuse_shared(p.offset(), &h)?;
        self.resolve_bytes(p)
    }

    /// Copies bytes `at..at + out.len()` of a byte buffer with atomic loads: works for shared
    /// buffers too (which `bytes` refuses), and sees this transaction's own writes.
    pub fn load_bytes(&self, p: PBytes, at: u64, out: &mut [u8]) -> Result<()> {
        self.live()?;
        let (off, len) = self.resolve_bytes(p)?;
        let end = at.checked_add(out.len() as u64).filter(|&e| e <= len);
        if end.is_none() {
            return Err(Error::OutOfBounds {
                offset: off,
                start: at,
                end: at.saturating_add(out.len() as u64),
                len,
            });
        }
        // SAFETY: in bounds of a live buffer (checked); atomic loads; other threads' writes to
        // it, if any, are pobj's atomic stores (as in `Tx::load`).
        unsafe { self.sh.region().read_into(off + at, out) }
    }

    /// The contents of a byte buffer.
    pub fn bytes(&self, p: PBytes) -> Result<&[u8]> {
        self.live()?;
        let (off, len) = self.resolve_bytes_lent(p)?;
        // SAFETY: a live buffer of `len` bytes (checked against its block); shared borrow of
        // `self` as in `get`.
        unsafe { self.sh.region().bytes(off, len) }
    }

    /// The contents of a byte buffer for modification (all of it is snapshotted).
    pub fn bytes_mut(&mut self, p: PBytes) -> Result<&mut [u8]> {
        self.live()?;
        let (off, len) = self.resolve_bytes_lent(p)?;
        self.snapshot(off, len)?;
        // SAFETY: as `get_mut`.
        unsafe { self.sh.region().bytes_mut(off, len) }
    }

    /// Writes `data` at byte `at` of a buffer, snapshotting only that range.
    pub fn write_bytes(&mut self, p: PBytes, at: u64, data: &[u8]) -> Result<()> {
        self.live()?;
        let off = self.bytes_range(p, at, data.len() as u64)?;
        self.snapshot(off, data.len() as u64)?;
        // SAFETY: in bounds of a live buffer; no reference into it is live (`&mut self`).
        unsafe { self.sh.region().write_from(off, data) }
    }

    /// Writes `data` at byte `at` of a buffer **without logging** the old bytes; the range is
    /// flushed at commit. For bytes that nobody can observe after an abort or a crash (the
    /// slots of pobj's collections past every committed length, see `collections/raw.rs`).
    pub(crate) fn write_bytes_unlogged(&mut self, p: PBytes, at: u64, data: &[u8]) -> Result<()> {
        self.live()?;
        // A shared buffer (a map's entry, named by a damaged header) is never written unlogged.
        self.resolve_bytes_lent(p)?;
        let off = self.bytes_range(p, at, data.len() as u64)?;
        // SAFETY: in bounds of a live buffer; no reference into it is live (`&mut self`).
        unsafe { self.sh.region().write_from(off, data)? };
        self.book.covered.insert(off, off + data.len() as u64);
        Ok(())
    }

    /// The pool offset of bytes `at..at + n` of the buffer `p`, checked to lie inside it.
    fn bytes_range(&self, p: PBytes, at: u64, n: u64) -> Result<u64> {
        let (off, len) = self.resolve_bytes(p)?;
        match at.checked_add(n) {
            Some(e) if e <= len => Ok(off + at),
            _ => Err(Error::OutOfBounds {
                offset: off,
                start: at,
                end: at.saturating_add(n),
                len,
            }),
        }
    }

    /// The length of a byte buffer.
    pub fn bytes_len(&self, p: PBytes) -> Result<u64> {
        self.live()?;
        Ok(self.resolve_bytes(p)?.1)
    }

    /// Frees a byte buffer when the transaction commits.
    /// Shared buffers are refused ([`Error::SharedObject`]): see [`Tx::free_bytes_shared`].
    pub fn free_bytes(&mut self, p: PBytes) -> Result<()> {
        self.live()?;
        self.resolve_bytes_lent(p)?;
        self.free_raw(p.offset())
    }

    /// Frees a shared (or any) byte buffer when the transaction commits.
    ///
    /// # Safety
    /// As [`Tx::free_shared`].
    pub unsafe fn free_bytes_shared(&mut self, p: PBytes) -> Result<()> {
        self.live()?;
        self.resolve_bytes(p)?;
        self.free_raw(p.offset())
    }
}
