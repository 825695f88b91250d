//! Single writes: a put into a free slot, an overwrite in place, a split of a full leaf, a
//! remove and the unlink of an emptied leaf, each one shared transaction under the leaf's lock.

use std::sync::Arc;

use pobj::{PPtr, Persistent, SharedSection};

use super::batch::BatchState;
use super::ops::{self, first_free, SplitPlan, Writes};
use super::{
    backoff, check_sizes, in_doubt, index_inconsistent, internal, slot_offset, Map, MAX_REROUTES,
};
use crate::error::{Error, Result};
use crate::find::Hit;
use crate::inner::LeafState;
use crate::leaf::Leaf;
use crate::optimistic;
use crate::reentry::Entered;
use crate::slot::fingerprint;
use crate::sync::{AtomicBool, Ordering};

/// What an update makes of the old value (`None`: called twice, a bug).
type Update<'a> = &'a mut dyn FnMut(&[u8]) -> Option<Vec<u8>>;

/// Ends a leaf write even if the operation fails or panics. Ended by a panic (something
/// unwound between changing the leaf and publishing its DRAM state), it marks the store failed
/// first: the DRAM state may not match the leaf.
pub(super) struct WriteGuard<'a> {
    pub(super) st: &'a LeafState,
    pub(super) failed: &'a AtomicBool,
    /// The thread was already unwinding when the write began (a store write from a destructor
    /// during an unrelated panic): only a panic that starts during the write counts.
    pub(super) was_panicking: bool,
}
impl<'a> WriteGuard<'a> {
    fn new(failed: &'a AtomicBool, st: &'a LeafState) -> Self {
        st.version.write_begin();
        WriteGuard {
            st,
            failed,
            was_panicking: std::thread::panicking(),
        }
    }
}
impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.was_panicking {
            self.failed.store(true, Ordering::Release);
        }
        self.st.version.write_end();
    }
}

impl<R: Persistent> Map<R> {
    /// Inserts or replaces `key`'s value. Atomic and durable when it returns.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_sizes(key, Some(value))?;
        self.write_value(key, None, value).map(|_| ())
    }

    /// Replaces `key`'s value by `f(old value)`, the read and the write under the leaf's lock:
    /// no other write to the key comes between them. `false` (and `f` not called) if the key is
    /// absent. Atomic and durable when it returns: a crash leaves the old value or the new one
    /// (the entry is rewritten into a free slot, or in place in a logged transaction).
    ///
    /// `f` runs under the leaf's lock, inside the pool's shared section: a call from `f` into
    /// this map or a transaction of its pool fails (`NestedTransaction`); a panic in `f`
    /// propagates with nothing written.
    pub fn update(&self, key: impl AsRef<[u8]>, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let mut f = Some(f);
        self.write_value(key, Some(&mut |old: &[u8]| f.take().map(|f| f(old))), &[])
    }

    /// Writes `key`'s value: `value`, or with `update`, what `update` makes of the old value
    /// (read under the leaf's lock; absent key: nothing is written, `false`).
    fn write_value(
        &self,
        key: &[u8],
        mut update: Option<Update<'_>>,
        value: &[u8],
    ) -> Result<bool> {
        let fp = fingerprint(key);
        let _in = Entered::new(self.core.id)?;
        // The pool's shared section first, then the map's locks (the lock order: a user's
        // transaction, which holds the pool's write lock, may hold leaves mid-write).
        let section = self.pool.shared_section()?;
        let _w = self
            .core
            .writers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.check_failed()?;
        for attempt in 0..MAX_REROUTES {
            let Some(st) = self.route_or_back_off(key, attempt) else {
                continue;
            };
            let leaf_lock = st.lock();
            if st.is_dead() || !st.contains(&self.core.order, key) {
                drop(leaf_lock);
                backoff(attempt);
                continue;
            }
            let (head, hit, new) = match update.as_mut() {
                None => {
                    let (head, hit) = self.find_locked(&st, key, fp)?;
                    (head, hit, None)
                }
                Some(f) => {
                    let (head, found) = self.find_locked_value(&st, key, fp)?;
                    let Some((hit, old)) = found else {
                        return Ok(false);
                    };
                    let new = f(&old).ok_or(internal("update called twice"))?;
                    check_sizes(key, Some(&new))?;
                    (head, Some(hit), Some(new))
                }
            };
            let value = new.as_deref().unwrap_or(value);
            let Some(slot_i) = first_free(head.bitmap) else {
                if let Some(h) = hit {
                    // An overwrite in a full leaf: replace the slot in place, logged.
                    return self
                        .overwrite_in_place(&section, &st, h, key, value)
                        .map(|()| true);
                }
                self.split_locked(&section, &st)?;
                continue;
            };
            let ptr = st.ptr;
            let wg = WriteGuard::new(&self.core.failed, &st);
            #[expect(
                unsafe_code,
                reason = "shared transactions: the store does its own locking"
            )]
            // SAFETY: this transaction modifies only leaf `ptr`, whose writers are excluded by
            // its lock, through atomic stores (`update_at_unlogged`, `commit_word_at`), and a
            // buffer it allocates; the old buffer it frees is reachable only from this leaf.
            // Readers use the racy-read primitives and validate with the leaf's version.
            let r = unsafe {
                section.transaction(|tx| {
                    ops::put(
                        tx,
                        Writes::Single,
                        ptr,
                        head.bitmap,
                        slot_i,
                        hit,
                        key,
                        value,
                    )
                })
            };
            if r.is_ok() || in_doubt(&r) {
                st.set_fp(slot_i, fp);
                if hit.is_none() {
                    self.core.count.fetch_add(1, Ordering::AcqRel);
                }
            }
            if r.is_err() {
                self.after_failed_write();
            }
            drop(wg);
            return r.map(|()| true);
        }
        Err(index_inconsistent())
    }

    /// Replaces the entry in slot `h` of a full leaf (its lock held) in one logged transaction.
    pub(super) fn overwrite_in_place(
        &self,
        section: &SharedSection<'_, R>,
        st: &Arc<LeafState>,
        h: Hit,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let wg = WriteGuard::new(&self.core.failed, st);
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only slot `h.slot` of this leaf (lock held; a logged atomic store),
        // allocates a buffer and frees the old one, reachable only from this leaf.
        let r = unsafe {
            section.transaction(|tx| {
                let s = ops::new_slot(tx, key, value)?;
                tx.update_at(st.ptr, slot_offset(h.slot), s)?;
                if let Some(b) = h.buffer {
                    ops::free_buffer(tx, b)?;
                }
                Ok::<_, Error>(())
            })
        };
        // Nothing in DRAM changes with an overwrite in place (same key, same fingerprint), so a
        // late failure needs no publication either.
        if r.is_err() {
            self.after_failed_write();
        }
        drop(wg);
        r
    }

    /// Splits the full leaf `st` (its lock held): a new leaf takes the upper half of the
    /// entries; the two new states replace `st`, which dies.
    pub(super) fn split_locked(
        &self,
        section: &SharedSection<'_, R>,
        st: &Arc<LeafState>,
    ) -> Result<()> {
        let plan = ops::split_plan(
            &optimistic::LeafReader::new(&self.pool, st.ptr)?,
            st,
            &self.core.order,
        )?;
        let wg = WriteGuard::new(&self.core.failed, st);
        let mut new_leaf = None;
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only leaf `st.ptr` (lock held; atomic stores via `update_at`) and a
        // leaf it allocates, which no one can reach before the index publishes it.
        let r = unsafe {
            section.transaction(|tx| {
                new_leaf = Some(ops::split(tx, st.ptr, &plan)?);
                Ok::<_, Error>(())
            })
        };
        if r.is_ok() || in_doubt(&r) {
            if let Some(n) = new_leaf {
                self.publish_split(st, n, &plan, None);
            }
        }
        if r.is_err() {
            // Before the leaf's version is even again (see `try_get`).
            self.after_failed_write();
        }
        drop(wg);
        r
    }

    /// Replaces `st` by the two halves of its split. Inside a batch, the new states are
    /// marked mid-write before readers can find them.
    pub(super) fn publish_split(
        &self,
        st: &Arc<LeafState>,
        n: PPtr<Leaf>,
        plan: &SplitPlan,
        batch: Option<&mut BatchState>,
    ) {
        let right = LeafState::new(
            n,
            false,
            plan.bound.clone(),
            st.high.clone(),
            plan.right_fps,
        );
        let left = LeafState::new(
            st.ptr,
            st.first,
            st.low.clone(),
            Some(plan.bound.clone()),
            plan.left_fps,
        );
        if let Some(b) = batch {
            Self::touch(b, &right);
            Self::touch(b, &left);
        }
        self.core.index.insert(right);
        self.core.index.insert(left);
        #[cfg(loom)]
        if crate::sync::mutated("split keeps the old state alive") {
            return;
        }
        st.dead.store(true, Ordering::Release);
    }

    /// Replaces the predecessor `pst` and the unlinked `st` by one state covering both ranges.
    /// The index entry of `st` is removed only if it still names `st`, and before the merged
    /// state is published (so that no split of the merged state can be removed by mistake).
    pub(super) fn publish_unlink(
        &self,
        pst: &Arc<LeafState>,
        st: &Arc<LeafState>,
        batch: Option<&mut BatchState>,
    ) {
        let merged = LeafState::new(
            pst.ptr,
            pst.first,
            pst.low.clone(),
            st.high.clone(),
            pst.fps(),
        );
        if let Some(b) = batch {
            Self::touch(b, &merged);
        }
        self.core.index.remove_if(st);
        self.core.index.insert(merged);
        pst.dead.store(true, Ordering::Release);
        st.dead.store(true, Ordering::Release);
    }

    /// Removes `key`; `false` if it was absent. Atomic and durable when it returns.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        let _in = Entered::new(self.core.id)?;
        // The pool's shared section first, then the map's locks (the lock order: a user's
        // transaction, which holds the pool's write lock, may hold leaves mid-write).
        let section = self.pool.shared_section()?;
        let _w = self
            .core
            .writers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.check_failed()?;
        for attempt in 0..MAX_REROUTES {
            let Some(st) = self.route_or_back_off(key, attempt) else {
                continue;
            };
            let leaf_lock = st.lock();
            if st.is_dead() || !st.contains(&self.core.order, key) {
                drop(leaf_lock);
                backoff(attempt);
                continue;
            }
            let (head, hit) = self.find_locked(&st, key, fp)?;
            let Some(hit) = hit else { return Ok(false) };
            let bitmap = head.bitmap & !(1 << hit.slot);
            if ops::empties(&st, bitmap) {
                // The leaf empties: unlink it from its predecessor (locked after it: locks are
                // always taken from a leaf to its predecessor, never the other way).
                // Either retry waits (another unlink or split is publishing): without the
                // backoff, a second unlink could spin here, never yielding to the first.
                let Some(pst) = self.core.index.prev(&st) else {
                    drop(leaf_lock);
                    backoff(attempt);
                    continue;
                };
                let pred_lock = pst.lock();
                if pst.is_dead() || pst.high.as_deref() != Some(st.low.as_slice()) {
                    drop((pred_lock, leaf_lock));
                    backoff(attempt);
                    continue;
                }
                // The predecessor must link to this leaf (an empty leaf left by damage could sit
                // between them unindexed); otherwise only the bit is cleared.
                if optimistic::leaf(&self.pool, pst.ptr)?.head.next != st.ptr {
                    return self.clear_bit(&section, &st, hit, bitmap);
                }
                let (wg, pwg) = (
                    WriteGuard::new(&self.core.failed, &st),
                    WriteGuard::new(&self.core.failed, &pst),
                );
                #[expect(
                    unsafe_code,
                    reason = "shared transactions: the store does its own locking"
                )]
                // SAFETY: modifies the predecessor's `next` (its lock held; atomic stores) and
                // frees this leaf (its lock held) and the entry's buffer.
                let r = unsafe {
                    section.transaction(|tx| ops::unlink(tx, hit, pst.ptr, st.ptr, head.next))
                };
                if r.is_ok() || in_doubt(&r) {
                    self.publish_unlink(&pst, &st, None);
                    self.core.count.fetch_sub(1, Ordering::AcqRel);
                }
                if r.is_err() {
                    self.after_failed_write();
                }
                drop((wg, pwg));
                return r.map(|()| true);
            }
            return self.clear_bit(&section, &st, hit, bitmap);
        }
        Err(index_inconsistent())
    }

    /// Removes an entry by clearing its bit with a commit word (the leaf's lock held).
    pub(super) fn clear_bit(
        &self,
        section: &SharedSection<'_, R>,
        st: &Arc<LeafState>,
        hit: Hit,
        bitmap: u64,
    ) -> Result<bool> {
        let wg = WriteGuard::new(&self.core.failed, st);
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only this leaf's bitmap (lock held; a commit word) and frees the
        // entry's buffer, reachable only from this leaf.
        let r = unsafe {
            section.transaction(|tx| ops::clear(tx, Writes::Single, st.ptr, hit, bitmap))
        };
        if r.is_ok() || in_doubt(&r) {
            self.core.count.fetch_sub(1, Ordering::AcqRel);
        }
        if r.is_err() {
            self.after_failed_write();
        }
        drop(wg);
        r.map(|()| true)
    }

    /// After a write that failed: if the pool is poisoned (a persistence failure after the
    /// point of no return), the DRAM state may not match the leaves; the store then refuses
    /// writes like the pool, and must be reopened.
    pub(super) fn after_failed_write(&self) {
        if self.pool.is_poisoned() {
            self.core.failed.store(true, Ordering::Release);
        }
    }

    /// The error of a store that refuses operations (see `after_failed_write`).
    pub(super) fn check_failed(&self) -> Result<()> {
        // A poisoned pool (a persistence failure, or a rollback that could not complete) may
        // hold leaves the DRAM state does not describe: refuse as well.
        if self.core.destroyed.load(Ordering::Acquire) {
            Err(Error::Destroyed)
        } else if self.core.failed.load(Ordering::Acquire) || self.pool.is_poisoned() {
            Err(Error::Pool(pobj::Error::Poisoned))
        } else {
            Ok(())
        }
    }
}
