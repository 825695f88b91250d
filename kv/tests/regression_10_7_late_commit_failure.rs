//! Regression (soundness issue, defect 7): when persistence failed after a put's commit point
//! (the bitmap word was stored, its fence failed), the store skipped updating its DRAM
//! fingerprints, and the next `get`'s first, optimistic attempt validated against them: the key
//! the leaf holds read as absent. pobj now reports such a commit as `CommitInDoubt`, the store
//! keeps its DRAM state coherent with the leaves, and every later operation refuses until the
//! store is reopened (when recovery decides whether the put survived).

use pobj_kv::{Db, Error};

#[test]
fn a_commit_that_fails_late_leaves_a_coherent_store() {
    let (db, sim) = Db::create_simulated(4 << 20).unwrap();
    db.put(b"before", b"1").unwrap();
    // A put into a free slot: fence 0 makes the slot durable, fence 1 the bitmap word that
    // commits it. Make the second fail, as a failed msync would.
    sim.fail_fence(Some(sim.fences() + 1));
    match db.put(b"late", b"2") {
        Err(Error::Pool(pobj::Error::CommitInDoubt { .. })) => {}
        other => panic!("expected CommitInDoubt, got {other:?}"),
    }
    // The key is in the leaf: a read must not say it is absent.
    assert!(
        !matches!(db.get(b"late"), Ok(None)),
        "a key the leaf holds read as absent"
    );
    assert!(matches!(
        db.get(b"before"),
        Err(Error::Pool(pobj::Error::Poisoned))
    ));
    assert!(matches!(
        db.put(b"x", b"y"),
        Err(Error::Pool(pobj::Error::Poisoned))
    ));
    // The inner nodes agree with the leaves.
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.keys, 2);
    drop(db);
    // Reopened, recovery decides. After a power failure (the persisted image) the bitmap word,
    // whose fence failed, did not reach the medium: the put is gone. After a process crash (the
    // working image, every store kept) it is there. Both are consistent stores.
    let after_power_failure =
        Db::open_medium(pobj::crash::SimMedium::from_image(&sim.persisted_image()).unwrap())
            .unwrap();
    assert_eq!(after_power_failure.get(b"late").unwrap(), None);
    assert_eq!(
        after_power_failure.get(b"before").unwrap(),
        Some(b"1".to_vec())
    );
    assert!(after_power_failure.check().is_ok());
    let after_process_crash = Db::open_medium(sim).unwrap();
    assert_eq!(
        after_process_crash.get(b"late").unwrap(),
        Some(b"2".to_vec())
    );
    assert!(after_process_crash.check().is_ok());
}
