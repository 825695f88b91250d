//! Regression (found by review of the soundness fixes): a leaf write marked the store failed
//! whenever the thread was unwinding, so a `put` that completed normally inside a destructor
//! run by an unrelated panic made every later operation return `Poisoned` until reopen. Only a
//! panic that begins during the write counts now.

use pobj_kv::Db;

/// Puts a key when dropped.
struct PutOnDrop<'a>(&'a Db);
impl Drop for PutOnDrop<'_> {
    fn drop(&mut self) {
        assert!(
            self.0.put(b"k", b"v").is_ok(),
            "the put from a destructor failed"
        );
    }
}

#[test]
fn a_write_from_a_destructor_during_unwinding_does_not_fail_the_store() {
    let (db, _sim) = Db::create_simulated(4 << 20).expect("create");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = PutOnDrop(&db);
        panic!("an unrelated panic");
    }));
    assert!(r.is_err());
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
    db.put(b"x", b"y").expect("the store still takes writes");
    assert!(db.check().is_ok());
}
