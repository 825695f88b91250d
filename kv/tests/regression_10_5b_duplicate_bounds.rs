//! Regression (soundness issue, defect 5b): two leaves with the same bound (smallest key) were
//! both inserted into the inner nodes under that key, so one of them dropped out of the index:
//! its keys became unreachable and puts of them created duplicates. Open now requires every
//! leaf's keys to lie above all keys of the leaves before it.

mod common;

#[test]
fn a_repeated_leaf_bound_is_refused_at_open() {
    let clean = common::store_image(200);
    let l = common::leaves(&clean);
    assert!(l.len() >= 3);
    // The smallest key of the second leaf, and a free slot of the third.
    let (a, b) = (l[1], l[2]);
    let min_slot = common::valid(&clean, a)
        .into_iter()
        .min_by_key(|&i| common::inline_key(&clean, a, i))
        .expect("a non-empty leaf");
    let used = common::valid(&clean, b);
    let free = (0..39).find(|i| !used.contains(i)).expect("a free slot");
    // Copy that entry into the third leaf: both leaves now start with the same key.
    let mut img = clean.clone();
    let src = (a + common::SLOTS_AT + min_slot * common::SLOT_BYTES) as usize;
    let dst = (b + common::SLOTS_AT + free * common::SLOT_BYTES) as usize;
    let slot = img[src..src + 128].to_vec();
    img[dst..dst + 128].copy_from_slice(&slot);
    let bitmap = common::u64_at(&img, b) | 1 << free;
    common::put_u64(&mut img, b, bitmap);
    match common::open(&img) {
        Err(pobj_kv::Error::Corrupted { what, offset }) => {
            assert_eq!(
                what,
                "leaf keys not above the previous leaf's (order or bound)"
            );
            assert_eq!(offset, b);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a store with a repeated leaf bound opened"),
    }
}
