//! Regression (found while fixing the soundness issue): callbacks of the simulated medium that
//! call back into the library hung. A fence hook ran with the medium's lock held, so a hook
//! calling the medium (`fences`, `persisted_image`) deadlocked; a hook calling the pool during
//! a commit deadlocked on the pool's lock, since the fencing thread no longer counted as inside
//! the pool once the closure had returned; and a hook calling the store during one of its puts
//! waited forever on the leaf lock the put held. Now the hook runs without the medium's lock,
//! the thread counts as inside the pool until commit and rollback end, and both the pool and the
//! store refuse such calls with `NestedTransaction`.

use std::sync::{Arc, Mutex};

use pobj::{Error, Persistent, Pool};
use pobj_kv::Db;
use pobj_tests::watchdog::within_a_minute;

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn a_fence_hook_may_call_the_medium_and_the_pool() {
    within_a_minute("a callback calling back into the library", || {
        let (pool, sim) = Pool::<Root>::create_simulated("r10", 2 << 20).unwrap();
        let pool = Arc::new(pool);
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (p2, s2, seen2) = (Arc::clone(&pool), Arc::clone(&sim), Arc::clone(&seen));
        sim.set_hook(Some(Box::new(move |cp| {
            let mut log = seen2.lock().unwrap();
            assert_eq!(s2.fences(), cp.index);
            assert_eq!(s2.persisted_image().len(), cp.persisted.len());
            assert!(s2.working_image().is_none());
            match p2.root() {
                Err(Error::NestedTransaction) => {}
                other => log.push(format!("root() from a hook: {other:?}")),
            }
            match p2.transaction(|_| Ok::<_, Error>(())) {
                Err(Error::NestedTransaction) => {}
                other => log.push(format!("transaction() from a hook: {other:?}")),
            }
            log.push("fence".into());
        })));
        pool.transaction(|tx| {
            tx.root_mut()?.x = 1;
            Ok::<_, Error>(())
        })
        .unwrap();
        sim.set_hook(None);
        let log = seen.lock().unwrap();
        assert!(log.iter().all(|l| l == "fence"), "{log:?}");
        assert!(log.len() >= 2, "the hook saw the commit's fences");
        assert_eq!(pool.root().unwrap().x, 1);
    });
}

#[test]
fn a_fence_hook_may_call_the_store() {
    within_a_minute("a callback calling back into the library", || {
        let (db, sim) = Db::create_simulated(4 << 20).unwrap();
        let db = Arc::new(db);
        db.put(b"a", b"1").unwrap();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (d2, seen2) = (Arc::clone(&db), Arc::clone(&seen));
        sim.set_hook(Some(Box::new(move |_| {
            let mut log = seen2.lock().unwrap();
            match d2.put(b"b", b"2") {
                Err(pobj_kv::Error::Pool(Error::NestedTransaction)) => {}
                other => log.push(format!("put() from a hook: {other:?}")),
            }
            match d2.get(b"a") {
                // Optimistic reads may succeed (the leaf being written is another's), or give
                // up on the leaf being written and refuse to take its lock.
                Ok(Some(v)) if v == b"1" => {}
                Err(pobj_kv::Error::Pool(Error::NestedTransaction)) => {}
                other => log.push(format!("get() from a hook: {other:?}")),
            }
            log.push("fence".into());
        })));
        db.put(b"c", b"3").unwrap();
        sim.set_hook(None);
        let log = seen.lock().unwrap();
        assert!(log.iter().all(|l| l == "fence"), "{log:?}");
        assert!(!log.is_empty());
        assert_eq!(db.get(b"b").unwrap(), None);
        assert_eq!(db.get(b"c").unwrap(), Some(b"3".to_vec()));
        assert!(db.check().is_ok());
    });
}
