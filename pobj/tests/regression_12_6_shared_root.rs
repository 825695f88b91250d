//! Regression (issue 12, review): a pool whose root object header carried the shared flag
//! opened, so a racy read of the root (allowed for shared objects) could race with `root_mut`,
//! which lends a `&mut`. Open now refuses a shared root.

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn a_root_marked_shared_is_refused_at_open() {
    let (pool, sim) = Pool::<Root>::create_simulated("r12", 4 << 20).expect("create");
    let size_word = pool.root_ptr().offset() - 16;
    drop(pool);
    let mut img = sim.persisted_image();
    let at = size_word as usize;
    let w = u64::from_le_bytes(img[at..at + 8].try_into().expect("8 bytes")) | 1 << 63;
    img[at..at + 8].copy_from_slice(&w.to_le_bytes());
    let r = Pool::<Root>::open_image(&img, "r12");
    assert!(
        matches!(r, Err(Error::Corrupted { what, .. }) if what.contains("shared")),
        "{:?}",
        r.err()
    );
}
