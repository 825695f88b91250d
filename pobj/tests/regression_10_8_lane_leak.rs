//! Regression (soundness issue, defect 8): a panic in the caller's `E::from(pobj::Error)`
//! unwound out of `Pool::run` before the transaction's lane was released; after 32 such panics
//! every transaction spun forever waiting for a lane. The lane is now released before any of
//! the caller's code (its error conversion, the drops of its values) runs.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

/// An error type whose conversion from pobj's error panics.
#[derive(Debug)]
struct Bomb;

impl From<Error> for Bomb {
    fn from(_: Error) -> Bomb {
        panic!("the caller's error conversion panics")
    }
}

#[test]
fn a_panicking_error_conversion_does_not_leak_the_lane() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r8", 2 << 20).unwrap();
    let pool = Arc::new(pool);
    // A watchdog turns a hang (every lane leaked: the next transaction waits forever) into a
    // failure.
    let (done, rx) = mpsc::channel();
    let p = Arc::clone(&pool);
    std::thread::spawn(move || {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        for _ in 0..2 * pobj::LANE_COUNT {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                p.transaction(|tx| {
                    // A failed nested transaction dooms this one: pobj then reports
                    // `TxAborted` through `Bomb::from`, which panics.
                    let _ = tx.transaction(|_| Err::<(), Bomb>(Bomb));
                    Ok::<(), Bomb>(())
                })
            }));
            assert!(r.is_err(), "the conversion's panic reaches the caller");
        }
        std::panic::set_hook(quiet);
        // Every lane is free again: a transaction runs.
        let r = p.transaction(|tx| {
            tx.root_mut()?.x = 1;
            Ok::<_, Error>(())
        });
        let _ = done.send(r.is_ok());
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(true));
    assert_eq!(pool.root().unwrap().x, 1);
    assert_eq!(pool.stats().tx_aborted, 2 * u64::from(pobj::LANE_COUNT));
}
