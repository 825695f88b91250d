//! A map's operations inside a user's transaction ([`Map::tx`]): they commit or roll back with
//! everything else the transaction does, in this map, in other maps and in the user's objects.
//!
//! Protocol (docs/maps.md, "Operations inside a user's transaction"): the transaction is a safe
//! `Pool::transaction`, which holds the pool's write lock, so no standalone writer of any map
//! of the pool runs meanwhile (they take the pool's shared section before their own locks);
//! every leaf the transaction touches is made mid-write (odd version) before it is changed and
//! stays so until the transaction ends, so optimistic readers on other threads retry and see
//! the leaf before or after the whole transaction, never in between. The end is told to the
//! map by pobj ([`pobj::TxState`]): after a commit the count changes and the leaves' writes
//! end; after a rollback the leaves' states die and the index is rebuilt from the rolled-back
//! leaves before their writes end.

use std::cell::RefCell;
use std::ops::{Bound, RangeBounds};
use std::rc::Rc;
use std::sync::Arc;

use pobj::{Persistent, Pool, Tx, TxEnd, TxState};

use super::batch::{find_tx, BatchState};
use super::read::Entries;
use super::{check_sizes, rebuild_index, Core, Map};
use crate::error::{Error, Result};
use crate::find::{find, leaf_entries, LeafSource, TxLeaf};
use crate::inner::LeafState;
use crate::slot::fingerprint;
use crate::sync::Ordering;

/// A map's state in one transaction (a [`TxState`] of it, under the map's id).
struct Touched<R: Persistent> {
    pool: Arc<Pool<R>>,
    core: Arc<Core>,
    b: Rc<RefCell<BatchState>>,
    ended: bool,
}

impl<R: Persistent> Touched<R> {
    fn finish(&mut self, end: Option<TxEnd>) {
        self.ended = true;
        let core = &self.core;
        let b = std::mem::take(&mut *self.b.borrow_mut());
        match end {
            Some(TxEnd::Committed | TxEnd::InDoubt) => {
                let count = core.count.load(Ordering::Acquire);
                core.count
                    .store(count.saturating_add_signed(b.delta), Ordering::Release);
                if b.destroyed {
                    core.destroyed.store(true, Ordering::Release);
                    for st in core.index.states() {
                        st.dead.store(true, Ordering::Release);
                    }
                    core.index.clear();
                }
            }
            Some(TxEnd::RolledBack) => {
                for st in &b.touched {
                    st.dead.store(true, Ordering::Release);
                }
                // The states the transaction made or retired do not match the rolled-back
                // leaves: the index is rebuilt from them (the pool's lock is still held).
                if rebuild_index(&self.pool, core).is_err() {
                    core.failed.store(true, Ordering::Release);
                }
            }
            None => core.failed.store(true, Ordering::Release),
        }
        if self.pool.is_poisoned() {
            core.failed.store(true, Ordering::Release);
        }
        #[cfg(loom)]
        if crate::sync::mutated("a transaction's leaves are not kept mid-write") {
            return;
        }
        for st in b.touched.iter().rev() {
            st.version.write_end();
        }
    }
}

impl<R: Persistent> TxState for Touched<R> {
    fn end(mut self: Box<Self>, end: TxEnd) {
        self.finish(Some(end));
    }
}

impl<R: Persistent> Drop for Touched<R> {
    fn drop(&mut self) {
        if !self.ended {
            // The transaction's machinery unwound (the pool is poisoned): the DRAM state may
            // not match the leaves; refuse further operations, and end the leaves' writes.
            self.finish(None);
        }
    }
}

/// A map's operations inside one transaction (from [`Map::tx`]). Reads see the transaction's
/// own changes; other threads see none of them before it commits.
pub struct MapTx<'m, 't, 'p, R: Persistent> {
    map: &'m Map<R>,
    tx: &'t mut Tx<'p, R>,
    b: Rc<RefCell<BatchState>>,
}

impl<R: Persistent> Map<R> {
    /// The map's operations inside `tx`, a safe transaction ([`Pool::transaction`]) of the
    /// map's pool; [`Error::WrongTransaction`] for a shared one or one of another pool.
    ///
    /// ```
    /// # fn main() -> Result<(), pobj_kv::Error> {
    /// # use std::sync::Arc;
    /// # use pobj::{Persistent, Pool};
    /// # use pobj_kv::{Map, MapHandle};
    /// #[derive(Persistent, Clone, Copy)]
    /// #[repr(C)]
    /// struct Root { users: MapHandle, total: u64 }
    ///
    /// # let dir = std::env::temp_dir().join(format!("pkv-doc-tx-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("app.pool");
    /// let pool = Arc::new(Pool::<Root>::create(&path, "app", 16 << 20)?);
    /// let handle = pool.transaction(|tx| {
    ///     let h = MapHandle::create(tx)?;
    ///     tx.root_mut()?.users = h;
    ///     Ok::<_, pobj_kv::Error>(h)
    /// })?;
    /// let users = Map::open(&pool, handle)?;
    /// pool.transaction(|tx| {
    ///     users.tx(tx)?.put(b"ada", b"1815")?;
    ///     tx.root_mut()?.total += 1; // commits with the put, or neither does
    ///     Ok::<_, pobj_kv::Error>(())
    /// })?;
    /// assert_eq!(users.get(b"ada")?, Some(b"1815".to_vec()));
    /// # drop((users, pool)); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok(()) }
    /// ```
    pub fn tx<'m, 't, 'p>(&'m self, tx: &'t mut Tx<'p, R>) -> Result<MapTx<'m, 't, 'p, R>> {
        if !tx.is_exclusive() || !tx.is_on(&self.pool) {
            return Err(Error::WrongTransaction);
        }
        self.check_failed()?;
        let (pool, core) = (Arc::clone(&self.pool), Arc::clone(&self.core));
        let state = tx.state(self.core.id, || Touched {
            pool,
            core,
            b: Rc::new(RefCell::new(BatchState::default())),
            ended: false,
        })?;
        let b = Rc::clone(&state.b);
        Ok(MapTx { map: self, tx, b })
    }
}

impl<R: Persistent> MapTx<'_, '_, '_, R> {
    fn live(&self) -> Result<()> {
        if self.b.borrow().destroyed {
            return Err(Error::Destroyed);
        }
        self.map.check_failed()
    }

    /// Inserts or replaces `key`'s value (a full leaf splits in this transaction).
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_sizes(key, Some(value))?;
        self.live()?;
        let mut b = self.b.borrow_mut();
        // A nested transaction: if the put fails half-way (a full pool during a split, say),
        // the whole transaction is doomed to abort rather than commit half of it.
        let map = self.map;
        self.tx.transaction(|tx| map.put_tx(tx, &mut b, key, value))
    }

    /// Removes `key`; `false` if it was absent.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        self.live()?;
        let mut b = self.b.borrow_mut();
        let map = self.map;
        self.tx.transaction(|tx| map.remove_tx(tx, &mut b, key))
    }

    /// The value of `key` as this transaction sees it; `None` if absent.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        self.live()?;
        let st = self.map.route_locked(key)?;
        let leaf = TxLeaf::new(self.tx, st.ptr)?;
        let head = leaf.head()?;
        let fp = fingerprint(key);
        Ok(find(&leaf, head.bitmap, |i| st.fp(i), key, fp, true)?.map(|(_, v)| v))
    }

    /// Whether `key` is present, as this transaction sees it.
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        self.live()?;
        let st = self.map.route_locked(key)?;
        Ok(find_tx(self.tx, &st, key, fingerprint(key))?.1.is_some())
    }

    /// Number of entries, as this transaction sees it.
    pub fn count_all(&self) -> Result<u64> {
        self.live()?;
        let n = self.map.core.count.load(Ordering::Acquire);
        Ok(n.saturating_add_signed(self.b.borrow().delta))
    }

    /// Entries whose keys are in `range`, in key order, as this transaction sees them.
    pub fn range<K: AsRef<[u8]>, B: RangeBounds<K>>(&self, range: B) -> Result<Entries> {
        let mut out = Vec::new();
        self.scan(&range, true, |k, v| out.push((k.to_vec(), v.to_vec())))?;
        Ok(out)
    }

    /// Number of keys in `range`, as this transaction sees it.
    pub fn count_range<K: AsRef<[u8]>, B: RangeBounds<K>>(&self, range: B) -> Result<u64> {
        let mut n = 0;
        self.scan(&range, false, |_, _| n += 1)?;
        Ok(n)
    }

    /// Calls `f` for each entry in `range`, leaf by leaf in key order.
    fn scan<K: AsRef<[u8]>, B: RangeBounds<K>>(
        &self,
        range: &B,
        values: bool,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<()> {
        self.live()?;
        let bounds = (
            range.start_bound().map(AsRef::as_ref),
            range.end_bound().map(AsRef::as_ref),
        );
        let mut st = match bounds.0 {
            Bound::Included(k) | Bound::Excluded(k) => self.map.route_locked(k)?,
            Bound::Unbounded => self
                .map
                .core
                .index
                .first()
                .ok_or(super::internal("inner nodes (no first leaf)"))?,
        };
        // Bounded by the number of leaves: each step moves to a greater bound.
        for _ in 0..=self.map.core.index.len() {
            for (k, v) in self.leaf_entries(&st, &bounds, values)? {
                f(&k, &v);
            }
            let Some(high) = st.high.clone() else {
                return Ok(());
            };
            if !range_reaches(&self.map.core.order, &bounds, &high) {
                return Ok(());
            }
            st = self.map.route_locked(&high)?;
            if st.low != high {
                return Err(super::internal(
                    "inner nodes (a leaf's high bound is no leaf's low)",
                ));
            }
        }
        Err(super::internal(
            "inner nodes (a walk longer than the index)",
        ))
    }

    /// The entries of `st`'s leaf within `bounds`, sorted.
    fn leaf_entries(
        &self,
        st: &LeafState,
        bounds: &(Bound<&[u8]>, Bound<&[u8]>),
        values: bool,
    ) -> Result<Entries> {
        let leaf = TxLeaf::new(self.tx, st.ptr)?;
        let order = &self.map.core.order;
        leaf_entries(
            &leaf,
            st.ptr.offset(),
            |k| order.in_range(bounds, k) && st.contains(order, k),
            values,
            Some(order),
        )
    }

    /// Destroys the map in this transaction: frees every leaf, every out-of-line entry and the
    /// header. Once the transaction commits every handle of the map refuses
    /// ([`Error::Destroyed`]); if it aborts, the map is as before. A `Db`'s map (the pool's
    /// root) cannot be destroyed.
    pub fn destroy(&mut self) -> Result<()> {
        self.live()?;
        let mut b = self.b.borrow_mut();
        let map = self.map;
        // Nested: any failure dooms the whole transaction, so that no leaf is freed by a
        // transaction that then commits with the map still open.
        self.tx.transaction(|tx| {
            // The header first: it is what fails for a `Db`'s map (the pool's root).
            let name = tx.load(map.core.header)?.comparator();
            tx.free(map.core.header)?;
            if name != 0 {
                super::ops::free_buffer(tx, pobj::PBytes::from_offset(name))?;
            }
            let states = map.core.index.states();
            for st in &states {
                Map::<R>::touch(&mut b, st);
            }
            for st in &states {
                let leaf = tx.load(st.ptr)?;
                for i in leaf.valid() {
                    if let Some(buf) = leaf.slots[i].buffer() {
                        super::ops::free_buffer(tx, buf)?;
                    }
                }
                super::unsafe_free_leaf(tx, st.ptr)?;
            }
            b.destroyed = true;
            Ok(())
        })
    }
}

/// Whether keys at or above `high` can still be in `bounds`.
fn range_reaches(
    order: &crate::order::KeyOrder,
    bounds: &(Bound<&[u8]>, Bound<&[u8]>),
    high: &[u8],
) -> bool {
    match bounds.1 {
        Bound::Unbounded => true,
        Bound::Included(e) => order.le(high, e),
        Bound::Excluded(e) => order.lt(high, e),
    }
}
