//! What [`Db::check`](super::Db::check) reports: a [`CheckReport`] of typed [`CheckProblem`]s.

use std::fmt;

/// The result of [`Db::check`](super::Db::check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Problems found in the pool and in the tree, in the order found; empty when consistent.
    pub problems: Vec<CheckProblem>,
    /// Entries found by walking the leaves.
    pub keys: u64,
    /// Leaves found (a leaf that could not be read, or the one past a cycle's limit, included).
    pub leaves: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// `ok: K keys in L leaves`, or the problems, separated by `; `.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (k, l) = (self.keys, self.leaves);
        if self.is_ok() {
            return write!(f, "ok: {k} keys in {l} leaves");
        }
        let n = self.problems.len();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "{n} problem{s} ({k} keys in {l} leaves): ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// One problem found by [`Db::check`](super::Db::check). Leaves are named by their offset in
/// the pool and slots by their index in the leaf (0..39).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckProblem {
    /// The check did not run (it was called inside one of the store's own operations).
    NotRun {
        /// Why.
        error: String,
    },
    /// A problem of the pool itself, found by `pobj::Pool::check`.
    Pool(pobj::CheckProblem),
    /// The store's root object could not be read; the leaves were not walked.
    Root {
        /// Why.
        error: String,
    },
    /// The leaf list holds more leaves than fit in the pool (a cycle); the walk stopped.
    Cycle {
        /// The leaf past the limit.
        leaf: u64,
    },
    /// A leaf of the list could not be read (not a live leaf object, ...); the walk stopped.
    UnreadableLeaf {
        /// The leaf.
        leaf: u64,
        /// Why.
        error: String,
    },
    /// A leaf's magic is not `b"PKVLEAF1"`.
    BadMagic {
        /// The leaf.
        leaf: u64,
        /// The magic found.
        found: u64,
    },
    /// A leaf's owner word is not the offset of this map's header (a leaf of another map).
    ForeignLeaf {
        /// The leaf.
        leaf: u64,
        /// The owner found.
        owner: u64,
    },
    /// A leaf's bitmap has bits set past its last slot.
    BitmapPastLastSlot {
        /// The leaf.
        leaf: u64,
        /// The bitmap found.
        bitmap: u64,
    },
    /// A valid slot's metadata word does not decode.
    BadMetadata {
        /// The leaf.
        leaf: u64,
        /// The slot.
        slot: usize,
    },
    /// A valid slot's key could not be read (its metadata or out-of-line buffer is damaged).
    UnreadableKey {
        /// The leaf.
        leaf: u64,
        /// The slot.
        slot: usize,
        /// Why.
        error: String,
    },
    /// A slot's fingerprint is not its key's.
    Fingerprint {
        /// The leaf.
        leaf: u64,
        /// The slot.
        slot: usize,
        /// The fingerprint in the slot's metadata.
        found: u8,
        /// The key's fingerprint.
        expected: u8,
    },
    /// The DRAM copy of a slot's fingerprint differs from the one in the leaf.
    DramFingerprint {
        /// The leaf.
        leaf: u64,
        /// The slot.
        slot: usize,
        /// The fingerprint in DRAM.
        found: u8,
        /// The fingerprint in the leaf.
        expected: u8,
    },
    /// A key appears twice in one leaf.
    DuplicateKey {
        /// The leaf.
        leaf: u64,
        /// The key's length.
        key_len: usize,
    },
    /// A leaf's smallest key is not above the greatest key of the leaves before it.
    OutOfOrder {
        /// The leaf.
        leaf: u64,
    },
    /// An empty leaf other than the first is in the list.
    EmptyLeaf {
        /// The leaf.
        leaf: u64,
    },
    /// The inner nodes route one of a leaf's keys to another leaf (or to none).
    Misrouted {
        /// The leaf holding the key.
        leaf: u64,
        /// The key's length.
        key_len: usize,
        /// The leaf the key is routed to, if any.
        routed_to: Option<u64>,
    },
    /// The DRAM count of entries differs from the entries in the leaves.
    Count {
        /// The DRAM count.
        count: u64,
        /// Entries found in the leaves.
        keys: u64,
    },
    /// Some inner-node entries name no leaf of the list.
    IndexEntries {
        /// Entries in the inner nodes.
        entries: usize,
        /// How many of them name a leaf of the list.
        indexed: usize,
    },
    /// The ranges of two adjacent inner-node entries do not meet (or one is dead).
    RangesDoNotMeet {
        /// The leaf of the first of the two entries.
        leaf: u64,
    },
}

/// The leaf at `offset`, named as the messages have always named it.
struct LeafName(u64);

impl fmt::Display for LeafName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leaf PPtr({:#x})", self.0)
    }
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckProblem as P;
        match self {
            P::NotRun { error } => write!(f, "check: {error}"),
            P::Pool(p) => write!(f, "{p}"),
            P::Root { error } => write!(f, "store root: {error}"),
            P::Cycle { .. } => f.write_str("leaf list has a cycle"),
            P::UnreadableLeaf { leaf, error } => write!(f, "{}: {error}", LeafName(*leaf)),
            P::BadMagic { leaf, .. } => write!(f, "{}: bad magic", LeafName(*leaf)),
            P::ForeignLeaf { leaf, owner } => {
                write!(f, "{}: belongs to the map at {owner:#x}", LeafName(*leaf))
            }
            P::BitmapPastLastSlot { leaf, .. } => {
                write!(f, "{}: bitmap bits past the last slot", LeafName(*leaf))
            }
            P::BadMetadata { leaf, slot } => {
                write!(f, "{} slot {slot}: bad metadata", LeafName(*leaf))
            }
            P::UnreadableKey { leaf, slot, error } => {
                write!(f, "{} slot {slot}: {error}", LeafName(*leaf))
            }
            P::Fingerprint { leaf, slot, .. } => write!(
                f,
                "{} slot {slot}: fingerprint does not match the key",
                LeafName(*leaf)
            ),
            P::DramFingerprint { leaf, slot, .. } => {
                write!(
                    f,
                    "{} slot {slot}: DRAM fingerprint differs",
                    LeafName(*leaf)
                )
            }
            P::DuplicateKey { leaf, .. } => write!(f, "{}: duplicate keys", LeafName(*leaf)),
            P::OutOfOrder { leaf } => write!(
                f,
                "{}: keys out of order with the previous leaf",
                LeafName(*leaf)
            ),
            P::EmptyLeaf { leaf } => {
                write!(f, "{}: empty leaf left in the list", LeafName(*leaf))
            }
            P::Misrouted { leaf, .. } => write!(
                f,
                "{}: the inner nodes route a key elsewhere",
                LeafName(*leaf)
            ),
            P::Count { count, keys } => write!(f, "count {count} but {keys} keys in the leaves"),
            P::IndexEntries { entries, indexed } => write!(
                f,
                "{entries} inner-node entries but {indexed} of them name a leaf in the list"
            ),
            P::RangesDoNotMeet { .. } => {
                f.write_str("inner nodes: ranges of adjacent leaves do not meet")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_and_reports_display_as_lines() {
        let p = CheckProblem::Fingerprint {
            leaf: 0x1040,
            slot: 3,
            found: 1,
            expected: 2,
        };
        assert_eq!(
            p.to_string(),
            "leaf PPtr(0x1040) slot 3: fingerprint does not match the key"
        );
        let mut r = CheckReport {
            keys: 5,
            leaves: 2,
            ..CheckReport::default()
        };
        assert_eq!(r.to_string(), "ok: 5 keys in 2 leaves");
        r.problems = vec![p, CheckProblem::Count { count: 4, keys: 5 }];
        assert_eq!(
            r.to_string(),
            "2 problems (5 keys in 2 leaves): leaf PPtr(0x1040) slot 3: fingerprint does not \
             match the key; count 4 but 5 keys in the leaves"
        );
    }
}
