//! Allocation and free inside a transaction: reserved at once, made durable with the
//! transaction, released only after it retires.

use std::sync::atomic::Ordering;

use super::scratch::{Apply, Deferred};
use super::{unreachable_block, Tx};
use crate::error::{Error, Result};
use crate::format::chunk::ChunkHeader;
use crate::format::object::ObjHeader;
use crate::heap::Block;
use crate::lane::{KIND_ALLOC_BITS, KIND_FREE_BITS, KIND_SNAPSHOT};
use crate::types::ptr::PPtr;
use crate::Persistent;

impl<'a, R: Persistent> Tx<'a, R> {
    pub(super) fn alloc_raw(&mut self, size: u64, align: u64, type_id: u64) -> Result<u64> {
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

    pub(super) fn free_raw(&mut self, off: u64) -> Result<()> {
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
}
