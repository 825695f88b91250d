//! The inner nodes: a DRAM-only ordered index from each leaf's lower bound to the leaf's state
//! (a lock-free skip list, so that readers take no lock), rebuilt at open by walking the leaves.

use std::sync::{Arc, Mutex};

use crossbeam_skiplist::SkipMap;
use pobj::PPtr;

use crate::leaf::{Leaf, SLOTS};
use crate::sync::{AtomicBool, Ordering};
use crate::version::Version;

/// What the index keeps per leaf. The range is immutable: a split or an unlink replaces the
/// state (and marks the old one dead) instead of changing it.
#[derive(Debug)]
pub(crate) struct LeafState {
    pub ptr: PPtr<Leaf>,
    /// Every key of the leaf is at least `low`…
    pub low: Vec<u8>,
    /// …and less than `high` (none: no upper bound).
    pub high: Option<Vec<u8>>,
    /// Optimistic readers validate against it; writers hold `lock` and bump it.
    pub version: Version,
    /// Set once the state was replaced (split, unlink, rebuild): users must re-route.
    pub dead: AtomicBool,
    /// Fingerprints of the valid slots (others are stale and never consulted).
    pub fps: [std::sync::atomic::AtomicU8; SLOTS],
    /// Serializes the leaf's writers.
    pub lock: Mutex<()>,
}

impl LeafState {
    pub fn new(
        ptr: PPtr<Leaf>,
        low: Vec<u8>,
        high: Option<Vec<u8>>,
        fps: [u8; SLOTS],
    ) -> Arc<LeafState> {
        Arc::new(LeafState {
            ptr,
            low,
            high,
            version: Version::new(),
            dead: AtomicBool::new(false),
            fps: fps.map(std::sync::atomic::AtomicU8::new),
            lock: Mutex::new(()),
        })
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.low.as_slice() && self.high.as_deref().is_none_or(|h| key < h)
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub fn fp(&self, i: usize) -> u8 {
        self.fps[i].load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn fps(&self) -> [u8; SLOTS] {
        std::array::from_fn(|i| self.fp(i))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Lower bound → leaf state. The first leaf's bound is the empty key.
pub(crate) type Index = SkipMap<Vec<u8>, Arc<LeafState>>;

/// The state whose bound is the greatest not above `key`.
pub(crate) fn route(index: &Index, key: &[u8]) -> Option<Arc<LeafState>> {
    index
        .upper_bound(std::ops::Bound::Included(key))
        .map(|e| Arc::clone(e.value()))
}

/// The state before the one with bound `low`.
pub(crate) fn prev(index: &Index, low: &[u8]) -> Option<Arc<LeafState>> {
    index
        .upper_bound(std::ops::Bound::Excluded(low))
        .map(|e| Arc::clone(e.value()))
}

/// An estimate of the DRAM the index takes: skip-list nodes, bounds and per-leaf states.
pub(crate) fn dram_bytes(index: &Index) -> u64 {
    let per = core::mem::size_of::<LeafState>() + core::mem::size_of::<Vec<u8>>() + 64;
    index
        .iter()
        .map(|e| {
            (per + e.key().capacity()
                + e.value().low.capacity()
                + e.value().high.as_ref().map_or(0, Vec::capacity)) as u64
        })
        .sum()
}
