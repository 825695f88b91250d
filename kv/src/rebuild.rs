//! The walk of the leaf list that rebuilds the inner nodes at open, and the checks that make a
//! damaged or crafted list an error instead of a store that loops or loses keys.
//!
//! The walk reads each leaf's header line and, per valid slot, its metadata and key (not the
//! values). What it requires, since every later operation relies on it:
//! - the list ends within as many leaves as fit in the pool (no cycle);
//! - every leaf is a live object of the leaf type with the leaf magic, owned by this map (its
//!   `owner` word is the map header's offset);
//! - every valid slot's metadata decodes, its fingerprint is its key's (a wrong one would hide the
//!   key from lookups, and a put would then store it twice), and an out-of-line entry's buffer is
//!   a live byte buffer of exactly its key and value, referenced by no other slot (a buffer
//!   shared by two slots would be freed twice);
//! - no key appears twice in one leaf (a remove would clear one copy and the other would come
//!   back; scans would return it twice);
//! - the leaves' keys are in strictly increasing order along the list: every key of a leaf is
//!   greater than every key of the non-empty leaves before it. So the leaves' bounds (their
//!   smallest keys) are unique and increasing, each leaf's range holds all of its keys, and
//!   routing always finds the one leaf that may hold a key.

use std::collections::HashSet;

use pobj::{PPtr, Persistent, Pool};

use crate::chain::{ChainLeaf, LeafChain};
use crate::error::{Error, Result};
use crate::leaf::{Leaf, LEAF_MAGIC, SLOTS, SLOT_MASK};
use crate::optimistic;
use crate::order::KeyOrder;
use crate::slot::{fingerprint, Slot};

/// What the walk found.
pub(crate) struct Walk {
    /// Per indexed leaf: its bound (the empty key for the first), pointer and fingerprints.
    pub leaves: Vec<(Vec<u8>, PPtr<Leaf>, [u8; SLOTS])>,
    /// Entries in all leaves.
    pub count: u64,
    /// Whether an empty leaf after the first was found (not indexed).
    pub found_empty: bool,
}

fn corrupted(what: &'static str, offset: u64) -> Error {
    Error::Corrupted { what, offset }
}

/// The full key of a slot, reading its buffer when out of line.
pub(crate) fn slot_key<R: Persistent>(pool: &Pool<R>, s: &Slot, at: u64) -> Result<Vec<u8>> {
    let m = s.meta().ok_or(corrupted("slot metadata", at))?;
    match s.buffer() {
        None => Ok(s.data[..m.klen].to_vec()),
        Some(b) => {
            if optimistic::buffer_len(pool, b)? != (m.klen + m.vlen) as u64 {
                return Err(corrupted("out-of-line entry length", b.offset()));
            }
            optimistic::buffer(pool, b, 0, m.klen)
        }
    }
}

/// Walks the leaf list from `head` (the store is not yet shared, or its writers are
/// excluded).
pub(crate) fn walk<R: Persistent>(
    pool: &Pool<R>,
    header: u64,
    head: PPtr<Leaf>,
    order: &KeyOrder,
    name: u64,
) -> Result<Walk> {
    let mut out = Walk {
        leaves: Vec::new(),
        count: 0,
        found_empty: false,
    };
    let mut keys = LeafKeys {
        name: (name != 0).then_some(name),
        ..LeafKeys::default()
    };
    // The greatest key of the non-empty leaves walked so far.
    let mut prev_max: Option<Vec<u8>> = None;
    for leaf in LeafChain::new(pool, head) {
        let ChainLeaf {
            ptr: p,
            head,
            magic,
            owner,
            reader,
        } = leaf?;
        if magic != LEAF_MAGIC {
            return Err(corrupted("leaf magic", p.offset()));
        }
        if owner != header {
            // A leaf of another map (a copied header, a crafted file): two maps over one list
            // would each free what the other still reads.
            return Err(corrupted("leaf of another map (owner)", p.offset()));
        }
        let (fps, range) = keys.scan(pool, &reader, p, head.bitmap, order)?;
        out.count += u64::from((head.bitmap & SLOT_MASK).count_ones());
        match range {
            Some((lo, hi)) => {
                if prev_max.as_ref().is_some_and(|pm| order.le(&lo, pm)) {
                    return Err(corrupted(
                        "leaf keys not above the previous leaf's (order or bound)",
                        p.offset(),
                    ));
                }
                prev_max = Some(hi);
                let bound = if out.leaves.is_empty() {
                    Vec::new()
                } else {
                    lo
                };
                out.leaves.push((bound, p, fps));
            }
            None if out.leaves.is_empty() => out.leaves.push((Vec::new(), p, fps)),
            // An empty leaf after the first is not indexed (its range falls to its
            // predecessor); the store unlinks it at open.
            None => out.found_empty = true,
        }
    }
    Ok(out)
}

/// A leaf's smallest and greatest key.
type KeyRange = (Vec<u8>, Vec<u8>);

/// The walk's per-leaf checks, with buffers reused from leaf to leaf.
#[derive(Default)]
struct LeafKeys {
    /// Out-of-line buffers seen in any leaf so far (none may be shared).
    buffers: HashSet<u64>,
    /// The header's comparator-name buffer, which no slot may reference.
    name: Option<u64>,
    /// The keys of the leaf being scanned, one after another.
    arena: Vec<u8>,
    /// Per key in `arena`: its fingerprint, start and length.
    spans: Vec<(u8, usize, usize)>,
}

impl LeafKeys {
    /// Checks the valid slots of the leaf at `p` (`bitmap`): metadata, fingerprints, buffers,
    /// no key twice. Returns the slots' fingerprints and the leaf's smallest and greatest key
    /// (`None` when it is empty).
    fn scan<R: Persistent>(
        &mut self,
        pool: &Pool<R>,
        reader: &optimistic::LeafReader<'_, R>,
        p: PPtr<Leaf>,
        bitmap: u64,
        order: &KeyOrder,
    ) -> Result<([u8; SLOTS], Option<KeyRange>)> {
        let mut fps = [0u8; SLOTS];
        self.arena.clear();
        self.spans.clear();
        let mut seen_fps = [0u64; 4];
        let mut range: Option<KeyRange> = None;
        let mut bits = bitmap & SLOT_MASK;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let at = p.offset() + slot_offset(i);
            // Meta and the start of the key together (16-byte keys fit), more if needed.
            let first = reader.slot_prefix(i, 32)?;
            let m = first.meta().ok_or(corrupted("slot metadata", at))?;
            let slot = if !m.out_of_line && m.klen > 24 {
                reader.slot_prefix(i, 8 + m.klen)?
            } else {
                first
            };
            fps[i] = m.fp;
            let owned;
            let key: &[u8] = if let Some(k) = slot.inline_key() {
                k
            } else {
                if let Some(b) = slot.buffer() {
                    if Some(b.offset()) == self.name {
                        // Freed with the entry, the header's name would dangle.
                        return Err(corrupted(
                            "out-of-line entry is the comparator's name buffer",
                            b.offset(),
                        ));
                    }
                    if !self.buffers.insert(b.offset()) {
                        return Err(corrupted(
                            "out-of-line entry referenced by two slots",
                            b.offset(),
                        ));
                    }
                }
                owned = slot_key(pool, &slot, at)?;
                &owned
            };
            let fp = fingerprint(key);
            if fp != m.fp {
                return Err(corrupted("slot fingerprint (not its key's)", at));
            }
            let (w, bit) = (usize::from(fp >> 6), 1u64 << (fp & 63));
            if seen_fps[w] & bit != 0
                && self
                    .spans
                    .iter()
                    .any(|&(f, s, l)| f == fp && &self.arena[s..s + l] == key)
            {
                return Err(corrupted("key repeated in a leaf", at));
            }
            seen_fps[w] |= bit;
            self.spans.push((fp, self.arena.len(), key.len()));
            self.arena.extend_from_slice(key);
            range = Some(match range {
                None => (key.to_vec(), key.to_vec()),
                Some((lo, hi)) => (
                    if order.lt(key, &lo) { key.to_vec() } else { lo },
                    if order.lt(&hi, key) { key.to_vec() } else { hi },
                ),
            });
        }
        Ok((fps, range))
    }
}

fn slot_offset(i: usize) -> u64 {
    (core::mem::offset_of!(Leaf, slots) + i * core::mem::size_of::<Slot>()) as u64
}
