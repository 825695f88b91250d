//! Regression for fix 9 of commit 4da3236 ("overwrite in a full leaf in place").
//!
//! Before: a put into a leaf with no free slot always split the leaf first, also when the key was
//! already there. Overwriting any key of a full leaf therefore allocated a new leaf (5 KiB) and
//! halved the old one, although the number of entries did not change: a store whose leaves were
//! full grew by one leaf per overwrite.
//!
//! Now an overwrite in a full leaf replaces the slot in place, in one logged transaction. The
//! test fills one leaf, overwrites its keys (inline and out-of-line values, back and forth) and
//! checks that the store still has one leaf, the right values and counts, and that the old
//! out-of-line buffers are freed.

use pobj_kv::Db;

fn key(i: u32) -> Vec<u8> {
    format!("key{i:02}").into_bytes()
}

#[test]
fn overwriting_keys_of_a_full_leaf_does_not_split_it() {
    let (db, _sim) = Db::create_simulated(4 << 20).expect("create");
    // 39 entries: the first leaf's every slot.
    for i in 0..39 {
        db.put(key(i), b"old").expect("put");
    }
    let full = db.stats();
    assert_eq!(full.leaves, 1);
    assert_eq!(full.keys, 39);

    let big = vec![7u8; 1000];
    for round in 0..3 {
        for i in 0..39 {
            db.put(key(i), &big).expect("overwrite, out of line");
        }
        assert_eq!(
            db.stats().leaves,
            1,
            "round {round}: an overwrite split the leaf"
        );
        for i in 0..39 {
            db.put(key(i), format!("new{i}"))
                .expect("overwrite, inline");
        }
        assert_eq!(
            db.stats().leaves,
            1,
            "round {round}: an overwrite split the leaf"
        );
    }
    let end = db.stats();
    assert_eq!(end.keys, 39);
    assert_eq!(db.count_all().expect("count"), 39);
    // The out-of-line buffers were freed with the overwrites that replaced them.
    assert_eq!(end.bytes_used, full.bytes_used);
    for i in 0..39 {
        assert_eq!(
            db.get(key(i)).expect("get"),
            Some(format!("new{i}").into_bytes())
        );
    }
    let report = db.check();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.keys, report.leaves), (39, 1));
    // A new key still splits the full leaf.
    db.put(b"key99", b"x").expect("put");
    assert_eq!(db.stats().leaves, 2);
    assert!(db.check().is_ok());
}
