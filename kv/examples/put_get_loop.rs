//! The store's cost alone, without the workload engine: 500,000 puts of 16-byte keys and
//! 100-byte values in a scattered order, as many gets, as many overwrites, then a reopen.
//! Prints ops/s, the open time, and fences and bytes flushed per put and per overwrite. For before/after comparisons of the library: the same file
//! builds against any version of `pobj-kv` that has `Db::create` and `Db::open`.
//!
//! `cargo run --release -p pobj-kv --example put_get_loop [KEYS]` (a pool in /dev/shm).

use std::time::Instant;

fn main() -> Result<(), pobj_kv::Error> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let path = format!("/dev/shm/put-get-loop-{}.pool", std::process::id());
    let _ = std::fs::remove_file(&path);
    let db = pobj_kv::Db::create(&path, 1 << 30)?;
    let key = |i: u64| {
        format!(
            "{:016}",
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10_000_000_000_000_000
        )
    };
    let value = vec![7u8; 100];
    let rate = |secs: f64| n as f64 / secs;

    let per_op = |before: pobj::PersistStats, after: pobj::PersistStats| {
        (
            (after.fences - before.fences) as f64 / n as f64,
            (after.bytes_flushed - before.bytes_flushed) as f64 / n as f64,
        )
    };
    let s0 = db.stats().persist;
    let t = Instant::now();
    for i in 0..n {
        db.put(key(i), &value)?;
    }
    let put = rate(t.elapsed().as_secs_f64());
    let (put_fences, put_bytes) = per_op(s0, db.stats().persist);
    let t = Instant::now();
    let mut found = 0;
    for i in 0..n {
        if db.get(key((i * 7919) % n))?.is_some() {
            found += 1;
        }
    }
    let get = rate(t.elapsed().as_secs_f64());
    assert_eq!(found, n, "every key put is found");
    let s1 = db.stats().persist;
    let t = Instant::now();
    for i in 0..n {
        db.put(key(i), &value)?;
    }
    let overwrite = rate(t.elapsed().as_secs_f64());
    let (ow_fences, ow_bytes) = per_op(s1, db.stats().persist);
    drop(db);
    let t = Instant::now();
    let db = pobj_kv::Db::open(&path)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    drop(db);
    let _ = std::fs::remove_file(&path);
    println!("put {put:.0} get {get:.0} overwrite {overwrite:.0} ops/s open {open_ms:.1} ms");
    println!(
        "per put: {put_fences:.3} fences, {put_bytes:.1} bytes flushed; per overwrite: \
         {ow_fences:.3} fences, {ow_bytes:.1} bytes flushed"
    );
    Ok(())
}
