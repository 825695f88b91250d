//! Lock-free reads of leaves and out-of-line buffers for optimistic readers.
//!
//! Calls to pobj's racy-read primitives (with `free_shared`, the crate's `unsafe`). Their
//! contract is met because the leaves and out-of-line entries are shared objects: pobj lends no
//! reference into them to anyone, so every write that races with these loads is one of pobj's
//! atomic word stores (the store's own shared transactions, a user's transaction running map
//! operations, or safe code writing values into them); and because readers pin (`ReadPin`)
//! from the route to the validation, and the store frees a leaf or entry only in the
//! transaction that unlinks it from everything readers route through (its version odd until the
//! index no longer names it), a block a reader may read is not reused meanwhile. What is read
//! may be torn by a concurrent write: callers validate it with the leaf's version
//! (`version.rs`).
#![expect(
    unsafe_code,
    reason = "optimistic reads need pobj's racy-read primitives"
)]

use std::borrow::Cow;

use pobj::{PBytes, PPtr, Persistent, Pool};

use crate::error::Result;
use crate::find::LeafSource;
use crate::leaf::{Leaf, LeafHead};
use crate::slot::Slot;

const WORDS: usize = core::mem::size_of::<Leaf>() / 8;
const SLOT_WORDS: usize = core::mem::size_of::<Slot>() / 8;
const SLOTS_AT: usize = core::mem::offset_of!(Leaf, slots);

/// The whole leaf.
pub(crate) fn leaf<R: Persistent>(pool: &Pool<R>, p: PPtr<Leaf>) -> Result<Box<Leaf>> {
    LeafReader::new(pool, p)?.whole()
}

/// Bytes `at..at + len` of an out-of-line buffer.
pub(crate) fn buffer<R: Persistent>(
    pool: &Pool<R>,
    b: PBytes,
    at: u64,
    len: usize,
) -> Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    // SAFETY: see the module documentation.
    unsafe { pool.read_bytes_racy(b, at, &mut out)? };
    Ok(out)
}

/// The length of an out-of-line buffer.
pub(crate) fn buffer_len<R: Persistent>(pool: &Pool<R>, b: PBytes) -> Result<u64> {
    // SAFETY: see the module documentation.
    Ok(unsafe { pool.bytes_len_racy(b)? })
}

/// A leaf resolved once for several racy reads.
pub(crate) struct LeafReader<'a, R: Persistent> {
    leaf: pobj::RacyRef<'a, Leaf>,
    pool: &'a Pool<R>,
}

impl<'a, R: Persistent> LeafReader<'a, R> {
    pub(crate) fn new(pool: &'a Pool<R>, p: PPtr<Leaf>) -> Result<Self> {
        // SAFETY: see the module documentation.
        let leaf = unsafe { pool.racy(p)? };
        Ok(LeafReader { leaf, pool })
    }

    /// For optimistic readers: the leaf pointer comes from the inner nodes (checked when they
    /// were built) and what is read is validated by the leaf's version, so the allocator's
    /// checks are skipped (a freed leaf reads as garbage, which validation rejects).
    pub(crate) fn new_unchecked(pool: &'a Pool<R>, p: PPtr<Leaf>) -> Result<Self> {
        // SAFETY: see the module documentation; reads of a freed block are garbage, not UB.
        let leaf = unsafe { pool.racy_unchecked(p)? };
        Ok(LeafReader { leaf, pool })
    }

    /// The whole leaf.
    pub(crate) fn whole(&self) -> Result<Box<Leaf>> {
        let mut w = vec![0u64; WORDS];
        self.leaf.read_words(0, &mut w)?;
        let mut bytes = vec![0u8; WORDS * 8];
        for (c, x) in bytes.chunks_exact_mut(8).zip(w) {
            c.copy_from_slice(&x.to_ne_bytes());
        }
        pobj::from_bytes::<Leaf>(&bytes)
            .map(Box::new)
            .ok_or(crate::Error::Internal {
                what: "leaf size (a whole leaf's words do not make a leaf)",
            })
    }

    /// Bitmap, next pointer, magic and owner.
    pub(crate) fn header(&self) -> Result<(LeafHead, u64, u64)> {
        let mut w = [0u64; 4];
        self.leaf.read_words(0, &mut w)?;
        Ok((
            LeafHead {
                bitmap: w[0],
                next: PPtr::from_offset(w[1]),
            },
            w[2],
            w[3],
        ))
    }

    /// The first `len` bytes (whole words, at most a slot) of slot `i`; the rest is zero.
    pub(crate) fn slot_prefix(&self, i: usize, len: usize) -> Result<Slot> {
        let words = len.div_ceil(8).clamp(1, SLOT_WORDS);
        let mut w = [0u64; SLOT_WORDS];
        self.leaf
            .read_words(SLOTS_AT + i * core::mem::size_of::<Slot>(), &mut w[..words])?;
        let mut bytes = [0u8; SLOT_WORDS * 8];
        for (c, x) in bytes.chunks_exact_mut(8).zip(w) {
            c.copy_from_slice(&x.to_ne_bytes());
        }
        pobj::from_bytes(&bytes).ok_or(crate::Error::Internal {
            what: "slot size (a whole slot's words do not make a slot)",
        })
    }
}

impl<R: Persistent> LeafSource for LeafReader<'_, R> {
    fn leaf(&self) -> Result<Cow<'_, Leaf>> {
        Ok(Cow::Owned(*self.whole()?))
    }

    fn head(&self) -> Result<LeafHead> {
        Ok(self.header()?.0)
    }

    fn slot(&self, i: usize, len: usize) -> Result<Slot> {
        self.slot_prefix(i, len)
    }

    fn buffer(&self, b: PBytes, len: usize) -> Result<Cow<'_, [u8]>> {
        buffer(self.pool, b, 0, len).map(Cow::Owned)
    }
}
