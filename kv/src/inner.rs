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
use crate::order::{Comparator, KeyOrder, OrderedKey};
use crate::sync::{AtomicBool, AtomicU8, Mutex, MutexGuard, Ordering};
use crate::version::Version;

/// What the index keeps per leaf. The range is immutable: a split or an unlink replaces the
/// state (and marks the old one dead) instead of changing it.
#[derive(Debug)]
pub(crate) struct LeafState {
    pub ptr: PPtr<Leaf>,
    /// The first leaf's state: its range has no lower bound (`low` is empty and unused).
    pub first: bool,
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
        first: bool,
        low: Vec<u8>,
        high: Option<Vec<u8>>,
        fps: [u8; SLOTS],
    ) -> Arc<LeafState> {
        Arc::new(LeafState {
            ptr,
            first,
            low,
            high,
            version: Version::new(),
            dead: AtomicBool::new(false),
            fps: fps.map(AtomicU8::new),
            lock: Mutex::new(()),
        })
    }

    /// Whether `key` is in the state's range, in the map's `order`.
    pub(crate) fn contains(&self, order: &KeyOrder, key: &[u8]) -> bool {
        (self.first || order.le(&self.low, key))
            && self.high.as_deref().is_none_or(|h| order.lt(key, h))
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

/// The ordered map under the index, keyed by bounds of type `K`: a lock-free skip list, or under
/// loom and Miri a `BTreeMap` behind a lock with the same operations.
pub(crate) struct Tree<K> {
    #[cfg(not(any(loom, miri)))]
    map: crossbeam_skiplist::SkipMap<K, Arc<LeafState>>,
    #[cfg(any(loom, miri))]
    map: crate::sync::RwLock<std::collections::BTreeMap<K, Arc<LeafState>>>,
}

#[cfg(not(any(loom, miri)))]
impl<K: Ord + Send + 'static> Tree<K> {
    fn new() -> Self {
        Tree {
            map: crossbeam_skiplist::SkipMap::new(),
        }
    }

    /// The state whose bound is the greatest not above (`Included`) or below (`Excluded`) `b`.
    fn upper(&self, b: std::ops::Bound<&K>) -> Option<Arc<LeafState>> {
        self.map.upper_bound(b).map(|e| Arc::clone(e.value()))
    }

    fn first(&self) -> Option<Arc<LeafState>> {
        self.map.front().map(|e| Arc::clone(e.value()))
    }

    fn last(&self) -> Option<Arc<LeafState>> {
        self.map.back().map(|e| Arc::clone(e.value()))
    }

    fn insert(&self, low: K, st: Arc<LeafState>) {
        self.map.insert(low, st);
    }

    fn remove_if(&self, low: &K, st: &Arc<LeafState>) {
        if let Some(e) = self.map.get(low) {
            if Arc::ptr_eq(e.value(), st) {
                e.remove();
            }
        }
    }

    fn states(&self) -> Vec<Arc<LeafState>> {
        self.map.iter().map(|e| Arc::clone(e.value())).collect()
    }

    fn clear(&self) {
        self.map.clear();
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(any(loom, miri))]
impl<K: Ord + Send + 'static> Tree<K> {
    fn new() -> Self {
        Tree {
            map: crate::sync::RwLock::new(std::collections::BTreeMap::new()),
        }
    }

    fn read(
        &self,
    ) -> crate::sync::RwLockReadGuard<'_, std::collections::BTreeMap<K, Arc<LeafState>>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(
        &self,
    ) -> crate::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<K, Arc<LeafState>>> {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn upper(&self, b: std::ops::Bound<&K>) -> Option<Arc<LeafState>> {
        self.read()
            .range::<K, _>((std::ops::Bound::Unbounded, b))
            .next_back()
            .map(|(_, v)| Arc::clone(v))
    }

    fn first(&self) -> Option<Arc<LeafState>> {
        self.read().values().next().cloned()
    }

    fn last(&self) -> Option<Arc<LeafState>> {
        self.read().values().next_back().cloned()
    }

    /// Like the skip list's `insert`, which unlinks the entry it replaces before linking the
    /// new one: a router in between sees neither (it finds the state before). Two steps here
    /// too, so that the loom models see that window.
    fn insert(&self, low: K, st: Arc<LeafState>) {
        // Two acquisitions of the lock: loom may run another thread between them.
        self.write().remove(&low);
        self.write().insert(low, st);
    }

    fn remove_if(&self, low: &K, st: &Arc<LeafState>) {
        let mut m = self.write();
        if m.get(low).is_some_and(|v| Arc::ptr_eq(v, st)) {
            m.remove(low);
        }
    }

    fn states(&self) -> Vec<Arc<LeafState>> {
        self.read().values().cloned().collect()
    }

    fn clear(&self) {
        self.write().clear();
    }

    fn len(&self) -> usize {
        self.read().len()
    }
}

/// Lower bound → leaf state. The first leaf's bound is below every key: the empty key in the
/// bytewise order, `OrderedKey::min` in a user's.
pub(crate) enum Index {
    Bytewise(Tree<Vec<u8>>),
    Custom(Tree<OrderedKey>, Arc<dyn Comparator>),
}

/// Dispatches `$body` to the tree of either order, with `$t` the tree and `$k(bytes, first)`
/// building its key type.
macro_rules! with_tree {
    ($self:expr, |$t:ident, $k:ident| $body:expr) => {
        match $self {
            Index::Bytewise($t) => {
                let $k = |key: &[u8], _first: bool| key.to_vec();
                $body
            }
            Index::Custom($t, order) => {
                let $k = |key: &[u8], first: bool| OrderedKey {
                    min: first,
                    key: key.to_vec(),
                    order: Arc::clone(order),
                };
                $body
            }
        }
    };
}

impl Index {
    /// The state whose bound is the greatest not above `key`.
    pub(crate) fn route(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        match self {
            // No copy of the key on the common path.
            Index::Bytewise(t) => t.upper_bytes(key),
            Index::Custom(..) => {
                with_tree!(self, |t, k| t
                    .upper(std::ops::Bound::Included(&k(key, false))))
            }
        }
    }

    /// The first leaf's state.
    pub(crate) fn first(&self) -> Option<Arc<LeafState>> {
        with_tree!(self, |t, _k| t.first())
    }

    /// The last leaf's state.
    pub(crate) fn last(&self) -> Option<Arc<LeafState>> {
        with_tree!(self, |t, _k| t.last())
    }

    /// The state before `st` (by its bound); none for the first.
    pub(crate) fn prev(&self, st: &LeafState) -> Option<Arc<LeafState>> {
        if st.first {
            return None;
        }
        self.before(&st.low)
    }

    /// The state with the greatest bound below `low` (a bound other than the first's).
    pub(crate) fn before(&self, low: &[u8]) -> Option<Arc<LeafState>> {
        with_tree!(self, |t, k| t
            .upper(std::ops::Bound::Excluded(&k(low, false))))
    }

    /// Publishes `st` under its bound (replacing the state there).
    pub(crate) fn insert(&self, st: Arc<LeafState>) {
        with_tree!(self, |t, k| {
            t.insert(k(&st.low, st.first), st);
        });
    }

    /// Removes the entry at `st`'s bound if it still names `st`.
    pub(crate) fn remove_if(&self, st: &Arc<LeafState>) {
        with_tree!(self, |t, k| {
            t.remove_if(&k(&st.low, st.first), st);
        });
    }

    /// Every state, in key order.
    pub(crate) fn states(&self) -> Vec<Arc<LeafState>> {
        with_tree!(self, |t, _k| t.states())
    }

    pub(crate) fn clear(&self) {
        with_tree!(self, |t, _k| {
            t.clear();
        });
    }

    pub(crate) fn len(&self) -> usize {
        with_tree!(self, |t, _k| t.len())
    }
}

impl Tree<Vec<u8>> {
    fn upper_bytes(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        #[cfg(not(any(loom, miri)))]
        {
            self.map
                .upper_bound(std::ops::Bound::Included(key))
                .map(|e| Arc::clone(e.value()))
        }
        #[cfg(any(loom, miri))]
        {
            self.read()
                .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
                .next_back()
                .map(|(_, v)| Arc::clone(v))
        }
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
    pub(crate) fn new(order: &KeyOrder) -> Self {
        match order {
            KeyOrder::Bytewise => Index::Bytewise(Tree::new()),
            KeyOrder::Custom(c) => Index::Custom(Tree::new(), Arc::clone(c)),
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
