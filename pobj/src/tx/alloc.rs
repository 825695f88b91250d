//! Allocation and free inside a transaction: reserved at once, made durable with the
//! transaction, released only after it retires.

use std::sync::atomic::Ordering;

use super::scratch::{Apply, Deferred};
use super::Tx;
use crate::error::{Error, Result};
use crate::format::object::{ObjHeader, SHARED_FLAG};
use crate::heap::AllocWord;
use crate::lane::{KIND_ALLOC_BITS, KIND_FREE_BITS, KIND_SNAPSHOT};
use crate::types::ptr::PPtr;
use crate::Persistent;

impl<R: Persistent> Tx<'_, R> {
    pub(super) fn alloc_raw(&mut self, size: u64, align: u64, type_id: u64) -> Result<u64> {
        self.alloc_flagged(size, align, type_id, false)
    }

    /// `alloc_raw`, for a shared object if `shared` (`format/object.rs`, `SHARED_FLAG`).
    pub(super) fn alloc_flagged(
        &mut self,
        size: u64,
        align: u64,
        type_id: u64,
        shared: bool,
    ) -> Result<u64> {
        self.live()?;
        let sh = self.sh;
        let block = match sh.heap().reserve(sh.persister(), size, align) {
            Ok(b) => b,
            Err(e @ Error::OutOfSpace { .. }) => {
                // A full pool aborts the transaction, like libpmemobj.
                self.aborted = true;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.book.allocs.push(block);
        let g = sh.geo();
        // The header first: the block is reserved, and once its bit is set (after the entry's
        // fence) a resolver must find a valid header.
        let hoff = block.header_offset(g);
        let size_word = if shared { size | SHARED_FLAG } else { size };
        sh.atomic(hoff)?.store(size_word, Ordering::Release);
        sh.region()
            .atomic(hoff + 8)?
            .store(type_id, Ordering::Release);
        let word = block.alloc_word(g);
        let d = match word {
            AllocWord::Bit { offset, mask } => Deferred {
                kind: KIND_ALLOC_BITS,
                offset,
                aux: mask,
                data: [0; 8],
                dlen: 0,
                apply: Apply::Allocate(word),
            },
            AllocWord::Header { offset, .. } => {
                let old = sh.atomic(offset)?.load(Ordering::Acquire);
                Deferred {
                    kind: KIND_SNAPSHOT,
                    offset,
                    aux: 8,
                    data: old.to_le_bytes(),
                    dlen: 8,
                    apply: Apply::Allocate(word),
                }
            }
        };
        self.defer(d)?;
        let payload = block.payload_offset(g);
        self.book.covered.insert(hoff, payload + size);
        self.book.new_objs.insert(
            payload,
            (
                block,
                ObjHeader {
                    size: size_word,
                    type_id,
                },
            ),
        );
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
        unsafe { self.sh.region().write(off, &value)? };
        Ok(PPtr::from_offset(off))
    }

    /// Allocates a new *shared* object holding `value`: one that other threads may read without
    /// the pool's lock, through the racy reads (as the KV map's optimistic readers do). No
    /// reference into it is ever lent (`get`, `get_mut`, `Pool::read` refuse it with
    /// [`Error::SharedObject`]): it is read with [`Tx::load`] and written with the value-taking
    /// methods, all atomic word by word, and its block, once freed, is reused only after every
    /// [`ReadPin`](crate::ReadPin) held at the free is dropped. Undone if the transaction
    /// aborts.
    pub fn alloc_shared<T: Persistent>(&mut self, value: T) -> Result<PPtr<T>> {
        let off = self.alloc_flagged(
            core::mem::size_of::<T>() as u64,
            core::mem::align_of::<T>() as u64,
            T::TYPE_ID,
            true,
        )?;
        // SAFETY: the block is reserved by this transaction and unreachable by anyone else.
        unsafe { self.sh.region().write(off, &value)? };
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
        unsafe {
            self.sh
                .region()
                .zero(off, core::mem::size_of::<T>() as u64)?;
        };
        Ok(PPtr::from_offset(off))
    }

    /// Frees the object at `p` when the transaction commits (nothing happens if it aborts).
    /// Shared objects are refused ([`Error::SharedObject`]): see [`Tx::free_shared`].
    pub fn free<T: Persistent>(&mut self, p: PPtr<T>) -> Result<()> {
        self.live()?;
        let off = self.resolve_typed(p)?;
        let (_, h) = self.resolve(off)?;
        super::refuse_shared(off, &h)?;
        self.free_raw(off)
    }

    /// Frees the shared object (or any object) at `p` when the transaction commits; its block
    /// is reused only after the readers pinned at the commit have finished.
    ///
    /// # Safety
    /// Once the readers pinned when this transaction commits have unpinned, no thread may read
    /// the object through a pointer it finds afterwards: the structure that shares it no longer
    /// leads to it when this transaction commits (for instance it clears, in this transaction,
    /// the bit or pointer that leads readers there), and readers pin before they look for it.
    /// Otherwise a racy read could meet the block reused for an object that a `&mut` writes.
    pub unsafe fn free_shared<T: Persistent>(&mut self, p: PPtr<T>) -> Result<()> {
        self.live()?;
        self.resolve_typed(p)?;
        self.free_raw(p.offset())
    }

    pub(super) fn free_raw(&mut self, off: u64) -> Result<()> {
        if off == self.sh.root_offset() {
            return Err(Error::InvalidFree {
                offset: off,
                reason: "the root object cannot be freed",
            });
        }
        if self.book.freed.contains(&off) {
            return Err(Error::InvalidFree {
                offset: off,
                reason: "already freed in this transaction",
            });
        }
        let (block, _) = self.resolve(off)?;
        // The "freed" entry is deferred (logged before the next entry, or at commit); the bit is
        // cleared at commit, once the entry is durable.
        let g = &self.sh.geo();
        let d = match block.alloc_word(g) {
            AllocWord::Bit { offset, mask } => Deferred {
                kind: KIND_FREE_BITS,
                offset,
                aux: mask,
                data: [0; 8],
                dlen: 0,
                apply: Apply::Nothing,
            },
            AllocWord::Header { offset, .. } => {
                // A block allocated in this transaction may not have its header applied yet:
                // the snapshot must hold the value the word will have before the free.
                let pending = self
                    .book
                    .pending
                    .iter()
                    .chain(self.book.deferred.iter().filter_map(|d| match &d.apply {
                        Apply::Allocate(w) => Some(w),
                        Apply::Nothing => None,
                    }))
                    .find(|w| w.offset() == offset)
                    .and_then(|w| w.allocated_header());
                let cur = match pending {
                    Some(v) => v,
                    None => self.sh.atomic(offset)?.load(Ordering::Acquire),
                };
                Deferred {
                    kind: KIND_SNAPSHOT,
                    offset,
                    aux: 8,
                    data: cur.to_le_bytes(),
                    dlen: 8,
                    apply: Apply::Nothing,
                }
            }
        };
        self.defer(d)?;
        self.book.freed.insert(off);
        self.book.frees.push((off, block));
        Ok(())
    }
}
