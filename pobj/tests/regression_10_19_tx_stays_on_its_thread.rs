//! Regression (found by review of the soundness fixes): `Tx` was `Send` and `Sync`, so a
//! transaction's closure could hand it to a scoped thread. The pool's re-entry check is per
//! thread: a fence hook run by that thread could call back into the pool, not be refused, and
//! wait forever for the lock the transaction's own thread holds. `Tx` is now neither `Send`
//! nor `Sync`, so that program does not compile.

#[test]
fn a_transaction_cannot_be_used_from_another_thread() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/regression_10_19/fail_*.rs");
}
