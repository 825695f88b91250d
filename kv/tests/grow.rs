//! A store whose pool grows: filled from the minimum size to 500,000 keys, grown while writers
//! and readers run, and killed (SIGKILL) in the middle of a growing load, many rounds, each
//! reopen holding exactly a prefix of the puts in order.
//!
//! The test binary re-runs itself as the child of the kill test: `POBJ_KV_CHILD` says so.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pobj::PoolOptions;
use pobj_kv::Db;

fn key(i: u64) -> [u8; 16] {
    // Spread over the key space (not in put order), 16 bytes.
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut v = vec![(i % 251) as u8; 100];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v
}

fn shm_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pobj-kv-grow")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

fn minimum() -> PoolOptions {
    PoolOptions::default()
        .initial_size(pobj::MIN_POOL_SIZE)
        .grow_step(16 << 20)
}

#[test]
fn a_store_created_at_the_minimum_size_grows_to_500000_keys() {
    let dir = shm_dir();
    let path = dir.path().join("store");
    let db = Db::create(&path, minimum()).unwrap();
    let start = db.pool_info().size();
    let n = 500_000u64;
    for i in 0..n {
        db.put(key(i), value(i)).unwrap();
    }
    let info = db.pool_info();
    let (size, growths) = (info.size(), info.growths());
    assert!(growths >= 4, "{growths} growths");
    assert!(size > start * 10, "{start} -> {size}");
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.pool_info().size(), size);
    let report = db.check();
    assert!(report.is_ok(), "{report}");
    assert_eq!(db.stats().keys, n);
    for i in 0..n {
        assert_eq!(
            db.get(key(i)).unwrap().as_deref(),
            Some(&value(i)[..]),
            "key {i}"
        );
    }
    eprintln!("grew from {start} to {size} bytes in {growths} growths");
}

#[test]
fn the_store_grows_while_writers_and_readers_run() {
    let dir = shm_dir();
    let path = dir.path().join("store");
    let db = Arc::new(
        Db::create(
            &path,
            PoolOptions::default()
                .initial_size(pobj::MIN_POOL_SIZE)
                .grow_step(2 << 20),
        )
        .unwrap(),
    );
    let per = 40_000u64;
    for i in 0..1000 {
        db.put(key(i), value(i)).unwrap();
    }
    let start = db.pool_info().size();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    let k = i % 1000;
                    assert_eq!(db.get(key(k)).unwrap(), Some(value(k)), "key {k}");
                    let from = key(k).to_vec();
                    let _ = db.range(from..).take(5).count();
                    i += 7;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for j in 0..per {
                    let i = 1000 + j * 2 + w;
                    db.put(key(i), value(i)).unwrap();
                }
            })
        })
        .collect();
    for t in writers {
        t.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for t in readers {
        assert!(t.join().unwrap() > 0);
    }
    let info = db.pool_info();
    assert!(info.growths() >= 3, "{} growths", info.growths());
    assert!(info.size() > start);
    let report = db.check();
    assert!(report.is_ok(), "{report}");
    for i in 0..1000 + 2 * per {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i)), "key {i}");
    }
}

/// The child: opens (or creates) the store and puts keys from the first missing one on,
/// printing each number after its put returned.
#[test]
fn child_entry() {
    let Ok(path) = std::env::var("POBJ_KV_CHILD") else {
        return;
    };
    let db = Db::open_or_create(
        &path,
        PoolOptions::default()
            .initial_size(pobj::MIN_POOL_SIZE)
            .grow_step(1 << 20),
    )
    .unwrap();
    let start = db.stats().keys;
    let mut out = std::io::stdout().lock();
    for i in start..start + 10_000_000 {
        db.put(key(i), value(i)).unwrap();
        writeln!(out, "{i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_during_a_growing_load_keeps_an_exact_prefix() {
    let dir = shm_dir();
    let path = dir.path().join("store");
    let rounds: u64 = std::env::var("POBJ_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut committed = 0u64;
    let mut growths_seen = 0u64;
    let mut last_size = None;
    for round in 0..rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut ch = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env("POBJ_KV_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = ch.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = line.trim().parse::<u64>() {
                    last = Some(v);
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(30 + seed % 120));
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(ch.id().cast_signed(), libc::SIGKILL) };
        let _ = ch.wait();
        let reported = reader.join().unwrap();
        let db = Db::open(&path).unwrap();
        let report = db.check();
        assert!(report.is_ok(), "round {round}: {report}");
        let n = db.stats().keys;
        if let Some(r) = reported {
            // Every reported put is there; at most one more returned but was not reported.
            assert!(
                n == r + 1 || n == r + 2,
                "round {round}: {n} keys, {r} reported"
            );
        }
        assert!(n >= committed, "round {round}: {n} keys after {committed}");
        // Exactly the prefix 0..n, each with its value.
        for i in 0..n {
            assert_eq!(
                db.get(key(i)).unwrap(),
                Some(value(i)),
                "round {round}: key {i}"
            );
        }
        assert_eq!(
            db.get(key(n)).unwrap(),
            None,
            "round {round}: key {n} past the prefix"
        );
        // Rounds in which the pool grew (the first round's creation does not count).
        let size = db.pool_info().size();
        if last_size.is_some_and(|l| size > l) {
            growths_seen += 1;
        }
        last_size = Some(size);
        committed = n;
    }
    assert!(
        growths_seen >= 3,
        "the pool grew in only {growths_seen} rounds"
    );
    eprintln!(
        "sigkill: {rounds} kills, {committed} puts kept, the pool grew in {growths_seen} rounds to {} bytes",
        last_size.unwrap_or(0)
    );
}
