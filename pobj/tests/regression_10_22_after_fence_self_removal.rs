//! Regression (found by the second review of the soundness fixes): an after-fence callback that
//! removes itself left the fence holding the last reference to it, dropped outside the fence's
//! `catch_unwind`, so a capture whose `Drop` panics unwound through the commit (the promise of
//! `10_13` and `10_17`: a callback's panic is a failed fence, never an unwinding). Now dropped
//! quietly; `set_hook` and `set_after_fence` also drop the old value without the medium's lock.
use std::sync::{Arc, Weak};

mod common;

use common::Bomb;
use pobj::crash::SimMedium;
use pobj::{Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn an_after_fence_callback_that_removes_itself_does_not_unwind_through_a_commit() {
    let (pool, sim) = Pool::<Root>::create_simulated("r22", 2 << 20).expect("create");
    let weak: Weak<SimMedium> = Arc::downgrade(&sim);
    let bomb = Bomb;
    sim.set_after_fence(Some(Arc::new(move || {
        let _b = &bomb;
        if let Some(s) = weak.upgrade() {
            s.set_after_fence(None); // the fence now holds the last clone
        }
    })));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.transaction(|tx| tx.update_at(pool.root_ptr(), 0, 7u64))
    }));
    assert!(
        r.is_ok(),
        "a callback capture's drop unwound out of Pool::transaction"
    );
}
