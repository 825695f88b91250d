//! The pobj part of the Miri subset (README: "Miri"): small scenarios on the simulated medium
//! that exercise every path by which pobj turns pool bytes into Rust values and back — the
//! derive and `as_bytes`, the `Region` accessors behind every `Pool`/`Tx` method, commit,
//! abort and rollback (with a log extension), allocation and free of small and large objects,
//! recovery of a post-crash image, and the optimistic (racy) read primitives against a
//! concurrent shared transaction. Under Miri they check for undefined behaviour (aliasing,
//! uninitialised reads, data races); under `cargo test` they check behaviour.

use std::sync::{Arc, Mutex};

use pobj::{as_bytes, from_bytes, zeroed, Error, PBytes, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, PartialEq, Default)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    head: PPtr<Node>,
    count: u64,
    words: [u64; 4],
    buf: PBytes,
    big: PBytes,
}

const LAYOUT: &str = "miri";
const SIZE: u64 = 2 << 20;

fn pool() -> (Pool<Root>, Arc<pobj::crash::SimMedium>) {
    Pool::<Root>::create_simulated(LAYOUT, SIZE).expect("create")
}

#[test]
fn derive_and_byte_views() {
    let n = Node {
        value: 7,
        next: PPtr::from_offset(64),
    };
    let b = as_bytes(&n);
    assert_eq!(b.len(), 16);
    assert_eq!(from_bytes::<Node>(b), Some(n));
    let p = [Pair::<u32, u32> { a: 1, b: 2 }; 3];
    assert_eq!(as_bytes(&p).len(), 24);
    assert_eq!(from_bytes::<[Pair<u32, u32>; 3]>(as_bytes(&p)), Some(p));
    assert_eq!(zeroed::<Root>().count, 0);
    assert_eq!(from_bytes::<Node>(&[0u8; 15]), None);
}

#[test]
fn commit_abort_and_rollback() {
    let (pool, _sim) = pool();
    pool.transaction(|tx| {
        let a = tx.alloc(Node {
            value: 1,
            next: PPtr::null(),
        })?;
        let root = tx.root_mut()?;
        root.head = a;
        root.count = 1;
        Ok::<_, Error>(())
    })
    .expect("commit");
    // An error rolls back a logged write, an allocation and a field update.
    let r = pool.transaction(|tx| {
        tx.root_mut()?.count = 99;
        let head = tx.root().head;
        tx.update_field(head, |n| &mut n.value, 42)?;
        tx.alloc(Node::default())?;
        Err::<(), _>(Error::TxAborted)
    });
    assert!(r.is_err());
    let root = pool.root().expect("root");
    assert_eq!(root.count, 1);
    assert_eq!(pool.get(root.head).expect("head").value, 1);
    // A panic rolls back too.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = pool.transaction(|tx| {
            tx.root_mut()?.words[0] = 5;
            panic!("inside a transaction");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        });
    }));
    assert!(r.is_err());
    assert_eq!(pool.root().expect("root").words[0], 0);
    // A failed nested transaction dooms the outer one.
    let r = pool.transaction(|tx| {
        tx.root_mut()?.words[1] = 3;
        let _ = tx.transaction(|_| Err::<(), Error>(Error::TxAborted));
        Ok::<_, Error>(())
    });
    assert!(r.is_err());
    assert_eq!(pool.root().expect("root").words[1], 0);
    assert!(pool.check().is_ok());
}

#[test]
fn every_write_path() {
    let (pool, _sim) = pool();
    let root_ptr = pool.root_ptr();
    pool.transaction(|tx| {
        let b = tx.alloc_bytes(b"hello, pool")?;
        tx.write_bytes(b, 0, b"HELLO")?;
        tx.bytes_mut(b)?[7] = b'P';
        tx.update_at(
            root_ptr,
            core::mem::offset_of!(Root, words),
            [1u64, 2, 3, 4],
        )?;
        tx.update_at_unlogged(root_ptr, core::mem::offset_of!(Root, count), 9u64)?;
        tx.root_mut()?.buf = b;
        let n = tx.alloc_zeroed::<Node>()?;
        tx.write(
            n,
            Node {
                value: 5,
                next: PPtr::null(),
            },
        )?;
        tx.commit_word(root_ptr, |r| &mut r.head, n)?;
        Ok::<_, Error>(())
    })
    .expect("commit");
    let root = pool.root().expect("root");
    assert_eq!(root.words, [1, 2, 3, 4]);
    assert_eq!(root.count, 9);
    assert_eq!(pool.bytes(root.buf).expect("bytes"), b"HELLO, Pool");
    assert_eq!(pool.read(root.head, |n| n.value).expect("read"), 5);
    assert_eq!(pool.read_bytes(root.buf, <[u8]>::len).expect("len"), 11);
    // The racy primitives read shared copies of the same bytes (no writer here).
    let (node, buf) = pool
        .transaction(|tx| {
            let n = tx.alloc_shared(tx.load(root.head)?)?;
            let b = tx.alloc_bytes_shared(b"HELLO, Pool")?;
            Ok::<_, Error>((n, b))
        })
        .expect("shared copies");
    let mut w = [0u64; 1];
    // SAFETY: no thread writes the node.
    unsafe { pool.read_words(node, 0, &mut w) }.expect("read_words");
    assert_eq!(w[0], 5);
    let mut out = [0u8; 5];
    // SAFETY: no thread writes the buffer.
    unsafe { pool.read_bytes_racy(buf, 6, &mut out) }.expect("racy bytes");
    assert_eq!(&out, b" Pool");
}

#[test]
fn alloc_free_small_and_large_and_reopen() {
    let (pool, sim) = pool();
    pool.transaction(|tx| {
        let big = tx.alloc_bytes_zeroed(300_000)?;
        tx.write_bytes(big, 299_990, b"tail")?;
        tx.root_mut()?.big = big;
        let mut head = PPtr::null();
        for v in 0..8 {
            head = tx.alloc(Node {
                value: v,
                next: head,
            })?;
        }
        tx.root_mut()?.head = head;
        Ok::<_, Error>(())
    })
    .expect("alloc");
    let objects = pool.objects().expect("objects");
    assert_eq!(objects.len(), 1 + 1 + 8, "root, big buffer, nodes");
    // Free half of the list and the big buffer in one transaction.
    pool.transaction(|tx| {
        for _ in 0..4 {
            let h = tx.root().head;
            let next = tx.get(h)?.next;
            tx.free(h)?;
            tx.root_mut()?.head = next;
        }
        let big = tx.root().big;
        tx.free_bytes(big)?;
        tx.root_mut()?.big = PBytes::null();
        Ok::<_, Error>(())
    })
    .expect("free");
    assert_eq!(pool.objects().expect("objects").len(), 1 + 4);
    assert!(pool.check().is_ok());
    drop(pool);
    // Reopen from the persisted image: the heap is rebuilt from the media.
    let (again, _) = Pool::<Root>::open_image(&sim.persisted_image(), LAYOUT).expect("reopen");
    let head = again.root().expect("root").head;
    assert_eq!(again.get(head).expect("head").value, 3);
    assert!(again.check().is_ok());
}

#[test]
fn recovery_rolls_back_a_crash_with_a_log_extension() {
    let (pool, sim) = pool();
    pool.transaction(|tx| {
        let b = tx.alloc_bytes_zeroed(16 << 10)?;
        tx.root_mut()?.buf = b;
        Ok::<_, Error>(())
    })
    .expect("setup");
    // Capture the images a power failure could leave at each fence of the transaction.
    let images: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let i2 = Arc::clone(&images);
    sim.set_hook(Some(Box::new(move |cp| {
        // Every crash point's working image (all stores reached the medium) and persisted image
        // (none did). Under Miri, whose race detector makes a copy of the whole working image by
        // 262,144 atomic loads take minutes, the persisted images only: they still hold the
        // log, extension included, that recovery must roll back.
        let mut images = i2.lock().expect("images");
        images.push(cp.persisted.to_vec());
        if !cfg!(miri) {
            images.push(cp.working());
        }
    })));
    let buf = pool.root().expect("root").buf;
    pool.transaction(|tx| {
        // 16 KiB of snapshots do not fit the lane's 8 KiB buffer: the log is extended.
        tx.bytes_mut(buf)?.fill(0xEE);
        tx.root_mut()?.count = 1;
        Ok::<_, Error>(())
    })
    .expect("big transaction");
    sim.set_hook(None);
    let images = images.lock().expect("images").clone();
    assert!(images.len() >= 3);
    // Each captured image recovers to the state before or after the transaction.
    for img in &images {
        let (p, _) = Pool::<Root>::open_image(img, LAYOUT).expect("recover");
        let r = p.root().expect("root");
        let bytes = p.bytes(r.buf).expect("buf");
        let before = r.count == 0 && bytes.iter().all(|&b| b == 0);
        let after = r.count == 1 && bytes.iter().all(|&b| b == 0xEE);
        assert!(before || after, "torn transaction after recovery");
        assert!(p.check().is_ok());
    }
}

#[test]
fn racy_reads_against_a_concurrent_shared_transaction() {
    let (pool, _sim) = pool();
    let node = pool
        .transaction(|tx| {
            // Shared: racy reads are of shared objects only.
            let n = tx.alloc_shared(Node::default())?;
            tx.root_mut()?.head = n;
            Ok::<_, Error>(n)
        })
        .expect("setup");
    let pool = Arc::new(pool);
    let writer = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            for v in 1..=3u64 {
                // SAFETY: only this thread writes the node, through `update_at` (atomic word
                // stores, no `&mut`); the reader uses the racy-read primitives.
                unsafe {
                    pool.transaction_shared(|tx| tx.update_at(node, 0, v))
                        .expect("shared transaction");
                }
            }
        })
    };
    let mut last = 0;
    for _ in 0..3 {
        let mut w = [0u64; 2];
        // SAFETY: the writer stores atomically (contract of `read_words`).
        unsafe { pool.read_words(node, 0, &mut w) }.expect("racy read");
        assert!(w[0] >= last && w[0] <= 3);
        last = w[0];
    }
    writer.join().expect("writer");
    let last_value = pool.transaction(|tx| tx.load(node)).expect("node").value;
    assert_eq!(last_value, 3);
}
