//! Regression (found by review of the soundness fixes): a fence hook of the simulated medium
//! that panicked unwound through pobj's internals. Inside the allocator's reclaim of empty runs
//! it left a run listed in DRAM whose chunk word already said FREE, so a later committed object
//! landed in a chunk the pool considered free (lost at reopen); inside a commit it left the
//! transaction half applied in memory, readable. A hook's panic is now a failed fence: a typed
//! error, the transaction rolled back (or in doubt after its commit point), the pool poisoned.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pobj::crash::SimMedium;
use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

/// A pool with one empty run of the 80-byte class (made, then emptied).
fn with_an_empty_run() -> (Pool<Root>, Arc<SimMedium>) {
    let (pool, sim) = Pool::<Root>::create_simulated("r13", 4 << 20).unwrap();
    let p = pool.transaction(|tx| tx.alloc([1u64; 8])).unwrap();
    pool.transaction(|tx| tx.free(p)).unwrap();
    (pool, sim)
}

#[test]
fn a_hook_panic_while_empty_runs_are_reclaimed_loses_nothing() {
    // How many one-chunk allocations until the empty run must be reclaimed?
    let (pool, _sim) = with_an_empty_run();
    let runs = pool.stats().heap.runs;
    let mut k = None;
    for i in 0..100 {
        let r = pool.transaction(|tx| tx.alloc_bytes_zeroed(100_000).map(|_| ()));
        if pool.stats().heap.runs < runs {
            k = Some(i);
            break;
        }
        if r.is_err() {
            break;
        }
    }
    let k = k.expect("the empty run is reclaimed when chunks run out");
    drop(pool);

    let (pool, sim) = with_an_empty_run();
    for _ in 0..k {
        pool.transaction(|tx| tx.alloc_bytes_zeroed(100_000).map(|_| ()))
            .unwrap();
    }
    let armed = Arc::new(AtomicBool::new(true));
    let a2 = Arc::clone(&armed);
    sim.set_hook(Some(Box::new(move |_| {
        assert!(
            !a2.swap(false, Ordering::SeqCst),
            "the hook panics at the reclaim's fence"
        );
    })));
    let r = catch_unwind(AssertUnwindSafe(|| {
        pool.transaction(|tx| tx.alloc_bytes_zeroed(100_000).map(|_| ()))
    }));
    sim.set_hook(None);
    let r = r.unwrap_or_else(|_| panic!("the hook's panic unwound out of the transaction"));
    match r {
        Err(Error::Io { source, .. }) => assert!(
            source.to_string().contains("panicked"),
            "the error names the hook's panic: {source}"
        ),
        other => panic!("expected the failed fence's error, got {other:?}"),
    }
    assert!(pool.is_poisoned(), "a failed fence poisons the pool");
    drop(pool);
    // Whatever the interrupted reclaim left, the reopened pool is consistent, and a committed
    // object there stays resolvable after the next reopen.
    let (pool, sim) = Pool::<Root>::open_medium_image(&sim);
    assert!(pool.check().is_ok(), "{:?}", pool.check().problems);
    let p: PPtr<[u64; 8]> = pool
        .transaction(|tx| {
            let p = tx.alloc([42u64; 8])?;
            tx.root_mut()?.x = p.offset();
            Ok::<_, Error>(p)
        })
        .expect("committed");
    assert_eq!(pool.get(p).unwrap(), [42u64; 8]);
    assert!(pool.check().is_ok());
    drop(pool);
    let (again, _) = Pool::<Root>::open_image(&sim.persisted_image(), "r13").unwrap();
    let x = again.root().unwrap().x;
    assert_eq!(
        again.get(PPtr::<[u64; 8]>::from_offset(x)).unwrap(),
        [42u64; 8]
    );
}

/// Opens the persisted image of `sim` on a fresh medium (what a power failure leaves).
trait OpenImage: Sized {
    fn open_medium_image(sim: &Arc<SimMedium>) -> (Self, Arc<SimMedium>);
}

impl OpenImage for Pool<Root> {
    fn open_medium_image(sim: &Arc<SimMedium>) -> (Self, Arc<SimMedium>) {
        Pool::<Root>::open_image(&sim.persisted_image(), "r13").unwrap()
    }
}

#[test]
fn a_hook_panic_at_any_fence_of_a_commit_leaves_no_half_transaction() {
    // The fences of one transaction that changes the root.
    let fresh = || {
        let (pool, sim) = Pool::<Root>::create_simulated("r13", 2 << 20).unwrap();
        pool.transaction(|tx| {
            tx.root_mut()?.x = 1;
            Ok::<_, Error>(())
        })
        .unwrap();
        (pool, sim)
    };
    let (pool, sim) = fresh();
    let f0 = sim.fences();
    pool.transaction(|tx| {
        tx.root_mut()?.x = 2;
        Ok::<_, Error>(())
    })
    .unwrap();
    let n = sim.fences() - f0;
    drop(pool);
    assert!(n >= 2);
    for at in 0..n {
        let (pool, sim) = fresh();
        let target = sim.fences() + at;
        sim.set_hook(Some(Box::new(move |cp| {
            assert!(cp.index != target, "the hook panics at fence {target}");
        })));
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.transaction(|tx| {
                tx.root_mut()?.x = 2;
                Ok::<_, Error>(())
            })
        }));
        sim.set_hook(None);
        let r = r.unwrap_or_else(|_| panic!("fence {at}: the hook's panic unwound"));
        assert!(r.is_err(), "fence {at}: the failed fence is reported");
        assert!(pool.is_poisoned());
        // What this process reads is what the medium holds: reopening it after a process crash
        // (every store kept) gives the same value, and it is the old or the new one, whole.
        let seen = pool.root().unwrap().x;
        drop(pool);
        let reopened = Pool::<Root>::open_medium(Arc::clone(&sim), "r13").unwrap();
        assert_eq!(reopened.root().unwrap().x, seen, "fence {at}");
        assert!(seen == 1 || seen == 2);
        if matches!(r, Err(Error::CommitInDoubt { .. })) {
            assert_eq!(seen, 2, "fence {at}: a commit in doubt stands in memory");
        } else {
            assert_eq!(
                seen, 1,
                "fence {at}: a failed commit is rolled back in memory"
            );
        }
        assert!(reopened.check().is_ok());
    }
}
