//! Regression for fix 5 of commit 4da3236 ("commits failing after their point of no return
//! poison instead of rolling back").
//!
//! Before: when persistence failed after a commit had made its changes irreversible (the log
//! retired, or the commit word stored), the transaction was aborted like any failed one: its
//! logged ranges were rolled back in memory from a log the medium no longer held, its
//! allocations were released to the allocator although the committed state linked them, and the
//! pool went on accepting transactions. Memory then disagreed with what recovery would find, and
//! a later allocation could be handed a block that a committed object still used.
//!
//! Now a failure past that point rolls back nothing and releases nothing: the changes stand in
//! memory, the pool is poisoned and refuses further transactions, and recovery decides at the
//! next open (`CommitInDoubt` since 04f7a6d). The test makes each fence of a transaction (an
//! allocation linked from the root, a logged root update, a free) fail in turn and checks, for
//! a failure in doubt, that memory shows the whole new state, that the new object still
//! resolves, that the pool refuses writes, and that reopening the medium gives the same state;
//! and for an earlier failure that the transaction was rolled back.

use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
    new: PPtr<[u64; 4]>,
    old: PPtr<[u64; 4]>,
}

fn fresh() -> (Pool<Root>, std::sync::Arc<pobj::crash::SimMedium>) {
    let (pool, sim) = Pool::<Root>::create_simulated("r11", 2 << 20).expect("create");
    pool.transaction(|tx| {
        let old = tx.alloc([1u64; 4])?;
        let r = tx.root_mut()?;
        r.x = 1;
        r.old = old;
        Ok::<_, Error>(())
    })
    .expect("setup");
    (pool, sim)
}

/// The transaction under test: allocate and link a new object, update the root, free the old.
fn change(pool: &Pool<Root>) -> Result<PPtr<[u64; 4]>, Error> {
    pool.transaction(|tx| {
        let n = tx.alloc([9u64; 4])?;
        let old = tx.root().old;
        tx.free(old)?;
        let r = tx.root_mut()?;
        r.x = 2;
        r.new = n;
        r.old = PPtr::null();
        Ok::<_, Error>(n)
    })
}

#[test]
fn a_fence_failing_after_the_commit_point_leaves_the_changes_standing_and_poisons_the_pool() {
    let (pool, sim) = fresh();
    let f0 = sim.fences();
    change(&pool).expect("commit");
    let fences = sim.fences() - f0;
    drop(pool);
    assert!(fences >= 2, "{fences} fences");

    let (mut in_doubt, mut rolled_back) = (0, 0);
    for at in 0..fences {
        let (pool, sim) = fresh();
        let before = pool.root().expect("root");
        sim.fail_fence(Some(sim.fences() + at));
        let r = change(&pool);
        assert!(r.is_err(), "fence {at}: the failed fence is reported");
        assert!(
            pool.is_poisoned(),
            "fence {at}: a failed fence poisons the pool"
        );
        let seen = pool.root().expect("root");
        if matches!(r, Err(Error::CommitInDoubt { .. })) {
            in_doubt += 1;
            // Nothing rolled back: the whole new state in memory, the new object allocated.
            assert_eq!(seen.x, 2, "fence {at}: rolled back after the commit point");
            assert!(seen.old.is_null(), "fence {at}");
            assert!(!seen.new.is_null(), "fence {at}");
            assert_eq!(
                pool.get(seen.new)
                    .expect("the new object is still allocated"),
                [9u64; 4],
                "fence {at}"
            );
        } else {
            rolled_back += 1;
            assert_eq!(
                seen.x, 1,
                "fence {at}: a failure before the commit point rolls back"
            );
            assert_eq!(seen.old, before.old, "fence {at}");
            assert!(seen.new.is_null(), "fence {at}");
        }
        // The pool refuses writes until reopened.
        assert!(
            matches!(
                pool.transaction(|tx| {
                    tx.root_mut()?.x = 3;
                    Ok::<_, Error>(())
                }),
                Err(Error::Poisoned)
            ),
            "fence {at}: a poisoned pool took a transaction"
        );
        drop(pool);
        // Reopened after a process crash (every store kept), the medium holds what memory
        // showed; after a power failure (only fenced lines), the old or the new state, whole.
        let (persisted, _) =
            Pool::<Root>::open_image(&sim.persisted_image(), "r11").expect("power failure");
        let p = persisted.root().expect("root");
        assert!(
            (p.x == 1 && p.new.is_null()) || (p.x == 2 && p.old.is_null()),
            "fence {at}: torn state after a power failure: {p:?}"
        );
        assert!(persisted.check().is_ok(), "fence {at}");
        drop(persisted);
        let again = Pool::<Root>::open_medium(sim, "r11").expect("process crash");
        let a = again.root().expect("root");
        assert_eq!(
            (a.x, a.new, a.old),
            (seen.x, seen.new, seen.old),
            "fence {at}"
        );
        if !a.new.is_null() {
            assert_eq!(again.get(a.new).expect("new object"), [9u64; 4]);
        }
        let report = again.check();
        assert!(report.is_ok(), "fence {at}: {:?}", report.problems);
    }
    assert!(in_doubt > 0, "no fence after the commit point");
    assert!(rolled_back > 0, "no fence before the commit point");
}
