//! Typed access inside a transaction: references to the root and objects, and logged,
//! unlogged and commit-word writes of whole objects or fields.

use super::{unreachable_root, Tx};
use crate::error::{Error, Result};
use crate::types::ptr::PPtr;
use crate::Persistent;

impl<R: Persistent> Tx<'_, R> {
    /// The root object.
    pub fn root(&self) -> &R {
        // SAFETY: the root offset was validated at open (allocated, type R, aligned, in bounds);
        // the returned reference borrows `self` shared, so no `&mut` from this transaction can be
        // live, and other threads are excluded by the pool lock (or the shared contract).
        match unsafe { self.sh.region().obj::<R>(self.sh.root_offset()) } {
            Ok(r) => r,
            Err(_) => unreachable_root(),
        }
    }

    /// The root object for modification (snapshotted first).
    pub fn root_mut(&mut self) -> Result<&mut R> {
        let off = self.sh.root_offset();
        self.snapshot(off, core::mem::size_of::<R>() as u64)?;
        // SAFETY: as `root`, and the `&mut self` borrow makes this the only reference.
        unsafe { self.sh.region().obj_mut::<R>(off) }
    }

    /// The object at `p`.
    pub fn get<T: Persistent>(&self, p: PPtr<T>) -> Result<&T> {
        self.live()?;
        let off = self.resolve_lent(p)?;
        // SAFETY: `off` is a live object of type T (checked); the reference borrows `self`
        // shared (no `&mut` from this transaction), and the pool lock or the shared contract
        // excludes writers in other threads.
        unsafe { self.sh.region().obj::<T>(off) }
    }

    /// The object at `p`, snapshotted, for modification.
    pub fn get_mut<T: Persistent>(&mut self, p: PPtr<T>) -> Result<&mut T> {
        self.live()?;
        let off = self.resolve_lent(p)?;
        self.snapshot(off, core::mem::size_of::<T>() as u64)?;
        // SAFETY: live object of type T; the `&mut self` borrow makes this the only reference
        // from this transaction; other threads are excluded by the pool lock or the contract.
        unsafe { self.sh.region().obj_mut::<T>(off) }
    }

    /// A copy of the object at `p`, made with atomic word loads: works for shared objects too
    /// (which `get` refuses), and sees this transaction's own writes.
    pub fn load<T: Persistent>(&self, p: PPtr<T>) -> Result<T> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        // SAFETY: a live object of type T (checked), read with atomic loads; other threads'
        // writes to it, if any, are pobj's atomic stores (the pool lock or the shared contract
        // excludes `&mut` into it, and shared objects never have one).
        unsafe { self.sh.region().read::<T>(off) }
    }

    /// `resolve_typed` for a reference lent out: refuses shared objects.
    fn resolve_lent<T: Persistent>(&self, p: PPtr<T>) -> Result<u64> {
        let off = p.offset();
        let (_, h) = self.resolve(off)?;
        super::check_type::<T>(off, &h)?;
        super::refuse_shared(off, &h)?;
        Ok(off)
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
    pub(super) fn write_logged<F: Persistent>(&mut self, foff: u64, value: &F) -> Result<()> {
        self.snapshot(foff, core::mem::size_of::<F>() as u64)?;
        // SAFETY: in bounds of a live object held exclusively by this transaction; no reference
        // into it is live (`&mut self`); the store is atomic word by word.
        unsafe { self.sh.region().write(foff, value) }
    }

    /// Stores `value` at pool offset `foff` (a field of a live object, checked by the caller)
    /// without logging, and has it flushed at commit.
    pub(super) fn write_unlogged<F: Persistent>(&mut self, foff: u64, value: &F) -> Result<()> {
        // SAFETY: in bounds of a live object; no reference into it is live (`&mut self`).
        unsafe { self.sh.region().write(foff, value)? };
        self.book
            .covered
            .insert(foff, foff + core::mem::size_of::<F>() as u64);
        Ok(())
    }

    /// Checks a field at byte `offset` of a `T` at `off`, for an `F`: in bounds and aligned.
    pub(super) fn field_at<T: Persistent, F: Persistent>(off: u64, offset: usize) -> Result<u64> {
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

    pub(super) fn push_commit_word(&mut self, foff: u64, v: u64) -> Result<()> {
        if !foff.is_multiple_of(8) {
            return Err(Error::BadCommitWord {
                offset: foff,
                size: 8,
            });
        }
        match self.book.commit_words.iter_mut().find(|(w, _)| *w == foff) {
            Some(e) => e.1 = v,
            None => self.book.commit_words.push((foff, v)),
        }
        Ok(())
    }

    /// Finds a field's offset on a DRAM copy of the object at `off` (whatever the closure
    /// writes there is discarded).
    pub(super) fn field_offset<T: Persistent, F: Persistent>(
        &self,
        off: u64,
        field: impl FnOnce(&mut T) -> &mut F,
    ) -> Result<u64> {
        // SAFETY: a live object of type T; no `&mut` into it is live (callers hold `&mut self`),
        // and other threads are excluded by the pool lock or the shared contract.
        let mut copy: T = unsafe { self.sh.region().read::<T>(off)? };
        let base = &raw mut copy as usize;
        let f = std::ptr::from_mut::<F>(field(&mut copy)) as usize;
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
            return Err(Error::BadCommitWord {
                offset: foff,
                size: core::mem::size_of::<F>() as u64,
            });
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(crate::types::persistent::as_bytes(&value));
        self.push_commit_word(foff, u64::from_le_bytes(b))
    }
}
