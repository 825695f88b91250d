//! Regression (found by the second review of the soundness fixes): open left valid-looking undo
//! entries of a *future* generation in the lane buffers (recovery found entry 0 invalid and
//! stopped, and the first buffer's checksum seed is fixed). `check()` passed. After one
//! committed transaction the lane's generation reached the planted one; when the next
//! transaction there crashed after its first entry was durable, recovery applied the planted
//! snapshot too and reverted a write committed after open. Every lane now gets a fresh random
//! generation at open, which no file can predict.
mod common;

use std::sync::{Arc, Mutex};

use pobj::crash::CrashPoint;
use pobj::{Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
    y: u64,
}

fn seed(lane: u32) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&lane.to_le_bytes());
    crc32c::crc32c(&b)
}

#[test]
fn a_planted_future_entry_cannot_revert_a_committed_write_after_a_crash() {
    let (pool, sim) = Pool::<Root>::create_simulated("r23", 4 << 20).expect("create");
    let root_off = pool.root_ptr().offset();
    drop(pool);
    let mut img = sim.working_image().expect("image");
    let g = common::geometry(&img);
    for l in 0..g.lane_count {
        let lane = g.lane_offset + l * g.lane_size;
        let gen = common::u64_at(&img, lane) + 1; // the generation of this lane's *next* log
        let at = (lane + 64 + 40) as usize; // right after one 8-byte snapshot entry
        let mut h = [0u8; 32];
        h[0..8].copy_from_slice(&gen.to_le_bytes());
        h[8..16].copy_from_slice(&root_off.to_le_bytes());
        h[16..24].copy_from_slice(&8u64.to_le_bytes());
        h[24..28].copy_from_slice(&1u32.to_le_bytes()); // KIND_SNAPSHOT
        let data = 0xdead_u64.to_le_bytes();
        let c = crc32c::crc32c_append(crc32c::crc32c_append(seed(l as u32), &h[..28]), &data);
        h[28..32].copy_from_slice(&c.to_le_bytes());
        img[at..at + 32].copy_from_slice(&h);
        img[at + 32..at + 40].copy_from_slice(&data);
    }
    let (pool, sim) = Pool::<Root>::open_image(&img, "r23").expect("open");
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    pool.transaction(|tx| tx.update_at(pool.root_ptr(), 0, 1u64))
        .expect("tx1 commits");
    let images = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&images);
    sim.set_hook(Some(Box::new(move |cp: &CrashPoint<'_>| {
        keep.lock().unwrap().push(cp.persisted.to_vec());
    })));
    pool.transaction(|tx| tx.update_at(pool.root_ptr(), 8, 2u64))
        .expect("tx2");
    sim.set_hook(None);
    for (i, crash) in images.lock().unwrap().iter().enumerate() {
        let (p, _s) = Pool::<Root>::open_image(crash, "r23").expect("reopen");
        assert_eq!(
            p.root().expect("root").x,
            1,
            "crash image {i}: tx1's committed x reverted"
        );
    }
}
