//! Leaves: the persistent nodes of the tree, in a singly linked list in key order.
//!
//! A leaf is one 64-byte header line (validity bitmap, next pointer, magic) and `SLOTS` slots
//! of 128 bytes. Slots are unsorted; a set bit in the bitmap makes a slot valid. The bitmap is
//! one aligned 8-byte word, so publishing or retiring entries is one atomic store.

use pobj::{PPtr, Persistent};

use crate::slot::Slot;

/// Slots per leaf: 64 + 39 × 128 = 5056 bytes, which the 5120-byte size class holds.
pub(crate) const SLOTS: usize = 39;
/// `b"PKVLEAF1"`.
pub(crate) const LEAF_MAGIC: u64 = u64::from_le_bytes(*b"PKVLEAF1");
/// Bits of the bitmap that can be set.
pub(crate) const SLOT_MASK: u64 = (1 << SLOTS) - 1;

/// The part of the header changed together by a split or an unlink.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct LeafHead {
    /// Bit i set: slot i holds an entry.
    pub(crate) bitmap: u64,
    /// The next leaf in key order (null for the last).
    pub(crate) next: PPtr<Leaf>,
}

/// A leaf, as on media.
#[derive(Persistent, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Leaf {
    /// Bitmap and next pointer.
    pub(crate) head: LeafHead,
    /// `LEAF_MAGIC`.
    pub(crate) magic: u64,
    /// The offset of the map's header (`KvRoot`): a leaf belongs to one map, and the open of a
    /// map whose list reaches a leaf of another (a copied header, a crafted file) fails.
    pub(crate) owner: u64,
    /// Zero.
    pub(crate) reserved: [u64; 4],
    /// The entries.
    pub(crate) slots: [Slot; SLOTS],
}

static_assertions::const_assert_eq!(core::mem::size_of::<Leaf>(), 64 + SLOTS * 128);
static_assertions::const_assert_eq!(core::mem::offset_of!(Leaf, slots), 64);
static_assertions::const_assert_eq!(core::mem::offset_of!(Leaf, magic), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(Leaf, owner), 24);

impl Leaf {
    /// An empty leaf of the map whose header is at `owner`, linking to `next`.
    #[must_use]
    pub(crate) fn empty(next: PPtr<Leaf>, owner: u64) -> Leaf {
        let mut l: Leaf = pobj::zeroed();
        l.head.next = next;
        l.magic = LEAF_MAGIC;
        l.owner = owner;
        l
    }

    /// Valid slots, as an iterator of indexes.
    pub(crate) fn valid(&self) -> impl Iterator<Item = usize> {
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
}

/// A map's header (docs/kv.md, "KvRoot"): the root object of a [`Db`](crate::Db)'s pool
/// (`Pool<KvRoot>`), or an object that a [`MapHandle`](crate::MapHandle) points to in any
/// pool. Its 64 bytes hold the map's magic, format version, first leaf and leaf geometry; its
/// fields are the map's own.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct KvRoot {
    /// `KV_MAGIC` once the store is initialised.
    pub(crate) magic: u64,
    /// `KV_VERSION`.
    pub(crate) version: u64,
    /// The first leaf (never unlinked).
    pub(crate) head: PPtr<Leaf>,
    /// `SLOTS`, recorded so that another build refuses a store with another leaf geometry.
    pub(crate) slots_per_leaf: u64,
    /// Word 0: the offset of a shared byte buffer holding the name of the comparator that
    /// orders the keys (0: none recorded, the bytewise order; version 3 has one). Words 1..4:
    /// zero. (One array, as before comparators: the field list is part of pobj's type id, so
    /// headers written by earlier builds keep theirs.)
    pub(crate) reserved: [u64; 4],
}

static_assertions::const_assert_eq!(core::mem::size_of::<KvRoot>(), 64);
static_assertions::const_assert_eq!(core::mem::offset_of!(KvRoot, reserved), 32);

/// The offset of the comparator-name word in `KvRoot` (`reserved[0]`).
pub(crate) const COMPARATOR_OFFSET: usize = core::mem::offset_of!(KvRoot, reserved);

impl KvRoot {
    /// The offset of the comparator's name buffer (0: none recorded).
    pub(crate) fn comparator(&self) -> u64 {
        self.reserved[0]
    }
}

/// `b"PKVSTORE"`.
pub(crate) const KV_MAGIC: u64 = u64::from_le_bytes(*b"PKVSTORE");
/// The store's format version.
/// Version 2: leaves and out-of-line entries are shared objects (pobj's `alloc_shared`), so
/// that maps can live in pools that safe code also changes. Version 1 stores (written before
/// maps could live in any pool) are refused with `Error::UnsupportedVersion`.
pub(crate) const KV_VERSION: u64 = 2;
/// The format version of a map whose keys a user's comparator orders: version 2 plus the
/// comparator's name (`KvRoot::comparator`), so that a build that does not know comparators
/// refuses the map instead of reading it in the bytewise order.
pub(crate) const KV_VERSION_ORDERED: u64 = 3;

/// The header's version for a map whose `comparator` field is `name` (0: bytewise).
pub(crate) fn version_for(name: u64) -> u64 {
    if name == 0 {
        KV_VERSION
    } else {
        KV_VERSION_ORDERED
    }
}
