//! Comparators and cursors against a model: random puts, removes, updates, seeks, walks both
//! ways, counts, ranges and reopens, in the bytewise order and in a user's (reversed) order;
//! and the comparator's name recorded, checked and adopted.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use pobj_kv::{Bytewise, Comparator, Db, Error, BINARY_COMPARATOR};
use proptest::prelude::*;

/// Reversed bytewise order.
struct Reverse;
impl Comparator for Reverse {
    fn name(&self) -> &str {
        "reverse"
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
}

/// Orders by length first, then bytes (a different shape of order: the empty key is least,
/// but long keys sort after every short one).
struct ByLength;
impl Comparator for ByLength {
    fn name(&self) -> &str {
        "by-length"
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(u16, usize, u8),
    Remove(u16),
    Update(u16, u8),
    Seek(u8, u16),
    Walk(bool),
    Counts(u16, u16),
    Between(u16, u16),
    Reopen,
}

fn key(k: u16) -> Vec<u8> {
    match k % 4 {
        0 => Vec::new(),
        1 => vec![(k >> 2) as u8],
        2 => format!("k{k:05}").into_bytes(),
        _ => format!("k{:05}-{}", k, "x".repeat(usize::from(k % 30))).into_bytes(),
    }
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u16..300;
    prop_oneof![
        8 => (k.clone(), prop_oneof![0usize..40, 100usize..400], any::<u8>()).prop_map(|(k, l, b)| Op::Put(k, l, b)),
        2 => k.clone().prop_map(Op::Remove),
        1 => (k.clone(), any::<u8>()).prop_map(|(k, b)| Op::Update(k, b)),
        3 => (0u8..7, k.clone()).prop_map(|(s, k)| Op::Seek(s, k)),
        1 => any::<bool>().prop_map(Op::Walk),
        1 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Counts(a, b)),
        1 => (k.clone(), k).prop_map(|(a, b)| Op::Between(a, b)),
        1 => Just(Op::Reopen),
    ]
}

/// The model: entries in the comparator's order.
fn sorted(m: &BTreeMap<Vec<u8>, Vec<u8>>, c: &dyn Comparator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| c.compare(&a.0, &b.0));
    v
}

fn run(ops: Vec<Op>, c: &Arc<dyn Comparator>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ordered.pool");
    let opts = Db::options().size(32 << 20).comparator(Arc::clone(c));
    let mut db = opts.create(&path).expect("create");
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Put(k, len, b) => {
                let v = vec![b; len];
                db.put(key(k), &v).expect("put");
                model.insert(key(k), v);
            }
            Op::Remove(k) => {
                prop_assert_eq!(
                    db.remove(key(k)).expect("remove"),
                    model.remove(&key(k)).is_some()
                );
            }
            Op::Update(k, b) => {
                let changed = db
                    .update(key(k), |old| {
                        let mut v = old.to_vec();
                        v.push(b);
                        v
                    })
                    .expect("update");
                let m = model.get_mut(&key(k));
                prop_assert_eq!(changed, m.is_some());
                if let Some(v) = m {
                    v.push(b);
                }
            }
            Op::Seek(how, k) => {
                let s = sorted(&model, c.as_ref());
                let kk = key(k);
                let cmp = |e: &(Vec<u8>, Vec<u8>)| c.compare(&e.0, &kk);
                let expected = match how {
                    0 => s.iter().find(|e| e.0 == kk),
                    1 => s.iter().rev().find(|e| cmp(e) == Ordering::Less),
                    2 => s.iter().rev().find(|e| cmp(e) != Ordering::Greater),
                    3 => s.iter().find(|e| cmp(e) == Ordering::Greater),
                    4 => s.iter().find(|e| cmp(e) != Ordering::Less),
                    5 => s.first(),
                    _ => s.last(),
                };
                let mut cur = db.cursor();
                let found = match how {
                    0 => cur.seek(&kk),
                    1 => cur.seek_lower(&kk),
                    2 => cur.seek_lower_eq(&kk),
                    3 => cur.seek_higher(&kk),
                    4 => cur.seek_higher_eq(&kk),
                    5 => cur.seek_to_first(),
                    _ => cur.seek_to_last(),
                }
                .expect("seek");
                prop_assert_eq!(found, expected.is_some());
                prop_assert_eq!(cur.key(), expected.map(|e| e.0.as_slice()));
                prop_assert_eq!(cur.value(), expected.map(|e| e.1.as_slice()));
                if let Some(pos) = expected.and_then(|e| s.iter().position(|x| x.0 == e.0)) {
                    prop_assert_eq!(cur.has_next().expect("has_next"), pos + 1 < s.len());
                    // `has_next` does not move; `next` and `prev` reach the neighbours.
                    prop_assert_eq!(cur.key(), Some(s[pos].0.as_slice()));
                    let mut fwd = db.cursor();
                    prop_assert!(fwd.seek(&s[pos].0).expect("seek"));
                    prop_assert_eq!(fwd.next().expect("next"), pos + 1 < s.len());
                    prop_assert_eq!(fwd.key(), s.get(pos + 1).map(|e| e.0.as_slice()));
                    prop_assert_eq!(cur.prev().expect("prev"), pos > 0);
                    prop_assert_eq!(cur.key(), pos.checked_sub(1).map(|p| s[p].0.as_slice()));
                }
            }
            Op::Walk(forward) => {
                let s = sorted(&model, c.as_ref());
                let mut cur = db.cursor();
                let mut got = Vec::new();
                let mut ok = if forward {
                    cur.seek_to_first()
                } else {
                    cur.seek_to_last()
                }
                .expect("seek");
                while ok {
                    got.push((
                        cur.key().expect("key").to_vec(),
                        cur.value().expect("value").to_vec(),
                    ));
                    ok = if forward { cur.next() } else { cur.prev() }.expect("move");
                }
                prop_assert_eq!(cur.key(), None);
                let mut want = s;
                if !forward {
                    want.reverse();
                }
                prop_assert_eq!(got, want);
                let mut all = Vec::new();
                db.get_all(|k, v| {
                    all.push((k.to_vec(), v.to_vec()));
                    true
                })
                .expect("get_all");
                prop_assert_eq!(all, sorted(&model, c.as_ref()));
            }
            Op::Counts(a, b) => {
                let (ka, kb) = (key(a), key(b));
                let n = |f: &dyn Fn(&Vec<u8>) -> bool| model.keys().filter(|k| f(k)).count() as u64;
                let o = |x: &[u8], y: &[u8]| c.compare(x, y);
                prop_assert_eq!(db.count_above(&ka).expect("c"), n(&|k| o(k, &ka).is_gt()));
                prop_assert_eq!(
                    db.count_equal_above(&ka).expect("c"),
                    n(&|k| o(k, &ka).is_ge())
                );
                prop_assert_eq!(db.count_below(&kb).expect("c"), n(&|k| o(k, &kb).is_lt()));
                prop_assert_eq!(
                    db.count_equal_below(&kb).expect("c"),
                    n(&|k| o(k, &kb).is_le())
                );
                prop_assert_eq!(
                    db.count_between(&ka, &kb).expect("c"),
                    n(&|k| o(k, &ka).is_gt() && o(k, &kb).is_lt())
                );
            }
            Op::Between(a, b) => {
                let (ka, kb) = (key(a), key(b));
                let mut got = Vec::new();
                db.get_between(&ka, &kb, |k, _| {
                    got.push(k.to_vec());
                    true
                })
                .expect("between");
                let want: Vec<Vec<u8>> = sorted(&model, c.as_ref())
                    .into_iter()
                    .map(|e| e.0)
                    .filter(|k| c.compare(k, &ka).is_gt() && c.compare(k, &kb).is_lt())
                    .collect();
                prop_assert_eq!(got, want);
            }
            Op::Reopen => {
                drop(db);
                db = Db::options()
                    .comparator(Arc::clone(c))
                    .open(&path)
                    .expect("reopen");
            }
        }
    }
    let report = db.check();
    prop_assert!(report.is_ok(), "{report}");
    prop_assert_eq!(db.count_all().expect("count"), model.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn reverse_order_matches_the_model(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, &(Arc::new(Reverse) as Arc<dyn Comparator>))?;
    }

    #[test]
    fn length_order_matches_the_model(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, &(Arc::new(ByLength) as Arc<dyn Comparator>))?;
    }

    #[test]
    fn bytewise_cursor_matches_the_model(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, &(Arc::new(Bytewise) as Arc<dyn Comparator>))?;
    }
}

#[test]
fn the_comparator_name_is_recorded_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("named.pool");
    let db = Db::options()
        .size(16 << 20)
        .comparator(Arc::new(Reverse))
        .create(&path)
        .expect("create");
    assert_eq!(db.comparator_name(), "reverse");
    for i in 0..200u32 {
        db.put(i.to_be_bytes(), b"v").expect("put");
    }
    drop(db);
    // Without the comparator, or with another, the open is refused with the recorded name.
    match Db::open(&path) {
        Err(Error::ComparatorMismatch { expected, found }) => {
            assert_eq!(expected, "reverse");
            assert_eq!(found, BINARY_COMPARATOR);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    match Db::options().comparator(Arc::new(ByLength)).open(&path) {
        Err(Error::ComparatorMismatch { expected, found }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("reverse", "by-length")
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let db = Db::options()
        .comparator(Arc::new(Reverse))
        .open(&path)
        .expect("open with the recorded comparator");
    let mut cur = db.cursor();
    assert!(cur.seek_to_first().expect("first"));
    assert_eq!(cur.key(), Some(199u32.to_be_bytes().as_slice()));
    assert!(db.check().is_ok());
}

#[test]
fn an_empty_store_without_a_name_adopts_the_first_comparator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("adopt.pool");
    drop(Db::create(&path, 16 << 20).expect("create"));
    // The bytewise default records nothing: any comparator may still be adopted.
    drop(Db::open(&path).expect("bytewise open"));
    let db = Db::options()
        .comparator(Arc::new(Reverse))
        .open(&path)
        .expect("adopt");
    db.put(b"a", b"1").expect("put");
    db.put(b"b", b"2").expect("put");
    drop(db);
    assert!(matches!(
        Db::open(&path),
        Err(Error::ComparatorMismatch { .. })
    ));

    // A bytewise store with entries cannot change its order.
    let path2 = dir.path().join("full.pool");
    let db = Db::create(&path2, 16 << 20).expect("create");
    db.put(b"a", b"1").expect("put");
    drop(db);
    match Db::options().comparator(Arc::new(Reverse)).open(&path2) {
        Err(Error::ComparatorMismatch { expected, found }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                (BINARY_COMPARATOR, "reverse")
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    // Naming the default explicitly is the same as naming none.
    let db = Db::options()
        .comparator(Arc::new(Bytewise))
        .open(&path2)
        .expect("bytewise by name");
    assert_eq!(db.get(b"a").expect("get"), Some(b"1".to_vec()));
}

#[test]
fn update_changes_only_present_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::create(dir.path().join("u.pool"), 16 << 20).expect("create");
    assert!(!db.update(b"missing", |_| unreachable!()).expect("update"));
    db.put(b"k", b"hello").expect("put");
    assert!(db
        .update(b"k", |v| {
            let mut v = v.to_vec();
            v[0] = b'j';
            v
        })
        .expect("update"));
    assert_eq!(db.get(b"k").expect("get"), Some(b"jello".to_vec()));
    // Into a full leaf (an overwrite in place) and to an out-of-line value.
    for i in 0..38u8 {
        db.put([b'x', i], b"v").expect("put");
    }
    assert!(db.update(b"k", |_| vec![7u8; 5000]).expect("update"));
    assert_eq!(db.get(b"k").expect("get"), Some(vec![7u8; 5000]));
    assert!(matches!(
        db.update(b"k", |_| vec![0u8; pobj_kv::MAX_VALUE_LEN + 1]),
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(db.check().is_ok());
}

/// The header of a store's pool file: (offset of `KvRoot`, the file's bytes).
fn header_of(path: &std::path::Path) -> (usize, Vec<u8>) {
    let img = std::fs::read(path).expect("read");
    let root = u64::from_le_bytes(img[104..112].try_into().expect("8 bytes")) as usize;
    (root, img)
}

fn word(img: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(img[at..at + 8].try_into().expect("8 bytes"))
}

fn patch(path: &std::path::Path, at: usize, v: u64) {
    let mut img = std::fs::read(path).expect("read");
    img[at..at + 8].copy_from_slice(&v.to_le_bytes());
    std::fs::write(path, img).expect("write");
}

#[test]
fn header_version_follows_the_comparator_and_damage_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ordered = dir.path().join("ordered.pool");
    let db = Db::options()
        .size(8 << 20)
        .comparator(Arc::new(Reverse))
        .create(&ordered)
        .expect("create");
    db.put(b"k", b"v").expect("put");
    drop(db);
    let (root, img) = header_of(&ordered);
    // Version 3 with a recorded name: a build that knows no comparators refuses the store.
    assert_eq!(word(&img, root + 8), 3);
    let name = word(&img, root + 32);
    assert_ne!(name, 0);
    let open = |p: &std::path::Path| Db::options().comparator(Arc::new(Reverse)).open(p);

    patch(&ordered, root + 8, 2);
    assert!(
        matches!(open(&ordered), Err(Error::Corrupted { what, .. }) if what.contains("disagree")),
        "a version 2 header with a name"
    );
    patch(&ordered, root + 8, 3);
    patch(&ordered, root + 32, 0);
    assert!(
        matches!(open(&ordered), Err(Error::Corrupted { what, .. }) if what.contains("disagree")),
        "a version 3 header without a name"
    );
    // A name pointer to something that is no byte buffer (the header itself).
    patch(&ordered, root + 32, root as u64);
    assert!(open(&ordered).is_err(), "a name pointer to the header");
    patch(&ordered, root + 32, name);
    assert_eq!(
        open(&ordered).expect("restored").get(b"k").expect("get"),
        Some(b"v".to_vec())
    );

    let plain = dir.path().join("plain.pool");
    drop(Db::create(&plain, 8 << 20).expect("create"));
    let (root, img) = header_of(&plain);
    assert_eq!((word(&img, root + 8), word(&img, root + 32)), (2, 0));
    patch(&plain, root + 8, 4);
    assert!(matches!(
        Db::open(&plain),
        Err(Error::UnsupportedVersion {
            found: 4,
            supported: 3,
            ..
        })
    ));
}

#[test]
fn adoption_records_the_name_and_the_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("adopt.pool");
    drop(Db::create(&path, 8 << 20).expect("create"));
    drop(
        Db::options()
            .comparator(Arc::new(ByLength))
            .open(&path)
            .expect("adopt"),
    );
    let (root, img) = header_of(&path);
    assert_eq!(word(&img, root + 8), 3);
    assert_ne!(word(&img, root + 32), 0);
    let db = Db::options()
        .comparator(Arc::new(ByLength))
        .open(&path)
        .expect("reopen");
    assert_eq!(db.comparator_name(), "by-length");
}

#[derive(pobj::Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct TwoMaps {
    reversed: pobj_kv::MapHandle,
    plain: pobj_kv::MapHandle,
}

#[test]
fn maps_of_two_orders_in_one_pool_and_one_transaction() {
    use pobj_kv::{Map, MapHandle};
    let (pool, _sim) =
        pobj::Pool::<TwoMaps>::create_simulated("two-orders", 32 << 20).expect("pool");
    let pool = Arc::new(pool);
    pool.transaction(|tx| {
        let r = MapHandle::create_with(tx, &Reverse)?;
        let p = MapHandle::create(tx)?;
        let root = tx.root_mut()?;
        root.reversed = r;
        root.plain = p;
        Ok::<_, Error>(())
    })
    .expect("create");
    let root = pool.root().expect("root");
    assert!(matches!(
        Map::open(&pool, root.reversed),
        Err(Error::ComparatorMismatch { .. })
    ));
    let rev = Map::open_with(&pool, root.reversed, Arc::new(Reverse)).expect("open reversed");
    let plain = Map::open(&pool, root.plain).expect("open plain");
    // A map already open in the process refuses a second handle with another order.
    assert!(matches!(
        Map::open(&pool, root.reversed),
        Err(Error::ComparatorMismatch { .. })
    ));
    pool.transaction(|tx| {
        for i in 0..120u32 {
            rev.tx(tx)?.put(i.to_be_bytes(), b"r")?;
            plain.tx(tx)?.put(i.to_be_bytes(), b"p")?;
        }
        // Reads inside the transaction follow each map's order.
        let all = rev.tx(tx)?.range::<&[u8], _>(..)?;
        assert_eq!(
            all.first().map(|e| e.0.clone()),
            Some(119u32.to_be_bytes().to_vec())
        );
        assert_eq!(all.len(), 120);
        let some = rev.tx(tx)?.range(10u32.to_be_bytes()..5u32.to_be_bytes())?;
        assert_eq!(some.len(), 5, "keys 10 down to 6 in the reversed order");
        Ok::<_, Error>(())
    })
    .expect("one transaction over both");
    let keys =
        |m: &Map<TwoMaps>| -> Vec<Vec<u8>> { m.iter().map(|e| e.expect("entry").0).collect() };
    let r = keys(&rev);
    let mut p = keys(&plain);
    p.reverse();
    assert_eq!(r, p);
    assert_eq!(rev.cursor().seek_to_first().map(|_| ()).ok(), Some(()));
    assert!(rev.check().is_ok() && plain.check().is_ok());
}
