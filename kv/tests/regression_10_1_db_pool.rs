//! Regression (soundness issue, defect 1): `Db::pool()` handed safe code the store's pool. The
//! store's writers change leaves in shared transactions that its readers read without locks, so
//! a safe `db.pool().get(leaf)` formed a `&Leaf` over bytes a writer was storing, and a safe
//! `db.pool().transaction(|tx| tx.get_mut(leaf))` wrote through `&mut` while readers loaded the
//! same words: a data race from safe code. At first the store lent no pool at all; now that
//! maps live in users' pools, the pool is lent and the defence is pobj's: the leaves and
//! out-of-line entries are shared objects, into which no safe API lends a reference.

use pobj::{PBytes, Persistent, Pool};

#[test]
fn the_pool_lends_no_reference_into_the_stores_objects() {
    let (db, _sim) = pobj_kv::Db::create_simulated(8 << 20).expect("create");
    db.put(b"k", vec![7u8; 500])
        .expect("put an out-of-line entry");
    let pool = db.pool();
    let objects = pool.objects().expect("objects");
    let mut refused = 0;
    for o in objects
        .iter()
        .filter(|o| o.offset != pool.root_ptr().offset())
    {
        let b = PBytes::from_offset(o.offset);
        let shared = |e: &pobj::Error| matches!(e, pobj::Error::SharedObject { .. });
        if o.type_id == bytes_type_id(pool) {
            let e = pool
                .read_bytes(b, |_| ())
                .expect_err("a reference into an entry");
            assert!(shared(&e), "{e}");
            let e = pool
                .transaction(|tx| tx.bytes_mut(b).map(|_| ()))
                .expect_err("a &mut into an entry");
            assert!(shared(&e), "{e}");
            let e = pool
                .transaction(|tx| tx.free_bytes(b))
                .expect_err("a free of an entry");
            assert!(shared(&e), "{e}");
            refused += 1;
        }
    }
    assert_eq!(refused, 1, "the one out-of-line entry");
    assert_eq!(db.get(b"k").expect("get"), Some(vec![7u8; 500]));
    assert!(db.check().is_ok(), "{}", db.check());
}

/// The byte buffers' type id, as the pool records it (learnt from a buffer of our own).
fn bytes_type_id<R: Persistent>(pool: &Pool<R>) -> u64 {
    let b = pool
        .transaction(|tx| tx.alloc_bytes(b"probe"))
        .expect("a buffer");
    let id = pool
        .objects()
        .expect("objects")
        .into_iter()
        .find(|o| o.offset == b.offset())
        .expect("listed")
        .type_id;
    pool.transaction(|tx| tx.free_bytes(b)).expect("free");
    id
}
