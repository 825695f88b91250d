//! Regression (issue 12, review): `Pool::check` waited a bounded time for the grace period of
//! freed shared blocks and then reported them (free on the medium, not yet in the free lists)
//! as damage; a `ReadPin` held by the caller itself kept the grace period from ever ending.
//! Now `check` compares the medium with the state the quarantined blocks will leave.

use pobj::{Error, Persistent, Pool, ReadPin};

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn check_is_clean_while_this_thread_holds_a_pin() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r12", 4 << 20).expect("create");
    let (small, large) = pool
        .transaction(|tx| {
            Ok::<_, Error>((
                tx.alloc_bytes_zeroed_shared(100)?,
                tx.alloc_bytes_zeroed_shared(600_000)?,
            ))
        })
        .expect("alloc");
    let pin = ReadPin::new();
    pool.transaction(|tx| {
        // SAFETY: nothing leads to the buffers, and no other thread reads them.
        unsafe { tx.free_bytes_shared(small)? };
        // SAFETY: as above.
        unsafe { tx.free_bytes_shared(large)? };
        Ok::<_, Error>(())
    })
    .expect("free");
    let report = pool.check();
    assert!(report.is_ok(), "{report}");
    drop(pin);
}
