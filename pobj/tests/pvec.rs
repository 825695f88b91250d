//! `PVec<T>`: behaviour (std-like operations, reads from a pool and from a transaction,
//! reopen of a file pool), aborts by `Err` and by panic, free, out-of-range indexes, damaged
//! handles, the fence count of each operation, and a crash test of regrowing pushes and sets.

mod common;

use pobj::collections::{VecHeader, MAX_ELEM_ALIGN};
use pobj::crash::CrashTest;
use pobj::{Error, PPtr, PString, PVec, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Order {
    id: u64,
    qty: u32,
    price: u32,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    orders: PVec<Order>,
    nums: PVec<u64>,
    count: u64,
}

fn order(i: u64) -> Order {
    Order {
        id: i,
        qty: (i % 7) as u32,
        price: (i * 3) as u32,
    }
}

fn sim_pool() -> Pool<Root> {
    Pool::<Root>::create_simulated("pvec", 8 << 20).unwrap().0
}

/// A pool whose root holds an empty `nums` vector.
fn pool_with_nums() -> (Pool<Root>, PVec<u64>) {
    let pool = sim_pool();
    let v = pool
        .transaction(|tx| {
            let v = PVec::<u64>::new(tx)?;
            tx.root_mut()?.nums = v;
            Ok::<_, Error>(v)
        })
        .unwrap();
    (pool, v)
}

/// The heap's objects, allocated bytes and free bytes (not its run count: a run formatted for
/// a size class stays, empty, after its blocks are freed or an abort releases them).
fn space(pool: &Pool<Root>) -> (u64, u64, u64) {
    let h = pool.stats().heap;
    (h.objects, h.allocated_bytes, h.free_bytes)
}

fn push_all(pool: &Pool<Root>, v: PVec<u64>, items: impl IntoIterator<Item = u64>) {
    pool.transaction(|tx| {
        for x in items {
            v.push(tx, x)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn a_vector_of_user_structs_in_a_root_field_survives_reopen_of_a_file_pool() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "pvec.pool");
    let mut caps = Vec::new();
    {
        let pool = Pool::<Root>::create(&path, "pvec", 8 << 20).unwrap();
        pool.transaction(|tx| {
            let v = PVec::<Order>::new(tx)?;
            tx.root_mut()?.orders = v;
            Ok::<_, Error>(())
        })
        .unwrap();
        let v = pool.root().unwrap().orders;
        assert_eq!(v.len(&pool).unwrap(), 0);
        assert_eq!(
            v.capacity(&pool).unwrap(),
            0,
            "no buffer before the first push"
        );
        for i in 0..100 {
            pool.transaction(|tx| v.push(tx, order(i))).unwrap();
            caps.push(v.capacity(&pool).unwrap());
        }
        assert_eq!(v.len(&pool).unwrap(), 100);
        assert_eq!(v.get(&pool, 42).unwrap(), order(42));
    }
    // Doubling from a first buffer of 4: 4, 8, 16, 32, 64, 128.
    caps.dedup();
    assert_eq!(caps, vec![4, 8, 16, 32, 64, 128]);
    let pool = Pool::<Root>::open(&path, "pvec").unwrap();
    let v = pool.root().unwrap().orders;
    let all = v.to_vec(&pool).unwrap();
    assert_eq!(all, (0..100).map(order).collect::<Vec<_>>());
    let iterated: Vec<Order> = v.iter(&pool).unwrap().map(Result::unwrap).collect();
    assert_eq!(iterated, all);
    assert_eq!(v.last(&pool).unwrap(), Some(order(99)));
    assert!(pool.check().is_ok(), "{}", pool.check());
}

#[test]
fn operations_behave_like_std_vec() {
    let (pool, v) = pool_with_nums();
    let mut model: Vec<u64> = Vec::new();
    pool.transaction(|tx| {
        assert!(v.is_empty(tx)?);
        v.extend_from_slice(tx, &[1, 2, 3, 4, 5])?;
        v.push(tx, 6)?;
        assert_eq!(v.pop(tx)?, Some(6));
        v.set(tx, 0, 10)?;
        v.truncate(tx, 4)?;
        v.truncate(tx, 100)?; // longer than the vector: nothing
        v.reserve(tx, 50)?;
        assert!(v.capacity(tx)? >= 54);
        assert_eq!(v.to_vec(tx)?, vec![10, 2, 3, 4]);
        Ok::<_, Error>(())
    })
    .unwrap();
    model.extend_from_slice(&[10, 2, 3, 4]);
    assert_eq!(v.to_vec(&pool).unwrap(), model);
    let cap = v.capacity(&pool).unwrap();
    pool.transaction(|tx| v.clear(tx)).unwrap();
    assert_eq!(v.len(&pool).unwrap(), 0);
    assert_eq!(v.capacity(&pool).unwrap(), cap, "clear keeps the capacity");
    assert_eq!(pool.transaction(|tx| v.pop(tx)).unwrap(), None);
    assert_eq!(v.last(&pool).unwrap(), None);
    // from_slice allocates exactly what it needs.
    let w = pool
        .transaction(|tx| PVec::from_slice(tx, &[7u64, 8, 9]))
        .unwrap();
    assert_eq!(w.to_vec(&pool).unwrap(), vec![7, 8, 9]);
    assert_eq!(w.capacity(&pool).unwrap(), 3);
    assert!(pool.check().is_ok(), "{}", pool.check());
}

#[test]
fn a_transaction_reads_its_own_changes_and_the_pool_only_committed_ones() {
    let (pool, v) = pool_with_nums();
    push_all(&pool, v, [1, 2]);
    pool.transaction(|tx| {
        v.push(tx, 3)?;
        v.set(tx, 0, 100)?;
        // The transaction's view has the uncommitted changes.
        assert_eq!(v.to_vec(tx)?, vec![100, 2, 3]);
        let seen: Vec<u64> = v.iter(tx)?.collect::<Result<_, _>>()?;
        assert_eq!(seen, vec![100, 2, 3]);
        // A read of the pool from inside its own transaction is refused, not a deadlock.
        assert!(matches!(v.len(&pool), Err(Error::NestedTransaction)));
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(v.to_vec(&pool).unwrap(), vec![100, 2, 3]);
}

#[test]
fn pool_iteration_reads_each_chunk_from_the_state_committed_then() {
    let (pool, v) = pool_with_nums();
    // 20 000 elements: three chunks of 8192 (64 KiB of u64).
    pool.transaction(|tx| v.extend_from_slice(tx, &(0..20_000u64).collect::<Vec<_>>()))
        .unwrap();
    let all: Vec<u64> = v.iter(&pool).unwrap().map(Result::unwrap).collect();
    assert_eq!(all, (0..20_000).collect::<Vec<_>>());
    let mut it = v.iter(&pool).unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    // Between chunks another transaction commits: the next chunk sees it, and the iteration
    // stops at the new, shorter length.
    pool.transaction(|tx| {
        v.set(tx, 9000, 1)?;
        v.truncate(tx, 10_000)
    })
    .unwrap();
    let rest: Vec<u64> = it.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 9_999);
    assert_eq!(rest[8999], 1, "the second chunk comes from the new state");
    assert_eq!(
        rest[100], 101,
        "the first chunk was copied before the change"
    );
}

/// Runs a transaction that changes `v` thoroughly (regrowth, pops, a pop-then-push into the
/// popped slot, sets, a truncate, a new vector) and then fails, by `Err` or by a panic.
fn failing_transaction(pool: &Pool<Root>, v: PVec<u64>, panic: bool) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.transaction(|tx| {
            assert_eq!(v.pop(tx)?, Some(9));
            v.push(tx, 900)?; // into the popped slot: must be logged
            v.set(tx, 0, 1000)?;
            for i in 0..40 {
                v.push(tx, i)?; // regrows twice
            }
            v.truncate(tx, 3)?;
            v.push(tx, 5)?;
            let w = PVec::<u64>::from_slice(tx, &[1, 2, 3])?;
            tx.root_mut()?.nums = w;
            assert!(!panic, "injected panic");
            Err::<(), _>(Error::TxAborted)
        })
    }));
    match r {
        Ok(res) => assert!(matches!(res, Err(Error::TxAborted)) && !panic),
        Err(_) => assert!(panic),
    }
}

#[test]
fn abort_by_err_or_panic_leaves_the_vector_and_the_heap_as_before() {
    for panic in [false, true] {
        let (pool, v) = pool_with_nums();
        push_all(&pool, v, 0..10);
        let (before, cap, heap) = (
            v.to_vec(&pool).unwrap(),
            v.capacity(&pool).unwrap(),
            space(&pool),
        );
        failing_transaction(&pool, v, panic);
        assert_eq!(v.to_vec(&pool).unwrap(), before, "panic: {panic}");
        assert_eq!(v.capacity(&pool).unwrap(), cap);
        assert_eq!(pool.root().unwrap().nums, v);
        assert_eq!(space(&pool), heap, "objects and bytes as before");
        assert_eq!(pool.stats().tx_aborted, 1);
        assert!(pool.check().is_ok(), "{}", pool.check());
        // The vector is usable afterwards.
        push_all(&pool, v, [77]);
        assert_eq!(v.last(&pool).unwrap(), Some(77));
    }
}

#[test]
fn pop_then_push_in_an_aborted_transaction_brings_the_popped_element_back() {
    let (pool, v) = pool_with_nums();
    push_all(&pool, v, [1, 2, 3]);
    let r = pool.transaction(|tx| {
        assert_eq!(v.pop(tx)?, Some(3));
        v.push(tx, 30)?; // into the slot of 3, an element of the committed state: logged
        v.push(tx, 40)?; // past the watermark: unlogged
        assert_eq!(v.to_vec(tx)?, vec![1, 2, 30, 40]);
        Err::<(), _>(Error::TxAborted)
    });
    assert!(r.is_err());
    assert_eq!(v.to_vec(&pool).unwrap(), vec![1, 2, 3]);
}

#[test]
fn a_push_into_a_slot_that_a_committed_pop_gave_up_is_logged_too() {
    let (pool, v) = pool_with_nums();
    push_all(&pool, v, [1, 2, 3]);
    pool.transaction(|tx| v.pop(tx)).unwrap();
    let r = pool.transaction(|tx| {
        v.push(tx, 30)?; // below the watermark, which the committed pop left at 3
        v.push(tx, 40)?;
        Err::<(), _>(Error::TxAborted)
    });
    assert!(r.is_err());
    assert_eq!(v.to_vec(&pool).unwrap(), vec![1, 2]);
    // The given-up slot holds 3 again (nobody's bytes, but it shows the write was logged):
    // seen through a length raised on purpose.
    pool.transaction(|tx| tx.get_mut(v.header()).map(|h| h.state.len = 3))
        .unwrap();
    assert_eq!(v.to_vec(&pool).unwrap(), vec![1, 2, 3]);
}

#[test]
fn free_returns_the_space() {
    let (pool, _) = pool_with_nums();
    let heap = space(&pool);
    let v = pool.transaction(PVec::<Order>::new).unwrap();
    pool.transaction(|tx| {
        for i in 0..1000 {
            v.push(tx, order(i))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(space(&pool).0, heap.0 + 2, "header and buffer");
    pool.transaction(|tx| v.free(tx)).unwrap();
    assert_eq!(space(&pool), heap);
    assert!(matches!(
        v.len(&pool),
        Err(Error::InvalidPointer { .. } | Error::TypeMismatch { .. })
    ));
    // A free that aborts frees nothing.
    let w = pool
        .transaction(|tx| PVec::from_slice(tx, &[1u64, 2]))
        .unwrap();
    let r = pool.transaction(|tx| {
        w.free(tx)?;
        Err::<(), _>(Error::TxAborted)
    });
    assert!(r.is_err());
    assert_eq!(w.to_vec(&pool).unwrap(), vec![1, 2]);
    assert!(pool.check().is_ok(), "{}", pool.check());
}

#[test]
fn an_index_out_of_range_is_a_typed_error() {
    let (pool, v) = pool_with_nums();
    push_all(&pool, v, [1, 2, 3]);
    let off = v.header().offset();
    let is_oor = |r: Result<_, Error>, i| matches!(r, Err(Error::IndexOutOfRange { offset, index, len: 3 }) if offset == off && index == i);
    assert!(is_oor(v.get(&pool, 3).map(|_| ()), 3));
    assert!(is_oor(v.get(&pool, usize::MAX).map(|_| ()), u64::MAX));
    assert!(is_oor(pool.transaction(|tx| v.set(tx, 3, 0)), 3));
    assert_eq!(v.to_vec(&pool).unwrap(), vec![1, 2, 3]);
    // The null handle.
    let null = PVec::<u64>::null();
    assert!(null.is_null() && PVec::<u64>::default().is_null());
    assert!(matches!(
        null.len(&pool),
        Err(Error::InvalidPointer { offset: 0, .. })
    ));
    assert!(matches!(
        pool.transaction(|tx| null.push(tx, 1)),
        Err(Error::InvalidPointer { offset: 0, .. })
    ));
}

/// Damages `v`'s header through the transaction API.
fn damage(pool: &Pool<Root>, v: PVec<u64>, f: impl FnOnce(&mut VecHeader)) {
    pool.transaction(|tx| tx.get_mut(v.header()).map(f))
        .unwrap();
}

/// An operation run as a transaction of its own.
type TxOp = dyn Fn(&mut pobj::Tx<'_, Root>) -> Result<(), Error>;

/// A header damage and the `Corrupted` error it must give.
type Case = (&'static str, fn(&mut VecHeader));

/// Every read and write of `v` fails with an error that `expect` accepts (never a panic).
fn refused(pool: &Pool<Root>, v: PVec<u64>, expect: impl Fn(&Error) -> bool) {
    let heap = space(pool);
    let reads = [
        v.len(pool).map(|_| ()),
        v.get(pool, 0).map(|_| ()),
        v.to_vec(pool).map(|_| ()),
        v.iter(pool).map(|_| ()),
    ];
    for r in reads {
        assert!(r.as_ref().is_err_and(&expect), "{r:?}");
    }
    let writes: [&TxOp; 6] = [
        &move |tx| v.push(tx, 1),
        &move |tx| v.pop(tx).map(|_| ()),
        &move |tx| v.set(tx, 0, 1),
        &move |tx| v.truncate(tx, 0),
        &move |tx| v.reserve(tx, 1000),
        &move |tx| v.free(tx),
    ];
    for w in writes {
        let r = pool.transaction(w);
        assert!(r.as_ref().is_err_and(&expect), "{r:?}");
    }
    assert_eq!(space(pool), heap, "nothing allocated or freed");
}

fn corrupted(what: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Corrupted { what: w, .. } if *w == what)
}

#[test]
fn damaged_handles_are_typed_errors() {
    let (pool, v) = pool_with_nums();
    push_all(&pool, v, [1, 2, 3]);
    let h = pool.get(v.header()).unwrap();
    let restore = |pool: &Pool<Root>| damage(pool, v, |x| *x = h);

    // A handle outside the pool, at the middle of an object, and at an object of another type.
    let outside = PVec::<u64>::from_header(PPtr::from_offset(pool.size() + 4096));
    refused(&pool, outside, |e| {
        matches!(e, Error::InvalidPointer { .. })
    });
    let inside = PVec::<u64>::from_header(PPtr::from_offset(v.header().offset() + 16));
    refused(&pool, inside, |e| matches!(e, Error::InvalidPointer { .. }));
    let other = pool.transaction(|tx| tx.alloc(order(1))).unwrap();
    let mistyped = PVec::<u64>::from_header(PPtr::from_offset(other.offset()));
    refused(&pool, mistyped, |e| matches!(e, Error::TypeMismatch { .. }));

    // A handle of another element type, or a string handle to a vector's header.
    let wrong_elem = PVec::<u32>::from_header(v.header());
    assert!(matches!(
        wrong_elem.len(&pool),
        Err(Error::TypeMismatch { expected, found, .. })
            if expected == u32::TYPE_ID && found == u64::TYPE_ID
    ));
    assert!(matches!(
        pool.transaction(|tx| wrong_elem.push(tx, 1)),
        Err(Error::TypeMismatch { .. })
    ));
    let as_string = PString::from_header(v.header());
    assert!(matches!(
        as_string.to_string(&pool),
        Err(Error::TypeMismatch { .. })
    ));

    let cases: [Case; 10] = [
        ("collection header (magic)", |x| x.magic ^= 1),
        ("collection header (unsupported version)", |x| x.version = 2),
        ("collection header (element size)", |x| x.elem_size = 4),
        ("collection header (length past watermark)", |x| {
            x.state.len = x.state.cap + 1;
        }),
        ("collection header (watermark past capacity)", |x| {
            x.state.watermark = x.state.cap + 1;
        }),
        ("collection header (buffer)", |x| {
            x.state.buf = pobj::PBytes::null();
        }),
        ("collection header (buffer)", |x| {
            x.state = pobj::collections::VecState {
                len: 0,
                watermark: 0,
                cap: 0,
                buf: x.state.buf,
            };
        }),
        ("collection buffer (length)", |x| {
            x.state.cap *= 2;
            x.state.watermark = x.state.cap;
        }),
        // Sizes the file could use to ask for a huge allocation or a long walk: bounded by
        // the buffer's real length (the product overflows, or does not match it).
        ("collection buffer (length)", |x| {
            x.state = pobj::collections::VecState {
                len: u64::MAX,
                watermark: u64::MAX,
                cap: u64::MAX,
                buf: x.state.buf,
            };
        }),
        ("collection buffer (length)", |x| {
            x.state.cap = 1 << 61;
            x.state.watermark = 1 << 61;
            x.state.len = 1 << 61;
        }),
    ];
    for (what, f) in cases {
        damage(&pool, v, f);
        refused(&pool, v, corrupted(what));
        restore(&pool);
        assert_eq!(v.to_vec(&pool).unwrap(), vec![1, 2, 3], "{what}");
    }

    // A buffer pointer at an object that is not a byte buffer.
    damage(&pool, v, |x| {
        x.state.buf = pobj::PBytes::from_offset(other.offset());
    });
    refused(&pool, v, |e| matches!(e, Error::TypeMismatch { .. }));
    // ... or at a byte buffer of the wrong length.
    let small = pool.transaction(|tx| tx.alloc_bytes(&[0; 8])).unwrap();
    damage(&pool, v, |x| x.state.buf = small);
    refused(&pool, v, corrupted("collection buffer (length)"));
    restore(&pool);
    assert!(pool.check().is_ok(), "{}", pool.check());
}

/// An element type aligned to a cache line (the largest alignment the allocator serves).
#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
struct Line {
    words: [u64; 8],
}

/// One alignment more than the allocator serves.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C, align(128))]
struct Wide {
    words: [u64; 16],
}

#[test]
fn element_alignment_is_kept_up_to_64_and_refused_above() {
    let pool = sim_pool();
    let v = pool.transaction(PVec::<Line>::new).unwrap();
    pool.transaction(|tx| {
        for i in 0..9 {
            v.push(tx, Line { words: [i; 8] })?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let h = pool.get(v.header()).unwrap();
    assert_eq!(h.elem_align, 64);
    assert_eq!(h.state.buf.offset() % 64, 0);
    assert_eq!(v.get(&pool, 8).unwrap(), Line { words: [8; 8] });
    assert_eq!(MAX_ELEM_ALIGN, 64);
    let r = pool.transaction(|tx| PVec::<Wide>::new(tx).map(|_| ()));
    assert!(
        matches!(r, Err(Error::BadAlignment { align: 128 })),
        "{r:?}"
    );
}

/// Fences of `f`, run as one transaction of its own.
fn fences(pool: &Pool<Root>, f: impl FnOnce(&mut pobj::Tx<'_, Root>) -> Result<(), Error>) -> u64 {
    let s = pool.persist_stats();
    pool.transaction(f).unwrap();
    pool.persist_stats().since(&s).fences
}

/// The fences of each operation in a transaction of its own, on the simulated medium (flush
/// and fence, like memory). Each figure is argued below; a change of the logging protocol
/// (a slot logged that need not be, an entry fenced on its own) changes one of them.
#[test]
fn fence_counts_of_push_set_and_pop() {
    let (pool, v) = pool_with_nums();
    // The first allocation of a size class formats a run for it (two fences of the
    // allocator's own, whatever allocates). Allocate every size below once beforehand, so
    // that the figures are the vector's alone.
    pool.transaction(|tx| {
        let w = PVec::<u64>::new(tx)?;
        for i in 0..64 {
            w.push(tx, i)?;
        }
        w.free(tx)
    })
    .unwrap();
    // One allocation alone in its transaction: its bitmap word is the commit; the new header
    // is flushed and fenced, then the word is stored, flushed and fenced.
    let new = fences(&pool, |tx| PVec::<u64>::new(tx).map(|_| ()));
    push_all(&pool, v, [0, 1]); // capacity 4
                                // A push at the watermark: the slot is written unlogged; the header's length and
                                // watermark are logged (one snapshot: one fence, the entry durable before the header
                                // changes); commit flushes the slot and the header and fences, then retires the log
                                // (one fence).
    let push = fences(&pool, |tx| v.push(tx, 2));
    let push_last = fences(&pool, |tx| v.push(tx, 3));
    assert_eq!(v.capacity(&pool).unwrap(), 4);
    // A push that regrows: the new buffer's allocation and the old one's free are deferred
    // entries, appended with the header's snapshot and made durable by its one fence; the
    // copy and the new element go to a buffer this transaction allocated (never logged);
    // commit and retire as above. As many as a push without regrowth.
    let regrow = fences(&pool, |tx| v.push(tx, 4));
    assert_eq!(v.capacity(&pool).unwrap(), 8);
    // A set logs the slot (one fence); a pop logs the length (one fence); each then commits
    // and retires (two).
    let set = fences(&pool, |tx| v.set(tx, 1, 10));
    let pop = fences(&pool, |tx| v.pop(tx).map(|_| ()));
    // A push into the slot a pop gave up (below the watermark) logs the slot too: one more.
    let push_popped = fences(&pool, |tx| v.push(tx, 4));
    // Ten pushes in one transaction, one of them regrowing (8 to 16): the first logs the
    // length and watermark (one fence), the regrowth logs the rest of the header (capacity
    // and buffer) with the allocation and free entries (one fence), the other pushes find the
    // header logged already; commit and retire (two).
    let ten = fences(&pool, |tx| {
        for i in 0..10 {
            v.push(tx, i)?;
        }
        Ok(())
    });
    assert_eq!(v.capacity(&pool).unwrap(), 16);
    println!(
        "fences: new {new}, push {push}, push filling the buffer {push_last}, push with regrowth \
         {regrow}, set {set}, pop {pop}, push into a popped slot {push_popped}, ten pushes with \
         a regrowth {ten}"
    );
    assert_eq!(new, 2);
    assert_eq!(push, 3);
    assert_eq!(push_last, 3);
    assert_eq!(regrow, 3);
    assert_eq!(set, 3);
    assert_eq!(pop, 3);
    assert_eq!(push_popped, 4);
    assert_eq!(ten, 4);
    assert_eq!(
        v.to_vec(&pool).unwrap(),
        [0, 10, 2, 3, 4]
            .into_iter()
            .chain(0..10)
            .collect::<Vec<_>>()
    );
}

/// One step of the crash test's transactions.
#[derive(Clone, Copy, Debug)]
enum Step {
    Push(u64),
    Pop,
    Set(usize, u64),
    Truncate(usize),
}

/// The crash test's transactions: pushes that regrow (twice in the first), sets, and pops and
/// a truncate followed by pushes into the slots they gave up (logged) and past them (not).
fn crash_workload() -> Vec<Vec<Step>> {
    use Step::{Pop, Push, Set, Truncate};
    vec![
        (0..6)
            .map(|x| Push(100 + x))
            .chain([Set(0, 1000)])
            .collect(),
        [Pop, Pop]
            .into_iter()
            .chain((0..3).map(|x| Push(200 + x)))
            .chain([Set(1, 2000)])
            .collect(),
        [Truncate(2)]
            .into_iter()
            .chain((0..12).map(|x| Push(300 + x)))
            .chain([Set(5, 3000)])
            .collect(),
    ]
}

fn apply_model(m: &mut Vec<u64>, s: Step) {
    match s {
        Step::Push(x) => m.push(x),
        Step::Pop => {
            m.pop();
        }
        Step::Set(i, x) => m[i] = x,
        Step::Truncate(n) => m.truncate(n),
    }
}

fn apply_pool(tx: &mut pobj::Tx<'_, Root>, v: PVec<u64>, s: Step) -> Result<(), Error> {
    match s {
        Step::Push(x) => v.push(tx, x),
        Step::Pop => v.pop(tx).map(|_| ()),
        Step::Set(i, x) => v.set(tx, i, x),
        Step::Truncate(n) => v.truncate(tx, n),
    }
}

#[test]
fn a_crash_at_any_fence_leaves_the_vector_wholly_before_or_after_its_transaction() {
    let work = crash_workload();
    let mut states = vec![vec![1u64, 2, 3]];
    for t in &work {
        let mut m = states[states.len() - 1].clone();
        for &s in t {
            apply_model(&mut m, s);
        }
        states.push(m);
    }
    let ops = work.len();
    let report = CrashTest::new()
        .seed(0x9ec)
        .run::<Root, _, _, _>(
            "pvec",
            pobj::MIN_POOL_SIZE,
            |pool| {
                pool.transaction(|tx| {
                    let v = PVec::<u64>::with_capacity(tx, 4)?;
                    v.extend_from_slice(tx, &[1, 2, 3])?;
                    tx.root_mut()?.nums = v;
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            ops,
            move |pool, i| {
                let v = pool.root().map_err(|e| e.to_string())?.nums;
                pool.transaction(|tx| {
                    for &s in &work[i] {
                        apply_pool(tx, v, s)?;
                    }
                    Ok::<_, Error>(())
                })
                .map_err(|e| e.to_string())
            },
            move |pool: &Pool<Root>, done| {
                let v = pool.root().map_err(|e| e.to_string())?.nums;
                let got = v.to_vec(pool).map_err(|e| e.to_string())?;
                let ok = got == states[done] || states.get(done + 1) == Some(&got);
                if !ok {
                    return Err(format!("after {done} transactions the vector is {got:?}"));
                }
                // The root, the header and one buffer: a regrowth interrupted by the crash
                // neither leaks its new buffer nor loses the old one.
                let objects = pool.stats().heap.objects;
                if objects != 3 {
                    return Err(format!("{objects} live objects, expected 3"));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    println!("PVec crash test: {report}");
    assert!(
        report.points_checked > 10 && report.images > 100,
        "{report}"
    );
}

#[test]
fn the_format_constants_are_pinned() {
    use pobj::collections::{VecState, STRING_ELEM_TYPE_ID, VEC_MAGIC, VEC_VERSION};
    // docs/collections.md lists these: a change of the header's fields changes its type id,
    // which every existing header would then fail, so it must come with a new version.
    assert_eq!(VEC_MAGIC.to_le_bytes(), *b"PVEC");
    assert_eq!(VEC_VERSION, 1);
    assert_eq!(VecHeader::TYPE_ID, 0xd4fd_f14b_e0d6_d054);
    assert_eq!(VecState::TYPE_ID, 0xfc49_92c2_32aa_0ffb);
    assert_eq!(STRING_ELEM_TYPE_ID, 0x9cc7_86fd_16e1_a2ab);
    assert_eq!(PVec::<u64>::TYPE_ID, 0xee61_6d6e_fce6_124b);
    assert_eq!(PString::TYPE_ID, 0x97c9_0c03_5251_6057);
    assert_ne!(PVec::<u64>::TYPE_ID, PVec::<u32>::TYPE_ID);
    assert_eq!(core::mem::size_of::<VecHeader>(), 56);
    assert_eq!(core::mem::size_of::<PVec<Order>>(), 8);
    assert_eq!(core::mem::size_of::<PString>(), 8);
}
