//! Regression (soundness issue, defect 5a): the rebuild at open did not check that the leaves
//! are in key order. With two leaves swapped in the list, the inner nodes got ranges whose upper
//! bound lay below their lower bound, and `get`, `put`, `remove` and scans retried forever on
//! `!contains(key)` (observed: `get(b"n")` did not return in 5 s). Open now refuses the store.

mod common;

#[test]
fn leaves_out_of_key_order_are_refused_at_open() {
    let clean = common::store_image(100);
    let l = common::leaves(&clean);
    assert!(l.len() >= 4, "the store has several leaves: {}", l.len());
    common::open(&clean).expect("the clean store opens");

    // Swap the second and third leaves in the list: L0 -> L2 -> L1 -> L3 ...
    let mut img = clean.clone();
    let after = common::u64_at(&img, l[2] + 8);
    common::put_u64(&mut img, l[0] + 8, l[2]);
    common::put_u64(&mut img, l[2] + 8, l[1]);
    common::put_u64(&mut img, l[1] + 8, after);
    match common::open(&img) {
        Err(pobj_kv::Error::Corrupted { what, offset }) => {
            assert_eq!(
                what,
                "leaf keys not above the previous leaf's (order or bound)"
            );
            assert_eq!(offset, l[1]);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a store with leaves out of order opened"),
    }
}
