//! `Db::check`: the leaves, their slots and the DRAM index against each other.

use pobj::Persistent;
use std::collections::HashMap;
use std::sync::Arc;

use pobj::PPtr;

use super::{CheckProblem as P, CheckReport, Map};
use crate::chain::{ChainError, LeafChain};
use crate::inner::LeafState;
use crate::leaf::{Leaf, LEAF_MAGIC, SLOT_MASK};
use crate::optimistic;
use crate::rebuild;
use crate::reentry::Entered;
use crate::slot::fingerprint;
use crate::sync::Ordering;

/// What the walk of the leaves carries from one leaf to the next.
struct Walk {
    /// The index's states by leaf offset.
    by_ptr: HashMap<u64, Arc<LeafState>>,
    /// The greatest key of the non-empty leaves walked so far.
    prev_max: Option<Vec<u8>>,
    /// Leaves of the list that the index names.
    indexed: usize,
}

impl<R: Persistent> Map<R> {
    /// A full consistency check (writers wait while it runs): the pool's own check, then the
    /// tree: leaf magics, slot metadata, fingerprints, out-of-line buffers, key order within
    /// and across leaves, no duplicates, no empty leaf but the first, and agreement with the
    /// inner nodes and the count.
    pub fn check(&self) -> CheckReport {
        let _in = match Entered::new(self.core.id) {
            Ok(g) => g,
            Err(e) => {
                return CheckReport {
                    problems: vec![P::NotRun {
                        error: e.to_string(),
                    }],
                    ..CheckReport::default()
                }
            }
        };
        // The pool's own check first: it takes the pool's write lock, which the shared
        // section below would refuse.
        let problems = self.pool.check().problems.into_iter();
        let mut report = CheckReport {
            problems: problems.map(P::Pool).collect(),
            ..CheckReport::default()
        };
        let _section = match self.pool.shared_section() {
            Ok(s) => s,
            Err(e) => {
                report.problems.push(P::NotRun {
                    error: e.to_string(),
                });
                return report;
            }
        };
        let _w = self
            .core
            .writers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let head = self.core.head;
        let indexed = self.check_leaves(head, &mut report);
        self.check_index(indexed, &mut report);
        report
    }

    /// Walks the leaf list from `head`, checking each leaf; returns how many the index names.
    fn check_leaves(&self, head: PPtr<Leaf>, report: &mut CheckReport) -> usize {
        let states = self.core.index.states().into_iter();
        let mut walk = Walk {
            by_ptr: states.map(|st| (st.ptr.offset(), st)).collect(),
            prev_max: None,
            indexed: 0,
        };
        for item in LeafChain::new(&self.pool, head) {
            report.leaves += 1;
            let p = match item {
                Ok(l) => l.ptr,
                Err(ChainError::TooLong { at }) => {
                    report.problems.push(P::Cycle { leaf: at });
                    break;
                }
                Err(ChainError::Leaf { at, error }) => {
                    report.problems.push(P::UnreadableLeaf {
                        leaf: at,
                        error: error.to_string(),
                    });
                    break;
                }
            };
            let leaf = match optimistic::leaf(&self.pool, p) {
                Ok(l) => l,
                Err(e) => {
                    report.problems.push(P::UnreadableLeaf {
                        leaf: p.offset(),
                        error: e.to_string(),
                    });
                    break;
                }
            };
            self.check_leaf(&leaf, p, &mut walk, report);
        }
        walk.indexed
    }

    /// One leaf of the list: its header, its slots, and its keys against the leaves before it
    /// and the index.
    fn check_leaf(&self, leaf: &Leaf, p: PPtr<Leaf>, walk: &mut Walk, report: &mut CheckReport) {
        let at = p.offset();
        if leaf.magic != LEAF_MAGIC {
            report.problems.push(P::BadMagic {
                leaf: at,
                found: leaf.magic,
            });
        }
        if leaf.owner != self.core.header.offset() {
            report.problems.push(P::ForeignLeaf {
                leaf: at,
                owner: leaf.owner,
            });
        }
        if leaf.head.bitmap & !SLOT_MASK != 0 {
            report.problems.push(P::BitmapPastLastSlot {
                leaf: at,
                bitmap: leaf.head.bitmap,
            });
        }
        let state = walk.by_ptr.get(&at).cloned();
        let mut keys: Vec<Vec<u8>> = leaf
            .valid()
            .filter_map(|i| self.check_slot(leaf, at, i, state.as_deref(), report))
            .collect();
        keys.sort_unstable_by(|a, b| self.core.order.cmp(a, b));
        self.check_keys(&keys, p, walk, report);
        if state.is_some() {
            walk.indexed += 1;
        }
        report.keys += keys.len() as u64;
        if let Some(last) = keys.pop() {
            walk.prev_max = Some(last);
        }
    }

    /// Slot `i` of the leaf at `at`: its metadata, key and fingerprints. Returns its key.
    fn check_slot(
        &self,
        leaf: &Leaf,
        at: u64,
        slot: usize,
        state: Option<&LeafState>,
        report: &mut CheckReport,
    ) -> Option<Vec<u8>> {
        let s = &leaf.slots[slot];
        let leaf = at;
        match (s.meta(), rebuild::slot_key(&self.pool, s, at)) {
            (Some(m), Ok(k)) => {
                let expected = fingerprint(&k);
                if m.fp != expected {
                    report.problems.push(P::Fingerprint {
                        leaf,
                        slot,
                        found: m.fp,
                        expected,
                    });
                }
                if let Some(st) = state {
                    if st.fp(slot) != m.fp {
                        report.problems.push(P::DramFingerprint {
                            leaf,
                            slot,
                            found: st.fp(slot),
                            expected: m.fp,
                        });
                    }
                }
                Some(k)
            }
            (_, Err(e)) => {
                report.problems.push(P::UnreadableKey {
                    leaf,
                    slot,
                    error: e.to_string(),
                });
                None
            }
            (None, _) => {
                report.problems.push(P::BadMetadata { leaf, slot });
                None
            }
        }
    }

    /// The sorted keys of the leaf `p`: no duplicate, above the leaves before it, none if the
    /// leaf is not the first, and each routed to this leaf.
    fn check_keys(&self, keys: &[Vec<u8>], p: PPtr<Leaf>, walk: &Walk, report: &mut CheckReport) {
        let leaf = p.offset();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            report.problems.push(P::DuplicateKey {
                leaf,
                key_len: w[0].len(),
            });
        }
        if let (Some(pm), Some(first)) = (&walk.prev_max, keys.first()) {
            if self.core.order.le(first, pm) {
                report.problems.push(P::OutOfOrder { leaf });
            }
        }
        if keys.is_empty() && report.leaves > 1 {
            report.problems.push(P::EmptyLeaf { leaf });
        }
        for k in keys {
            let routed_to = self.core.index.route(k).map(|s| s.ptr);
            if routed_to != Some(p) {
                report.problems.push(P::Misrouted {
                    leaf,
                    key_len: k.len(),
                    routed_to: routed_to.map(pobj::PPtr::offset),
                });
                break;
            }
        }
    }

    /// The count and the inner nodes against what the walk found (`indexed`: leaves of the
    /// list that the index names).
    fn check_index(&self, indexed: usize, report: &mut CheckReport) {
        let count = self.core.count.load(Ordering::Acquire);
        if report.keys != count {
            report.problems.push(P::Count {
                count,
                keys: report.keys,
            });
        }
        let entries = self.core.index.len();
        if indexed != entries {
            report.problems.push(P::IndexEntries { entries, indexed });
        }
        // Adjacent states' ranges meet.
        let states: Vec<Arc<LeafState>> = self.core.index.states();
        if let Some(w) = states
            .windows(2)
            .find(|w| w[0].high.as_deref() != Some(w[1].low.as_slice()) || w[0].is_dead())
        {
            report.problems.push(P::RangesDoNotMeet {
                leaf: w[0].ptr.offset(),
            });
        }
    }
}
