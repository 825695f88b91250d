//! The pools this thread is inside (a transaction, its commit or rollback, or a `read`
//! closure): a call back into one of them is refused (`NestedTransaction`) instead of waiting
//! on the lock the thread already holds.

use std::cell::RefCell;

thread_local! {
    /// Pools on which this thread is running a transaction.
    static ACTIVE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is inside pool `id` (a transaction, its commit or rollback, or a `read`
/// closure). A thread whose locals are being destroyed (a call from a thread-local's
/// destructor) counts as inside every pool: it is refused rather than left unguarded.
pub(super) fn in_tx(id: u64) -> bool {
    // Under `--cfg loom` (the KV store's models), loom's threads share one OS thread and so
    // this thread-local: the record would mix the model's threads, so it is not kept.
    if cfg!(loom) {
        return false;
    }
    ACTIVE
        .try_with(|a| a.borrow().contains(&id))
        .unwrap_or(true)
}

pub(super) struct ActiveGuard(u64);
impl ActiveGuard {
    pub(super) fn new(id: u64) -> Self {
        // Callers checked `in_tx` first, so the locals are alive.
        let _ = ACTIVE.try_with(|a| a.borrow_mut().push(id));
        ActiveGuard(id)
    }
}
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| {
            let mut a = a.borrow_mut();
            if let Some(i) = a.iter().rposition(|&x| x == self.0) {
                a.remove(i);
            }
        });
    }
}
