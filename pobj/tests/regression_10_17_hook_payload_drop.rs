//! Regression (found by review of the soundness fixes): two ways a fence hook could still break
//! a commit. (1) The medium caught a hook's panic but then dropped its payload inside the fence;
//! a payload whose `Drop` panics unwound through the commit all the same. (2) The transaction
//! runner's fallback for such an unwinding rolled back after the thread had stopped counting as
//! inside the pool (its guard was dropped first), so a hook calling the pool during that
//! rollback waited forever for the lock its own thread held. The payload is now dropped
//! quietly, and the guard outlives the fallback.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use pobj::{Error, Persistent, Pool};

mod common;

use common::{within_a_minute, Bomb};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn a_hook_payload_that_panics_on_drop_is_a_failed_fence() {
    within_a_minute("a commit whose fence hook panicked with a bomb", || {
        let (pool, sim) = Pool::<Root>::create_simulated("r17", 2 << 20).expect("create");
        let pool = Arc::new(pool);
        let armed = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU32::new(0));
        let (p2, a2, c2) = (Arc::clone(&pool), Arc::clone(&armed), Arc::clone(&calls));
        sim.set_hook(Some(Box::new(move |_| {
            if !a2.load(SeqCst) {
                return;
            }
            if c2.fetch_add(1, SeqCst) == 0 {
                std::panic::panic_any(Bomb);
            }
            // Later fences (the rollback's): calling the pool must be refused, not block.
            assert!(matches!(p2.root(), Err(Error::NestedTransaction)));
        })));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.transaction(|tx| {
                tx.root_mut()?.x = 1;
                armed.store(true, SeqCst);
                Ok::<_, Error>(())
            })
        }));
        assert!(matches!(r, Ok(Err(Error::Io { .. }))), "{r:?}");
        sim.set_hook(None);
        assert!(pool.is_poisoned());
        assert_eq!(pool.root().expect("root").x, 0, "rolled back");
    });
}
