//! Regression (found by review of the soundness fixes): the allocator fenced while holding its
//! lock (setting up a new run, reclaiming empty runs), and a fence runs the simulated medium's
//! hook, so a hook calling `Pool::stats()` (or the store's `stats()`/`pool_info().stats()`),
//! which takes that lock, deadlocked. The allocator now never fences with its lock held.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use pobj::{Error, Persistent, Pool};
use pobj_kv::Db;
use pobj_tests::watchdog::within_a_minute;

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn a_hook_may_read_the_pools_statistics_while_a_run_is_made() {
    within_a_minute("a fence hook calling stats()", || {
        let (pool, sim) = Pool::<Root>::create_simulated("r12", 2 << 20).unwrap();
        let pool = Arc::new(pool);
        let (p2, calls) = (Arc::clone(&pool), Arc::new(AtomicU64::new(0)));
        let c2 = Arc::clone(&calls);
        sim.set_hook(Some(Box::new(move |_| {
            let _ = p2.stats();
            let _ = p2.info().stats();
            c2.fetch_add(1, Ordering::SeqCst);
        })));
        // An 80-byte block class with no run yet: the allocation sets one up and fences.
        pool.transaction(|tx| {
            tx.alloc([7u64; 8])?;
            Ok::<_, Error>(())
        })
        .unwrap();
        sim.set_hook(None);
        assert!(calls.load(Ordering::SeqCst) >= 3);
        assert!(pool.check().is_ok());
    });
}

#[test]
fn a_hook_may_read_the_stores_statistics_while_a_run_is_made() {
    within_a_minute("a fence hook calling stats()", || {
        let (db, sim) = Db::create_simulated(4 << 20).unwrap();
        let db = Arc::new(db);
        let (d2, armed) = (Arc::clone(&db), Arc::new(AtomicBool::new(true)));
        let a2 = Arc::clone(&armed);
        sim.set_hook(Some(Box::new(move |_| {
            if a2.load(Ordering::SeqCst) {
                let _ = d2.stats();
                let _ = d2.pool_info().stats();
            }
        })));
        // An out-of-line value of a size class with no run yet.
        db.put(b"k", vec![1u8; 3000]).unwrap();
        armed.store(false, Ordering::SeqCst);
        sim.set_hook(None);
        assert_eq!(db.get(b"k").unwrap(), Some(vec![1u8; 3000]));
        assert!(db.check().is_ok());
    });
}
