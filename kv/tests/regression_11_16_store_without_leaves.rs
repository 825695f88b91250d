//! Regression (found in review of the architecture issue): an initialised store root whose
//! `head` is null (damage: the hostile generator's `kv-head` class) opened as a store with no
//! leaves. Its index was empty, so every put, remove and read found no state for its key; once
//! writers retried on an empty route (the first leaf's entry being replaced, a moment's window),
//! each operation spun through its whole re-route budget (seconds) and then reported an
//! internal error, and `check` called the store clean.
//!
//! Now open refuses such a root with `Corrupted`: an initialised store always has its first
//! leaf (it is never unlinked).

mod common;

use pobj_kv::Error;

#[test]
fn a_store_root_without_a_first_leaf_is_refused_at_open() {
    let mut img = common::store_image(10);
    let root = common::root(&img);
    assert_ne!(
        common::u64_at(&img, root + 16),
        0,
        "the store has a first leaf"
    );
    common::put_u64(&mut img, root + 16, 0);
    match common::open(&img) {
        Err(Error::Corrupted { offset, .. }) => assert_eq!(offset, root),
        Err(e) => panic!("expected Corrupted at the root, got {e:?}"),
        Ok(_) => panic!("a store without leaves opened"),
    }
}
