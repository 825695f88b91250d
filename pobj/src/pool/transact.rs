//! The transaction runner: a lane, the pool's lock, the closure, then commit or rollback; every
//! path (errors, panics, failed fences) releases the lane before caller code runs again.

use super::inside::{in_tx, ActiveGuard};
use super::Pool;
use crate::error::{Error, Result};
use crate::tx::pool_core::PoolCore;
use crate::tx::state::TxEnd;
use crate::tx::Tx;
use crate::types::ptr::PPtr;
use crate::Persistent;

/// How a transaction ended, decided with the lane still held and without calling the caller's
/// code (its error conversion or drops come after the lane is released).
enum End<T, E> {
    /// Committed; the closure's value.
    Done(T),
    /// Aborted or failed with pobj's error; the closure's value or error, dropped after the
    /// lane is released.
    Failed(Error, Leftovers<T, E>),
    /// The closure's own error; the transaction was rolled back.
    Refused(E),
    /// The closure panicked; the transaction was rolled back.
    Panicked(Box<dyn std::any::Any + Send>),
}

/// What the closure returned, when pobj's error is reported instead.
enum Leftovers<T, E> {
    None,
    Value(
        #[expect(
            dead_code,
            reason = "held only to be dropped after the lane is released"
        )]
        Box<T>,
    ),
    Error(
        #[expect(
            dead_code,
            reason = "held only to be dropped after the lane is released"
        )]
        Box<E>,
    ),
}

/// A transaction holding its lane. Dropped without `finish` (something unwound through the
/// commit or the rollback), it rolls back what it can, poisons the pool (the lane's log is in
/// an unknown state) and releases the lane all the same; recovery at the next open decides.
struct LaneHold<'a, R: Persistent> {
    sh: &'a PoolCore,
    tx: Option<Tx<'a, R>>,
}

impl<R: Persistent> LaneHold<'_, R> {
    fn finish(mut self) {
        if let Some(tx) = self.tx.take() {
            self.sh.lanes().release(tx.into_slot());
        }
    }
}

impl<R: Persistent> Drop for LaneHold<'_, R> {
    fn drop(&mut self) {
        if let Some(mut tx) = self.tx.take() {
            // Something unwound through the commit or the rollback (a bug: fence hooks' panics
            // are turned into failed fences). Before the commit point, undo what is in memory
            // so that no reader sees half a transaction; after it, the changes stand.
            if !tx.past_commit_point() {
                let _ = tx.abort();
            }
            self.sh.poison();
            self.sh.lanes().release(tx.into_slot());
        }
    }
}

impl<R: Persistent> Pool<R> {
    /// Runs `f` as a transaction: all of its changes become durable together when this returns
    /// `Ok`, or none of them if `f` returns `Err` or panics (the panic then resumes).
    ///
    /// Safe transactions are serialized by the pool's lock. Nest with [`Tx::transaction`]; a
    /// call to `Pool::transaction` on the same pool inside `f` returns
    /// [`Error::NestedTransaction`].
    pub fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        if in_tx(self.sh.id()) {
            return Err(Error::NestedTransaction.into());
        }
        self.run(f, false)
    }

    /// Runs `f` as a transaction concurrently with other shared transactions and readers, in a
    /// lane of its own.
    ///
    /// # Safety
    /// While `f` runs, no other thread may read or write any object (or byte range) that `f`
    /// modifies — except readers using [`Pool::read_words`] / [`Pool::read_bytes_racy`] while
    /// `f` modifies only through pobj's atomic stores (`write`, `update_at*`, `commit_word*`,
    /// not `get_mut`) — nor free or modify an object that `f` reads. Structures that lock their
    /// own nodes meet this. Allocation and free are safe to run concurrently: the allocator
    /// synchronizes itself.
    ///
    /// On a simulated medium (`create_simulated`, `open_medium`), in addition, `f` writes only
    /// through those value-taking methods, never through a `&mut` from `get_mut`, `root_mut` or
    /// `bytes_mut`: the medium reads the whole working image at every fence of any thread
    /// (docs/format.md §12.7–12.8).
    pub unsafe fn transaction_shared<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        if in_tx(self.sh.id()) {
            return Err(Error::NestedTransaction.into());
        }
        self.run(f, true)
    }

    /// Holds the pool's read lock until dropped, for several shared transactions, and for the
    /// locks a structure takes before them: a structure whose writers lock their nodes before
    /// they write takes this first, so that no safe transaction — which may hold the nodes'
    /// locks itself, as a KV map's operations inside a user's transaction do — can run
    /// between the two (the lock order is: the pool's, then the structure's). While held, the
    /// thread counts as inside the pool: a safe transaction or a locked read on the pool in
    /// this thread is refused ([`Error::NestedTransaction`]) instead of deadlocking.
    pub fn shared_section(&self) -> Result<SharedSection<'_, R>> {
        if in_tx(self.sh.id()) {
            return Err(Error::NestedTransaction);
        }
        let guard = self
            .sh
            .lock()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(SharedSection {
            pool: self,
            _active: ActiveGuard::new(self.sh.id()),
            running: std::cell::Cell::new(false),
            _guard: guard,
        })
    }

    /// A transaction under the pool's lock (the read lock if `shared`, else the write lock).
    fn run<T, E, F>(&self, f: F, shared: bool) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        // The lane and the lock are released, and the thread no longer counts as inside the
        // pool, before any code of the caller's runs again: `E::from` and the drops of the
        // closure's values (which may panic, or use the pool) come after this block.
        let (end, hook_panic) = if shared {
            let _g = self
                .sh
                .lock()
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.run_in_lane(f, false)
        } else {
            let _g = self
                .sh
                .lock()
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.run_in_lane(f, true)
        };
        Self::conclude(end, hook_panic)
    }

    /// The caller's result of a transaction that ended, once the pool's lock is released.
    fn conclude<T, E: From<Error>>(
        end: End<T, E>,
        hook_panic: Option<Box<dyn std::any::Any + Send>>,
    ) -> Result<T, E> {
        // The closure's own panic is the one resumed; a state's panic beside it is dropped
        // quietly first (a payload whose `Drop` panics must not run during that unwinding).
        let hook_panic = match (&end, hook_panic) {
            (End::Panicked(_), Some(p)) => {
                drop_quietly(p);
                None
            }
            (_, h) => h,
        };
        let r = match end {
            End::Done(v) => Ok(v),
            End::Failed(e, leftovers) => {
                drop(leftovers);
                Err(E::from(e))
            }
            End::Refused(e) => Err(e),
            End::Panicked(p) => std::panic::resume_unwind(p),
        };
        if let Some(p) = hook_panic {
            drop(r);
            std::panic::resume_unwind(p);
        }
        r
    }

    /// Runs `f` in a lane and commits or aborts; the lane is released when this returns, and
    /// also if anything in it unwinds (a fence hook of the simulator, say).
    fn run_in_lane<T, E, F>(
        &self,
        f: F,
        exclusive: bool,
    ) -> (End<T, E>, Option<Box<dyn std::any::Any + Send>>)
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
    {
        let sh = &*self.sh;
        if sh.persister().poisoned() {
            return (End::Failed(Error::Poisoned, Leftovers::None), None);
        }
        // This thread counts as inside the pool until the transaction has ended, commit and
        // rollback included (also the rollback of `LaneHold::drop`, which is why the guard is
        // declared first and so dropped last): a call back into the pool from a fence hook is
        // refused (`NestedTransaction`) rather than deadlocking on the lock this transaction
        // holds.
        let guard = ActiveGuard::new(sh.id());
        let slot = sh.lanes().acquire();
        let tx = match Tx::<R>::begin(sh, slot, exclusive) {
            Ok(t) => t,
            Err((e, slot)) => {
                sh.lanes().release(slot);
                return (End::Failed(e, Leftovers::None), None);
            }
        };
        let mut held = LaneHold { sh, tx: Some(tx) };
        let Some(tx) = held.tx.as_mut() else {
            return (End::Failed(Error::TxAborted, Leftovers::None), None);
        };
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(tx)));
        let end = match out {
            Ok(Ok(v)) if !tx.wants_abort() => match tx.commit() {
                Ok(()) => {
                    sh.count_commit();
                    End::Done(v)
                }
                Err(e) if tx.past_commit_point() => {
                    // The commit point was passed (the commit word or the retire is stored):
                    // the changes stand in memory and nothing may roll them back; only their
                    // durability is unknown. The pool refuses writes until it is reopened.
                    let _ = tx.abort();
                    sh.poison();
                    sh.count_commit();
                    End::Failed(
                        Error::CommitInDoubt {
                            source: Box::new(e),
                        },
                        Leftovers::Value(Box::new(v)),
                    )
                }
                Err(e) => {
                    if tx.abort().is_err() {
                        sh.poison();
                    }
                    sh.count_abort();
                    End::Failed(e, Leftovers::Value(Box::new(v)))
                }
            },
            Ok(Ok(v)) => {
                let r = tx.abort();
                if r.is_err() {
                    sh.poison();
                }
                sh.count_abort();
                End::Failed(
                    r.err().unwrap_or(Error::TxAborted),
                    Leftovers::Value(Box::new(v)),
                )
            }
            Ok(Err(e)) => {
                sh.count_abort();
                match tx.abort() {
                    Ok(()) => End::Refused(e),
                    Err(ae) => {
                        sh.poison();
                        End::Failed(ae, Leftovers::Error(Box::new(e)))
                    }
                }
            }
            Err(panic) => {
                if tx.abort().is_err() {
                    sh.poison();
                }
                sh.count_abort();
                End::Panicked(panic)
            }
        };
        let states = tx.take_states();
        let how = match &end {
            End::Done(_) => TxEnd::Committed,
            End::Failed(Error::CommitInDoubt { .. }, _) => TxEnd::InDoubt,
            _ => TxEnd::RolledBack,
        };
        held.finish();
        // The structures' states learn the end with the lane released, the lock still held and
        // the thread still inside the pool (so a call back into it is refused).
        let hook_panic = states.run(how);
        drop(guard);
        (end, hook_panic)
    }
    /// Atomically allocates an object holding `value` and stores its pointer in the field of
    /// the object `owner` that `field` selects (like `pmemobj_alloc`): after a crash, either
    /// both happened or neither did. Returns the new pointer.
    pub fn alloc_into<P: Persistent, T: Persistent>(
        &self,
        owner: PPtr<P>,
        field: impl FnOnce(&mut P) -> &mut PPtr<T>,
        value: T,
    ) -> Result<PPtr<T>> {
        self.transaction(|tx| {
            let p = tx.alloc(value)?;
            tx.update_field(owner, field, p)?;
            Ok(p)
        })
    }

    /// Atomically frees the object that the field of `owner` selected by `field` points to,
    /// and sets that field to null (like `pmemobj_free`). Does nothing if it is null.
    pub fn free_from<P: Persistent, T: Persistent>(
        &self,
        owner: PPtr<P>,
        field: impl Fn(&mut P) -> &mut PPtr<T>,
    ) -> Result<()> {
        self.transaction(|tx| {
            let mut cur = *tx.get(owner)?;
            let p = *field(&mut cur);
            if p.is_null() {
                return Ok(());
            }
            tx.free(p)?;
            tx.update_field(owner, field, PPtr::null())
        })
    }
}

/// The pool's read lock held for shared transactions (from [`Pool::shared_section`]).
pub struct SharedSection<'p, R: Persistent> {
    pool: &'p Pool<R>,
    _active: ActiveGuard,
    /// Set while one of the section's transactions runs: a transaction of the section from
    /// inside another is refused (the section is `!Sync`, so this is per thread).
    running: std::cell::Cell<bool>,
    _guard: std::sync::RwLockReadGuard<'p, ()>,
}

impl<R: Persistent> std::fmt::Debug for SharedSection<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSection").finish_non_exhaustive()
    }
}

impl<R: Persistent> SharedSection<'_, R> {
    /// A shared transaction under the lock this section holds (as
    /// [`Pool::transaction_shared`], without taking the lock again).
    ///
    /// # Safety
    /// As [`Pool::transaction_shared`].
    pub unsafe fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        // Not inside another of this section's transactions (a `read` closure cannot be open
        // here: the section marks the thread inside the pool, so `read` refuses).
        if self.running.replace(true) {
            return Err(Error::NestedTransaction.into());
        }
        let (end, hook_panic) = self.pool.run_in_lane(f, false);
        self.running.set(false);
        Pool::<R>::conclude(end, hook_panic)
    }
}

impl<R: Persistent> Tx<'_, R> {
    /// Whether this transaction runs on `pool` (for structures that keep a pool handle and
    /// take a transaction: a transaction of another pool must not change them).
    pub fn is_on<P: Persistent>(&self, pool: &Pool<P>) -> bool {
        std::ptr::eq(self.core(), &raw const *pool.sh)
    }
}

/// Drops a panic payload; a panic of its `Drop` is caught, and that payload forgotten.
fn drop_quietly(p: Box<dyn std::any::Any + Send>) {
    if let Err(q) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(p))) {
        std::mem::forget(q);
    }
}
