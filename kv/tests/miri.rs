//! The key-value store's part of the Miri subset (README: "Miri"): put, get, remove, split and
//! unlink on one thread, the rebuild at open, scans, a batch, and the optimistic read path
//! against a concurrent writer, all on the simulated medium. Under Miri they check the store's
//! racy reads and shared transactions for data races and aliasing violations.

use std::sync::Arc;

use pobj::crash::SimMedium;
use pobj_kv::{Db, WriteBatch};

fn key(i: usize) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

#[test]
fn put_get_remove_split_and_reopen() {
    let (db, sim) = Db::create_simulated(4 << 20).expect("create");
    // 50 keys: the first leaf (39 slots) splits.
    for i in 0..50 {
        db.put(key(i), format!("v{i}")).expect("put");
    }
    // An out-of-line value and an overwrite.
    db.put(key(3), vec![7u8; 300]).expect("put large");
    assert!(db.stats().leaves >= 2);
    assert_eq!(db.get(key(3)).expect("get"), Some(vec![7u8; 300]));
    assert_eq!(db.get(key(49)).expect("get"), Some(b"v49".to_vec()));
    assert_eq!(db.get(b"absent").expect("get"), None);
    // Remove the upper half: the right leaf empties and is unlinked.
    for i in 20..50 {
        assert!(db.remove(key(i)).expect("remove"));
    }
    assert!(!db.remove(key(20)).expect("remove absent"));
    assert_eq!(db.count_all().expect("count"), 20);
    let keys: Vec<Vec<u8>> = db
        .range(key(5)..key(8))
        .map(|e| e.map(|(k, _)| k))
        .collect::<Result<_, _>>()
        .expect("scan");
    assert_eq!(keys, vec![key(5), key(6), key(7)]);
    let mut batch = WriteBatch::new();
    batch.put(key(100), b"b").remove(key(0));
    db.write(&batch).expect("batch");
    assert!(db.check().is_ok());
    drop(db);
    // Reopen: the rebuild walks the leaves and checks their order.
    let again = Db::open_medium(SimMedium::from_image(&sim.persisted_image()).expect("medium"))
        .expect("reopen");
    assert_eq!(again.count_all().expect("count"), 20);
    assert_eq!(again.get(key(3)).expect("get"), Some(vec![7u8; 300]));
    assert!(again.check().is_ok());
}

#[test]
fn optimistic_reads_race_a_writer() {
    let (db, _sim) = Db::create_simulated(4 << 20).expect("create");
    for i in 0..4 {
        db.put(key(i), b"old").expect("put");
    }
    let db = Arc::new(db);
    let writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for i in 0..4 {
                db.put(key(i), b"new").expect("put");
            }
            db.put(key(9), vec![1u8; 200]).expect("put");
        })
    };
    for i in 0..4 {
        let v = db.get(key(i)).expect("get").expect("present");
        assert!(v == b"old" || v == b"new", "{v:?}");
    }
    let n = db.iter().count();
    assert!(n == 4 || n == 5);
    writer.join().expect("writer");
    assert_eq!(db.get(key(9)).expect("get"), Some(vec![1u8; 200]));
}
