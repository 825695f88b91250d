//! Crash suite for pool growth: workloads on pools created at the minimum size that grow many
//! times, with a power failure at every fence (the growth protocol's two fences among them) and
//! crashes during recovery. Every recovered image must pass `check` and hold exactly the
//! operations that returned (or one more); the seeded bug of a growth whose extent word is
//! never flushed must be caught.

use std::collections::BTreeMap;

use pobj::crash::{CrashTest, Granularity};
use pobj::{Error, Fault, PBytes, PPtr, Persistent, Pool, PoolOptions, CHUNK_SIZE};
use pobj_kv::Db;

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    seq: u64,
    data: PBytes,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    head: PPtr<Node>,
    count: u64,
}

/// Each operation allocates a buffer of more than one chunk, so that the pool grows about
/// every other operation (it starts with 4 chunks and grows by one chunk's step, that is by
/// what the allocation needs plus the reserve).
const DATA: u64 = CHUNK_SIZE + CHUNK_SIZE / 2;
const OPS: usize = 8;

fn options() -> PoolOptions {
    PoolOptions::default()
        .initial_size(pobj::MIN_POOL_SIZE)
        .max_size(64 << 20)
        .grow_step(CHUNK_SIZE)
}

fn run(cfg: &CrashTest, fault: Option<Fault>) -> Result<pobj::crash::Report, pobj::crash::Failure> {
    cfg.run::<Root, _, _, _>(
        "grow",
        options(),
        move |pool| {
            // The table words past the count hold garbage, as in a reused file: growth must
            // make them FREE before they count.
            pool.scribble_unused_chunk_words(0xDEAD_BEEF_0BAD_F00D)
                .map_err(|e| e.to_string())?;
            pool.inject_fault(fault);
            Ok(())
        },
        OPS,
        |pool, i| {
            pool.transaction(|tx| {
                let data = tx.alloc_bytes_zeroed(DATA)?;
                tx.write_bytes(data, 0, &(i as u64).to_le_bytes())?;
                let head = tx.root().head;
                let node = tx.alloc(Node {
                    seq: i as u64,
                    data,
                    next: head,
                })?;
                let r = tx.root_mut()?;
                r.head = node;
                r.count = i as u64 + 1;
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())
        },
        check_list,
    )
}

/// The list holds `done` or `done + 1` nodes, newest first, each with its buffer.
fn check_list(pool: &Pool<Root>, done: usize) -> Result<(), String> {
    let root = pool.root().map_err(|e| e.to_string())?;
    let n = root.count;
    if n != done as u64 && n != done as u64 + 1 {
        return Err(format!("count {n} after {done} operations"));
    }
    let mut at = root.head;
    for want in (0..n).rev() {
        let node = pool.get(at).map_err(|e| format!("node {want}: {e}"))?;
        if node.seq != want {
            return Err(format!("node {want} holds {}", node.seq));
        }
        let first = pool
            .read_bytes(node.data, |b| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[..8]);
                (u64::from_le_bytes(w), b.len() as u64)
            })
            .map_err(|e| format!("buffer of node {want}: {e}"))?;
        if first != (want, DATA) {
            return Err(format!("buffer of node {want} holds {first:?}"));
        }
        at = node.next;
    }
    if !at.is_null() {
        return Err("the list runs past its count".into());
    }
    let need = n * DATA;
    let size = pool.info().size();
    if size < need {
        return Err(format!(
            "a pool of {size} bytes holds {need} bytes of buffers"
        ));
    }
    Ok(())
}

#[test]
fn growth_survives_a_crash_at_every_fence() {
    let started = std::time::Instant::now();
    let mut total = pobj::crash::Report::default();
    for g in [Granularity::Line, Granularity::Word] {
        let r = run(
            &CrashTest::new().granularities(&[g]).recovery_every(3),
            None,
        )
        .unwrap_or_else(|f| panic!("{f}"));
        assert!(r.points > 0 && r.recovery_points > 0, "{r}");
        eprintln!("crash_grow ({g:?}): {r}");
        total += r;
    }
    eprintln!(
        "crash_grow: {total} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_pool_really_grows_in_this_workload() {
    let (pool, _sim) = Pool::<Root>::create_simulated("grow", options()).unwrap();
    let start = pool.info().size();
    for i in 0..OPS {
        pool.transaction(|tx| {
            tx.alloc_bytes_zeroed(DATA)?;
            tx.root_mut()?.count = i as u64;
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    let info = pool.info();
    assert!(info.growths() >= 3, "{} growths", info.growths());
    assert!(
        info.size() > start + OPS as u64 * CHUNK_SIZE,
        "{start} -> {}",
        info.size()
    );
}

/// A seeded bug is caught at a crash point of the workload (not in set-up), with the message
/// it should give, and its case replays.
fn caught(fault: Fault, message: &str) {
    let f = run(&CrashTest::new(), Some(fault)).expect_err("the seeded bug must be caught");
    eprintln!("{fault:?} caught: {f}");
    assert!(f.case.point > 0, "{f}");
    assert!(f.message.contains(message), "{fault:?}: {f}");
    let again = run(&CrashTest::new().replay(f.case.clone()), Some(fault))
        .expect_err("the replay fails too");
    assert_eq!(again.case, f.case);
}

#[test]
fn a_growth_whose_extent_word_is_not_flushed_is_caught() {
    // After a crash the count is the old one, but committed changes refer to the new chunks:
    // recovery finds an undo entry for a chunk word past the count.
    caught(Fault::SkipExtentFlush, "undo log snapshot of chunk headers");
}

#[test]
fn a_growth_that_leaves_its_new_table_words_as_they_were_is_caught() {
    // The garbage in the new chunks' words is read as chunk headers after the crash.
    caught(Fault::SkipGrowTableWords, "chunk header");
}

/// The key-value store on a pool that grows: puts fill leaves and out-of-line values until the
/// pool has grown several times; every recovered image holds the puts that returned.
#[test]
fn a_growing_store_survives_a_crash_at_every_fence() {
    let keys = 80usize;
    let key = |i: usize| format!("key-{:05}", (i * 7919) % 100_000).into_bytes();
    let value = |i: usize| vec![i as u8; if i.is_multiple_of(2) { 60_000 } else { 40 }];
    let opts = PoolOptions::default()
        .initial_size(pobj::MIN_POOL_SIZE)
        .max_size(64 << 20)
        .grow_step(CHUNK_SIZE);
    let cfg = CrashTest::new()
        .granularities(&[Granularity::Line])
        .sample_points(0.25)
        .max_images_per_point(6)
        .recovery_every(8);
    let r = cfg
        .run_store::<pobj_kv::KvRoot, Db, _, _, _, _>(
            pobj_kv::LAYOUT,
            opts,
            |pool| Db::from_pool(pool).map_err(|e| e.to_string()),
            |_| Ok(()),
            keys,
            move |db, i| {
                db.put(key(i), value(i)).map_err(|e| e.to_string())?;
                let grown = db.pool_info().growths();
                if i + 1 == keys && grown < 2 {
                    return Err(format!(
                        "the store grew {grown} times: the workload is too small"
                    ));
                }
                Ok(())
            },
            move |db, done| {
                let report = db.check();
                if !report.is_ok() {
                    return Err(format!("{report}"));
                }
                let mut model = BTreeMap::new();
                for i in 0..done {
                    model.insert(key(i), value(i));
                }
                let got: BTreeMap<Vec<u8>, Vec<u8>> = db
                    .iter()
                    .map(|r| r.map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?;
                let mut with_next = model.clone();
                with_next.insert(key(done), value(done));
                if got != model && (done == keys || got != with_next) {
                    return Err(format!("{} keys after {done} puts", got.len()));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("crash_grow (store): {r}");
    assert!(r.points > 0);
}
