//! Regression (issue 15, review): a backward step of a cursor (`seek_lower`, `prev`,
//! `seek_to_last`) found the leaf before the one it had read, then read the leaf holding that
//! leaf's bound; if the leaf before split in between, the upper half was skipped and a walk
//! backwards missed keys. It now reads the leaf that ends at the bound it came from
//! (`Probe::Below`). Fails without the fix (a walk misses stable keys).
//!
//! Cursors and updates under concurrent writers, in the bytewise and in a reversed order: a
//! writer churns keys between stable ones (splits, unlinks) and appends to stable values with
//! `update`, while readers walk cursors both ways and seek below bounds. Every walk must be in
//! order, see every stable key exactly once, and every `seek_lower` must return a key below its
//! bound and not below the greatest stable key under it.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, Ordering as AtOrd};
use std::sync::Arc;

use pobj_kv::{Bytewise, Comparator, Db};

struct Reverse;
impl Comparator for Reverse {
    fn name(&self) -> &str {
        "reverse"
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
}

const KEYS: u32 = 2400;

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn stable(i: u32) -> bool {
    i.is_multiple_of(3)
}

fn run(c: &Arc<dyn Comparator>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(
        Db::options()
            .size(64 << 20)
            .comparator(Arc::clone(c))
            .create(dir.path().join("c.pool"))
            .expect("create"),
    );
    for i in (0..KEYS).filter(|&i| stable(i)) {
        db.put(key(i), b"s").expect("put");
    }
    // The stable keys in the map's order.
    let mut order: Vec<Vec<u8>> = (0..KEYS).filter(|&i| stable(i)).map(key).collect();
    order.sort_by(|a, b| c.compare(a, b));
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            for round in 0..5_000u32 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % u64::from(KEYS)) as u32;
                if stable(i) {
                    db.update(key(i), |v| {
                        let mut v = v.to_vec();
                        if v.len() > 40 {
                            v.truncate(1);
                        }
                        v.push(b'+');
                        v
                    })
                    .expect("update");
                } else if round % 5 < 3 {
                    db.put(key(i), vec![b'c'; (x >> 40) as usize % 200])
                        .expect("put");
                } else {
                    db.remove(key(i)).expect("remove");
                }
            }
            done.store(true, AtOrd::Release);
        })
    };

    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (db, done, c, order) = (
                Arc::clone(&db),
                Arc::clone(&done),
                Arc::clone(c),
                order.clone(),
            );
            std::thread::spawn(move || {
                let mut walks = 0u32;
                while !done.load(AtOrd::Acquire) || walks < 4 {
                    let forward = (walks + t).is_multiple_of(2);
                    let mut cur = db.cursor();
                    let mut ok = if forward {
                        cur.seek_to_first()
                    } else {
                        cur.seek_to_last()
                    }
                    .expect("seek");
                    let mut seen = Vec::new();
                    let mut last: Option<Vec<u8>> = None;
                    while ok {
                        let k = cur.key().expect("positioned").to_vec();
                        if let Some(l) = &last {
                            let want = if forward {
                                Ordering::Less
                            } else {
                                Ordering::Greater
                            };
                            assert_eq!(c.compare(l, &k), want, "a walk out of order");
                        }
                        if order.binary_search_by(|s| c.compare(s, &k)).is_ok() {
                            seen.push(k.clone());
                        }
                        last = Some(k);
                        ok = if forward { cur.next() } else { cur.prev() }.expect("move");
                    }
                    if !forward {
                        seen.reverse();
                    }
                    assert_eq!(seen, order, "a walk missed or repeated a stable key");
                    // seek_lower below a stable key: at least the stable key before it.
                    let j = (walks as usize * 7919) % order.len();
                    let mut cur = db.cursor();
                    let found = cur.seek_lower(&order[j]).expect("seek_lower");
                    assert_eq!(found, j > 0 || cur.key().is_some());
                    if let Some(k) = cur.key() {
                        assert_eq!(c.compare(k, &order[j]), Ordering::Less);
                        if j > 0 {
                            assert_ne!(c.compare(k, &order[j - 1]), Ordering::Less);
                        }
                    } else {
                        assert_eq!(j, 0, "nothing below a stable key that has one before it");
                    }
                    walks += 1;
                }
                walks
            })
        })
        .collect();
    writer.join().expect("writer");
    let walks: u32 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(walks >= 8);
    assert!(db.check().is_ok());
}

#[test]
fn cursors_under_writers_in_a_reversed_order() {
    run(&(Arc::new(Reverse) as Arc<dyn Comparator>));
}

#[test]
fn cursors_under_writers_in_the_bytewise_order() {
    run(&(Arc::new(Bytewise) as Arc<dyn Comparator>));
}
