//! Regression for fix 8 of commit 4da3236 ("empty leaves unlinked at open").
//!
//! Before: the store's own protocols never leave an empty leaf after the first (the transaction
//! that empties one unlinks it), but a damaged or foreign pool can hold one. Open skipped it in
//! the inner nodes and left it in the list: `check` then reported the store inconsistent ("empty
//! leaf left in the list") right after a successful open, and a remove that emptied the leaf
//! after it unlinked through a predecessor that did not link to it.
//!
//! Now open unlinks and frees every empty leaf after the first, durably, before the store is
//! shared. The test empties a middle leaf of a store image and checks that the opened store has
//! one leaf fewer, passes `check`, keeps every other key, that the leaf is gone from the list on
//! the medium, and that emptying the following leaf afterwards still leaves a consistent store.

mod common;

#[test]
fn an_empty_leaf_in_the_list_is_unlinked_at_open() {
    let mut img = common::store_image(100);
    let leaves = common::leaves(&img);
    assert!(leaves.len() >= 4, "{} leaves", leaves.len());
    // Empty the second leaf: clear its bitmap (its slots' bytes stay, no longer valid).
    let victim = leaves[1];
    let gone: Vec<Vec<u8>> = common::valid(&img, victim)
        .into_iter()
        .map(|i| common::inline_key(&img, victim, i))
        .collect();
    assert!(!gone.is_empty());
    common::put_u64(&mut img, victim, 0);

    let sim = common::medium(&img);
    let db = pobj_kv::Db::open_medium(std::sync::Arc::clone(&sim)).expect("open");
    assert_eq!(db.stats().leaves, leaves.len() as u64 - 1);
    let report = db.check();
    assert!(report.is_ok(), "right after open: {:?}", report.problems);
    assert_eq!(report.leaves, leaves.len() as u64 - 1);
    assert_eq!(report.keys, 100 - gone.len() as u64);
    for i in 0..100 {
        let k = format!("key{i:05}").into_bytes();
        let want = (!gone.contains(&k)).then(|| format!("value{i}").into_bytes());
        assert_eq!(db.get(&k).expect("get"), want, "key {i}");
    }
    // Emptying the leaf after the unlinked one unlinks it from the first leaf.
    let third: Vec<Vec<u8>> = common::valid(&img, leaves[2])
        .into_iter()
        .map(|i| common::inline_key(&img, leaves[2], i))
        .collect();
    for k in &third {
        assert!(db.remove(k).expect("remove"));
    }
    let report = db.check();
    assert!(
        report.is_ok(),
        "after emptying the next leaf: {:?}",
        report.problems
    );
    assert_eq!(report.leaves, leaves.len() as u64 - 2);
    drop(db);

    // On the medium, the list no longer holds the emptied leaf (nor the one emptied later).
    let after = common::leaves(&sim.persisted_image());
    let mut want = leaves.clone();
    want.remove(2);
    want.remove(1);
    assert_eq!(after, want);
    let again = common::open(&sim.persisted_image()).expect("reopen");
    assert!(again.check().is_ok());
    assert_eq!(again.stats().leaves, leaves.len() as u64 - 2);
}
