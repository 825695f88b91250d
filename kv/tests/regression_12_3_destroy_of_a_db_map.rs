//! Regression (issue 12, review): `MapTx::destroy` freed every leaf before it freed the header,
//! which fails for a `Db`'s map (the header is the pool's root); a closure that ignored the error
//! then committed a store whose every leaf was freed while its index still named them. Now the
//! header is freed first, and any failure of a map operation dooms the whole transaction.

use pobj_kv::{Db, Error};

#[test]
fn destroying_a_db_map_is_refused_and_changes_nothing() {
    let (db, sim) = Db::create_simulated(8 << 20).expect("create");
    db.put(b"k", b"v").expect("put");
    let r: Result<(), Error> = db.pool().transaction(|tx| {
        let e = db.tx(tx)?.destroy();
        assert!(e.is_err(), "a Db's map cannot be destroyed");
        Ok(()) // the closure ignores the error: the transaction is doomed all the same
    });
    assert!(
        r.is_err(),
        "the doomed transaction reports its abort: {r:?}"
    );
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
    assert!(db.check().is_ok(), "{}", db.check());
    drop(db);
    let db = Db::open_medium(sim).expect("the store reopens");
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
}
