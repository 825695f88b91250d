//! Regression for fix 4 of commit 4da3236 ("whole-word atomic accesses only (no mixed sizes)").
//!
//! Before: pobj copied bytes into and out of the pool with 8-byte atomic accesses where aligned
//! and 1-byte atomic accesses at unaligned edges. A shared transaction storing a 4-byte field
//! (four 1-byte stores) raced with an optimistic reader loading the whole word (one 8-byte
//! load), and an unaligned racy read of a buffer (1-byte loads) raced with a writer's 8-byte
//! stores: racing atomic accesses of different sizes, which Rust's memory model leaves
//! undefined (Miri reports them as data races).
//!
//! Now every access to pool bytes is a whole aligned 8-byte atomic access: a partial word is
//! stored with a compare-and-swap that keeps its other bytes, and read by loading the whole
//! word. The defect is undefined behaviour that only a checker sees, so these tests belong in
//! the Miri subset (`cargo +nightly miri test -p pobj --test regression_11_4_whole_word_atomics`,
//! which reports the race on the old code); under `cargo test` they check that partial-word
//! stores keep the neighbouring bytes and that unaligned racy reads return whole, written
//! values.

use std::sync::Arc;

use pobj::{Error, PBytes, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Obj {
    low: u32,
    high: u32,
    other: u64,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    obj: PPtr<Obj>,
    buf: PBytes,
}

const ROUNDS: u32 = if cfg!(miri) { 4 } else { 2000 };
const LOW: u32 = 0x5A5A_5A5A;

fn pool() -> (Pool<Root>, Arc<pobj::crash::SimMedium>) {
    let (pool, sim) = Pool::<Root>::create_simulated("r11", 2 << 20).expect("create");
    pool.transaction(|tx| {
        // Shared objects: the racy reads below are of shared objects only.
        let obj = tx.alloc_shared(Obj {
            low: LOW,
            high: 0,
            other: 7,
        })?;
        let buf = tx.alloc_bytes_shared(&[0u8; 32])?;
        let r = tx.root_mut()?;
        r.obj = obj;
        r.buf = buf;
        Ok::<_, Error>(())
    })
    .expect("setup");
    (pool, sim)
}

#[test]
fn a_four_byte_store_racing_a_whole_word_read() {
    let (pool, _sim) = pool();
    let obj = pool.root().expect("root").obj;
    let pool = Arc::new(pool);
    let writer = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            for v in 1..=ROUNDS {
                // SAFETY: only this thread writes the object, through pobj's atomic stores; the
                // reader uses the racy-read primitives.
                unsafe {
                    pool.transaction_shared(|tx| {
                        tx.update_at_unlogged(obj, core::mem::offset_of!(Obj, high), v)
                    })
                }
                .expect("shared transaction");
            }
        })
    };
    let mut last = 0;
    for _ in 0..ROUNDS {
        let mut w = [0u64; 2];
        // SAFETY: the writer stores atomically (contract of `read_words`).
        unsafe { pool.read_words(obj, 0, &mut w) }.expect("racy read");
        let (low, high) = (w[0] as u32, (w[0] >> 32) as u32);
        assert_eq!(low, LOW, "a store of the high half changed the low half");
        assert!(high >= last && high <= ROUNDS, "{high} after {last}");
        assert_eq!(w[1], 7);
        last = high;
    }
    writer.join().expect("writer");
    assert_eq!(
        pool.transaction(|tx| tx.load(obj)).expect("load"),
        Obj {
            low: LOW,
            high: ROUNDS,
            other: 7
        }
    );
}

#[test]
fn an_unaligned_racy_read_racing_whole_word_stores() {
    let (pool, _sim) = pool();
    let buf = pool.root().expect("root").buf;
    let pool = Arc::new(pool);
    let writer = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            for v in 1..=ROUNDS {
                let b = (v % 251) as u8 + 1;
                // SAFETY: only this thread writes the buffer, through pobj's atomic stores; the
                // reader uses the racy-read primitives.
                unsafe { pool.transaction_shared(|tx| tx.write_bytes(buf, 8, &[b; 16])) }
                    .expect("shared transaction");
            }
        })
    };
    for _ in 0..ROUNDS {
        // Bytes 11..21: unaligned at both ends, inside the two words the writer stores.
        let mut out = [0u8; 10];
        // SAFETY: the writer stores atomically (contract of `read_bytes_racy`).
        unsafe { pool.read_bytes_racy(buf, 11, &mut out) }.expect("racy read");
        // Each word holds one round's value (the two words may be of different rounds).
        for part in [&out[..5], &out[5..]] {
            assert!(part.iter().all(|&x| x == part[0]), "a torn word: {out:?}");
        }
    }
    writer.join().expect("writer");
    let last = (ROUNDS % 251) as u8 + 1;
    let bytes = load_all(&pool, buf);
    assert_eq!(&bytes[8..24], &[last; 16]);
    assert!(bytes[..8].iter().chain(&bytes[24..]).all(|&x| x == 0));
}

#[test]
fn partial_word_stores_keep_the_other_bytes() {
    let (pool, _sim) = pool();
    let buf = pool.root().expect("root").buf;
    pool.transaction(|tx| {
        tx.write_bytes(buf, 0, &[0xFF; 32])?;
        // Unaligned, inside one word, and across two words.
        tx.write_bytes(buf, 1, &[1, 2])?;
        tx.write_bytes(buf, 13, &[3, 4, 5, 6, 7])?;
        Ok::<_, Error>(())
    })
    .expect("writes");
    let mut want = [0xFFu8; 32];
    want[1..3].copy_from_slice(&[1, 2]);
    want[13..18].copy_from_slice(&[3, 4, 5, 6, 7]);
    assert_eq!(load_all(&pool, buf), want);
    let mut out = [0u8; 7];
    // SAFETY: no thread writes the buffer.
    unsafe { pool.read_bytes_racy(buf, 12, &mut out) }.expect("racy read");
    assert_eq!(out, want[12..19]);
}

/// A copy of the shared buffer `b` (no reference into it is lent: copied with atomic loads).
fn load_all(pool: &Pool<Root>, b: pobj::PBytes) -> Vec<u8> {
    pool.transaction(|tx| {
        let mut out = vec![0u8; tx.bytes_len(b)? as usize];
        tx.load_bytes(b, 0, &mut out)?;
        Ok::<_, Error>(out)
    })
    .expect("load the buffer")
}
