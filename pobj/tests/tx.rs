//! Transactions: commit, abort by `Err` and by panic, nesting, logged-once ranges, large
//! transactions, out-of-space, byte buffers, atomic allocation, and the fence counts.

mod common;

use pobj::{Error, PBytes, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Root {
    head: PPtr<Node>,
    count: u64,
    big: PBytes,
    slots: [u64; 32],
}

impl Default for Root {
    fn default() -> Self {
        pobj::zeroed()
    }
}

#[derive(Debug, PartialEq)]
enum AppError {
    Pool(String),
    Refused,
}
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Pool(e.to_string())
    }
}

fn new_pool(dir: &tempfile::TempDir, size: u64) -> Pool<Root> {
    Pool::<Root>::create(common::pool_path(dir, "tx.pool"), "tx", size).unwrap()
}

fn list(pool: &Pool<Root>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut p = pool.root().unwrap().head;
    while !p.is_null() {
        let n = pool.get(p).unwrap();
        out.push(n.value);
        p = n.next;
    }
    out
}

fn push(pool: &Pool<Root>, v: u64) {
    pool.transaction(|tx| {
        let head = tx.root().head;
        let n = tx.alloc(Node {
            value: v,
            next: head,
        })?;
        let r = tx.root_mut()?;
        r.head = n;
        r.count += 1;
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn commit_is_visible_and_durable_across_reopen() {
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "tx.pool");
    {
        let pool = Pool::<Root>::create(&path, "tx", 8 << 20).unwrap();
        for v in 0..10 {
            push(&pool, v);
        }
        assert_eq!(list(&pool), (0..10).rev().collect::<Vec<_>>());
        assert_eq!(pool.stats().tx_committed, 10);
    }
    let pool = Pool::<Root>::open(&path, "tx").unwrap();
    assert_eq!(list(&pool), (0..10).rev().collect::<Vec<_>>());
    assert_eq!(pool.root().unwrap().count, 10);
    assert!(pool.check().is_ok(), "{:?}", pool.check());
}

#[test]
fn err_aborts_everything_including_allocations_and_frees() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    push(&pool, 1);
    push(&pool, 2);
    let before_root = pool.root().unwrap();
    let before_heap = pool.stats().heap;
    let r: Result<(), AppError> = pool.transaction(|tx| {
        let head = tx.root().head;
        let n = tx.alloc(Node {
            value: 99,
            next: head,
        })?;
        let old = tx.get(head)?.next;
        tx.free(head)?;
        tx.write(
            n,
            Node {
                value: 100,
                next: old,
            },
        )?;
        let r = tx.root_mut()?;
        r.head = n;
        r.count = 1000;
        r.slots[5] = 5;
        Err(AppError::Refused)
    });
    assert_eq!(r, Err(AppError::Refused));
    assert_eq!(pool.root().unwrap(), before_root);
    assert_eq!(list(&pool), vec![2, 1]);
    assert_eq!(
        pool.stats().heap,
        before_heap,
        "the allocation is undone and the free never happened"
    );
    assert_eq!(pool.stats().tx_aborted, 1);
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    // The pool is usable afterwards.
    push(&pool, 3);
    assert_eq!(list(&pool), vec![3, 2, 1]);
}

#[test]
fn panic_aborts_and_resumes() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    push(&pool, 1);
    let before = pool.root().unwrap();
    let heap = pool.stats().heap;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = pool.transaction(|tx| {
            tx.root_mut()?.count = 77;
            tx.alloc(Node::default())?;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        });
    }));
    let msg = caught.expect_err("the panic must resume");
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(pool.root().unwrap(), before);
    assert_eq!(pool.stats().heap, heap);
    assert!(pool.check().is_ok());
    push(&pool, 2);
    assert_eq!(list(&pool), vec![2, 1]);
}

#[test]
fn nested_transactions_flatten() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    // Inner success commits with the outer.
    pool.transaction(|tx| {
        tx.root_mut()?.count = 1;
        tx.transaction(|tx| {
            tx.root_mut()?.slots[0] = 10;
            Ok::<_, Error>(())
        })?;
        tx.root_mut()?.slots[1] = 11;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(
        (
            pool.root().unwrap().count,
            pool.root().unwrap().slots[0],
            pool.root().unwrap().slots[1]
        ),
        (1, 10, 11)
    );

    // An inner failure aborts the outer, even if the outer swallows the error.
    let r = pool.transaction(|tx| {
        tx.root_mut()?.count = 2;
        let inner: Result<(), AppError> = tx.transaction(|tx| {
            tx.root_mut()?.slots[0] = 20;
            Err(AppError::Refused)
        });
        assert_eq!(inner, Err(AppError::Refused));
        assert!(tx.is_aborted());
        assert!(matches!(tx.root_mut(), Err(Error::TxAborted)));
        Ok::<_, Error>(())
    });
    assert!(matches!(r, Err(Error::TxAborted)), "{r:?}");
    assert_eq!(
        (pool.root().unwrap().count, pool.root().unwrap().slots[0]),
        (1, 10)
    );

    // Pool::transaction inside a transaction on the same pool is refused, not deadlocked.
    pool.transaction(|_tx| {
        let inner = pool.transaction(|_| Ok::<_, Error>(()));
        assert!(matches!(inner, Err(Error::NestedTransaction)));
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn pool_reads_inside_a_transaction_are_refused() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    pool.transaction(|_tx| {
        assert!(matches!(
            pool.get(PPtr::<Node>::from_offset(64)),
            Err(Error::NestedTransaction)
        ));
        Ok::<_, Error>(())
    })
    .unwrap();
    pool.transaction(|_tx| {
        assert!(matches!(pool.root(), Err(Error::NestedTransaction)));
        assert!(matches!(pool.objects(), Err(Error::NestedTransaction)));
        Ok::<_, Error>(())
    })
    .unwrap();
    assert!(pool.check().is_ok());
}

#[test]
fn double_snapshot_is_logged_once() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    push(&pool, 1);
    let s0 = pool.persist_stats();
    pool.transaction(|tx| {
        tx.root_mut()?.count = 5;
        Ok::<_, Error>(())
    })
    .unwrap();
    let once = pool.persist_stats().since(&s0);
    let s1 = pool.persist_stats();
    pool.transaction(|tx| {
        for i in 0..100 {
            tx.root_mut()?.count = i;
            tx.root_mut()?.slots[3] = i;
        }
        let head = tx.root().head;
        for i in 0..10 {
            tx.get_mut(head)?.value = i;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let many = pool.persist_stats().since(&s1);
    // Root logged once (1 fence), the node once (1 fence), commit and retire (2 fences).
    assert_eq!(once.fences, 3);
    assert_eq!(many.fences, 4, "{many:?}");
    assert_eq!(pool.root().unwrap().count, 99);
    assert_eq!(pool.get(pool.root().unwrap().head).unwrap().value, 9);
}

#[test]
fn fence_counts() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    // Warm the size class so that the run exists.
    push(&pool, 0);

    let s = pool.persist_stats();
    pool.transaction(|_tx| Ok::<_, Error>(())).unwrap();
    pool.transaction(|tx| {
        let _ = tx.root().count;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(
        pool.persist_stats().since(&s).fences,
        0,
        "empty and read-only transactions issue no fence"
    );

    // Snapshot and write one range of 256 bytes: at most 3.
    let s = pool.persist_stats();
    pool.transaction(|tx| {
        tx.root_mut()?.slots = [7; 32];
        Ok::<_, Error>(())
    })
    .unwrap();
    let d = pool.persist_stats().since(&s);
    assert!(d.fences <= 3, "{d:?}");

    // Allocate and write a new object of up to 256 bytes and link it into one field: at most 4.
    let s = pool.persist_stats();
    push(&pool, 1);
    let d = pool.persist_stats().since(&s);
    assert!(d.fences <= 4, "{d:?}");
    if pool.persist_mode() != pobj::PersistMode::Msync {
        // In cache-line mode the allocation's entry shares the link snapshot's fence.
        assert_eq!(d.fences, 3, "alloc + link takes 3 fences: {d:?}");
    }

    // Atomic allocation outside a transaction.
    let s = pool.persist_stats();
    let root = pool.root_ptr();
    let p = pool
        .alloc_into(
            root,
            |r| &mut r.head,
            Node {
                value: 5,
                next: PPtr::null(),
            },
        )
        .unwrap();
    let d = pool.persist_stats().since(&s);
    assert!(d.fences <= 4, "{d:?}");
    if pool.persist_mode() != pobj::PersistMode::Msync {
        assert_eq!(d.fences, 3, "{d:?}");
    }
    assert_eq!(pool.root().unwrap().head, p);
    assert_eq!(pool.get(p).unwrap().value, 5);
}

#[test]
fn msync_mode_issues_at_most_two_msyncs_per_commit() {
    // Each shape of transaction: msync calls made by the commit (after the closure returned).
    type Body = fn(&mut pobj::Tx<'_, Root>) -> Result<(), Error>;
    let dir = common::disk_dir();
    let pool = Pool::<Root>::create(common::pool_path(&dir, "m.pool"), "tx", 8 << 20).unwrap();
    if std::env::var("POBJ_PERSIST").is_ok() {
        return; // forced mode: this test is about auto-detection
    }
    assert_eq!(pool.persist_mode(), pobj::PersistMode::Msync);
    push(&pool, 1);
    push(&pool, 2);
    let shapes: [(&str, Body); 5] = [
        ("snapshot", |tx| {
            tx.root_mut()?.slots[0] = 1;
            Ok(())
        }),
        ("alloc only", |tx| tx.alloc(Node::default()).map(|_| ())),
        ("alloc + link", |tx| {
            let n = tx.alloc(Node {
                value: 9,
                next: tx.root().head,
            })?;
            tx.root_mut()?.head = n;
            Ok(())
        }),
        ("unlink + free", |tx| {
            let head = tx.root().head;
            let next = tx.get(head)?.next;
            tx.root_mut()?.head = next;
            tx.free(head)
        }),
        ("free only", |tx| {
            let n = tx.alloc(Node::default())?;
            tx.free(n)
        }),
    ];
    for (name, body) in shapes {
        let mut before_commit = None;
        let s = pool.persist_stats();
        pool.transaction(|tx| {
            body(tx)?;
            before_commit = Some(pool.persist_stats());
            Ok::<_, Error>(())
        })
        .unwrap();
        let total = pool.persist_stats().since(&s);
        let commit = pool.persist_stats().since(&before_commit.unwrap());
        assert!(
            commit.msync_calls <= 2,
            "{name}: commit made {} msync calls",
            commit.msync_calls
        );
        assert!(commit.msync_calls >= 1, "{name}: commit made no msync call");
        assert_eq!(
            total.msync_calls, total.fences,
            "{name}: every fence is one msync here"
        );
    }
    assert!(pool.check().is_ok());
}

#[test]
fn large_transaction_extends_its_log() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 64 << 20);
    // A 4 MiB buffer, then one transaction that rewrites all of it and aborts, then one that
    // rewrites it and commits.
    let len = 4 << 20;
    pool.transaction(|tx| {
        let b = tx.alloc_bytes_zeroed(len)?;
        tx.root_mut()?.big = b;
        Ok::<_, Error>(())
    })
    .unwrap();
    let b = pool.root().unwrap().big;
    let r: Result<(), AppError> = pool.transaction(|tx| {
        let data = tx.bytes_mut(b)?;
        for (i, x) in data.iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        Err(AppError::Refused)
    });
    assert!(r.is_err());
    assert!(
        pool.bytes(b).unwrap().iter().all(|&x| x == 0),
        "abort restores 4 MiB"
    );
    pool.transaction(|tx| {
        let data = tx.bytes_mut(b)?;
        for (i, x) in data.iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let got = pool.bytes(b).unwrap();
    assert_eq!(got.len() as u64, len);
    assert!(got.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    // Many small snapshots in one transaction also overflow the first log buffer.
    pool.transaction(|tx| {
        for i in 0..2000u64 {
            let head = tx.root().head;
            let n = tx.alloc(Node {
                value: i,
                next: head,
            })?;
            tx.root_mut()?.head = n;
            tx.write_bytes(b, i * 1024, &i.to_le_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(list(&pool).len(), 2000);
    assert!(pool.check().is_ok(), "{:?}", pool.check());
}

#[test]
fn out_of_space_aborts_and_leaves_the_pool_as_before() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 4 << 20);
    push(&pool, 1);
    let before_root = pool.root().unwrap();
    let before_heap = pool.stats().heap;
    let r = pool.transaction(|tx| {
        tx.root_mut()?.count = 12345;
        loop {
            let head = tx.root().head;
            let n = tx.alloc(Node {
                value: 0,
                next: head,
            })?;
            tx.root_mut()?.head = n;
        }
        #[allow(unreachable_code)]
        Ok::<_, Error>(())
    });
    assert!(matches!(r, Err(Error::OutOfSpace { .. })), "{r:?}");
    assert_eq!(pool.root().unwrap(), before_root);
    assert_eq!(pool.stats().heap.objects, before_heap.objects);
    assert_eq!(
        pool.stats().heap.allocated_bytes,
        before_heap.allocated_bytes
    );
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    // Fill it for real (in many transactions), then free, then it fits again.
    let mut n = 0;
    loop {
        let r = pool.transaction(|tx| {
            let b = tx.alloc_bytes(&[1u8; 4000])?;
            let head = tx.root().head;
            let node = tx.alloc(Node {
                value: b.offset(),
                next: head,
            })?;
            tx.root_mut()?.head = node;
            Ok::<_, Error>(())
        });
        match r {
            Ok(()) => n += 1,
            Err(Error::OutOfSpace { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(n > 100, "only {n} objects fit");
    assert!(pool.check().is_ok());
    // A large allocation fails too.
    let r = pool.transaction(|tx| tx.alloc_bytes_zeroed(1 << 20).map(|_| ()));
    assert!(matches!(r, Err(Error::OutOfSpace { .. })));
    // Free everything but the original node.
    pool.transaction(|tx| {
        let mut p = tx.root().head;
        for _ in 0..n {
            let node = *tx.get(p)?;
            tx.free_bytes(PBytes::from_offset(node.value))?;
            tx.free(p)?;
            p = node.next;
        }
        tx.root_mut()?.head = p;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(list(&pool), vec![1]);
    assert!(pool.check().is_ok(), "{:?}", pool.check());
    pool.transaction(|tx| tx.alloc_bytes_zeroed(1 << 20).map(|_| ()))
        .unwrap();
}

#[test]
fn byte_buffers() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 32 << 20);
    for len in [
        0usize, 1, 15, 16, 17, 100, 4096, 65519, 65520, 65521, 300_000,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let b = pool
            .transaction(|tx| {
                let b = tx.alloc_bytes(&data)?;
                assert_eq!(tx.bytes(b)?, &data[..]);
                assert_eq!(tx.bytes_len(b)?, len as u64);
                tx.root_mut()?.big = b;
                Ok::<_, Error>(b)
            })
            .unwrap();
        assert_eq!(pool.bytes(b).unwrap(), data);
        if len >= 4 {
            pool.transaction(|tx| tx.write_bytes(b, len as u64 - 4, &[9, 9, 9, 9]))
                .unwrap();
            assert_eq!(&pool.bytes(b).unwrap()[len - 4..], &[9, 9, 9, 9]);
        }
        let r = pool.transaction(|tx| tx.write_bytes(b, len as u64, &[1]));
        assert!(matches!(r, Err(Error::OutOfBounds { .. })));
        // A byte buffer is not a Node and vice versa.
        assert!(matches!(
            pool.get(PPtr::<Node>::from_offset(b.offset())),
            Err(Error::TypeMismatch { .. })
        ));
        pool.transaction(|tx| tx.free_bytes(b)).unwrap();
        assert!(pool.bytes(b).is_err());
    }
    assert!(pool.check().is_ok(), "{:?}", pool.check());
}

#[test]
fn invalid_frees_are_errors() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    push(&pool, 1);
    let head = pool.root().unwrap().head;
    let r = pool.transaction(|tx| {
        tx.free(head)?;
        tx.free(head)
    });
    assert!(matches!(r, Err(Error::InvalidFree { .. })));
    let root = pool.root_ptr();
    assert!(matches!(
        pool.transaction(|tx| tx.free(root)),
        Err(Error::InvalidFree { .. })
    ));
    assert_eq!(list(&pool), vec![1]);
    // Allocated and freed in the same transaction: nothing remains.
    let heap = pool.stats().heap;
    pool.transaction(|tx| {
        let n = tx.alloc(Node::default())?;
        let b = tx.alloc_bytes(&vec![0u8; 200_000])?;
        tx.free(n)?;
        tx.free_bytes(b)
    })
    .unwrap();
    assert_eq!(pool.stats().heap, heap);
    assert!(pool.check().is_ok(), "{:?}", pool.check());
}

#[test]
fn free_from_and_alloc_into() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    let root = pool.root_ptr();
    let a = pool
        .alloc_into(
            root,
            |r| &mut r.head,
            Node {
                value: 1,
                next: PPtr::null(),
            },
        )
        .unwrap();
    let b = pool
        .alloc_into(
            a,
            |n| &mut n.next,
            Node {
                value: 2,
                next: PPtr::null(),
            },
        )
        .unwrap();
    assert_eq!(list(&pool), vec![1, 2]);
    pool.free_from(a, |n| &mut n.next).unwrap();
    assert_eq!(list(&pool), vec![1]);
    assert!(pool.get(b).is_err());
    pool.free_from(a, |n| &mut n.next).unwrap(); // null: nothing to do
    assert!(pool.check().is_ok());
}

#[test]
fn allocation_churn_does_not_leak() {
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 64 << 20);
    let start = pool.stats().heap;
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut live: Vec<PBytes> = Vec::new();
    for round in 0..3000 {
        let r = next();
        if live.len() < 400 && (r % 3 != 0 || live.is_empty()) {
            let size = match r % 10 {
                0 => next() % 600_000,
                1..=3 => next() % 8000,
                _ => next() % 300,
            };
            let b = pool.transaction(|tx| tx.alloc_bytes_zeroed(size)).unwrap();
            live.push(b);
        } else {
            let i = (next() as usize) % live.len();
            let b = live.swap_remove(i);
            pool.transaction(|tx| tx.free_bytes(b)).unwrap();
        }
        if round % 1000 == 999 {
            assert!(pool.check().is_ok(), "{:?}", pool.check());
        }
    }
    pool.transaction(|tx| {
        for b in live.drain(..) {
            tx.free_bytes(b)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let end = pool.stats().heap;
    assert_eq!(end.objects, start.objects);
    assert_eq!(end.allocated_bytes, start.allocated_bytes);
    assert_eq!(
        end.free_bytes, start.free_bytes,
        "free space returns to its starting value"
    );
    assert!(pool.check().is_ok());
}

#[test]
fn aligned_types_are_aligned() {
    #[derive(Persistent, Clone, Copy)]
    #[repr(C, align(64))]
    struct Line {
        words: [u64; 8],
    }
    let dir = common::shm_dir();
    let pool = new_pool(&dir, 8 << 20);
    let ptrs = pool
        .transaction(|tx| {
            (0..50)
                .map(|i| tx.alloc(Line { words: [i; 8] }))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    for (i, p) in ptrs.iter().enumerate() {
        assert_eq!(pool.get(*p).unwrap().words[0], i as u64);
        pool.read(*p, |l| {
            assert_eq!(std::ptr::from_ref::<Line>(l) as usize % 64, 0);
        })
        .unwrap();
    }
}
