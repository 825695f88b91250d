//! Regression (found by review of the soundness fixes): the caller's error conversion
//! (`E::from(pobj::Error)`) ran after the transaction's lane was released but with the pool's
//! lock still held, and no longer counted as inside the pool: a conversion that read the pool
//! (to add context to the error) deadlocked. The lock is now released first.

use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

static POOL: OnceLock<Arc<Pool<Root>>> = OnceLock::new();

/// An error that records the root at the time of the failure.
#[derive(Debug)]
struct WithContext {
    error: String,
    root: Option<u64>,
}

impl From<Error> for WithContext {
    fn from(e: Error) -> Self {
        let root = POOL.get().and_then(|p| p.root().ok()).map(|r| r.x);
        WithContext {
            error: e.to_string(),
            root,
        }
    }
}

#[test]
fn an_error_conversion_may_read_the_pool() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r14", 2 << 20).unwrap();
    let pool = Arc::new(pool);
    let _ = POOL.set(Arc::clone(&pool));
    let (done, rx) = mpsc::channel();
    let p = Arc::clone(&pool);
    std::thread::spawn(move || {
        p.transaction(|tx| {
            tx.root_mut()?.x = 3;
            Ok::<_, Error>(())
        })
        .unwrap();
        let r: Result<(), WithContext> = p.transaction(|tx| {
            tx.root_mut()?.x = 4;
            // A failed nested transaction: pobj reports `TxAborted` through the conversion.
            let _ = tx.transaction(|_| Err::<(), Error>(Error::TxAborted));
            Ok(())
        });
        let _ = done.send(r.err().map(|e| (e.error, e.root)));
    });
    let got = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the conversion hung");
    let (error, root) = got.expect("the transaction failed");
    assert!(error.contains("aborted"), "{error}");
    // The conversion ran after the rollback, outside the transaction: it saw the old root.
    assert_eq!(root, Some(3));
}
