//! Regression for commit e5898a2 ("racy reads of freed leaves").
//!
//! Since e5898a2 an optimistic `get` reads its leaf through `Pool::racy_unchecked`, which checks
//! only that the bytes lie in the pool and are aligned, not that the leaf is still allocated:
//! the leaf pointer comes from the inner nodes, and a leaf that an unlink freed meanwhile — or
//! whose memory a later split or out-of-line value already reuses — reads as garbage that the
//! leaf's version and `dead` flag reject. What must never happen: such a read returning an
//! error to the caller, a value of another key, a value that was never written, or undefined
//! behaviour (the reads are atomic loads inside the mapping; the Miri subset covers the
//! primitive). Before e5898a2 every attempt resolved the leaf through the allocator
//! (`Pool::racy`), which refuses a freed block.
//!
//! The first test pins the primitive's contract: on a freed object `racy` refuses and
//! `racy_unchecked` reads, and both refuse null, misaligned and out-of-bounds pointers. The
//! second runs lookups against a writer that keeps splitting leaves, emptying them (each unlink
//! frees a leaf) and reusing the freed memory, and checks that every lookup answers `Ok` with
//! the key's own value or absence, and that keys no one touches are always found.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pobj::{Error as PoolError, PPtr, Persistent, Pool};
use pobj_kv::Db;

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn racy_unchecked_reads_a_freed_object_that_racy_refuses() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r11", 2 << 20).expect("create");
    let p: PPtr<[u64; 8]> = pool.transaction(|tx| tx.alloc([3u64; 8])).expect("alloc");
    pool.transaction(|tx| tx.free(p)).expect("free");
    let mut w = [0u64; 8];
    // SAFETY: no thread writes the pool.
    let checked = unsafe { pool.racy(p) };
    assert!(checked.is_err(), "racy resolves a freed block");
    // SAFETY: as above; the bytes of a freed block are read as they are.
    let r = unsafe { pool.racy_unchecked(p) }.expect("racy_unchecked on a freed block");
    r.read_words(0, &mut w).expect("read_words");
    // Only what lies in the pool, aligned, is read.
    for bad in [0, p.offset() + 4, pool.size() - 8, pool.size() + 64] {
        let q: PPtr<[u64; 8]> = PPtr::from_offset(bad);
        // SAFETY: no thread writes the pool (and nothing is read: the pointer is refused).
        let r = unsafe { pool.racy_unchecked(q) };
        assert!(r.is_err(), "offset {bad} accepted");
    }
    // SAFETY: as above.
    let null = unsafe { pool.racy_unchecked(PPtr::<u64>::null()) };
    assert!(matches!(null, Err(PoolError::InvalidPointer { .. })));
}

fn stable(i: u32) -> Vec<u8> {
    format!("s{i:02}").into_bytes()
}

fn churned(j: u32) -> Vec<u8> {
    format!("t{j:03}").into_bytes()
}

/// A key's value in round `round`: the key, then the round (a lookup can tell whose it is).
fn value(key: &[u8], round: u64, big: bool) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(format!("/{round}").as_bytes());
    if big {
        v.resize(300, b'.');
    }
    v
}

fn is_value_of(key: &[u8], v: &[u8]) -> bool {
    v.len() > key.len() && v.starts_with(key) && v[key.len()] == b'/'
}

#[test]
fn lookups_racing_unlinks_that_free_and_reuse_leaves_answer_correctly() {
    let (db, _sim) = Db::create_simulated(16 << 20).expect("create");
    for i in 0..20 {
        db.put(stable(i), value(&stable(i), 0, false)).expect("put");
    }
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                // Fill (splits allocate leaves, often where freed ones were), with inline and
                // out-of-line values alternately, then empty (every leaf after the stable keys'
                // is unlinked and freed).
                for j in 0..120 {
                    let k = churned(j);
                    db.put(&k, value(&k, round, (j + round as u32).is_multiple_of(2)))
                        .expect("put");
                }
                for j in 0..120 {
                    assert!(db.remove(churned(j)).expect("remove"));
                }
            }
            round
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for j in (r..120).step_by(2) {
                        let k = churned(j);
                        match db.get(&k) {
                            Ok(None) => {}
                            Ok(Some(v)) => assert!(
                                is_value_of(&k, &v),
                                "{k:?} read a value it never had: {v:?}"
                            ),
                            Err(e) => panic!("a lookup of {k:?} failed: {e}"),
                        }
                        n += 1;
                    }
                    let i = (n % 20) as u32;
                    assert_eq!(
                        db.get(stable(i)).expect("get"),
                        Some(value(&stable(i), 0, false)),
                        "an untouched key"
                    );
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer");
    let reads: Vec<u64> = readers
        .into_iter()
        .map(|h| h.join().expect("reader"))
        .collect();
    assert!(
        rounds > 2 && reads.iter().all(|&n| n > 100),
        "{rounds} rounds, {reads:?} reads"
    );
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.keys, 20);
}
