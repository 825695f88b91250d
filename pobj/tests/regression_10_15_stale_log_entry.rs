//! Regression (found by review of the soundness fixes): an abort re-read the lane's log from the
//! pool and undid every valid-looking entry, not only the ones its transaction wrote. A crafted
//! file can leave entry 0 of a lane invalid (open's recovery then has nothing to undo) and put a
//! valid entry right after where the first runtime transaction's own entry ends; that
//! transaction's abort then applied it, here storing USED into the word of an inner chunk of a
//! live two-chunk buffer after open had checked it FREE (defect 4 again, at run time). An abort
//! now undoes exactly its own entries.

mod common;

use pobj::{Error, PPtr, Persistent, Pool, CHUNK_SIZE};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

const LANE_HEADER: u64 = 64;
const KIND_SNAPSHOT: u32 = 1;
const USED_ONE_CHUNK: u64 = 0x5355 | (1 << 16);

/// The checksum seed of a lane's first log buffer (nonce 0; docs/format.md §5).
fn seed(lane: u32) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&lane.to_le_bytes());
    crc32c::crc32c(&b)
}

#[test]
fn an_abort_undoes_only_its_own_log_entries() {
    let (pool, sim) = Pool::<Root>::create_simulated("r15", 4 << 20).expect("create");
    let big = pool
        .transaction(|tx| tx.alloc_bytes_zeroed(CHUNK_SIZE + 1000))
        .expect("a two-chunk buffer");
    drop(pool);
    let mut img = sim.working_image().expect("image");
    let g = common::geometry(&img);
    let inner = (big.offset() - 64 - g.chunk_base) / CHUNK_SIZE + 1;
    let inner_off = g.chunk_base + inner * CHUNK_SIZE;
    // A fake object header inside the live buffer's payload: an 8-byte u64.
    common::put_u64(&mut img, inner_off + 48, 8);
    common::put_u64(&mut img, inner_off + 56, <u64 as Persistent>::TYPE_ID);
    // In every lane: entry 0 invalid (zeros); at byte 40 (the end of one 8-byte snapshot
    // entry) a valid snapshot of the inner chunk's word holding USED.
    for l in 0..g.lane_count {
        let lane = g.lane_offset + l * g.lane_size;
        let gen = common::u64_at(&img, lane);
        let at = (lane + LANE_HEADER + 40) as usize;
        let mut h = [0u8; 32];
        h[0..8].copy_from_slice(&gen.to_le_bytes());
        h[8..16].copy_from_slice(&(g.chunk_table + inner * 8).to_le_bytes());
        h[16..24].copy_from_slice(&8u64.to_le_bytes());
        h[24..28].copy_from_slice(&KIND_SNAPSHOT.to_le_bytes());
        let data = USED_ONE_CHUNK.to_le_bytes();
        let c = crc32c::crc32c_append(crc32c::crc32c_append(seed(l as u32), &h[..28]), &data);
        h[28..32].copy_from_slice(&c.to_le_bytes());
        img[at..at + 32].copy_from_slice(&h);
        img[at + 32..at + 40].copy_from_slice(&data);
    }
    let (pool, _sim) = Pool::<Root>::open_image(&img, "r15").expect("open");
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    // One logged 8-byte write (a 40-byte entry), then an abort.
    let r = pool.transaction(|tx| {
        tx.update_at(pool.root_ptr(), 0, 7u64)?;
        Err::<(), Error>(Error::TxAborted)
    });
    assert!(r.is_err());
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    assert!(
        pool.get(PPtr::<u64>::from_offset(inner_off + 64)).is_err(),
        "a pointer into the live buffer resolves"
    );
    assert_eq!(pool.root().expect("root").x, 0);
}
