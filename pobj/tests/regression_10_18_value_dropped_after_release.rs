//! Regression (found by review of the soundness fixes): when a commit failed, the closure's
//! `Ok` value was dropped while the transaction still held its lane and the pool's lock, and
//! the thread still counted as inside the pool. A value whose `Drop` used the pool got
//! `NestedTransaction` (and one whose `Drop` panicked went through the unwinding fallback,
//! poisoning the pool after a recoverable failure). It is now dropped after the lane and the
//! lock are released, as on every other path.

use std::sync::{Arc, Mutex};

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

/// Records, when dropped, what reading the pool's root answered.
struct Probe<'a>(&'a Pool<Root>, Arc<Mutex<Option<Result<Root, Error>>>>);
impl Drop for Probe<'_> {
    fn drop(&mut self) {
        let r = self.0.root();
        *self
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
    }
}

#[test]
fn the_closures_value_is_dropped_after_the_lane_is_released() {
    let (pool, sim) = Pool::<Root>::create_simulated("r18", 2 << 20).expect("create");
    let seen = Arc::new(Mutex::new(None));
    let r = pool.transaction(|tx| {
        tx.root_mut()?.x = 1;
        // The commit's first fence fails (as a failing msync would).
        sim.fail_fence(Some(sim.fences()));
        Ok::<_, Error>(Probe(&pool, Arc::clone(&seen)))
    });
    assert!(matches!(r, Err(Error::Io { .. })), "{:?}", r.as_ref().err());
    drop(r);
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    assert!(
        matches!(seen, Some(Ok(Root { x: 0 }))),
        "the value's drop saw {seen:?}"
    );
}
