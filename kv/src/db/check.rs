//! `Db::check`: the leaves, their slots and the DRAM index against each other.

use std::sync::Arc;

use pobj::PPtr;

use super::Db;
use crate::chain::{ChainError, LeafChain};
use crate::inner::LeafState;
use crate::leaf::{Leaf, LEAF_MAGIC, SLOT_MASK};
use crate::optimistic;
use crate::rebuild;
use crate::reentry::Entered;
use crate::slot::fingerprint;
use crate::sync::Ordering;

/// The result of [`Db::check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Problems found in the pool and in the tree; empty when consistent.
    pub problems: Vec<String>,
    /// Entries found by walking the leaves.
    pub keys: u64,
    /// Leaves found.
    pub leaves: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Db {
    /// A full consistency check (writers wait while it runs): the pool's own check, then the
    /// tree: leaf magics, slot metadata, fingerprints, out-of-line buffers, key order within
    /// and across leaves, no duplicates, no empty leaf but the first, and agreement with the
    /// inner nodes and the count.
    pub fn check(&self) -> CheckReport {
        let _in = match Entered::new(self.id) {
            Ok(g) => g,
            Err(e) => {
                return CheckReport {
                    problems: vec![format!("check: {e}")],
                    ..CheckReport::default()
                }
            }
        };
        let _w = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let mut report = CheckReport {
            problems: self.pool.check().problems,
            ..CheckReport::default()
        };
        let by_ptr: std::collections::HashMap<u64, Arc<LeafState>> = self
            .index
            .states()
            .into_iter()
            .map(|st| (st.ptr.offset(), st))
            .collect();
        let head = match self.pool.root() {
            Ok(root) => root.head,
            Err(e) => {
                report.problems.push(format!("store root: {e}"));
                return report;
            }
        };
        let mut prev_max: Option<Vec<u8>> = None;
        let mut indexed = 0;
        for item in LeafChain::new(&self.pool, head) {
            report.leaves += 1;
            let p = match item {
                Ok(l) => l.ptr,
                Err(ChainError::TooLong { .. }) => {
                    report.problems.push("leaf list has a cycle".into());
                    break;
                }
                Err(ChainError::Leaf { at, error }) => {
                    let p = PPtr::<Leaf>::from_offset(at);
                    report.problems.push(format!("leaf {p:?}: {error}"));
                    break;
                }
            };
            let leaf = match optimistic::leaf(&self.pool, p) {
                Ok(l) => l,
                Err(e) => {
                    report.problems.push(format!("leaf {p:?}: {e}"));
                    break;
                }
            };
            if leaf.magic != LEAF_MAGIC {
                report.problems.push(format!("leaf {p:?}: bad magic"));
            }
            if leaf.head.bitmap & !SLOT_MASK != 0 {
                report
                    .problems
                    .push(format!("leaf {p:?}: bitmap bits past the last slot"));
            }
            let state = by_ptr.get(&p.offset()).cloned();
            let mut keys = Vec::new();
            for i in leaf.valid() {
                let s = &leaf.slots[i];
                match (s.meta(), rebuild::slot_key(&self.pool, s, p.offset())) {
                    (Some(m), Ok(k)) => {
                        if m.fp != fingerprint(&k) {
                            report.problems.push(format!(
                                "leaf {p:?} slot {i}: fingerprint does not match the key"
                            ));
                        }
                        if let Some(st) = &state {
                            if st.fp(i) != m.fp {
                                report
                                    .problems
                                    .push(format!("leaf {p:?} slot {i}: DRAM fingerprint differs"));
                            }
                        }
                        keys.push(k);
                    }
                    (_, Err(e)) => report.problems.push(format!("leaf {p:?} slot {i}: {e}")),
                    (None, _) => report
                        .problems
                        .push(format!("leaf {p:?} slot {i}: bad metadata")),
                }
            }
            keys.sort();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                report.problems.push(format!("leaf {p:?}: duplicate keys"));
            }
            if let (Some(pm), Some(first)) = (&prev_max, keys.first()) {
                if first <= pm {
                    report.problems.push(format!(
                        "leaf {p:?}: keys out of order with the previous leaf"
                    ));
                }
            }
            if keys.is_empty() && report.leaves > 1 {
                report
                    .problems
                    .push(format!("leaf {p:?}: empty leaf left in the list"));
            }
            for k in &keys {
                if self.index.route(k).map(|s| s.ptr) != Some(p) {
                    report
                        .problems
                        .push(format!("leaf {p:?}: the inner nodes route a key elsewhere"));
                    break;
                }
            }
            if state.is_some() {
                indexed += 1;
            }
            report.keys += keys.len() as u64;
            if let Some(last) = keys.pop() {
                prev_max = Some(last);
            }
        }
        let count = self.count.load(Ordering::Acquire);
        if report.keys != count {
            report.problems.push(format!(
                "count {count} but {} keys in the leaves",
                report.keys
            ));
        }
        if indexed != self.index.len() {
            report.problems.push(format!(
                "{} inner-node entries but {indexed} of them name a leaf in the list",
                self.index.len()
            ));
        }
        // Adjacent states' ranges meet.
        let states: Vec<Arc<LeafState>> = self.index.states();
        for w in states.windows(2) {
            if w[0].high.as_deref() != Some(w[1].low.as_slice()) || w[0].is_dead() {
                report
                    .problems
                    .push("inner nodes: ranges of adjacent leaves do not meet".into());
                break;
            }
        }
        report
    }
}
