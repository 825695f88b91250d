//! Reads outside transactions: copies and lent references under the read lock, and the racy
//! (lock-free) reads of the escape hatches.

use std::marker::PhantomData;

use super::inside::{in_tx, ActiveGuard};
use super::Pool;
use crate::error::{Error, Result};
use crate::format::object::ObjHeader;
use crate::media::region::Region;
use crate::tx::{check_type, refuse_shared};
use crate::types::ptr::{PBytes, PPtr, BYTES_TYPE_ID};
use crate::Persistent;

/// A resolved object for several racy reads (from [`Pool::racy`]).
#[derive(Debug)]
pub struct RacyRef<'a, T> {
    region: Region,
    off: u64,
    _pool: PhantomData<&'a ()>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Persistent> RacyRef<'_, T> {
    /// Copies `out.len()` words from byte `offset` (a multiple of 8) of the object with atomic
    /// loads; they may be torn by concurrent writes.
    pub fn read_words(&self, offset: usize, out: &mut [u64]) -> Result<()> {
        let len = out.len() * 8;
        if !offset.is_multiple_of(8)
            || offset
                .checked_add(len)
                .is_none_or(|e| e > core::mem::size_of::<T>())
        {
            return Err(Error::OutOfBounds {
                offset: self.off,
                start: offset as u64,
                end: (offset + len) as u64,
                len: core::mem::size_of::<T>() as u64,
            });
        }
        // SAFETY: `u64` has no padding and any bytes are a valid `u64`; the slice covers `out`.
        let bytes = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), len) };
        // SAFETY: in bounds of the object resolved by `Pool::racy`, whose caller promised the
        // racy-read contract (only pobj's atomic stores race with these atomic loads).
        unsafe { self.region.read_into(self.off + offset as u64, bytes) }
    }
}

impl<R: Persistent> Pool<R> {
    /// The header of the byte buffer at pool offset `off` (a live object of the bytes type).
    fn resolve_bytes(&self, off: u64) -> Result<ObjHeader> {
        let (_, h) = self.sh.resolve(off)?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: off,
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        Ok(h)
    }
}

/// Racy reads are of shared objects only: only those are guaranteed never to have a `&mut`
/// (or a `&`) lent into them, and their blocks wait for pinned readers before reuse.
fn require_shared(off: u64, h: &ObjHeader) -> Result<()> {
    if h.is_shared() {
        Ok(())
    } else {
        Err(Error::NotShared { offset: off })
    }
}

impl<R: Persistent> Pool<R> {
    /// The read lock for a read outside any transaction; inside one (or inside a `read`
    /// closure) on this pool in this thread, `NestedTransaction`: the thread may hold a `&mut`
    /// into the pool, and taking the lock would deadlock against its own transaction.
    pub(super) fn read_guard(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        if in_tx(self.sh.id()) {
            return Err(Error::NestedTransaction);
        }
        Ok(self
            .sh
            .lock()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// A copy of the root object.
    ///
    /// Inside a transaction on this pool in the same thread it returns
    /// [`Error::NestedTransaction`] (use `tx.root()`).
    pub fn root(&self) -> Result<R> {
        let _g = self.read_guard()?;
        // SAFETY: validated at open; the read lock excludes safe transactions (writers), and
        // shared transactions promise not to modify what others read.
        unsafe { self.sh.region().read::<R>(self.sh.root_offset()) }
    }

    /// A pointer to the root object.
    pub fn root_ptr(&self) -> PPtr<R> {
        PPtr::from_offset(self.sh.root_offset())
    }

    /// A copy of the object at `p`.
    pub fn get<T: Persistent>(&self, p: PPtr<T>) -> Result<T> {
        self.read(p, |v| *v)
    }

    /// Calls `f` with a reference to the object at `p` (no copy).
    pub fn read<T: Persistent, U>(&self, p: PPtr<T>, f: impl FnOnce(&T) -> U) -> Result<U> {
        let _g = self.read_guard()?;
        let (_, h) = self.sh.resolve(p.offset())?;
        check_type::<T>(p.offset(), &h)?;
        refuse_shared(p.offset(), &h)?;
        // SAFETY: a live object of type T, not shared (so only transactions write it, and the
        // read lock excludes safe ones; shared ones promise not to modify what others read).
        let r = unsafe { self.sh.region().obj::<T>(p.offset())? };
        // While `f` runs, this thread counts as inside the pool, so that a nested
        // `transaction` is refused rather than deadlocking on the lock held here.
        let _active = ActiveGuard::new(self.sh.id());
        Ok(f(r))
    }

    /// Calls `f` with the contents of the byte buffer at `p` (no copy).
    pub fn read_bytes<U>(&self, p: PBytes, f: impl FnOnce(&[u8]) -> U) -> Result<U> {
        let _g = self.read_guard()?;
        let h = self.resolve_bytes(p.offset())?;
        refuse_shared(p.offset(), &h)?;
        // SAFETY: a live buffer of `h.len()` bytes (bounded by its block), not shared; read
        // lock as above.
        let b = unsafe { self.sh.region().bytes(p.offset(), h.len())? };
        let _active = ActiveGuard::new(self.sh.id());
        Ok(f(b))
    }

    /// Calls `f` with the object at `p` and the contents of the byte buffer that `buf` names in
    /// it (`None` if null), both under one read lock, so that both come from the same committed
    /// state: for structures of two objects, such as a collection's header and its element
    /// buffer (`collections/`). `f` runs inside the pool like `read`'s closure: a call back
    /// into the pool from it is refused (`NestedTransaction`) rather than deadlocking.
    pub(crate) fn read_with_bytes<T: Persistent, U>(
        &self,
        p: PPtr<T>,
        buf: impl FnOnce(&T) -> PBytes,
        f: impl FnOnce(&T, Option<&[u8]>) -> Result<U>,
    ) -> Result<U> {
        let _g = self.read_guard()?;
        let (_, h) = self.sh.resolve(p.offset())?;
        check_type::<T>(p.offset(), &h)?;
        refuse_shared(p.offset(), &h)?;
        // SAFETY: a live object of type T, not shared; the read lock excludes writers as in
        // `read`.
        let r = unsafe { self.sh.region().obj::<T>(p.offset())? };
        let b = buf(r);
        let bytes = if b.is_null() {
            None
        } else {
            let bh = self.resolve_bytes(b.offset())?;
            // A damaged header may name a shared buffer (a map's entry): no reference into it.
            refuse_shared(b.offset(), &bh)?;
            // SAFETY: a live buffer of `bh.len()` bytes (bounded by its block), not shared; the
            // read lock excludes writers as above.
            Some(unsafe { self.sh.region().bytes(b.offset(), bh.len())? })
        };
        let _active = ActiveGuard::new(self.sh.id());
        f(r, bytes)
    }

    /// A copy of the byte buffer at `p`.
    pub fn bytes(&self, p: PBytes) -> Result<Vec<u8>> {
        self.read_bytes(p, <[u8]>::to_vec)
    }

    /// Copies `out.len()` 8-byte words of the object at `p`, starting at byte `offset` (a
    /// multiple of 8), with atomic loads and **without** the pool's lock: for optimistic readers
    /// that validate what they read with their own protocol (a version counter), as the KV
    /// store does. The words may be torn between concurrent writes.
    ///
    /// Only shared objects (`Tx::alloc_shared`, `alloc_bytes_zeroed_shared`) are read this way
    /// ([`Error::NotShared`] otherwise): pobj never lends a reference into one, so every write
    /// that can race with these loads is one of pobj's atomic word stores.
    ///
    /// # Safety
    /// The object may be freed by another thread's transaction (`free_shared`) while it is
    /// read only if this thread holds a [`ReadPin`](crate::ReadPin) taken before it found the
    /// pointer, until its last read: the block is then not reused before the pin is dropped.
    /// (What is read from a freed block is garbage, which the caller's own protocol must
    /// reject.) Without such a free, reading is always sound.
    pub unsafe fn read_words<T: Persistent>(
        &self,
        p: PPtr<T>,
        offset: usize,
        out: &mut [u64],
    ) -> Result<()> {
        let off = p.offset();
        let (_, h) = self.sh.resolve(off)?;
        check_type::<T>(off, &h)?;
        require_shared(off, &h)?;
        let len = out.len() * 8;
        if !offset.is_multiple_of(8)
            || offset
                .checked_add(len)
                .is_none_or(|e| e > core::mem::size_of::<T>())
        {
            return Err(Error::OutOfBounds {
                offset: off,
                start: offset as u64,
                end: (offset + len) as u64,
                len: h.len(),
            });
        }
        // SAFETY: `u64` has no padding and any bytes are a valid `u64`; the byte slice covers
        // exactly `out`, which is borrowed mutably here.
        let bytes = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), len) };
        // SAFETY: in bounds of a live object (checked by `read_into`); concurrent writers store
        // atomically (contract), and `read_into` loads atomically.
        unsafe { self.sh.region().read_into(off + offset as u64, bytes) }
    }

    /// Resolves `p` once for several racy reads of the object (see [`Pool::read_words`]).
    ///
    /// # Safety
    /// As [`Pool::read_words`], for every read made through the returned handle.
    pub unsafe fn racy<T: Persistent>(&self, p: PPtr<T>) -> Result<RacyRef<'_, T>> {
        let off = p.offset();
        let (_, h) = self.sh.resolve(off)?;
        check_type::<T>(off, &h)?;
        require_shared(off, &h)?;
        Ok(RacyRef {
            region: *self.sh.region(),
            off,
            _pool: PhantomData,
            _t: PhantomData,
        })
    }

    /// Like [`Pool::racy`] without consulting the allocator: only that the object's bytes lie
    /// in the pool and that its offset is 8-aligned is checked (not that it is live, of type
    /// `T`, or shared). For callers that keep pointers they validated earlier (an index rebuilt
    /// from the pool), whose reads are validated afterwards anyway; it saves the
    /// allocator-metadata cache misses of a full resolution.
    ///
    /// # Safety
    /// `p` was a shared object of type `T` when the caller found it, and this thread holds a
    /// [`ReadPin`](crate::ReadPin) taken before it found `p`, until its last read through the
    /// handle. The block may then have been freed meanwhile (reads are garbage, for the
    /// caller's protocol to reject), but not reused for an object that a reference is lent
    /// into. A pointer kept across pins is not enough: the block may have been reused between
    /// them, unless the structure guarantees that nothing it still leads to is freed.
    pub unsafe fn racy_unchecked<T: Persistent>(&self, p: PPtr<T>) -> Result<RacyRef<'_, T>> {
        let off = p.offset();
        if off == 0 || !off.is_multiple_of(8) {
            return Err(Error::InvalidPointer {
                offset: off,
                reason: "null or misaligned",
            });
        }
        self.sh
            .region()
            .check(off, core::mem::size_of::<T>() as u64, "object")?;
        Ok(RacyRef {
            region: *self.sh.region(),
            off,
            _pool: PhantomData,
            _t: PhantomData,
        })
    }

    /// Copies bytes `at..at + out.len()` of the byte buffer at `p` with atomic loads and
    /// without the pool's lock (see [`Pool::read_words`]).
    ///
    /// # Safety
    /// As [`Pool::read_words`].
    pub unsafe fn read_bytes_racy(&self, p: PBytes, at: u64, out: &mut [u8]) -> Result<()> {
        let off = p.offset();
        let h = self.resolve_bytes(off)?;
        require_shared(off, &h)?;
        let end = at.checked_add(out.len() as u64).filter(|&e| e <= h.len());
        if end.is_none() {
            return Err(Error::OutOfBounds {
                offset: off,
                start: at,
                end: at.saturating_add(out.len() as u64),
                len: h.len(),
            });
        }
        // SAFETY: in bounds of a live buffer; atomic loads; writers atomic (contract).
        unsafe { self.sh.region().read_into(off + at, out) }
    }

    /// The recorded length of the shared byte buffer at `p`, without the pool's lock (see
    /// [`Pool::read_words`]).
    ///
    /// # Safety
    /// As [`Pool::read_words`].
    pub unsafe fn bytes_len_racy(&self, p: PBytes) -> Result<u64> {
        let h = self.resolve_bytes(p.offset())?;
        require_shared(p.offset(), &h)?;
        Ok(h.len())
    }

    /// The recorded length of the byte buffer at `p`. Takes the read lock like [`Pool::get`]:
    /// without it, resolving a stale pointer could read an object header at a place that a
    /// transaction has meanwhile reallocated and is writing through `bytes_mut`.
    pub fn bytes_len(&self, p: PBytes) -> Result<u64> {
        let _g = self.read_guard()?;
        let h = self.resolve_bytes(p.offset())?;
        Ok(h.len())
    }
}
