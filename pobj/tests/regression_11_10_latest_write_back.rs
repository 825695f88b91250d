//! Regression for fix 10 of commit 4da3236 ("simulator keeps the latest write-back of a line").
//!
//! Before: the simulated medium copied a flushed cache line when it was flushed and wrote that
//! copy into the persisted image when the flushing thread fenced. With two threads writing
//! different words of one line, thread A could flush the line, thread B store its word, flush
//! and fence (its word now durable), and A's later fence then put A's *older* copy back: B's
//! committed word went back to its previous value in the persisted image — a power failure
//! would lose a committed transaction that no real machine would lose (a line's write-back
//! never goes back to older contents).
//!
//! Now a line's persisted copy only ever moves to a newer flush. The test runs two threads that
//! commit increasing values into two words of one cache line, and a fence hook that checks, at
//! every crash point, that the persisted image holds each word at least at the value its
//! thread last committed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pobj::{Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    words: [u64; 16],
}

fn u64_at(img: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(img[o..o + 8].try_into().expect("8 bytes"))
}

#[test]
fn a_line_written_back_by_two_threads_never_goes_back_to_an_older_copy() {
    let (pool, sim) = Pool::<Root>::create_simulated("r11", 2 << 20).expect("create");
    // Two adjacent words inside one 64-byte line of the root.
    let words_at = pool.root_ptr().offset() + core::mem::offset_of!(Root, words) as u64;
    let first = (0..15u64)
        .find(|i| (words_at + i * 8) % 64 <= 48)
        .expect("two words in one line");
    let offs =
        [first, first + 1].map(|i| (words_at + i * 8) as usize - pool.root_ptr().offset() as usize);
    let abs = offs.map(|o| pool.root_ptr().offset() + o as u64);

    // The value each thread last committed (published after its transaction returned).
    let committed: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let regressions = Arc::new(AtomicU64::new(0));
    let crash_points = Arc::new(AtomicU64::new(0));
    {
        let (committed, regressions, crash_points) = (
            Arc::clone(&committed),
            Arc::clone(&regressions),
            Arc::clone(&crash_points),
        );
        sim.set_hook(Some(Box::new(move |cp| {
            crash_points.fetch_add(1, Ordering::Relaxed);
            for t in 0..2 {
                // Read the committed value first: the persisted word must be at least that.
                let c = committed[t].load(Ordering::SeqCst);
                if u64_at(cp.persisted, abs[t]) < c {
                    regressions.fetch_add(1, Ordering::Relaxed);
                }
            }
        })));
    }
    let pool = Arc::new(pool);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (pool, committed, stop, regressions) = (
                Arc::clone(&pool),
                Arc::clone(&committed),
                Arc::clone(&stop),
                Arc::clone(&regressions),
            );
            let root = pool.root_ptr();
            std::thread::spawn(move || {
                let mut v = 0u64;
                while !stop.load(Ordering::Relaxed) && regressions.load(Ordering::Relaxed) == 0 {
                    v += 1;
                    // SAFETY: each thread writes only its own word of the root, with pobj's
                    // atomic stores; no thread holds a reference into the root.
                    unsafe {
                        pool.transaction_shared(|tx| tx.update_at_unlogged(root, offs[t], v))
                    }
                    .expect("commit");
                    committed[t].store(v, Ordering::SeqCst);
                }
                v
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = workers
        .into_iter()
        .map(|h| h.join().expect("worker"))
        .collect();
    sim.set_hook(None);
    assert_eq!(
        regressions.load(Ordering::Relaxed),
        0,
        "a committed word went back to an older value in the persisted image \
         ({counts:?} commits, {} crash points)",
        crash_points.load(Ordering::Relaxed)
    );
    assert!(counts.iter().all(|&c| c > 10), "{counts:?} commits");
    // After the last fences, the persisted image holds both threads' last values.
    drop(pool);
    let img = sim.persisted_image();
    for t in 0..2 {
        assert_eq!(u64_at(&img, abs[t]), counts[t]);
    }
}
