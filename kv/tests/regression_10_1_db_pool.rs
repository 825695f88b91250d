//! Regression (soundness issue, defect 1): `Db::pool()` handed safe code the store's pool. The
//! store's writers change leaves in shared transactions that its readers read without locks, so
//! a safe `db.pool().get(leaf)` formed a `&Leaf` over bytes a writer was storing, and a safe
//! `db.pool().transaction(|tx| tx.get_mut(leaf))` wrote through `&mut` while readers loaded the
//! same words: a data race from safe code (observed: a slot holding 55 bytes of one value and
//! 45 of another). The store now lends only a read-only `PoolInfo` (path, size, mode, figures).

#[test]
fn the_store_lends_no_access_to_its_pool() {
    let t = trybuild::TestCases::new();
    t.pass("tests/regression_10_1/pass_pool_info.rs");
    t.compile_fail("tests/regression_10_1/fail_*.rs");
}
