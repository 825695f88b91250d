//! The inner nodes: a DRAM-only ordered index from each leaf's lower bound to the leaf, with a
//! DRAM copy of the leaf's fingerprints. Rebuilt at open by walking the leaf list.

use std::collections::BTreeMap;
use std::ops::Bound;

use pobj::PPtr;

use crate::leaf::{Leaf, SLOTS};

/// What the index keeps per leaf.
#[derive(Clone, Debug)]
pub(crate) struct LeafMeta {
    pub ptr: PPtr<Leaf>,
    /// Fingerprints of the valid slots (others are stale and never consulted).
    pub fps: [u8; SLOTS],
}

/// Lower bound of each leaf → leaf. The first leaf's bound is the empty key. Every key stored in
/// a leaf is at least its bound and less than the next leaf's bound.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub map: BTreeMap<Vec<u8>, LeafMeta>,
    /// Entries in the store.
    pub count: u64,
}

impl Index {
    /// The leaf whose range holds `key`.
    pub fn route(&self, key: &[u8]) -> Option<(&Vec<u8>, &LeafMeta)> {
        self.map
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
    }

    /// Mutable access to the leaf whose range holds `key`.
    pub fn route_mut(&mut self, key: &[u8]) -> Option<(&Vec<u8>, &mut LeafMeta)> {
        self.map
            .range_mut::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
    }

    /// The leaf before the one with bound `sep`.
    pub fn prev(&self, sep: &[u8]) -> Option<(&Vec<u8>, &LeafMeta)> {
        self.map
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(sep)))
            .next_back()
    }

    /// An estimate of the DRAM the index takes: map nodes, bounds and per-leaf data.
    pub fn dram_bytes(&self) -> u64 {
        let per_entry = core::mem::size_of::<Vec<u8>>() + core::mem::size_of::<LeafMeta>() + 16;
        let keys: usize = self.map.keys().map(Vec::capacity).sum();
        (self.map.len() * per_entry + keys) as u64
    }
}
