//! Regression (found by the structure-aware hostile-pool fuzzer, `hostile_pool`): a key stored
//! twice in one leaf (a slot copied into a free slot of the same leaf) was accepted at open. The
//! store then returned the key twice from scans, and a `remove` cleared one copy while `get`
//! still found the other. A slot whose fingerprint is not its key's was accepted too, hiding
//! the key from lookups (a put would store it a second time). Open now refuses both.

mod common;

#[test]
fn a_key_repeated_in_a_leaf_is_refused_at_open() {
    // Few keys (this test also runs under Miri), but several leaves.
    let clean = common::store_image(100);
    assert!(common::leaves(&clean).len() >= 3);
    let leaf = common::leaves(&clean)[1];
    let used = common::valid(&clean, leaf);
    let free = (0..39).find(|i| !used.contains(i)).expect("a free slot");
    let src = (leaf + common::SLOTS_AT + used[0] * common::SLOT_BYTES) as usize;
    let dst = (leaf + common::SLOTS_AT + free * common::SLOT_BYTES) as usize;
    let mut img = clean.clone();
    let slot = img[src..src + 128].to_vec();
    img[dst..dst + 128].copy_from_slice(&slot);
    let bitmap = common::u64_at(&img, leaf) | 1 << free;
    common::put_u64(&mut img, leaf, bitmap);
    match common::open(&img) {
        Err(pobj_kv::Error::Corrupted { what, offset }) => {
            assert_eq!(what, "key repeated in a leaf");
            assert_eq!(offset, dst as u64);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a leaf holding a key twice was accepted"),
    }
}

#[test]
fn a_slot_whose_fingerprint_is_not_its_keys_is_refused_at_open() {
    let clean = common::store_image(100);
    assert!(common::leaves(&clean).len() >= 3);
    let leaf = common::leaves(&clean)[2];
    let slot = common::valid(&clean, leaf)[0];
    let at = leaf + common::SLOTS_AT + slot * common::SLOT_BYTES;
    let mut img = clean.clone();
    // Flip one bit of the fingerprint (bits 48..56 of the meta word).
    let meta = common::u64_at(&img, at) ^ (1 << 48);
    common::put_u64(&mut img, at, meta);
    match common::open(&img) {
        Err(pobj_kv::Error::Corrupted { what, offset }) => {
            assert_eq!(what, "slot fingerprint (not its key's)");
            assert_eq!(offset, at);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a slot with a wrong fingerprint was accepted"),
    }
}
