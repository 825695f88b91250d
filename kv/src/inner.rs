//! The inner nodes: a DRAM-only ordered index from each leaf's lower bound to the leaf's state
//! (a lock-free skip list, so that readers take no lock), rebuilt at open by walking the leaves.
//!
//! Under `--cfg loom` the index is a loom `RwLock` over a `BTreeMap` with the same operations
//! (each linearizable, like the skip list's), so that the loom models see the store's
//! publication protocol step by step. Under Miri it is the same map behind std's `RwLock`:
//! crossbeam-epoch 0.9, under the skip list, cannot be checked by Miri's aliasing models
//! (crossbeam-rs/crossbeam#545, #1181), and the point of the Miri subset is the store's own
//! code and pobj's.

use std::sync::Arc;

use pobj::PPtr;

use crate::leaf::{Leaf, SLOTS};
use crate::sync::{AtomicBool, AtomicU8, Mutex, MutexGuard, Ordering};
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
    pub fps: [AtomicU8; SLOTS],
    /// Serializes the leaf's writers.
    pub lock: Mutex<()>,
}

impl LeafState {
    pub(crate) fn new(
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
            fps: fps.map(AtomicU8::new),
            lock: Mutex::new(()),
        })
    }

    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        key >= self.low.as_slice() && self.high.as_deref().is_none_or(|h| key < h)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub(crate) fn fp(&self, i: usize) -> u8 {
        self.fps[i].load(Ordering::Relaxed)
    }

    pub(crate) fn fps(&self) -> [u8; SLOTS] {
        std::array::from_fn(|i| self.fp(i))
    }

    pub(crate) fn set_fp(&self, i: usize, fp: u8) {
        self.fps[i].store(fp, Ordering::Relaxed);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Lower bound → leaf state. The first leaf's bound is the empty key.
pub(crate) struct Index {
    #[cfg(not(any(loom, miri)))]
    map: crossbeam_skiplist::SkipMap<Vec<u8>, Arc<LeafState>>,
    #[cfg(any(loom, miri))]
    map: crate::sync::RwLock<std::collections::BTreeMap<Vec<u8>, Arc<LeafState>>>,
}

#[cfg(not(any(loom, miri)))]
impl Index {
    /// The state whose bound is the greatest not above `key`.
    pub(crate) fn route(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        self.map
            .upper_bound(std::ops::Bound::Included(key))
            .map(|e| Arc::clone(e.value()))
    }

    /// The state before the one with bound `low`.
    pub(crate) fn prev(&self, low: &[u8]) -> Option<Arc<LeafState>> {
        self.map
            .upper_bound(std::ops::Bound::Excluded(low))
            .map(|e| Arc::clone(e.value()))
    }

    /// Publishes `st` under its bound (replacing the state there).
    pub(crate) fn insert(&self, low: Vec<u8>, st: Arc<LeafState>) {
        self.map.insert(low, st);
    }

    /// Removes the entry at `low` if it still names `st`.
    pub(crate) fn remove_if(&self, low: &[u8], st: &Arc<LeafState>) {
        if let Some(e) = self.map.get(low) {
            if Arc::ptr_eq(e.value(), st) {
                e.remove();
            }
        }
    }

    /// Every state, in key order.
    pub(crate) fn states(&self) -> Vec<Arc<LeafState>> {
        self.map.iter().map(|e| Arc::clone(e.value())).collect()
    }

    pub(crate) fn clear(&self) {
        self.map.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(any(loom, miri))]
impl Index {
    fn read(
        &self,
    ) -> crate::sync::RwLockReadGuard<'_, std::collections::BTreeMap<Vec<u8>, Arc<LeafState>>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(
        &self,
    ) -> crate::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<Vec<u8>, Arc<LeafState>>>
    {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn route(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        self.read()
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
            .next_back()
            .map(|(_, v)| Arc::clone(v))
    }

    pub(crate) fn prev(&self, low: &[u8]) -> Option<Arc<LeafState>> {
        self.read()
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(low)))
            .next_back()
            .map(|(_, v)| Arc::clone(v))
    }

    /// Like the skip list's `insert`, which unlinks the entry it replaces before linking the
    /// new one: a router in between sees neither (it finds the state before). Two steps here
    /// too, so that the loom models see that window.
    pub(crate) fn insert(&self, low: Vec<u8>, st: Arc<LeafState>) {
        // Two acquisitions of the lock: loom may run another thread between them.
        self.write().remove(&low);
        self.write().insert(low, st);
    }

    pub(crate) fn remove_if(&self, low: &[u8], st: &Arc<LeafState>) {
        let mut m = self.write();
        if m.get(low).is_some_and(|v| Arc::ptr_eq(v, st)) {
            m.remove(low);
        }
    }

    pub(crate) fn states(&self) -> Vec<Arc<LeafState>> {
        self.read().values().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.write().clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("leaves", &self.len())
            .finish()
    }
}

impl Index {
    pub(crate) fn new() -> Self {
        Index {
            #[cfg(not(any(loom, miri)))]
            map: crossbeam_skiplist::SkipMap::new(),
            #[cfg(any(loom, miri))]
            map: crate::sync::RwLock::new(std::collections::BTreeMap::new()),
        }
    }

    /// An estimate of the DRAM the index takes: skip-list nodes, bounds and per-leaf states.
    pub(crate) fn dram_bytes(&self) -> u64 {
        let per = core::mem::size_of::<LeafState>() + core::mem::size_of::<Vec<u8>>() + 64;
        self.states()
            .iter()
            .map(|st| {
                (per + 2 * st.low.capacity() + st.high.as_ref().map_or(0, Vec::capacity)) as u64
            })
            .sum()
    }
}
