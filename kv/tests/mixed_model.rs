//! Property test (issue 12): one pool holding two maps, a `PVec` of a small struct and a counter
//! in the root, changed together by random transactions and compared with a model (two
//! `BTreeMap`s, a `Vec` and a `u64`).
//!
//! A case is a sequence of steps. A step is
//! - a transaction of 1–20 random operations mixing the structures (puts, removes, gets,
//!   exists, counts and ranges on either map through `map.tx(tx)?`; push, pop, set, get and
//!   truncate on the vector; counter changes), ending in a commit, an `Err` (abort), a panic
//!   (caught around `pool.transaction`), or a destroy of one map followed by an `Err`;
//! - standalone map writes (`map.put`, `map.remove`, `map.write`) outside any transaction;
//! - a clean reopen of the pool (`Pool::open_medium` on the same medium, then `Map::open`);
//! - a power failure right after the last step (the persisted image alone is reopened).
//!
//! Inside a transaction every operation's result, and after it the whole state as the
//! transaction sees it (both maps' ranges and counts, the vector, the counter), is compared with
//! the model's in-progress copy; after every step the committed state is compared through
//! standalone reads (iteration, counts, a get and an exists of every key of the key space, the
//! vector and the root read from the pool). An aborted or panicked transaction must also leave
//! the heap's object count and allocated bytes as they were. At the end `pool.check()` and
//! both maps' `check()` must be clean.
//!
//! Keys come from a space of 160 (so they collide often) of several shapes: the empty key,
//! one byte, short strings, zero-framed bytes, and long keys that alone push an entry out of
//! line; values are 0–400 bytes (entries over 120 bytes live out of line). Bulk puts of up to
//! 50 consecutive keys split leaves (39 entries each) and bulk removes empty them.
//!
//! The case count is fixed (`CASES`) and printed with the run's tallies.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::Instant;

use pobj::crash::SimMedium;
use pobj::{PVec, Persistent, Pool};
use pobj_kv::{Error, Map, MapHandle, WriteBatch, MAX_KEY_LEN};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 64;
const LAYOUT: &str = "mixed-model";
const POOL_SIZE: u64 = 8 << 20;
/// Keys `key(0) .. key(KEYS)`.
const KEYS: u16 = 160;
/// The payload of the panics this test provokes on purpose.
const PANIC: &str = "mixed_model: the closure panics on purpose";

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
struct Item {
    id: u64,
    qty: u32,
    tag: u32,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    a: MapHandle,
    b: MapHandle,
    v: PVec<Item>,
    counter: u64,
}

/// Which map: 0 is `Root::a`, 1 is `Root::b`.
type M = usize;

#[derive(Clone, Debug)]
enum Op {
    Put(M, u16, usize, u8),
    /// Puts `n` consecutive keys from `start` (wrapping in the key space): splits leaves.
    PutMany(M, u16, u16, usize, u8),
    Remove(M, u16),
    /// Removes `n` consecutive keys from `start` (all of them when `n` is `KEYS`): empties
    /// leaves.
    RemoveMany(M, u16, u16),
    Get(M, u16),
    Exists(M, u16),
    CountAll(M),
    /// Keys `a`, `b` (ordered), bound kinds (0 included, 1 excluded, 2 unbounded), and whether
    /// to read the entries (`range`) or only count them (`count_range`).
    Range(M, u16, u16, u8, u8, bool),
    /// A put of a key over `MAX_KEY_LEN`: refused, the transaction goes on.
    BadKey(M),
    Push(Item),
    Pop,
    /// A set at `i`; past the length it is refused and the transaction goes on.
    Set(usize, Item),
    VecGet(usize),
    Truncate(usize),
    AddCounter(u64),
}

#[derive(Clone, Debug)]
enum End {
    Commit,
    Abort,
    Panic,
    /// Destroys the map, checks that it refuses, then aborts: the map must come back intact.
    DestroyThenAbort(M),
}

#[derive(Clone, Debug)]
enum Standalone {
    Put(M, u16, usize, u8),
    PutMany(M, u16, u16, usize, u8),
    Remove(M, u16),
    Batch(M, Vec<(u16, Option<(usize, u8)>)>),
}

#[derive(Clone, Debug)]
enum Step {
    Tx(Vec<Op>, End),
    Standalone(Vec<Standalone>),
    Reopen,
    PowerFailure,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    maps: [BTreeMap<Vec<u8>, Vec<u8>>; 2],
    v: Vec<Item>,
    counter: u64,
}

/// What the run did, printed at its end.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    steps: u64,
    ops: u64,
    commits: u64,
    aborts: u64,
    panics: u64,
    destroys: u64,
    standalone: u64,
    reopens: u64,
    power_failures: u64,
    refused: u64,
    out_of_line_puts: u64,
    max_leaves: u64,
    max_keys: u64,
    max_vec: usize,
    /// Times a map had fewer leaves than at the previous step (empty leaves unlinked).
    leaves_dropped: u64,
}

fn key(k: u16) -> Vec<u8> {
    match k % 4 {
        0 => format!("k{k:04}").into_bytes(),
        // Up to 146 bytes: the longest alone push an entry out of line.
        1 => format!("k{k:04}/{}", "x".repeat(usize::from(k * 7 % 141))).into_bytes(),
        2 if k == 2 => Vec::new(),
        2 => vec![(k / 4) as u8],
        _ => vec![0, (k >> 8) as u8, k as u8, 0],
    }
}

fn value(len: usize, b: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b.wrapping_add((i as u8).wrapping_mul(31)))
        .collect()
}

fn is_out_of_line(k: u16, len: usize) -> bool {
    key(k).len() + len > 120
}

fn bound(k: &[u8], kind: u8) -> Bound<Vec<u8>> {
    match kind {
        0 => Bound::Included(k.to_vec()),
        1 => Bound::Excluded(k.to_vec()),
        _ => Bound::Unbounded,
    }
}

/// The bounds of `Op::Range`, with the keys in order.
fn bounds(a: u16, b: u16, lo: u8, hi: u8) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let (mut ka, mut kb) = (key(a), key(b));
    if ka > kb {
        std::mem::swap(&mut ka, &mut kb);
    }
    (bound(&ka, lo), bound(&kb, hi))
}

/// The model's entries in `r`; `BTreeMap::range` panics on `(Excluded(x), Excluded(x))`, which
/// is empty.
fn model_range(
    m: &BTreeMap<Vec<u8>, Vec<u8>>,
    r: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if let (Bound::Excluded(a), Bound::Excluded(b)) = r {
        if a == b {
            return Vec::new();
        }
    }
    m.range::<Vec<u8>, _>(r.clone())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn entries(m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn many(start: u16, n: u16) -> impl Iterator<Item = u16> {
    (0..n).map(move |i| (start + i) % KEYS)
}

// Strategies.

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..24, 2 => 24usize..120, 2 => 120usize..400]
}

fn item() -> impl Strategy<Value = Item> {
    (any::<u64>(), any::<u32>(), any::<u32>()).prop_map(|(id, qty, tag)| Item { id, qty, tag })
}

fn op() -> impl Strategy<Value = Op> {
    let m = 0usize..2;
    let k = 0..KEYS;
    prop_oneof![
        8 => (m.clone(), k.clone(), len(), any::<u8>()).prop_map(|(m, k, l, b)| Op::Put(m, k, l, b)),
        2 => (m.clone(), k.clone(), 1u16..50, len(), any::<u8>())
            .prop_map(|(m, k, n, l, b)| Op::PutMany(m, k, n, l, b)),
        4 => (m.clone(), k.clone()).prop_map(|(m, k)| Op::Remove(m, k)),
        1 => (m.clone(), k.clone(), prop_oneof![1u16..60, Just(KEYS)])
            .prop_map(|(m, k, n)| Op::RemoveMany(m, k, n)),
        3 => (m.clone(), k.clone()).prop_map(|(m, k)| Op::Get(m, k)),
        2 => (m.clone(), k.clone()).prop_map(|(m, k)| Op::Exists(m, k)),
        1 => m.clone().prop_map(Op::CountAll),
        2 => (m.clone(), k.clone(), k, 0u8..3, 0u8..3, any::<bool>())
            .prop_map(|(m, a, b, lo, hi, v)| Op::Range(m, a, b, lo, hi, v)),
        1 => m.prop_map(Op::BadKey),
        6 => item().prop_map(Op::Push),
        2 => Just(Op::Pop),
        2 => (0usize..80, item()).prop_map(|(i, x)| Op::Set(i, x)),
        1 => (0usize..80).prop_map(Op::VecGet),
        1 => (0usize..80).prop_map(Op::Truncate),
        2 => (0u64..1000).prop_map(Op::AddCounter),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        6 => Just(End::Commit),
        2 => Just(End::Abort),
        2 => Just(End::Panic),
        1 => (0usize..2).prop_map(End::DestroyThenAbort),
    ]
}

fn standalone() -> impl Strategy<Value = Standalone> {
    let m = 0usize..2;
    let k = 0..KEYS;
    prop_oneof![
        4 => (m.clone(), k.clone(), len(), any::<u8>())
            .prop_map(|(m, k, l, b)| Standalone::Put(m, k, l, b)),
        1 => (m.clone(), k.clone(), 1u16..50, len(), any::<u8>())
            .prop_map(|(m, k, n, l, b)| Standalone::PutMany(m, k, n, l, b)),
        3 => (m.clone(), k.clone()).prop_map(|(m, k)| Standalone::Remove(m, k)),
        1 => (m, proptest::collection::vec((k, proptest::option::of((len(), any::<u8>()))), 0..20))
            .prop_map(|(m, b)| Standalone::Batch(m, b)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (proptest::collection::vec(op(), 1..21), end()).prop_map(|(o, e)| Step::Tx(o, e)),
        3 => proptest::collection::vec(standalone(), 1..8).prop_map(Step::Standalone),
        1 => Just(Step::Reopen),
        1 => Just(Step::PowerFailure),
    ]
}

// The system under test.

struct Sut {
    pool: Arc<Pool<Root>>,
    sim: Arc<SimMedium>,
    maps: [Map<Root>; 2],
}

impl Sut {
    fn create() -> Sut {
        let (pool, sim) = Pool::<Root>::create_simulated(LAYOUT, POOL_SIZE).expect("pool");
        let pool = Arc::new(pool);
        pool.transaction(|tx| {
            let (a, b) = (MapHandle::create(tx)?, MapHandle::create(tx)?);
            let v = PVec::<Item>::new(tx)?;
            *tx.root_mut()? = Root {
                a,
                b,
                v,
                counter: 0,
            };
            Ok::<_, Error>(())
        })
        .expect("create the maps and the vector");
        let maps = Self::open_maps(&pool);
        Sut { pool, sim, maps }
    }

    fn open_maps(pool: &Arc<Pool<Root>>) -> [Map<Root>; 2] {
        let r = pool.root().expect("root");
        [
            Map::open(pool, r.a).expect("open map a"),
            Map::open(pool, r.b).expect("open map b"),
        ]
    }

    /// Drops every handle, so that the medium is free to open again.
    fn close(self) -> Arc<SimMedium> {
        let Sut { pool, sim, maps } = self;
        drop(maps);
        let pool = Arc::into_inner(pool).expect("the maps were the only other handles");
        drop(pool);
        sim
    }

    fn reopen(self) -> Sut {
        let sim = self.close();
        let pool = Arc::new(Pool::open_medium(Arc::clone(&sim), LAYOUT).expect("reopen"));
        let maps = Self::open_maps(&pool);
        Sut { pool, sim, maps }
    }

    fn power_failure(self) -> Sut {
        let image = self.sim.persisted_image();
        drop(self.close());
        let (pool, sim) = Pool::open_image(&image, LAYOUT).expect("open the persisted image");
        let pool = Arc::new(pool);
        let maps = Self::open_maps(&pool);
        Sut { pool, sim, maps }
    }
}

/// Applies `op` in `tx` and to `m`, the model's in-progress copy, comparing every result.
fn apply(
    tx: &mut pobj::Tx<'_, Root>,
    maps: &[Map<Root>; 2],
    root: Root,
    op: &Op,
    m: &mut Model,
    tally: &mut Tally,
) -> Result<(), Error> {
    match *op {
        Op::Put(i, k, l, b) => {
            maps[i].tx(tx)?.put(key(k), value(l, b))?;
            m.maps[i].insert(key(k), value(l, b));
            tally.out_of_line_puts += u64::from(is_out_of_line(k, l));
        }
        Op::PutMany(i, start, n, l, b) => {
            let mut t = maps[i].tx(tx)?;
            for k in many(start, n) {
                let v = value(l, b ^ k as u8);
                t.put(key(k), &v)?;
                m.maps[i].insert(key(k), v);
                tally.out_of_line_puts += u64::from(is_out_of_line(k, l));
            }
        }
        Op::Remove(i, k) => {
            let was = maps[i].tx(tx)?.remove(key(k))?;
            assert_eq!(was, m.maps[i].remove(&key(k)).is_some(), "{op:?}");
        }
        Op::RemoveMany(i, start, n) => {
            let mut t = maps[i].tx(tx)?;
            for k in many(start, n) {
                let was = t.remove(key(k))?;
                assert_eq!(was, m.maps[i].remove(&key(k)).is_some(), "{op:?} at {k}");
            }
        }
        Op::Get(i, k) => {
            let got = maps[i].tx(tx)?.get(key(k))?;
            assert_eq!(got.as_ref(), m.maps[i].get(&key(k)), "{op:?}");
        }
        Op::Exists(i, k) => {
            let got = maps[i].tx(tx)?.exists(key(k))?;
            assert_eq!(got, m.maps[i].contains_key(&key(k)), "{op:?}");
        }
        Op::CountAll(i) => {
            let got = maps[i].tx(tx)?.count_all()?;
            assert_eq!(got, m.maps[i].len() as u64, "{op:?}");
        }
        Op::Range(i, a, b, lo, hi, values) => {
            let r = bounds(a, b, lo, hi);
            let want = model_range(&m.maps[i], &r);
            let t = maps[i].tx(tx)?;
            if values {
                assert_eq!(t.range::<Vec<u8>, _>(r)?, want, "{op:?}");
            } else {
                assert_eq!(t.count_range::<Vec<u8>, _>(r)?, want.len() as u64, "{op:?}");
            }
        }
        Op::BadKey(i) => {
            let long = vec![7u8; MAX_KEY_LEN + 1];
            let r = maps[i].tx(tx)?.put(&long, b"v");
            assert!(matches!(r, Err(Error::KeyTooLarge { .. })), "{op:?}: {r:?}");
            tally.refused += 1;
        }
        Op::Push(x) => {
            root.v.push(tx, x)?;
            m.v.push(x);
        }
        Op::Pop => assert_eq!(root.v.pop(tx)?, m.v.pop(), "{op:?}"),
        Op::Set(i, x) => match root.v.set(tx, i, x) {
            Ok(()) => {
                assert!(
                    i < m.v.len(),
                    "{op:?} succeeded past the length {}",
                    m.v.len()
                );
                m.v[i] = x;
            }
            Err(pobj::Error::IndexOutOfRange { .. }) if i >= m.v.len() => tally.refused += 1,
            Err(e) => panic!("{op:?}: {e}"),
        },
        Op::VecGet(i) => match root.v.get(&*tx, i) {
            Ok(x) => assert_eq!(Some(&x), m.v.get(i), "{op:?}"),
            Err(pobj::Error::IndexOutOfRange { .. }) if i >= m.v.len() => {}
            Err(e) => panic!("{op:?}: {e}"),
        },
        Op::Truncate(n) => {
            root.v.truncate(tx, n)?;
            m.v.truncate(n);
        }
        Op::AddCounter(n) => {
            tx.root_mut()?.counter += n;
            m.counter += n;
        }
    }
    Ok(())
}

/// The whole state as `tx` sees it equals `m`.
fn assert_tx_view(
    tx: &mut pobj::Tx<'_, Root>,
    maps: &[Map<Root>; 2],
    root: Root,
    m: &Model,
    after: &dyn std::fmt::Debug,
) -> Result<(), Error> {
    for (i, map) in maps.iter().enumerate() {
        let t = map.tx(tx)?;
        assert_eq!(
            t.range::<&[u8], _>(..)?,
            entries(&m.maps[i]),
            "map {i} after {after:?}"
        );
        assert_eq!(
            t.count_all()?,
            m.maps[i].len() as u64,
            "map {i} after {after:?}"
        );
    }
    assert_eq!(root.v.to_vec(&*tx)?, m.v, "the vector after {after:?}");
    assert_eq!(root.v.len(&*tx)?, m.v.len(), "the vector after {after:?}");
    assert_eq!(tx.root().counter, m.counter, "the counter after {after:?}");
    Ok(())
}

/// Runs one transaction step; on a commit the model takes its in-progress copy.
fn run_tx(s: &Sut, model: &mut Model, ops: &[Op], end: &End, tally: &mut Tally) {
    let root = s.pool.root().expect("root");
    let heap = s.pool.stats().heap;
    let mut scratch = model.clone();
    let maps = &s.maps;
    let body = |tx: &mut pobj::Tx<'_, Root>, scratch: &mut Model, tally: &mut Tally| {
        for op in ops {
            apply(tx, maps, root, op, scratch, tally)?;
            tally.ops += 1;
            assert_tx_view(tx, maps, root, scratch, op)?;
        }
        Ok::<_, Error>(())
    };
    match end {
        End::Commit => {
            s.pool
                .transaction(|tx| body(tx, &mut scratch, tally))
                .expect("commit");
            *model = scratch;
            tally.commits += 1;
            return;
        }
        End::Abort => {
            let r = s.pool.transaction(|tx| {
                body(tx, &mut scratch, tally)?;
                Err::<(), _>(Error::Internal { what: "abort" })
            });
            assert!(matches!(r, Err(Error::Internal { what: "abort" })), "{r:?}");
            tally.aborts += 1;
        }
        End::Panic => {
            let r = catch_unwind(AssertUnwindSafe(|| {
                s.pool.transaction(|tx| {
                    body(tx, &mut scratch, tally)?;
                    std::panic::panic_any(PANIC);
                    #[allow(unreachable_code)]
                    Ok::<_, Error>(())
                })
            }));
            match r {
                Err(p) if p.downcast_ref::<&str>() == Some(&PANIC) => {}
                // An assertion of the test failed inside the transaction: report it.
                Err(p) => std::panic::resume_unwind(p),
                Ok(r) => panic!("the transaction returned {r:?} instead of panicking"),
            }
            tally.panics += 1;
        }
        End::DestroyThenAbort(i) => {
            let i = *i;
            let r = s.pool.transaction(|tx| {
                body(tx, &mut scratch, tally)?;
                maps[i].tx(tx)?.destroy()?;
                let after = maps[i].tx(tx)?.get(key(0));
                assert!(matches!(after, Err(Error::Destroyed)), "{after:?}");
                // The other map and the vector are untouched by the destroy.
                let other = 1 - i;
                assert_eq!(
                    maps[other].tx(tx)?.range::<&[u8], _>(..)?,
                    entries(&scratch.maps[other])
                );
                assert_eq!(root.v.to_vec(&*tx)?, scratch.v);
                Err::<(), _>(Error::Internal { what: "abort" })
            });
            assert!(matches!(r, Err(Error::Internal { what: "abort" })), "{r:?}");
            tally.destroys += 1;
        }
    }
    // Rolled back: nothing allocated or freed stays so.
    let after = s.pool.stats().heap;
    assert_eq!(
        (after.objects, after.allocated_bytes),
        (heap.objects, heap.allocated_bytes),
        "the heap after a rolled-back transaction ({end:?})"
    );
}

fn run_standalone(s: &Sut, model: &mut Model, ops: &[Standalone], tally: &mut Tally) {
    for op in ops {
        match *op {
            Standalone::Put(i, k, l, b) => {
                s.maps[i].put(key(k), value(l, b)).expect("put");
                model.maps[i].insert(key(k), value(l, b));
                tally.out_of_line_puts += u64::from(is_out_of_line(k, l));
            }
            Standalone::PutMany(i, start, n, l, b) => {
                for k in many(start, n) {
                    let v = value(l, b ^ k as u8);
                    s.maps[i].put(key(k), &v).expect("put");
                    model.maps[i].insert(key(k), v);
                    tally.out_of_line_puts += u64::from(is_out_of_line(k, l));
                }
            }
            Standalone::Remove(i, k) => {
                let was = s.maps[i].remove(key(k)).expect("remove");
                assert_eq!(was, model.maps[i].remove(&key(k)).is_some(), "{op:?}");
            }
            Standalone::Batch(i, ref ops) => {
                let mut wb = WriteBatch::new();
                for &(k, v) in ops {
                    if let Some((l, b)) = v {
                        wb.put(key(k), value(l, b));
                        model.maps[i].insert(key(k), value(l, b));
                    } else {
                        wb.remove(key(k));
                        model.maps[i].remove(&key(k));
                    }
                }
                s.maps[i].write(&wb).expect("batch");
            }
        }
        tally.standalone += 1;
    }
}

/// The committed state, read outside any transaction, equals `model`.
/// `leaves`: each map's leaves at the previous check of the case.
fn check_committed(
    s: &Sut,
    model: &Model,
    leaves: &mut [u64; 2],
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    for (i, map) in s.maps.iter().enumerate() {
        let got: Vec<_> = map.iter().collect::<Result<_, _>>()?;
        prop_assert_eq!(&got, &entries(&model.maps[i]), "map {}", i);
        prop_assert_eq!(map.count_all()?, model.maps[i].len() as u64, "map {}", i);
        for k in 0..KEYS {
            let want = model.maps[i].get(&key(k));
            let got = map.get(key(k))?;
            prop_assert_eq!(got.as_ref(), want, "map {} key {}", i, k);
            prop_assert_eq!(map.exists(key(k))?, want.is_some(), "map {} key {}", i, k);
        }
        let st = map.stats();
        tally.max_leaves = tally.max_leaves.max(st.leaves);
        tally.leaves_dropped += u64::from(st.leaves < leaves[i]);
        leaves[i] = st.leaves;
        tally.max_keys = tally.max_keys.max(st.keys);
    }
    let root = s.pool.root()?;
    prop_assert_eq!(&root.v.to_vec(&*s.pool)?, &model.v);
    prop_assert_eq!(root.counter, model.counter);
    tally.max_vec = tally.max_vec.max(model.v.len());
    Ok(())
}

fn run_case(steps: &[Step], tally: &mut Tally) -> Result<(), TestCaseError> {
    let mut s = Sut::create();
    let mut model = Model::default();
    let mut leaves = [1, 1];
    for step in steps {
        match step {
            Step::Tx(ops, end) => run_tx(&s, &mut model, ops, end, tally),
            Step::Standalone(ops) => run_standalone(&s, &mut model, ops, tally),
            Step::Reopen => {
                s = s.reopen();
                tally.reopens += 1;
            }
            Step::PowerFailure => {
                s = s.power_failure();
                tally.power_failures += 1;
            }
        }
        tally.steps += 1;
        check_committed(&s, &model, &mut leaves, tally)?;
    }
    let report = s.pool.check();
    prop_assert!(report.is_ok(), "pool: {}", report);
    for (i, map) in s.maps.iter().enumerate() {
        let report = map.check();
        prop_assert!(report.is_ok(), "map {}: {}", i, report);
    }
    // The same after a reopen of the persisted image.
    let s = s.power_failure();
    check_committed(&s, &model, &mut leaves, tally)?;
    for (i, map) in s.maps.iter().enumerate() {
        let report = map.check();
        prop_assert!(
            report.is_ok(),
            "map {} after a power failure: {}",
            i,
            report
        );
    }
    tally.cases += 1;
    Ok(())
}

/// Silences the panics this test provokes on purpose (every other panic is reported).
fn quiet_own_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PANIC) {
                previous(info);
            }
        }));
    });
}

#[test]
fn two_maps_a_vector_and_a_counter_match_the_model() {
    quiet_own_panics();
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let tally = RefCell::new(Tally::default());
    let t = Instant::now();
    let strategy = proptest::collection::vec(step(), 1..80);
    let r = runner.run(&strategy, |steps| run_case(&steps, &mut tally.borrow_mut()));
    let secs = t.elapsed().as_secs_f64();
    let tally = tally.into_inner();
    println!(
        "mixed_model: {CASES} cases ({} passed) in {secs:.1} s: {tally:?}",
        tally.cases
    );
    if let Err(e) = r {
        panic!("{e}");
    }
    assert_eq!(tally.cases, u64::from(CASES));
    // The run reached what it is meant to exercise.
    assert!(tally.max_leaves > 2, "no leaf split: {tally:?}");
    assert!(tally.leaves_dropped > 0, "no leaf emptied: {tally:?}");
    assert!(tally.out_of_line_puts > 0 && tally.panics > 0 && tally.destroys > 0);
    assert!(tally.reopens > 0 && tally.power_failures > 0 && tally.refused > 0);
}
