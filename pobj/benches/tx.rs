//! Transaction micro-benchmarks on /dev/shm (the same set PMDK's figures in the transactions
//! issue were measured with): empty transaction, snapshot+write 64 B, alloc+write 128 B, free,
//! atomic allocation. `cargo bench -p pobj --bench tx`.
//!
//! Before timing, each case is run once and its fence count printed (deterministic).

#![expect(
    missing_docs,
    reason = "criterion's macros generate the undocumented entry points"
)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Obj128 {
    words: [u64; 16],
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    data: [u64; 8],
    slot: PPtr<Obj128>,
}

fn pool_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn open() -> (Pool<Root>, std::path::PathBuf) {
    let path = pool_dir().join(format!("pobj-bench-{}.pool", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let pool = Pool::<Root>::create(&path, "bench", 1 << 30).expect("create bench pool");
    (pool, path)
}

fn free_all(pool: &Pool<Root>, ptrs: &mut Vec<PPtr<Obj128>>) {
    for chunk in ptrs.chunks(2000) {
        pool.transaction(|tx| {
            for p in chunk {
                tx.free(*p)?;
            }
            Ok::<_, Error>(())
        })
        .expect("free");
    }
    ptrs.clear();
}

fn fences(pool: &Pool<Root>, name: &str, f: impl FnOnce()) {
    let s = pool.persist_stats();
    f();
    let d = pool.persist_stats().since(&s);
    eprintln!(
        "{name}: {} fences, {} cache lines flushed, mode {}",
        d.fences,
        d.lines_flushed,
        pool.persist_mode()
    );
}

fn bench(c: &mut Criterion) {
    let (pool, path) = open();
    let val = Obj128 { words: [7; 16] };
    // Warm up the size class used below.
    let mut live = vec![pool.transaction(|tx| tx.alloc(val)).expect("warm")];

    fences(&pool, "empty", || {
        pool.transaction(|_| Ok::<_, Error>(())).expect("tx");
    });
    fences(&pool, "snapshot+write 64B", || {
        pool.transaction(|tx| {
            tx.root_mut()?.data = [1; 8];
            Ok::<_, Error>(())
        })
        .expect("tx");
    });
    fences(&pool, "alloc+write 128B", || {
        live.push(pool.transaction(|tx| tx.alloc(val)).expect("tx"));
    });
    fences(&pool, "free", || {
        let p = live.pop().expect("one");
        pool.transaction(|tx| tx.free(p)).expect("tx");
    });
    fences(&pool, "atomic alloc", || {
        let root = pool.root_ptr();
        live.push(
            pool.alloc_into(root, |r| &mut r.slot, val)
                .expect("alloc_into"),
        );
    });

    let mut g = c.benchmark_group("pobj_tx");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("empty", |b| {
        b.iter(|| pool.transaction(|_| Ok::<_, Error>(())).expect("tx"));
    });
    let mut k = 0u64;
    g.bench_function("snapshot_write_64", |b| {
        b.iter(|| {
            k += 1;
            pool.transaction(|tx| {
                tx.root_mut()?.data = [k; 8];
                Ok::<_, Error>(())
            })
            .expect("tx");
        });
    });
    g.bench_function("alloc_write_128", |b| {
        b.iter_custom(|iters| {
            let mut ptrs = Vec::with_capacity(iters as usize);
            let t = Instant::now();
            for _ in 0..iters {
                ptrs.push(pool.transaction(|tx| tx.alloc(val)).expect("tx"));
            }
            let d = t.elapsed();
            free_all(&pool, &mut ptrs);
            d
        });
    });
    g.bench_function("free", |b| {
        b.iter_custom(|iters| {
            let mut ptrs = Vec::with_capacity(iters as usize);
            for chunk in 0..iters.div_ceil(2000) {
                let n = (iters - chunk * 2000).min(2000);
                pool.transaction(|tx| {
                    for _ in 0..n {
                        ptrs.push(tx.alloc(val)?);
                    }
                    Ok::<_, Error>(())
                })
                .expect("alloc");
            }
            let t = Instant::now();
            for p in &ptrs {
                pool.transaction(|tx| tx.free(*p)).expect("free");
            }
            t.elapsed()
        });
    });
    g.bench_function("atomic_alloc", |b| {
        let root = pool.root_ptr();
        b.iter_custom(|iters| {
            let mut ptrs = Vec::with_capacity(iters as usize);
            let t = Instant::now();
            for _ in 0..iters {
                ptrs.push(
                    pool.alloc_into(root, |r| &mut r.slot, val)
                        .expect("alloc_into"),
                );
            }
            let d = t.elapsed();
            pool.transaction(|tx| tx.update_field(root, |r| &mut r.slot, PPtr::null()))
                .expect("unlink");
            free_all(&pool, &mut ptrs);
            d
        });
    });
    g.finish();
    drop(pool);
    let _ = std::fs::remove_file(path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
