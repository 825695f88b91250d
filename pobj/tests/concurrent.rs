//! Transactions from several threads: safe ones (serialized by the pool lock) and shared ones
//! (concurrent, in separate lanes, on disjoint objects).

mod common;

use std::sync::Arc;

use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Counter {
    value: u64,
    head: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    counters: [PPtr<Counter>; 8],
    shared: u64,
}

const THREADS: usize = 4;
const PER_THREAD: u64 = 300;

fn setup(dir: &tempfile::TempDir) -> (Arc<Pool<Root>>, std::path::PathBuf) {
    let path = common::pool_path(dir, "conc.pool");
    let pool = Pool::<Root>::create(&path, "conc", 32 << 20).unwrap();
    pool.transaction(|tx| {
        for i in 0..8 {
            let c = tx.alloc(Counter {
                value: 0,
                head: PPtr::null(),
            })?;
            tx.root_mut()?.counters[i] = c;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    (Arc::new(pool), path)
}

fn verify(pool: &Pool<Root>) {
    let root = pool.root().unwrap();
    for t in 0..THREADS {
        let c = pool.get(root.counters[t]).unwrap();
        assert_eq!(c.value, PER_THREAD);
        let mut n = 0;
        let mut p = c.head;
        while !p.is_null() {
            let node = pool.get(p).unwrap();
            assert_eq!(node.value, PER_THREAD - n);
            n += 1;
            p = node.next;
        }
        assert_eq!(n, PER_THREAD);
    }
    let report = pool.check();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn safe_transactions_from_many_threads() {
    let dir = common::shm_dir();
    let (pool, path) = setup(&dir);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    pool.transaction(|tx| {
                        let cp = tx.root().counters[t];
                        let c = *tx.get(cp)?;
                        let n = tx.alloc(Node {
                            value: c.value + 1,
                            next: c.head,
                        })?;
                        tx.write(
                            cp,
                            Counter {
                                value: c.value + 1,
                                head: n,
                            },
                        )?;
                        tx.root_mut()?.shared += 1;
                        // Now and then an object nothing links to (committed: a user-level leak).
                        if i % 5 == 4 {
                            let _ = tx.alloc(Node {
                                value: 0,
                                next: PPtr::null(),
                            })?;
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                    // Readers run between transactions.
                    let _ = pool.root().unwrap().shared;
                    let r: Result<(), Error> = pool.transaction(|tx| {
                        tx.root_mut()?.shared += 1000;
                        Err(Error::TxAborted)
                    });
                    assert!(r.is_err());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(pool.root().unwrap().shared, THREADS as u64 * PER_THREAD);
    verify(&pool);
    let s = pool.stats();
    assert_eq!(s.tx_committed, 1 + THREADS as u64 * PER_THREAD);
    assert_eq!(s.tx_aborted, THREADS as u64 * PER_THREAD);
    drop(pool);
    let pool = Pool::<Root>::open(&path, "conc").unwrap();
    verify(&pool);
}

#[test]
fn shared_transactions_run_concurrently_on_disjoint_objects() {
    let dir = common::shm_dir();
    let (pool, path) = setup(&dir);
    let barrier = Arc::new(std::sync::Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = Arc::clone(&pool);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let cp = pool.root().unwrap().counters[t];
                for i in 0..PER_THREAD {
                    // SAFETY: each thread modifies only its own counter and the nodes it
                    // allocates; the root is only read, and no one modifies it meanwhile.
                    let r = unsafe {
                        pool.transaction_shared(|tx| {
                            let c = *tx.get(cp)?;
                            let n = tx.alloc(Node {
                                value: c.value + 1,
                                next: c.head,
                            })?;
                            let junk = tx.alloc_bytes(&[t as u8; 100])?;
                            tx.free_bytes(junk)?;
                            tx.write(
                                cp,
                                Counter {
                                    value: c.value + 1,
                                    head: n,
                                },
                            )?;
                            Ok::<_, Error>(())
                        })
                    };
                    r.unwrap();
                    // An aborted shared transaction in between.
                    // SAFETY: as above.
                    let r: Result<(), Error> = unsafe {
                        pool.transaction_shared(|tx| {
                            tx.get_mut(cp)?.value = 999_999;
                            tx.alloc(Node {
                                value: i,
                                next: PPtr::null(),
                            })?;
                            Err(Error::TxAborted)
                        })
                    };
                    assert!(r.is_err());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    verify(&pool);
    drop(pool);
    let pool = Pool::<Root>::open(&path, "conc").unwrap();
    verify(&pool);
}

#[test]
fn pool_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pool<Root>>();
}
