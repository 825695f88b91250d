//! Regression (soundness issue, defect 9): `Pool::root()` panicked inside a transaction on the
//! same pool, where the other read methods return `NestedTransaction`. It now returns the error.

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug, PartialEq)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn root_inside_a_transaction_is_a_typed_error() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r9", 2 << 20).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.transaction(|tx| {
            tx.root_mut()?.x = 5;
            // A `&mut Root` may be live here: a read of the root must be refused, not panic.
            match pool.root() {
                Err(Error::NestedTransaction) => Ok::<_, Error>(()),
                other => panic!("expected NestedTransaction, got {other:?}"),
            }
        })
    }));
    assert!(
        matches!(r, Ok(Ok(()))),
        "no panic, and the transaction commits"
    );
    assert_eq!(pool.root().unwrap().x, 5);
}
