//! Property test: random transactions of `PVec<u64>` and `PString` operations, some aborted
//! (by `Err`, or by an operation the model says must fail), with clean reopens and reopens of
//! the persisted image alone (a power failure right after a commit), compared with `Vec` and
//! `String` after every operation (the transaction's view) and every step (the pool's).

use pobj::{Error, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    v: PVec<u64>,
    s: PString,
}

#[derive(Clone, Debug)]
enum Op {
    Push(u64),
    Extend(Vec<u64>),
    Pop,
    Set(usize, u64),
    Truncate(usize),
    Clear,
    Reserve(usize),
    PushStr(String),
    PushChar(char),
    PopChar,
    TruncateStr(usize),
    ClearStr,
}

#[derive(Clone, Debug)]
enum Step {
    Tx { ops: Vec<Op>, abort: bool },
    Reopen,
    PowerFailure,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u64>().prop_map(Op::Push),
        2 => proptest::collection::vec(any::<u64>(), 0..40).prop_map(Op::Extend),
        3 => Just(Op::Pop),
        3 => (0usize..80, any::<u64>()).prop_map(|(i, x)| Op::Set(i, x)),
        1 => (0usize..80).prop_map(Op::Truncate),
        1 => Just(Op::Clear),
        1 => (0usize..100).prop_map(Op::Reserve),
        4 => "[a-zß-ü€🎉 ]{0,12}".prop_map(Op::PushStr),
        2 => any::<char>().prop_map(Op::PushChar),
        2 => Just(Op::PopChar),
        2 => (0usize..60).prop_map(Op::TruncateStr),
        1 => Just(Op::ClearStr),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (proptest::collection::vec(op(), 1..10), proptest::bool::weighted(0.2))
            .prop_map(|(ops, abort)| Step::Tx { ops, abort }),
        1 => Just(Step::Reopen),
        1 => Just(Step::PowerFailure),
    ]
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    v: Vec<u64>,
    s: String,
}

/// Applies `op` to the model; `Err` when the pool must refuse it (and so abort).
fn apply_model(m: &mut Model, op: &Op) -> Result<(), ()> {
    match op {
        Op::Push(x) => m.v.push(*x),
        Op::Extend(xs) => m.v.extend_from_slice(xs),
        Op::Pop => {
            m.v.pop();
        }
        Op::Set(i, x) => *m.v.get_mut(*i).ok_or(())? = *x,
        Op::Truncate(n) => m.v.truncate(*n),
        Op::Clear => m.v.clear(),
        Op::Reserve(_) => {}
        Op::PushStr(s) => m.s.push_str(s),
        Op::PushChar(c) => m.s.push(*c),
        Op::PopChar => {
            m.s.pop();
        }
        Op::TruncateStr(n) => {
            if *n < m.s.len() && !m.s.is_char_boundary(*n) {
                return Err(());
            }
            m.s.truncate(*n);
        }
        Op::ClearStr => m.s.clear(),
    }
    Ok(())
}

fn apply_pool(tx: &mut pobj::Tx<'_, Root>, r: Root, op: &Op, m: &Model) -> Result<(), Error> {
    let (v, s) = (r.v, r.s);
    match op {
        Op::Push(x) => v.push(tx, *x),
        Op::Extend(xs) => v.extend_from_slice(tx, xs),
        Op::Pop => {
            assert_eq!(v.pop(tx)?, m.v.last().copied());
            Ok(())
        }
        Op::Set(i, x) => v.set(tx, *i, *x),
        Op::Truncate(n) => v.truncate(tx, *n),
        Op::Clear => v.clear(tx),
        Op::Reserve(n) => {
            v.reserve(tx, *n)?;
            assert!(v.capacity(tx)? >= m.v.len() + n);
            Ok(())
        }
        Op::PushStr(t) => s.push_str(tx, t),
        Op::PushChar(c) => s.push(tx, *c),
        Op::PopChar => {
            assert_eq!(s.pop(tx)?, m.s.chars().next_back());
            Ok(())
        }
        Op::TruncateStr(n) => s.truncate(tx, *n),
        Op::ClearStr => s.clear(tx),
    }
}

fn read(pool: &Pool<Root>) -> Model {
    let r = pool.root().unwrap();
    Model {
        v: r.v.to_vec(pool).unwrap(),
        s: r.s.to_string(pool).unwrap(),
    }
}

/// Runs one transaction of `ops`, checking the transaction's view after each operation.
/// Returns whether it committed (and updates the model if so).
fn run_tx(pool: &Pool<Root>, model: &mut Model, ops: &[Op], abort: bool) -> bool {
    let root = pool.root().unwrap();
    let mut scratch = model.clone();
    let mut refused = false;
    let r = pool.transaction(|tx| {
        for op in ops {
            let before = scratch.clone();
            let expect_ok = apply_model(&mut scratch, op).is_ok();
            match apply_pool(tx, root, op, &before) {
                Ok(()) => assert!(expect_ok, "{op:?} succeeded; the model refuses it"),
                Err(e @ (Error::IndexOutOfRange { .. } | Error::NotCharBoundary { .. })) => {
                    assert!(!expect_ok, "{op:?} refused: {e}");
                    refused = true;
                    return Err(e);
                }
                Err(e) => panic!("{op:?}: {e}"),
            }
            assert_eq!(root.v.to_vec(tx)?, scratch.v, "after {op:?}");
            assert_eq!(root.s.as_str(tx)?, scratch.s, "after {op:?}");
        }
        if abort {
            Err(Error::TxAborted)
        } else {
            Ok(())
        }
    });
    let committed = r.is_ok();
    assert_eq!(committed, !abort && !refused, "{r:?}");
    if committed {
        *model = scratch;
    }
    committed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn random_collection_transactions_match_vec_and_string(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let (mut pool, mut sim) = Pool::<Root>::create_simulated("model", 4 << 20).unwrap();
        let start = pool.stats().heap;
        pool.transaction(|tx| {
            let v = PVec::<u64>::new(tx)?;
            let s = PString::new(tx)?;
            *tx.root_mut()? = Root { v, s };
            Ok::<_, Error>(())
        }).unwrap();
        let mut model = Model::default();
        for s in &steps {
            match s {
                Step::Reopen => {
                    drop(pool);
                    pool = Pool::open_medium(sim.clone(), "model").unwrap();
                }
                Step::PowerFailure => {
                    let image = sim.persisted_image();
                    drop(pool);
                    (pool, sim) = Pool::open_image(&image, "model").unwrap();
                }
                Step::Tx { ops, abort } => {
                    run_tx(&pool, &mut model, ops, *abort);
                }
            }
            prop_assert_eq!(&read(&pool), &model);
        }
        let report = pool.check();
        prop_assert!(report.is_ok(), "{}", report);
        // Free both: the heap's objects and bytes are as they were before.
        pool.transaction(|tx| {
            let r = *tx.root();
            r.v.free(tx)?;
            r.s.free(tx)?;
            *tx.root_mut()? = Root::default();
            Ok::<_, Error>(())
        }).unwrap();
        let end = pool.stats().heap;
        prop_assert_eq!(
            (end.objects, end.allocated_bytes, end.free_bytes),
            (start.objects, start.allocated_bytes, start.free_bytes)
        );
    }
}
