//! Property test: random transactions with random aborts and reopens, compared with a model.

mod common;

use pobj::{Error, PBytes, PPtr, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Item {
    key: u64,
    data: PBytes,
    next: PPtr<Item>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    head: PPtr<Item>,
    slots: [u64; 8],
}

#[derive(Clone, Debug)]
enum Op {
    Push { key: u64, len: usize },
    PopFront,
    RemoveKey(u64),
    SetSlot(usize, u64),
    Rewrite { key: u64, byte: u8 },
}

#[derive(Clone, Debug)]
enum Step {
    Tx {
        ops: Vec<Op>,
        abort: bool,
        panic: bool,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20, prop_oneof![0usize..64, 0usize..3000, Just(70_000)]).prop_map(|(key, len)| Op::Push { key, len }),
        1 => Just(Op::PopFront),
        2 => (0u64..20).prop_map(Op::RemoveKey),
        2 => (0usize..8, any::<u64>()).prop_map(|(i, v)| Op::SetSlot(i, v)),
        2 => (0u64..20, any::<u8>()).prop_map(|(key, byte)| Op::Rewrite { key, byte }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (proptest::collection::vec(op(), 1..8), proptest::bool::weighted(0.25), proptest::bool::weighted(0.05))
            .prop_map(|(ops, abort, panic)| Step::Tx { ops, abort, panic }),
        1 => Just(Step::Reopen),
    ]
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    items: Vec<(u64, Vec<u8>)>, // front first
    slots: [u64; 8],
}

fn apply_model(m: &mut Model, op: &Op) {
    match op {
        Op::Push { key, len } => m.items.insert(0, (*key, vec![*key as u8; *len])),
        Op::PopFront => {
            if !m.items.is_empty() {
                m.items.remove(0);
            }
        }
        Op::RemoveKey(k) => {
            if let Some(i) = m.items.iter().position(|(key, _)| key == k) {
                m.items.remove(i);
            }
        }
        Op::SetSlot(i, v) => m.slots[*i] = *v,
        Op::Rewrite { key, byte } => {
            if let Some((_, d)) = m.items.iter_mut().find(|(k, _)| k == key) {
                d.fill(*byte);
            }
        }
    }
}

fn apply_pool(tx: &mut pobj::Tx<'_, Root>, op: &Op) -> Result<(), Error> {
    match op {
        Op::Push { key, len } => {
            let data = tx.alloc_bytes(&vec![*key as u8; *len])?;
            let head = tx.root().head;
            let it = tx.alloc(Item {
                key: *key,
                data,
                next: head,
            })?;
            tx.root_mut()?.head = it;
        }
        Op::PopFront => {
            let head = tx.root().head;
            if !head.is_null() {
                let it = *tx.get(head)?;
                tx.free_bytes(it.data)?;
                tx.free(head)?;
                tx.root_mut()?.head = it.next;
            }
        }
        Op::RemoveKey(k) => {
            let mut prev: Option<PPtr<Item>> = None;
            let mut p = tx.root().head;
            while !p.is_null() {
                let it = *tx.get(p)?;
                if it.key == *k {
                    match prev {
                        None => tx.root_mut()?.head = it.next,
                        Some(pp) => tx.get_mut(pp)?.next = it.next,
                    }
                    tx.free_bytes(it.data)?;
                    tx.free(p)?;
                    break;
                }
                prev = Some(p);
                p = it.next;
            }
        }
        Op::SetSlot(i, v) => tx.root_mut()?.slots[*i] = *v,
        Op::Rewrite { key, byte } => {
            let mut p = tx.root().head;
            while !p.is_null() {
                let it = *tx.get(p)?;
                if it.key == *key {
                    tx.bytes_mut(it.data)?.iter_mut().for_each(|b| *b = *byte);
                    break;
                }
                p = it.next;
            }
        }
    }
    Ok(())
}

fn read_pool(pool: &Pool<Root>) -> Model {
    let root = pool.root().unwrap();
    let mut items = Vec::new();
    let mut p = root.head;
    while !p.is_null() {
        let it = pool.get(p).unwrap();
        items.push((it.key, pool.bytes(it.data).unwrap()));
        p = it.next;
    }
    Model {
        items,
        slots: root.slots,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_transactions_match_the_model(steps in proptest::collection::vec(step(), 1..40)) {
        let dir = common::shm_dir();
        let path = common::pool_path(&dir, "model.pool");
        let mut pool = Pool::<Root>::create(&path, "model", 16 << 20).unwrap();
        let start_free = pool.stats().heap.free_bytes;
        let mut model = Model::default();
        for s in &steps {
            match s {
                Step::Reopen => {
                    drop(pool);
                    pool = Pool::<Root>::open(&path, "model").unwrap();
                }
                Step::Tx { ops, abort, panic } => {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pool.transaction(|tx| {
                            for op in ops {
                                apply_pool(tx, op)?;
                            }
                            assert!(!*panic, "injected");
                            if *abort { Err(Error::TxAborted) } else { Ok(()) }
                        })
                    }));
                    let committed = matches!(r, Ok(Ok(())));
                    if committed {
                        for op in ops {
                            apply_model(&mut model, op);
                        }
                    }
                    prop_assert_eq!(committed, !abort && !panic);
                }
            }
            prop_assert_eq!(&read_pool(&pool), &model);
        }
        let report = pool.check();
        prop_assert!(report.is_ok(), "{:?}", report);
        // Remove everything: the heap returns to its starting free space.
        pool.transaction(|tx| {
            while !tx.root().head.is_null() {
                apply_pool(tx, &Op::PopFront)?;
            }
            Ok::<_, Error>(())
        }).unwrap();
        prop_assert_eq!(pool.stats().heap.free_bytes, start_free);
    }
}
