//! Regression for fix 2 of commit 4da3236 ("batch splits mark new states mid-write before
//! publishing").
//!
//! Before: a split inside a batch published the two new leaf states in the inner nodes first and
//! marked them as written by the batch (odd version) only afterwards. In between, a lock-free
//! reader could route to the new right half, find its version even, and return an entry that an
//! earlier operation of the *same, uncommitted* batch had put there (the split copies the slots
//! as they are). If the batch then failed, the reader had seen a value that never existed.
//!
//! Now the new states are mid-write before the index publishes them. The test runs batches that
//! put a new key, split its leaf, and then fail (out of space) — so none of them commits — while a
//! reader looks the key up without pause: it must never find it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pobj_kv::{Db, WriteBatch, MAX_VALUE_LEN};

/// The batch's first key: the greatest, so that the split moves it to the new right half.
const PHANTOM: &[u8] = b"zz-never-committed";

#[test]
fn a_reader_never_sees_an_entry_of_a_batch_that_split_a_leaf_and_then_failed() {
    let (db, _sim) = Db::create_simulated(4 << 20).expect("create");
    // One leaf with 38 of its 39 slots used: the phantom key fills it, the next put splits it.
    for i in 0..38 {
        db.put(format!("k{i:02}"), b"v").expect("put");
    }
    assert_eq!(db.stats().leaves, 1);
    let mut batch = WriteBatch::new();
    batch.put(PHANTOM, b"from a batch that fails");
    batch.put(b"k38", b"v");
    // A value larger than the pool: its allocation fails, and the whole batch with it.
    batch.put(b"k39", vec![0u8; MAX_VALUE_LEN]);

    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let reader = {
        let (db, stop, seen) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&seen));
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if db.get(PHANTOM).expect("get").is_some() {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                reads += 1;
            }
            reads
        })
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut batches = 0u64;
    while Instant::now() < deadline && seen.load(Ordering::Relaxed) == 0 {
        assert!(db.write(&batch).is_err(), "the batch must fail");
        batches += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader");
    assert_eq!(
        seen.load(Ordering::Relaxed),
        0,
        "a reader saw an entry of an uncommitted batch ({batches} batches, {reads} reads)"
    );
    assert!(
        batches > 10 && reads > 10,
        "{batches} batches, {reads} reads"
    );
    // Every failed batch left the store as it was.
    assert_eq!(db.get(PHANTOM).expect("get"), None);
    assert_eq!(db.stats().leaves, 1);
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.keys, 38);
}
