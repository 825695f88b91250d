//! Regression for fix 7 of commit 4da3236 ("failed stores refuse operations").
//!
//! Before: when a write failed after its point of no return (persistence failed once the
//! change was irreversible), the pool refused further transactions but the store did not: its
//! DRAM state (inner nodes, fingerprints, count) could be out of step with the leaves, and
//! lock-free reads and scans went on answering from it.
//!
//! Now such a failure marks the store failed, and every operation — lookups, scans, counts,
//! puts, removes, batches — returns `Poisoned` until the store is reopened.
//! `regression_10_7_late_commit_failure.rs` pins `get` and `put` after a late put failure; this
//! test covers every operation, after a late failure of each kind of write (a put, a remove, a
//! batch), and that reopening the medium gives a consistent store again.

use pobj_kv::{Db, Error, WriteBatch};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

/// A store with 50 keys (two leaves).
fn store() -> (Db, std::sync::Arc<pobj::crash::SimMedium>) {
    let (db, sim) = Db::create_simulated(4 << 20).expect("create");
    for i in 0..50 {
        db.put(key(i), b"v").expect("put");
    }
    (db, sim)
}

fn poisoned<T: std::fmt::Debug>(what: &str, r: &pobj_kv::Result<T>) {
    assert!(
        matches!(r, Err(Error::Pool(pobj::Error::Poisoned))),
        "{what} on a failed store: {r:?}"
    );
}

/// Every operation of the store refuses.
fn refuses_everything(db: &Db) {
    poisoned("get", &db.get(key(1)));
    poisoned("get of an absent key", &db.get(b"absent"));
    poisoned("exists", &db.exists(key(2)));
    poisoned("get_with", &db.get_with(key(3), <[u8]>::len));
    poisoned("put", &db.put(b"new", b"v"));
    poisoned("overwrite", &db.put(key(4), b"w"));
    poisoned("remove", &db.remove(key(5)));
    let mut b = WriteBatch::new();
    b.put(b"batch", b"v").remove(key(6));
    poisoned("write", &db.write(&b));
    poisoned("iter", &db.iter().next().expect("an item"));
    poisoned(
        "range",
        &db.range(key(10)..key(20)).next().expect("an item"),
    );
    poisoned("get_all", &db.get_all(|_, _| true));
    poisoned("get_above", &db.get_above(key(7), |_, _| true));
    poisoned("get_between", &db.get_between(key(1), key(9), |_, _| true));
    poisoned("count_above", &db.count_above(key(7)));
    poisoned("count_below", &db.count_below(key(7)));
    poisoned("count_between", &db.count_between(key(1), key(9)));
}

/// Reopened (after a process crash: every store kept), the store is consistent and works.
fn reopens(sim: std::sync::Arc<pobj::crash::SimMedium>) {
    let db = Db::open_medium(sim).expect("reopen");
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(db.get(key(1)).expect("get"), Some(b"v".to_vec()));
    db.put(b"after", b"reopen").expect("put after reopen");
}

#[test]
fn a_store_refuses_every_operation_after_a_late_put_failure() {
    let (db, sim) = store();
    // A put into a free slot: fence 1 is the commit word's.
    sim.fail_fence(Some(sim.fences() + 1));
    let r = db.put(b"late", b"v");
    assert!(
        matches!(r, Err(Error::Pool(pobj::Error::CommitInDoubt { .. }))),
        "{r:?}"
    );
    refuses_everything(&db);
    drop(db);
    reopens(sim);
}

#[test]
fn a_store_refuses_every_operation_after_a_late_remove_failure() {
    let (db, sim) = store();
    // A remove that leaves its leaf non-empty: one commit word, one fence.
    sim.fail_fence(Some(sim.fences()));
    let r = db.remove(key(0));
    assert!(
        matches!(r, Err(Error::Pool(pobj::Error::CommitInDoubt { .. }))),
        "{r:?}"
    );
    refuses_everything(&db);
    drop(db);
    reopens(sim);
}

#[test]
fn a_store_refuses_every_operation_after_a_late_batch_failure() {
    let mut b = WriteBatch::new();
    for i in 100..140 {
        b.put(key(i), b"batch");
    }
    b.remove(key(0));
    // How many fences the batch issues; its last one comes after its commit point.
    let (db, sim) = store();
    let f0 = sim.fences();
    db.write(&b).expect("batch");
    let n = sim.fences() - f0;
    drop(db);
    let (db, sim) = store();
    sim.fail_fence(Some(sim.fences() + n - 1));
    let r = db.write(&b);
    assert!(
        matches!(r, Err(Error::Pool(pobj::Error::CommitInDoubt { .. }))),
        "{r:?}"
    );
    refuses_everything(&db);
    drop(db);
    reopens(sim);
}
