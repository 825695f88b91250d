//! Regression (soundness issue, defect 4): the chunk-table words of the chunks inside a large
//! object's extent were never validated at open, but pointer resolution trusted them. A crafted
//! inner word made a fake object resolve inside a live buffer; freeing it put a chunk the buffer
//! still owned on the free list, and the next allocation overwrote the live buffer (`check()`
//! reported nothing). Open now requires every inner word to be FREE.

mod common;

use pobj::{Error, PBytes, Persistent, Pool, TypeHasher};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    big: PBytes,
}

const USED_ONE_CHUNK: u64 = 0x5355 | (1 << 16);

#[test]
fn a_forged_word_inside_a_large_extent_is_refused_at_open() {
    let (pool, sim) = Pool::<Root>::create_simulated("r4", 4 << 20).unwrap();
    pool.transaction(|tx| {
        let b = tx.alloc_bytes_zeroed(600_000)?;
        tx.root_mut()?.big = b;
        Ok::<_, Error>(())
    })
    .unwrap();
    let big = pool.root().unwrap().big;
    drop(pool);
    let clean = sim.persisted_image();
    let g = common::geometry(&clean);
    let first = (big.offset() - 64 - g.chunk_base) / g.chunk_size;
    let inner = first + 1;
    assert!(inner < g.chunk_count);

    // The clean image opens, and the inner word is FREE.
    assert_eq!(common::u64_at(&clean, g.chunk_table + inner * 8), 0);
    Pool::<Root>::open_image(&clean, "r4").unwrap();

    // Forge: the inner chunk's word says "a large object of one chunk", and the buffer's own
    // bytes (user data!) hold a matching object header.
    let mut img = clean.clone();
    common::put_u64(&mut img, g.chunk_table + inner * 8, USED_ONE_CHUNK);
    let fake_header = g.chunk_base + inner * g.chunk_size + 48;
    common::put_u64(&mut img, fake_header, 1000);
    common::put_u64(
        &mut img,
        fake_header + 8,
        TypeHasher::new().str("pobj::bytes").finish(),
    );
    match Pool::<Root>::open_image(&img, "r4") {
        Err(Error::Corrupted { what, offset }) => {
            assert_eq!(what, "chunk header inside a large object extent");
            assert_eq!(offset, g.chunk_table + inner * 8);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a pool with a forged word inside a live extent opened"),
    }
}
