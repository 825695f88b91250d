//! Refuses a store operation begun inside another operation of the same store in the same
//! thread — from a fence hook or after-fence callback of the simulated medium, which run inside
//! the store's transactions — instead of waiting forever on a lock the outer operation holds.

use std::cell::RefCell;

use crate::error::{Error, Result};

#[cfg(not(loom))]
std::thread_local! {
    /// The stores this thread is inside (an operation that takes the store's locks).
    static INSIDE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

// loom's threads share the OS thread's locals: under loom the marker is one of loom's.
#[cfg(loom)]
loom::thread_local! {
    static INSIDE: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

/// Marks this thread as inside store `id` until dropped.
pub(crate) struct Entered(u64);

impl Entered {
    /// Enters store `id`, or `NestedTransaction` if this thread is inside it already (or its
    /// locals are being destroyed: a call from a thread-local's destructor, which cannot be
    /// guarded, is refused).
    pub(crate) fn new(id: u64) -> Result<Entered> {
        let refused = || Error::Pool(pobj::Error::NestedTransaction);
        INSIDE
            .try_with(|v| {
                let mut v = v.borrow_mut();
                if v.contains(&id) {
                    return Err(refused());
                }
                v.push(id);
                Ok(Entered(id))
            })
            .unwrap_or_else(|_| Err(refused()))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // `try_with`: nothing to undo if the thread's locals are already gone.
        let _ = INSIDE.try_with(|v| {
            let mut v = v.borrow_mut();
            if let Some(i) = v.iter().rposition(|&x| x == self.0) {
                v.swap_remove(i);
            }
        });
    }
}
