//! Regression (found by review of the soundness fixes): `Pool::bytes_len_racy` resolved a
//! pointer without the pool's lock. Resolving a stale pointer reads the chunk word, then the
//! object header; between the two, a safe transaction in another thread can free the chunk,
//! reallocate it inside a larger buffer and write it through `bytes_mut` with plain stores, so
//! the header load raced a non-atomic write (undefined behaviour). It is now `bytes_len` and
//! takes the read lock, like `get`: it cannot run while a safe transaction is running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn bytes_len_waits_for_a_running_transaction() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r16", 2 << 20).expect("create");
    let pool = Arc::new(pool);
    let buf = pool
        .transaction(|tx| tx.alloc_bytes_zeroed(100))
        .expect("a buffer");
    let closure_done = Arc::new(AtomicBool::new(false));
    let (inside, inside_rx) = mpsc::channel();
    let writer = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&closure_done));
        std::thread::spawn(move || {
            pool.transaction(|tx| {
                let _ = inside.send(());
                tx.bytes_mut(buf)?.fill(7);
                // Long enough that a call that does not wait returns well before this ends.
                std::thread::sleep(Duration::from_millis(300));
                done.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            })
        })
    };
    inside_rx.recv().expect("the transaction started");
    let len = pool.bytes_len(buf).expect("resolves");
    assert!(
        closure_done.load(Ordering::SeqCst),
        "bytes_len returned while a safe transaction was running"
    );
    assert_eq!(len, 100);
    writer.join().expect("writer").expect("committed");
    // Inside a transaction on this pool it is refused, like `get`.
    let r = pool.transaction(|_| Ok::<_, Error>(pool.bytes_len(buf)));
    assert!(matches!(r, Ok(Err(Error::NestedTransaction))), "{r:?}");
}
