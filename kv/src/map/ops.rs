//! The writes each operation makes inside its transaction, written once for the single writes
//! (`write.rs`, one shared transaction each) and for batches (`batch.rs`, everything in one
//! transaction). They differ only in how a leaf's own words are stored ([`Writes`]): a single
//! write puts its entry into a free slot unlogged and publishes it with the bitmap as the
//! commit word; a batch logs every store.

use pobj::{PBytes, PPtr, Persistent, Tx};

use super::{corrupted, internal, slot_offset, BITMAP_OFFSET, NEXT_OFFSET};
use crate::error::Result;
use crate::find::{Hit, LeafSource};
use crate::inner::LeafState;
use crate::leaf::{Leaf, LeafHead, SLOTS};
use crate::order::KeyOrder;
use crate::slot::{self, fits_inline, Slot};

pub(super) const HEAD_OFFSET: usize = core::mem::offset_of!(Leaf, head);

/// How a transaction stores a leaf's slot and bitmap words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Writes {
    /// A single write's own transaction: a free slot's bytes belong to nobody, so they are
    /// written without undo logging, and the bitmap is the commit word.
    Single,
    /// Inside a batch: every store logged (the batch's later operations build on them).
    Logged,
}

impl Writes {
    /// Stores `s` into the free slot `i` of `leaf`.
    fn free_slot<R: Persistent>(
        self,
        tx: &mut Tx<'_, R>,
        leaf: PPtr<Leaf>,
        i: usize,
        s: Slot,
    ) -> Result<()> {
        match self {
            Writes::Single => tx.update_at_unlogged(leaf, slot_offset(i), s)?,
            Writes::Logged => tx.update_at(leaf, slot_offset(i), s)?,
        }
        Ok(())
    }

    /// Stores the new bitmap of `leaf`.
    fn bitmap<R: Persistent>(
        self,
        tx: &mut Tx<'_, R>,
        leaf: PPtr<Leaf>,
        bitmap: u64,
    ) -> Result<()> {
        match self {
            Writes::Single => tx.commit_word_at(leaf, BITMAP_OFFSET, bitmap)?,
            Writes::Logged => tx.update_at(leaf, BITMAP_OFFSET, bitmap)?,
        }
        Ok(())
    }
}

/// A new slot for `key`/`value`, allocating the out-of-line buffer when needed.
pub(super) fn new_slot<R: Persistent>(
    tx: &mut Tx<'_, R>,
    key: &[u8],
    value: &[u8],
) -> Result<Slot> {
    if fits_inline(key.len(), value.len()) {
        Ok(slot::inline(key, value))
    } else {
        let b = tx.alloc_bytes_zeroed_shared((key.len() + value.len()) as u64)?;
        tx.write_bytes(b, 0, key)?;
        tx.write_bytes(b, key.len() as u64, value)?;
        Ok(slot::out_of_line(key, value.len(), b))
    }
}

/// A put into the free slot `free` of `leaf` (whose bitmap is `bitmap`): the new entry, then
/// the bitmap with its bit set and, for an overwrite (`hit`), the old slot's bit cleared and
/// its buffer freed.
#[expect(
    clippy::too_many_arguments,
    reason = "the facts of one put, all needed"
)]
pub(super) fn put<R: Persistent>(
    tx: &mut Tx<'_, R>,
    w: Writes,
    leaf: PPtr<Leaf>,
    bitmap: u64,
    free: usize,
    hit: Option<Hit>,
    key: &[u8],
    value: &[u8],
) -> Result<()> {
    let s = new_slot(tx, key, value)?;
    w.free_slot(tx, leaf, free, s)?;
    let mut bitmap = bitmap | 1 << free;
    if let Some(h) = hit {
        bitmap &= !(1 << h.slot);
        if let Some(b) = h.buffer {
            free_buffer(tx, b)?;
        }
    }
    w.bitmap(tx, leaf, bitmap)
}

/// A remove that leaves `leaf` non-empty (or is the first leaf's): frees the entry's buffer
/// and stores `bitmap`, the old one without the entry's bit.
pub(super) fn clear<R: Persistent>(
    tx: &mut Tx<'_, R>,
    w: Writes,
    leaf: PPtr<Leaf>,
    hit: Hit,
    bitmap: u64,
) -> Result<()> {
    if let Some(b) = hit.buffer {
        free_buffer(tx, b)?;
    }
    w.bitmap(tx, leaf, bitmap)
}

/// A remove that empties `leaf`: frees the entry's buffer, links the predecessor `pred` to
/// `next` (logged) and frees the leaf.
pub(super) fn unlink<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hit: Hit,
    pred: PPtr<Leaf>,
    leaf: PPtr<Leaf>,
    next: PPtr<Leaf>,
) -> Result<()> {
    if let Some(b) = hit.buffer {
        free_buffer(tx, b)?;
    }
    tx.update_at(pred, NEXT_OFFSET, next)?;
    super::unsafe_free_leaf(tx, leaf)
}

/// The first free slot of a leaf whose bitmap is `bitmap`; none when it is full.
pub(super) fn first_free(bitmap: u64) -> Option<usize> {
    let free = !bitmap & crate::leaf::SLOT_MASK;
    (free != 0).then(|| free.trailing_zeros() as usize)
}

/// Whether removing an entry, leaving `bitmap`, empties a leaf that is then unlinked (every
/// leaf but the first, whose range has no lower bound).
pub(super) fn empties(st: &LeafState, bitmap: u64) -> bool {
    bitmap & crate::leaf::SLOT_MASK == 0 && !st.first
}

/// How a full leaf splits.
pub(super) struct SplitPlan {
    pub(super) new_leaf: Leaf,
    pub(super) keep_bitmap: u64,
    pub(super) bound: Vec<u8>,
    pub(super) left_fps: [u8; SLOTS],
    pub(super) right_fps: [u8; SLOTS],
}

/// The plan of the split of `st`'s full leaf, read from `src`: its keys sorted, the upper half
/// moved to a new leaf.
pub(super) fn split_plan<S: LeafSource>(
    src: &S,
    st: &LeafState,
    order: &KeyOrder,
) -> Result<SplitPlan> {
    let leaf = src.leaf()?;
    let mut keyed = Vec::with_capacity(SLOTS);
    for i in leaf.valid() {
        let s = &leaf.slots[i];
        let m = s
            .meta()
            .ok_or(corrupted("slot metadata", st.ptr.offset()))?;
        let k = match s.buffer() {
            None => s.data[..m.klen].to_vec(),
            Some(b) => src
                .buffer(b, m.klen)?
                .get(..m.klen)
                .ok_or(corrupted("out-of-line entry", b.offset()))?
                .to_vec(),
        };
        keyed.push((k, i));
    }
    plan_from(st, &leaf, keyed, order)
}

fn plan_from(
    st: &LeafState,
    leaf: &Leaf,
    mut keyed: Vec<(Vec<u8>, usize)>,
    order: &KeyOrder,
) -> Result<SplitPlan> {
    if keyed.len() < 2 {
        // A split is of a full leaf, and every valid slot's key was read.
        return Err(internal("split of a leaf with fewer than two entries"));
    }
    order.sort(&mut keyed);
    let moved = &keyed[keyed.len() / 2..];
    let mut new_leaf = Leaf::empty(leaf.head.next, leaf.owner);
    let mut right_fps = [0u8; SLOTS];
    let mut moved_bits = 0u64;
    for (j, (_, i)) in moved.iter().enumerate() {
        new_leaf.slots[j] = leaf.slots[*i];
        new_leaf.head.bitmap |= 1 << j;
        right_fps[j] = st.fp(*i);
        moved_bits |= 1 << i;
    }
    Ok(SplitPlan {
        new_leaf,
        keep_bitmap: leaf.head.bitmap & !moved_bits,
        bound: moved[0].0.clone(),
        left_fps: st.fps(),
        right_fps,
    })
}

/// The split's writes: the new leaf allocated, the old leaf's header (logged) replaced by its
/// kept bitmap and a link to the new leaf. Returns the new leaf.
pub(super) fn split<R: Persistent>(
    tx: &mut Tx<'_, R>,
    leaf: PPtr<Leaf>,
    plan: &SplitPlan,
) -> Result<PPtr<Leaf>> {
    let n = tx.alloc_shared(plan.new_leaf)?;
    tx.update_at(
        leaf,
        HEAD_OFFSET,
        LeafHead {
            bitmap: plan.keep_bitmap,
            next: n,
        },
    )?;
    Ok(n)
}

/// Frees an out-of-line entry that the same transaction unlinks from its slot.
pub(super) fn free_buffer<R: Persistent>(tx: &mut Tx<'_, R>, b: PBytes) -> Result<()> {
    #[expect(unsafe_code, reason = "freeing a shared object")]
    // SAFETY: every caller clears, in this transaction, the slot bit that leads to the buffer
    // (or frees the whole map), with the leaf's version odd until the transaction ends: a
    // reader pinned after the commit cannot reach it.
    unsafe {
        tx.free_bytes_shared(b)?;
    }
    Ok(())
}
