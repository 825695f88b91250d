//! Crash suite for a store ordered by a user's comparator (reversed bytes): puts that split
//! leaves, removes that unlink them, updates of values in place and into free slots, under power
//! failure at every fence. Each recovered image must open with the comparator, pass
//! `Db::check`, scan in the comparator's order and hold the contents before or after the
//! interrupted operation.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use pobj::crash::CrashTest;
use pobj_kv::{Comparator, Db};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

struct Reverse;
impl Comparator for Reverse {
    fn name(&self) -> &str {
        "reverse"
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    /// Appends a byte to the value (`Map::update`).
    Append(Vec<u8>, u8),
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{:06}", (i * 7919) % 1000).into_bytes()
}

fn plan() -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..90 {
        let len = if i % 11 == 0 {
            200
        } else {
            (i as usize * 7) % 90
        };
        ops.push(Op::Put(key(i), vec![i as u8; len]));
    }
    for i in (0..90).step_by(7) {
        ops.push(Op::Append(key(i), 0xA5));
    }
    ops.push(Op::Append(b"absent".to_vec(), 1));
    // Remove a run in the comparator's order, so that whole leaves empty.
    let mut sorted: Vec<Vec<u8>> = (0..90).map(key).collect();
    sorted.sort_by(|a, b| Reverse.compare(a, b));
    for k in sorted.iter().skip(10).take(45) {
        ops.push(Op::Remove(k.clone()));
    }
    ops
}

fn apply(m: &mut Model, op: &Op) {
    match op {
        Op::Put(k, v) => {
            m.insert(k.clone(), v.clone());
        }
        Op::Remove(k) => {
            m.remove(k);
        }
        Op::Append(k, b) => {
            if let Some(v) = m.get_mut(k) {
                v.push(*b);
            }
        }
    }
}

fn run_op(db: &Db, op: &Op) -> Result<(), String> {
    let r = match op {
        Op::Put(k, v) => db.put(k, v),
        Op::Remove(k) => db.remove(k).map(|_| ()),
        Op::Append(k, b) => db
            .update(k, |v| {
                let mut v = v.to_vec();
                v.push(*b);
                v
            })
            .map(|_| ()),
    };
    r.map_err(|e| e.to_string())
}

/// The contents, checked to come in the comparator's order.
fn contents(db: &Db) -> Result<Model, String> {
    let mut prev: Option<Vec<u8>> = None;
    let mut m = Model::new();
    for e in db.iter() {
        let (k, v) = e.map_err(|e| e.to_string())?;
        if prev
            .as_ref()
            .is_some_and(|p| Reverse.compare(p, &k) != Ordering::Less)
        {
            return Err("a scan out of the comparator's order".into());
        }
        prev = Some(k.clone());
        m.insert(k, v);
    }
    Ok(m)
}

#[test]
fn ordered_store_puts_updates_removes() {
    let ops = plan();
    let mut states = vec![Model::new()];
    for op in &ops {
        let mut m = states[states.len() - 1].clone();
        apply(&mut m, op);
        states.push(m);
    }
    let n = ops.len();
    let report = CrashTest::new()
        .max_images_per_point(8)
        .run_store(
            pobj_kv::LAYOUT,
            pobj::MIN_POOL_SIZE,
            |pool| {
                Db::options()
                    .comparator(Arc::new(Reverse))
                    .wrap(pool)
                    .map_err(|e| e.to_string())
            },
            |_| Ok(()),
            n,
            move |db: &Db, i| run_op(db, &ops[i]),
            move |db: &Db, done| {
                if db.comparator_name() != "reverse" {
                    return Err(format!("opened with {:?}", db.comparator_name()));
                }
                let report = db.check();
                if !report.is_ok() {
                    return Err(format!("Db::check: {report}"));
                }
                let got = contents(db)?;
                if got == states[done] || states.get(done + 1) == Some(&got) {
                    Ok(())
                } else {
                    Err(format!(
                        "contents ({} keys) are neither the state before ({} keys) nor after operation {done}",
                        got.len(),
                        states[done].len(),
                    ))
                }
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("crash suite ordered_store_puts_updates_removes: {report}");
    assert!(report.images > 1000, "{report}");
}
