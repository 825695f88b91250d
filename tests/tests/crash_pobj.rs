//! Crash suites for pobj under the power-failure simulator: multi-range transactions with
//! aborts, allocation churn, a transaction that extends its log, atomic allocation, and
//! recovery interrupted by crashes. Each prints its figures.

use pobj::crash::{CrashTest, Report};
use pobj::{Error, PBytes, PPtr, Persistent, Pool};

/// One splitmix64 output for `z`, to derive each operation from its index.
fn mix(z: u64) -> u64 {
    pobj_workload::random::Rng::new(z).next_u64()
}

fn accept<T: PartialEq + std::fmt::Debug>(
    got: &T,
    states: &[T],
    done: usize,
) -> Result<(), String> {
    if *got == states[done] || states.get(done + 1) == Some(got) {
        Ok(())
    } else {
        Err(format!(
            "state {got:?} is neither the state before ({:?}) nor after ({:?}) operation {done}",
            states[done],
            states.get(done + 1)
        ))
    }
}

fn print(name: &str, r: &Report) {
    eprintln!("crash suite {name}: {r}");
}

// ---- random multi-range transactions with random aborts --------------------------------------

#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Block {
    words: [u64; 24],
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct MultiRoot {
    words: [u64; 32],
    blocks: [PPtr<Block>; 3],
}

type MultiState = (Vec<u64>, Vec<[u64; 24]>);

fn multi_read(pool: &Pool<MultiRoot>) -> Result<MultiState, String> {
    let r = pool.root().unwrap();
    let mut blocks = Vec::new();
    for b in r.blocks {
        blocks.push(pool.get(b).map_err(|e| e.to_string())?.words);
    }
    Ok((r.words.to_vec(), blocks))
}

/// Operation i writes a few words spread over the root and the three blocks; one in four aborts.
fn multi_writes(i: usize) -> (Vec<(usize, usize, u64)>, bool) {
    let r = mix(i as u64 + 1);
    let n = 2 + (r % 5) as usize;
    let writes = (0..n)
        .map(|k| {
            let x = mix(r ^ k as u64);
            ((x % 4) as usize, ((x >> 8) % 24) as usize, x >> 16)
        })
        .collect();
    (writes, r.is_multiple_of(4))
}

#[test]
fn multi_range_transactions_with_aborts() {
    const OPS: usize = 220;
    let mut states: Vec<MultiState> = vec![(vec![0; 32], vec![[0; 24]; 3])];
    for i in 0..OPS {
        let mut s = states[states.len() - 1].clone();
        let (writes, abort) = multi_writes(i);
        if !abort {
            for (target, idx, v) in writes {
                if target == 3 {
                    s.0[idx] = v;
                } else {
                    s.1[target][idx] = v;
                }
            }
        }
        states.push(s);
    }
    let report = CrashTest::new()
        .run::<MultiRoot, _, _, _>(
            "crash-multi",
            pobj::MIN_POOL_SIZE,
            |pool| {
                pool.transaction(|tx| {
                    for k in 0..3 {
                        let b = tx.alloc(Block { words: [0; 24] })?;
                        tx.root_mut()?.blocks[k] = b;
                    }
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            OPS,
            |pool, i| {
                let (writes, abort) = multi_writes(i);
                let r = pool.transaction(|tx| {
                    for &(target, idx, v) in &writes {
                        if target == 3 {
                            tx.root_mut()?.words[idx] = v;
                        } else {
                            let b = tx.root().blocks[target];
                            tx.get_mut(b)?.words[idx] = v;
                        }
                    }
                    if abort {
                        Err(Error::TxAborted)
                    } else {
                        Ok(())
                    }
                });
                match (r, abort) {
                    (Ok(()), false) | (Err(Error::TxAborted), true) => Ok(()),
                    (r, _) => Err(format!("unexpected {r:?}")),
                }
            },
            move |pool, done| accept(&multi_read(pool)?, &states, done),
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("multi_range_transactions_with_aborts", &report);
    assert!(report.images > 2000);
}

// ---- allocation / free churn -------------------------------------------------------------------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct SlotsRoot {
    slots: [PBytes; 12],
}

type Slots = Vec<Option<Vec<u8>>>;

fn slots_read(pool: &Pool<SlotsRoot>) -> Result<Slots, String> {
    let r = pool.root().unwrap();
    r.slots
        .iter()
        .map(|p| {
            if p.is_null() {
                Ok(None)
            } else {
                pool.bytes(*p).map(Some).map_err(|e| e.to_string())
            }
        })
        .collect()
}

/// Operation i: (slot, new contents or None to free).
fn churn_op(i: usize) -> (usize, Option<Vec<u8>>) {
    let r = mix(i as u64 + 77);
    let slot = (r % 12) as usize;
    if r.is_multiple_of(3) {
        (slot, None)
    } else {
        let len = match (r >> 8) % 8 {
            0 => 70_000 + (r >> 20) as usize % 200_000, // large: chunk extents
            1 | 2 => (r >> 20) as usize % 5000,
            _ => (r >> 20) as usize % 200,
        };
        (slot, Some(vec![(r >> 40) as u8; len]))
    }
}

#[test]
fn allocation_churn() {
    const OPS: usize = 150;
    let mut states: Vec<Slots> = vec![vec![None; 12]];
    for i in 0..OPS {
        let mut s = states[states.len() - 1].clone();
        let (slot, v) = churn_op(i);
        s[slot] = v;
        states.push(s);
    }
    let report = CrashTest::new()
        .run::<SlotsRoot, _, _, _>(
            "crash-churn",
            4 << 20,
            |_| Ok(()),
            OPS,
            |pool, i| {
                let (slot, v) = churn_op(i);
                pool.transaction(|tx| {
                    let old = tx.root().slots[slot];
                    if !old.is_null() {
                        tx.free_bytes(old)?;
                    }
                    let new = match &v {
                        Some(d) => tx.alloc_bytes(d)?,
                        None => PBytes::null(),
                    };
                    tx.root_mut()?.slots[slot] = new;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            move |pool, done| {
                accept(&slots_read(pool)?, &states, done)?;
                // Nothing leaked: the live objects are exactly the root and the filled slots.
                let live = states[done].iter().filter(|s| s.is_some()).count() as u64 + 1;
                let alt = states
                    .get(done + 1)
                    .map(|s| s.iter().filter(|s| s.is_some()).count() as u64 + 1);
                let objects = pool.stats().heap.objects;
                if objects != live && Some(objects) != alt {
                    return Err(format!(
                        "{objects} objects allocated, expected {live} (leak or double free)"
                    ));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("allocation_churn", &report);
    assert!(report.images > 2000);
}

// ---- a transaction that extends its log ----------------------------------------------------------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct BigRoot {
    buf: PBytes,
    gen: u64,
}

const BIG: usize = 300 << 10;

#[test]
fn large_transaction_extends_its_log() {
    const OPS: usize = 3;
    // About 400 crash points per operation, each with thousands of differing lines: a seeded
    // sample of the points (the full sweep is `--ignored full_sweep_large_transaction`).
    let report = CrashTest::new()
        .sample_points(0.08)
        .max_images_per_point(16)
        .recovery_every(32)
        .run::<BigRoot, _, _, _>(
            "crash-big",
            4 << 20,
            |pool| {
                pool.transaction(|tx| {
                    let b = tx.alloc_bytes(&vec![0u8; BIG])?;
                    tx.root_mut()?.buf = b;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            OPS,
            |pool, i| {
                pool.transaction(|tx| {
                    let b = tx.root().buf;
                    // Many small snapshots (log entries) and one whole rewrite: well past the
                    // lane's first 8 KiB buffer.
                    for k in 0..400u64 {
                        tx.write_bytes(b, k * 700, &[(i + 1) as u8; 8])?;
                    }
                    tx.bytes_mut(b)?.fill((i + 1) as u8);
                    tx.root_mut()?.gen = i as u64 + 1;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            |pool, done| {
                let r = pool.root().unwrap();
                let data = pool.bytes(r.buf).map_err(|e| e.to_string())?;
                let g = r.gen as u8;
                if !(r.gen == done as u64 || r.gen == done as u64 + 1) {
                    return Err(format!("generation {} after {done} operations", r.gen));
                }
                if data.iter().any(|&x| x != g) {
                    return Err(format!("buffer not uniformly {g}: torn transaction"));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("large_transaction_extends_its_log", &report);
    assert!(report.points > 10);
}

/// The full sweep of the large transaction: every crash point (several minutes).
#[test]
#[ignore = "long: run with --ignored"]
fn full_sweep_large_transaction() {
    let report = CrashTest::new()
        .run::<BigRoot, _, _, _>(
            "crash-big",
            4 << 20,
            |pool| {
                pool.transaction(|tx| {
                    let b = tx.alloc_bytes(&vec![0u8; BIG])?;
                    tx.root_mut()?.buf = b;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            2,
            |pool, i| {
                pool.transaction(|tx| {
                    let b = tx.root().buf;
                    for k in 0..400u64 {
                        tx.write_bytes(b, k * 700, &[(i + 1) as u8; 8])?;
                    }
                    tx.bytes_mut(b)?.fill((i + 1) as u8);
                    tx.root_mut()?.gen = i as u64 + 1;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            |pool, _| {
                let r = pool.root().unwrap();
                let data = pool.bytes(r.buf).map_err(|e| e.to_string())?;
                if data.iter().any(|&x| x != r.gen as u8) {
                    return Err("torn transaction".into());
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("full_sweep_large_transaction", &report);
}

// ---- atomic allocation -----------------------------------------------------------------------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Cell {
    value: u64,
    next: PPtr<Cell>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct CellRoot {
    head: PPtr<Cell>,
}

fn cells(pool: &Pool<CellRoot>) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    let mut p = pool.root().unwrap().head;
    while !p.is_null() && out.len() < 1000 {
        let c = pool.get(p).map_err(|e| e.to_string())?;
        out.push(c.value);
        p = c.next;
    }
    Ok(out)
}

#[test]
fn atomic_allocation() {
    const OPS: usize = 100;
    let mut states = vec![Vec::new()];
    for i in 0..OPS {
        let mut s: Vec<u64> = states[states.len() - 1].clone();
        if i % 4 == 3 {
            s.remove(0);
        } else {
            s.insert(0, i as u64);
        }
        states.push(s);
    }
    let report = CrashTest::new()
        .run::<CellRoot, _, _, _>(
            "crash-atomic",
            pobj::MIN_POOL_SIZE,
            |_| Ok(()),
            OPS,
            |pool, i| {
                let root = pool.root_ptr();
                if i % 4 == 3 {
                    // Unlink and free the head atomically.
                    let head = pool.root().unwrap().head;
                    let next = pool.get(head).map_err(|e| e.to_string())?.next;
                    pool.transaction(|tx| {
                        tx.free(head)?;
                        tx.update_field(root, |r| &mut r.head, next)
                    })
                    .map_err(|e| e.to_string())
                } else {
                    let head = pool.root().unwrap().head;
                    pool.alloc_into(
                        root,
                        |r| &mut r.head,
                        Cell {
                            value: i as u64,
                            next: head,
                        },
                    )
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                }
            },
            move |pool, done| {
                accept(&cells(pool)?, &states, done)?;
                let n = pool.stats().heap.objects - 1;
                let len = cells(pool)?.len() as u64;
                if n != len {
                    return Err(format!("{n} cells allocated but {len} reachable"));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("atomic_allocation", &report);
}

// ---- recovery interrupted by crashes -----------------------------------------------------------

#[test]
fn recovery_interrupted_by_a_crash() {
    const OPS: usize = 12;
    let mut states: Vec<MultiState> = vec![(vec![0; 32], vec![[0; 24]; 3])];
    for i in 0..OPS {
        let mut s = states[states.len() - 1].clone();
        let (writes, _) = multi_writes(i);
        for (target, idx, v) in writes {
            if target == 3 {
                s.0[idx] = v;
            } else {
                s.1[target][idx] = v;
            }
        }
        states.push(s);
    }
    // Every image's recovery is itself crash-tested.
    let report = CrashTest::new()
        .recovery_every(1)
        .max_images_per_point(16)
        .run::<MultiRoot, _, _, _>(
            "crash-recovery",
            pobj::MIN_POOL_SIZE,
            |pool| {
                pool.transaction(|tx| {
                    for k in 0..3 {
                        let b = tx.alloc(Block { words: [0; 24] })?;
                        tx.root_mut()?.blocks[k] = b;
                    }
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            OPS,
            |pool, i| {
                let (writes, _) = multi_writes(i);
                pool.transaction(|tx| {
                    for &(target, idx, v) in &writes {
                        if target == 3 {
                            tx.root_mut()?.words[idx] = v;
                        } else {
                            let b = tx.root().blocks[target];
                            tx.get_mut(b)?.words[idx] = v;
                        }
                    }
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            move |pool, done| accept(&multi_read(pool)?, &states, done),
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("recovery_interrupted_by_a_crash", &report);
    assert!(report.recovery_images > 500, "{report}");
}

// ---- unlogged writes published by one commit word (the KV store's put and remove) ------------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct SlotTable {
    valid: u64,
    slots: [[u64; 16]; 16],
}

type SlotModel = Vec<Option<u64>>;

/// Operation i: fill a free slot with value i (every word), or free a valid slot.
fn slot_op(model: &SlotModel, i: usize) -> (usize, bool) {
    let r = mix(i as u64 + 5);
    let free: Vec<usize> = (0..16).filter(|&k| model[k].is_none()).collect();
    let used: Vec<usize> = (0..16).filter(|&k| model[k].is_some()).collect();
    if !used.is_empty() && (free.is_empty() || r.is_multiple_of(3)) {
        (used[(r >> 8) as usize % used.len()], false)
    } else {
        (free[(r >> 8) as usize % free.len()], true)
    }
}

#[test]
fn unlogged_writes_published_by_a_commit_word() {
    const OPS: usize = 80;
    let mut states: Vec<SlotModel> = vec![vec![None; 16]];
    let mut plan = Vec::new();
    for i in 0..OPS {
        let mut m = states[states.len() - 1].clone();
        let (k, fill) = slot_op(&m, i);
        m[k] = fill.then_some(i as u64 + 1);
        plan.push((k, fill));
        states.push(m);
    }
    let report = CrashTest::new()
        .run::<SlotTable, _, _, _>(
            "crash-commit-word",
            pobj::MIN_POOL_SIZE,
            |_| Ok(()),
            OPS,
            move |pool, i| {
                let (k, fill) = plan[i];
                let root = pool.root_ptr();
                let fences = pool.persist_stats().fences;
                pool.transaction(|tx| {
                    let valid = tx.root().valid;
                    if fill {
                        tx.update_field_unlogged(root, |r| &mut r.slots[k], [i as u64 + 1; 16])?;
                        tx.commit_word(root, |r| &mut r.valid, valid | 1 << k)
                    } else {
                        tx.commit_word(root, |r| &mut r.valid, valid & !(1 << k))
                    }
                })
                .map_err(|e| e.to_string())?;
                let used = pool.persist_stats().fences - fences;
                let want = if fill { 2 } else { 1 };
                if used != want {
                    return Err(format!("{used} fences, expected {want}"));
                }
                Ok(())
            },
            move |pool, done| {
                let t = pool.root().unwrap();
                let got: SlotModel = (0..16)
                    .map(|k| {
                        if t.valid & (1 << k) == 0 {
                            Ok(None)
                        } else if t.slots[k].iter().all(|&w| w == t.slots[k][0]) {
                            Ok(Some(t.slots[k][0]))
                        } else {
                            Err(format!("slot {k} is valid but torn: {:?}", t.slots[k]))
                        }
                    })
                    .collect::<Result<_, String>>()?;
                accept(&got, &states, done)
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("unlogged_writes_published_by_a_commit_word", &report);
}

// ---- transactions whose only change is one allocation or one free (no undo log) ----------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Empty {
    unused: u64,
}

#[test]
fn single_allocation_or_free_commits_with_one_word() {
    // Operation i allocates (small or large) when i is even, frees the previous allocation
    // when i is odd. The number of live objects is the state; the object's contents are
    // checked when it is live.
    const OPS: usize = 60;
    let mut counts = vec![2u64]; // the root and the object that keeps the run
    for i in 0..OPS {
        let c = counts[counts.len() - 1];
        counts.push(if i % 2 == 0 { c + 1 } else { c - 1 });
    }
    let live = std::sync::Arc::new(std::sync::Mutex::new(None::<PBytes>));
    let live2 = std::sync::Arc::clone(&live);
    let report = CrashTest::new()
        .run::<Empty, _, _, _>(
            "crash-one-word",
            4 << 20,
            // Warm the size class's run (creating a run takes fences of its own).
            |pool| {
                let b = pool
                    .transaction(|tx| tx.alloc_bytes(&[0u8; 300]))
                    .map_err(|e| e.to_string())?;
                let c = pool
                    .transaction(|tx| tx.alloc_bytes(&[0u8; 300]))
                    .map_err(|e| e.to_string())?;
                pool.transaction(|tx| tx.free_bytes(b))
                    .map_err(|e| e.to_string())?;
                let _ = c; // keeps the run from being reclaimed
                Ok(())
            },
            OPS,
            move |pool, i| {
                let fences = pool.persist_stats().fences;
                if i % 2 == 0 {
                    let len = if i % 4 == 0 { 300 } else { 100_000 };
                    let b = pool
                        .transaction(|tx| tx.alloc_bytes(&vec![i as u8; len]))
                        .map_err(|e| e.to_string())?;
                    *live2.lock().unwrap() = Some(b);
                } else {
                    let b = live2.lock().unwrap().take().ok_or("nothing to free")?;
                    pool.transaction(|tx| tx.free_bytes(b))
                        .map_err(|e| e.to_string())?;
                }
                let used = pool.persist_stats().fences - fences;
                let want = if i % 2 == 0 { 2 } else { 1 };
                if pool.persist_mode() != pobj::PersistMode::Msync && used != want {
                    return Err(format!("{used} fences, expected {want}"));
                }
                Ok(())
            },
            move |pool, done| {
                let objects = pool.stats().heap.objects;
                if objects != counts[done] && counts.get(done + 1) != Some(&objects) {
                    return Err(format!("{objects} objects after {done} operations"));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    print("single_allocation_or_free_commits_with_one_word", &report);
}
