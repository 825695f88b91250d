//! Regression for fix 1 of commit 4da3236 ("scans never go backwards").
//!
//! Before: a scan routed its lower bound through the inner nodes and used whatever state came
//! back. While a split or an unlink republishes a leaf, the skip list briefly shows the
//! predecessor's state for keys of that leaf (it unlinks the old entry before linking the new
//! one). The scan then found nothing above its bound in the predecessor and continued at the
//! predecessor's upper bound — which is *below* its position — so it returned keys of the
//! current leaf a second time, out of order.
//!
//! Now a state that does not hold the lower bound is never used. The test runs scans against a
//! writer that keeps splitting and unlinking leaves, and checks that every scan returns keys in
//! strictly increasing order (the iterator's documented guarantee), and that keys no one touches
//! are all there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pobj_kv::Db;

/// Keys the writer never touches, spread over the key space (one per churned block).
fn stable(i: u32) -> Vec<u8> {
    format!("k{i:03}-000").into_bytes()
}

/// Keys the writer inserts (splitting leaves) and removes again (emptying and unlinking them).
fn churned(i: u32, j: u32) -> Vec<u8> {
    format!("k{i:03}-{j:03}").into_bytes()
}

const BLOCKS: u32 = 8;
const PER_BLOCK: u32 = 120;

#[test]
fn a_scan_racing_splits_and_unlinks_returns_keys_in_strictly_increasing_order() {
    let (db, _sim) = Db::create_simulated(16 << 20).expect("create");
    for i in 0..BLOCKS {
        db.put(stable(i), b"s").expect("put");
    }
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Fill each block (its leaf splits several times), then empty it again (the
                // leaves holding only its keys are unlinked).
                for i in 0..BLOCKS {
                    for j in 1..=PER_BLOCK {
                        db.put(churned(i, j), b"c").expect("put");
                    }
                }
                for i in 0..BLOCKS {
                    for j in 1..=PER_BLOCK {
                        assert!(db.remove(churned(i, j)).expect("remove"));
                    }
                }
                rounds += 1;
            }
            rounds
        })
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut scans = 0u64;
    let mut failure = None;
    while Instant::now() < deadline && failure.is_none() {
        let mut last: Option<Vec<u8>> = None;
        let mut stable_seen = 0;
        for e in db.iter() {
            let (k, _) = e.expect("scan");
            if let Some(l) = &last {
                if k <= *l {
                    failure = Some(format!(
                        "scan {scans}: {:?} after {:?}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(l)
                    ));
                    break;
                }
            }
            if k.ends_with(b"-000") {
                stable_seen += 1;
            }
            last = Some(k);
        }
        if failure.is_none() && stable_seen != BLOCKS {
            failure = Some(format!(
                "scan {scans}: {stable_seen} of {BLOCKS} untouched keys"
            ));
        }
        scans += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer");
    assert!(failure.is_none(), "the scan went backwards: {failure:?}");
    assert!(scans > 10 && rounds > 0, "{scans} scans, {rounds} rounds");
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
}
