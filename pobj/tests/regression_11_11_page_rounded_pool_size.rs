//! Regression for fix 11 of commit 4da3236 ("page-rounded pool sizes").
//!
//! Before: a pool was created with exactly the size asked for. A size that was not a multiple of
//! the page gave a file whose last page was only partly backed: the mapping extended past the
//! end of the file, so the aligned 8-byte words that pobj reads and writes whole (fix 4) could
//! reach bytes that are not the file's.
//!
//! Now a new pool's size is rounded down to whole pages (and must still lie within the limits).
//! The test creates pools with unaligned sizes, on a simulated medium and in a file, and checks
//! the size the pool reports, the image and file lengths, and that the pool reopens with that
//! size and works up to its end.

mod common;

use pobj::{Error, Persistent, Pool, MIN_POOL_SIZE};

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    x: u64,
}

const PAGE: u64 = 4096;

#[test]
fn unaligned_pool_sizes_are_rounded_down_to_whole_pages() {
    let _spawn = common::no_spawn();
    let asked = MIN_POOL_SIZE + 3 * PAGE + 100;
    let rounded = MIN_POOL_SIZE + 3 * PAGE;

    let (pool, sim) = Pool::<Root>::create_simulated("r11", asked).expect("create simulated");
    assert_eq!(pool.size(), rounded);
    assert_eq!(sim.image_len() as u64, rounded);
    drop(pool);
    let pool = Pool::<Root>::open_medium(sim, "r11").expect("reopen simulated");
    assert_eq!(pool.size(), rounded);
    drop(pool);

    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "p");
    let pool = Pool::<Root>::create(&path, "r11", asked).expect("create file");
    assert_eq!(pool.size(), rounded);
    // Allocate until the pool is full: every object lies inside the (whole-page) file.
    let mut n = 0u64;
    while pool
        .transaction(|tx| tx.alloc_bytes_zeroed(60_000).map(|_| ()))
        .is_ok()
    {
        n += 1;
    }
    assert!(n > 10, "{n} allocations");
    assert!(pool.check().is_ok());
    drop(pool);
    assert_eq!(std::fs::metadata(&path).expect("metadata").len(), rounded);
    let pool = Pool::<Root>::open(&path, "r11").expect("reopen file");
    assert_eq!(pool.size(), rounded);
    assert!(pool.check().is_ok());
    assert_eq!(pool.objects().expect("objects").len() as u64, n + 1);

    // Just above the minimum rounds down to the minimum; below it is refused.
    let (small, _) =
        Pool::<Root>::create_simulated("r11", MIN_POOL_SIZE + PAGE - 1).expect("create");
    assert_eq!(small.size(), MIN_POOL_SIZE);
    assert!(matches!(
        Pool::<Root>::create_simulated("r11", MIN_POOL_SIZE - 1),
        Err(Error::SizeOutOfRange { .. })
    ));
}
