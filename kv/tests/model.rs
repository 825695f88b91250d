//! Property test: random puts, removes, batches, range reads and reopens against `BTreeMap`.

use std::collections::BTreeMap;
use std::ops::Bound;

use pobj_kv::{Db, WriteBatch};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(u16, usize, u8),
    Remove(u16),
    Get(u16),
    Range(u16, u16, bool, bool),
    Counts(u16, u16),
    Batch(Vec<(u16, Option<(usize, u8)>)>),
    Reopen,
}

fn key(k: u16) -> Vec<u8> {
    // Keys of different lengths sharing prefixes, including the empty key.
    match k % 5 {
        0 => Vec::new(),
        1 => vec![(k >> 3) as u8],
        2 => format!("k{k:05}").into_bytes(),
        3 => format!("k{:05}-{}", k, "x".repeat(usize::from(k % 40))).into_bytes(),
        _ => vec![0u8, (k >> 8) as u8, k as u8, 0],
    }
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u16..400;
    prop_oneof![
        6 => (k.clone(), prop_oneof![0usize..40, 0usize..130, 100usize..3000], any::<u8>()).prop_map(|(k, l, b)| Op::Put(k, l, b)),
        3 => k.clone().prop_map(Op::Remove),
        2 => k.clone().prop_map(Op::Get),
        1 => (k.clone(), k.clone(), any::<bool>(), any::<bool>()).prop_map(|(a, b, i, j)| Op::Range(a, b, i, j)),
        1 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Counts(a, b)),
        1 => proptest::collection::vec((k, proptest::option::of((0usize..200, any::<u8>()))), 0..20).prop_map(Op::Batch),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn matches_btreemap(ops in proptest::collection::vec(op(), 1..300)) {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() };
        let path = dir.path().join("model.pool");
        let mut db = Db::create(&path, 32 << 20).unwrap();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Put(k, l, b) => {
                    db.put(key(*k), vec![*b; *l]).unwrap();
                    model.insert(key(*k), vec![*b; *l]);
                }
                Op::Remove(k) => {
                    prop_assert_eq!(db.remove(key(*k)).unwrap(), model.remove(&key(*k)).is_some());
                }
                Op::Get(k) => {
                    prop_assert_eq!(db.get(key(*k)).unwrap(), model.get(&key(*k)).cloned());
                }
                Op::Range(a, b, ia, ib) => {
                    let (a, b) = (key(*a), key(*b));
                    let lo = if *ia { Bound::Included(a.clone()) } else { Bound::Excluded(a.clone()) };
                    let hi = if *ib { Bound::Included(b.clone()) } else { Bound::Excluded(b.clone()) };
                    let valid = a < b || (a == b && *ia && *ib);
                    if valid {
                        let got: Vec<_> = db.range::<Vec<u8>, _>((lo.clone(), hi.clone())).collect::<Result<_, _>>().unwrap();
                        let want: Vec<_> = model.range((lo, hi)).map(|(k, v)| (k.clone(), v.clone())).collect();
                        prop_assert_eq!(got, want);
                    }
                }
                Op::Counts(a, b) => {
                    let (a, b) = (key(*a), key(*b));
                    prop_assert_eq!(db.count_above(&a).unwrap(), model.range::<Vec<u8>, _>((Bound::Excluded(&a), Bound::Unbounded)).count() as u64);
                    prop_assert_eq!(db.count_equal_below(&a).unwrap(), model.range::<Vec<u8>, _>(..=&a).count() as u64);
                    let between = if a < b { model.range::<Vec<u8>, _>((Bound::Excluded(&a), Bound::Excluded(&b))).count() as u64 } else { 0 };
                    prop_assert_eq!(db.count_between(&a, &b).unwrap(), between);
                }
                Op::Batch(b) => {
                    let mut wb = WriteBatch::new();
                    for (k, v) in b {
                        if let Some((l, x)) = v {
                            wb.put(key(*k), vec![*x; *l]);
                            model.insert(key(*k), vec![*x; *l]);
                        } else {
                            wb.remove(key(*k));
                            model.remove(&key(*k));
                        }
                    }
                    db.write(&wb).unwrap();
                }
                Op::Reopen => {
                    drop(db);
                    db = Db::open(&path).unwrap();
                }
            }
            prop_assert_eq!(db.count_all().unwrap(), model.len() as u64);
        }
        let all: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&all, &model);
        let report = db.check();
        prop_assert!(report.is_ok(), "{:?}", report);
    }
}
