//! Crash suite for the key-value store: puts (inline and out of line), overwrites, removes,
//! splits, leaf unlinking and batches, under power failure at every fence. Each recovered image
//! must pass `Db::check` and hold the contents before or after the interrupted operation.

use std::collections::BTreeMap;

use pobj::crash::CrashTest;
use pobj_kv::{Db, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{:06}", (i * 7919) % 1000).into_bytes()
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn value(i: u64) -> Vec<u8> {
    let r = mix(i);
    let len = match r % 10 {
        0 => 200, // out of line (one size class: small pools have few chunks)
        1 => 0,
        _ => (r >> 8) as usize % 100,
    };
    vec![(r >> 32) as u8; len]
}

/// Fill (splits), overwrite, remove a run of keys (leaves empty and are unlinked), batches.
fn plan() -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..130 {
        ops.push(Op::Put(key(i), value(i)));
    }
    for i in (0..130).step_by(9) {
        ops.push(Op::Put(key(i), value(i + 1000)));
    }
    // Remove the keys in sorted order, so whole leaves empty.
    let mut sorted: Vec<Vec<u8>> = (0..130).map(key).collect();
    sorted.sort();
    for k in sorted.iter().skip(20).take(70) {
        ops.push(Op::Remove(k.clone()));
    }
    ops.push(Op::Remove(b"absent".to_vec()));
    for b in 0..4u64 {
        let mut batch = Vec::new();
        for j in 0..12 {
            let i = 2000 + b * 100 + j;
            batch.push((key(i), if j % 4 == 3 { None } else { Some(value(i)) }));
        }
        batch.push((sorted[b as usize].clone(), None));
        ops.push(Op::Batch(batch));
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
        Op::Batch(b) => {
            for (k, v) in b {
                match v {
                    Some(v) => m.insert(k.clone(), v.clone()),
                    None => m.remove(k),
                };
            }
        }
    }
}

fn run_op(db: &Db, op: &Op) -> Result<(), String> {
    match op {
        Op::Put(k, v) => db.put(k, v).map_err(|e| e.to_string()),
        Op::Remove(k) => db.remove(k).map(|_| ()).map_err(|e| e.to_string()),
        Op::Batch(b) => {
            let mut wb = WriteBatch::new();
            for (k, v) in b {
                match v {
                    Some(v) => wb.put(k, v),
                    None => wb.remove(k),
                };
            }
            db.write(&wb).map_err(|e| e.to_string())
        }
    }
}

fn contents(db: &Db) -> Result<Model, String> {
    db.iter()
        .collect::<Result<Model, _>>()
        .map_err(|e| e.to_string())
}

#[test]
fn kv_puts_removes_splits_unlinks_batches() {
    let ops = plan();
    let mut states = vec![Model::new()];
    for op in &ops {
        let mut m = states[states.len() - 1].clone();
        apply(&mut m, op);
        states.push(m);
    }
    let n = ops.len();
    let report = CrashTest::new()
        .max_images_per_point(24)
        .run_store(
            pobj_kv::LAYOUT,
            pobj::MIN_POOL_SIZE,
            |pool| Db::from_pool(pool).map_err(|e| e.to_string()),
            |_| Ok(()),
            n,
            move |db: &Db, i| run_op(db, &ops[i]),
            move |db: &Db, done| {
                let report = db.check();
                if !report.is_ok() {
                    return Err(format!("Db::check: {report}"));
                }
                let got = contents(db)?;
                if got == states[done] || states.get(done + 1) == Some(&got) {
                    Ok(())
                } else {
                    Err(format!(
                        "contents ({} keys) are neither the state before ({} keys) nor after ({:?} keys) operation {done}",
                        got.len(),
                        states[done].len(),
                        states.get(done + 1).map(BTreeMap::len)
                    ))
                }
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("crash suite kv_puts_removes_splits_unlinks_batches: {report}");
    assert!(report.images > 5000, "{report}");
}
