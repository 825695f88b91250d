//! Stress: 4 threads × 200,000 mixed operations on one store, over keys each thread owns
//! (checked exactly against per-thread models) and keys shared by all (every read returns a
//! value some thread wrote for that key, or none); scans run alongside; then reopen and check.
//! `PKV_STRESS_OPS` scales the operations per thread.

use std::collections::BTreeMap;
use std::sync::Arc;

use pobj_kv::{Db, WriteBatch};

const THREADS: usize = 4;

fn ops_per_thread() -> u64 {
    std::env::var("PKV_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn owned_key(t: usize, k: u64) -> Vec<u8> {
    format!("own-{t}-{k:05}").into_bytes()
}

fn shared_key(k: u64) -> Vec<u8> {
    format!("shared-{k:03}").into_bytes()
}

/// A shared-key value names its writer and a sequence, and is checkable on its own.
fn shared_value(t: usize, seq: u64, k: u64) -> Vec<u8> {
    let mut v = format!("{t}:{seq}:{k}:").into_bytes();
    let len = v.len() + (seq % 200) as usize;
    v.resize(len, b'x');
    v
}

fn valid_shared(k: u64, v: &[u8]) -> bool {
    let s = String::from_utf8_lossy(v);
    let mut parts = s.splitn(4, ':');
    let (Some(t), Some(seq), Some(kk)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(t), Ok(seq), Ok(kk)) = (t.parse::<usize>(), seq.parse::<u64>(), kk.parse::<u64>())
    else {
        return false;
    };
    t < THREADS && kk == k && v == shared_value(t, seq, k).as_slice()
}

#[test]
fn four_threads_mixed_operations() {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let path = dir.path().join("stress.pool");
    let db = Arc::new(Db::create(&path, 512 << 20).unwrap());
    let n = ops_per_thread();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut next = rng(0x00C0_FFEE + t as u64 * 7919);
                let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
                let mut shared_reads = 0u64;
                for seq in 0..n {
                    let r = next();
                    let k = (r >> 8) % 3000;
                    match r % 16 {
                        0..=4 => {
                            let v = vec![(r >> 32) as u8; (r >> 40) as usize % 300];
                            db.put(owned_key(t, k), &v).unwrap();
                            model.insert(owned_key(t, k), v);
                        }
                        5..=6 => {
                            let removed = db.remove(owned_key(t, k)).unwrap();
                            assert_eq!(
                                removed,
                                model.remove(&owned_key(t, k)).is_some(),
                                "thread {t} remove {k}"
                            );
                        }
                        7..=9 => {
                            assert_eq!(
                                db.get(owned_key(t, k)).unwrap(),
                                model.get(&owned_key(t, k)).cloned(),
                                "thread {t} get {k}"
                            );
                        }
                        10..=11 => {
                            let sk = k % 200;
                            db.put(shared_key(sk), shared_value(t, seq, sk)).unwrap();
                        }
                        12..=13 => {
                            let sk = k % 200;
                            if let Some(v) = db.get(shared_key(sk)).unwrap() {
                                assert!(
                                    valid_shared(sk, &v),
                                    "shared key {sk} holds a value no thread wrote: {v:?}"
                                );
                            }
                            shared_reads += 1;
                        }
                        14 => {
                            // A short scan of this thread's keys: in order, each at most once.
                            let from = owned_key(t, k);
                            let to = owned_key(t, k + 50);
                            let got: Vec<_> = db
                                .range(from.clone()..to.clone())
                                .collect::<Result<_, _>>()
                                .unwrap();
                            let want: Vec<_> = model
                                .range(from..to)
                                .map(|(a, b)| (a.clone(), b.clone()))
                                .collect();
                            assert_eq!(got, want, "thread {t} scan from {k}");
                        }
                        _ => {
                            let mut b = WriteBatch::new();
                            for j in 0..4 {
                                let kk = (k + j * 7) % 3000;
                                b.put(owned_key(t, kk), [j as u8; 20]);
                                model.insert(owned_key(t, kk), vec![j as u8; 20]);
                            }
                            db.write(&b).unwrap();
                        }
                    }
                }
                (model, shared_reads)
            })
        })
        .collect();
    let mut models = Vec::new();
    for h in handles {
        models.push(h.join().expect("a worker panicked").0);
    }
    let check = |db: &Db| {
        for (t, model) in models.iter().enumerate() {
            let prefix = format!("own-{t}-").into_bytes();
            let mut end = prefix.clone();
            end.push(0xff);
            let got: BTreeMap<Vec<u8>, Vec<u8>> =
                db.range(prefix..end).collect::<Result<_, _>>().unwrap();
            assert_eq!(&got, model, "thread {t}'s keys");
        }
        for sk in 0..200 {
            if let Some(v) = db.get(shared_key(sk)).unwrap() {
                assert!(valid_shared(sk, &v));
            }
        }
        let report = db.check();
        assert!(report.is_ok(), "{report:?}");
    };
    check(&db);
    drop(db);
    let db = Db::open(&path).unwrap();
    check(&db);
    eprintln!(
        "stress: {THREADS} threads × {n} operations; {} keys at the end",
        db.count_all().unwrap()
    );
}
