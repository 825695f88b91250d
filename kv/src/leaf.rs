//! Leaves: the persistent nodes of the tree, in a singly linked list in key order.
//!
//! A leaf is one 64-byte header line (validity bitmap, next pointer, magic) and `SLOTS` slots
//! of 128 bytes. Slots are unsorted; a set bit in the bitmap makes a slot valid. The bitmap is
//! one aligned 8-byte word, so publishing or retiring entries is one atomic store.

use pobj::{PPtr, Persistent};

use crate::slot::Slot;

/// Slots per leaf: 64 + 39 × 128 = 5056 bytes, which the 5120-byte size class holds.
pub const SLOTS: usize = 39;
/// `b"PKVLEAF1"`.
pub const LEAF_MAGIC: u64 = u64::from_le_bytes(*b"PKVLEAF1");
/// Bits of the bitmap that can be set.
pub const SLOT_MASK: u64 = (1 << SLOTS) - 1;

/// The part of the header changed together by a split or an unlink.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct LeafHead {
    /// Bit i set: slot i holds an entry.
    pub bitmap: u64,
    /// The next leaf in key order (null for the last).
    pub next: PPtr<Leaf>,
}

/// A leaf, as on media.
#[derive(Persistent, Clone, Copy)]
#[repr(C, align(64))]
pub struct Leaf {
    /// Bitmap and next pointer.
    pub head: LeafHead,
    /// `LEAF_MAGIC`.
    pub magic: u64,
    /// Zero.
    pub reserved: [u64; 5],
    /// The entries.
    pub slots: [Slot; SLOTS],
}

static_assertions::const_assert_eq!(core::mem::size_of::<Leaf>(), 64 + SLOTS * 128);
static_assertions::const_assert_eq!(core::mem::offset_of!(Leaf, slots), 64);
static_assertions::const_assert_eq!(core::mem::offset_of!(Leaf, magic), 16);

impl Leaf {
    /// An empty leaf linking to `next`.
    #[must_use]
    pub fn empty(next: PPtr<Leaf>) -> Leaf {
        let mut l: Leaf = pobj::zeroed();
        l.head.next = next;
        l.magic = LEAF_MAGIC;
        l
    }

    /// Valid slots, as an iterator of indexes.
    pub fn valid(&self) -> impl Iterator<Item = usize> {
        let mut b = self.head.bitmap & SLOT_MASK;
        std::iter::from_fn(move || {
            if b == 0 {
                None
            } else {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                Some(i)
            }
        })
    }

    /// The first free slot.
    #[must_use]
    pub fn free_slot(&self) -> Option<usize> {
        let free = !self.head.bitmap & SLOT_MASK;
        (free != 0).then(|| free.trailing_zeros() as usize)
    }
}

/// The store's root object.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct KvRoot {
    /// `KV_MAGIC` once the store is initialised.
    pub magic: u64,
    /// `KV_VERSION`.
    pub version: u64,
    /// The first leaf (never unlinked).
    pub head: PPtr<Leaf>,
    /// `SLOTS`, recorded so that another build refuses a store with another leaf geometry.
    pub slots_per_leaf: u64,
    /// Zero.
    pub reserved: [u64; 4],
}

/// `b"PKVSTORE"`.
pub const KV_MAGIC: u64 = u64::from_le_bytes(*b"PKVSTORE");
/// The store's format version.
pub const KV_VERSION: u64 = 1;
