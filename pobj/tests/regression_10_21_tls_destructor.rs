//! Regression (found by review of the soundness fixes): the pool's per-thread record of the
//! pools a thread is inside was read with `LocalKey::with`, which panics once the thread's
//! locals are destroyed, so a pool call from another thread-local's destructor panicked inside
//! the library. Such a call now gets a typed error (`NestedTransaction`: the thread cannot be
//! tracked any more) or, while the record is still alive, the normal answer.

use std::cell::RefCell;
use std::sync::Arc;

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

/// What the destructor's calls answered.
type Seen = Arc<std::sync::Mutex<Vec<String>>>;

/// Calls the pool when the thread's locals are destroyed.
struct CallsOnExit(Option<(Arc<Pool<Root>>, Seen)>);
impl Drop for CallsOnExit {
    fn drop(&mut self) {
        if let Some((pool, seen)) = self.0.take() {
            let r = pool.root().map(|r| r.x);
            let t = pool.transaction(|tx| {
                tx.root_mut()?.x = 9;
                Ok::<_, Error>(())
            });
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{r:?} {t:?}"));
        }
    }
}

thread_local! {
    static ON_EXIT: RefCell<CallsOnExit> = const { RefCell::new(CallsOnExit(None)) };
}

#[test]
fn a_pool_call_from_a_thread_local_destructor_is_answered() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r21", 2 << 20).expect("create");
    let pool = Arc::new(pool);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (p2, s2) = (Arc::clone(&pool), Arc::clone(&seen));
    let t = std::thread::spawn(move || {
        // Registered first, so destroyed after the pool's own thread-local (which the
        // transaction below registers): the destructor's calls find it gone.
        ON_EXIT.with(|c| c.borrow_mut().0 = Some((Arc::clone(&p2), s2)));
        p2.transaction(|tx| {
            tx.root_mut()?.x = 1;
            Ok::<_, Error>(())
        })
        .expect("a transaction");
    });
    assert!(t.join().is_ok(), "the thread panicked in a destructor");
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let ok = [
        "Ok(1) Ok(())",
        "Err(NestedTransaction) Err(NestedTransaction)",
    ];
    assert!(ok.contains(&seen[0].as_str()), "{seen:?}");
}
