//! `pkv bench`: a quick benchmark of a fresh store.
//!
//! Workloads, in order: fillseq (keys 0..N ascending), readseq (iterate all), fillrandom (a
//! fresh pool, the N keys in a seeded random order), readrandom, readmissing (keys N..2N),
//! overwrite, deleterandom. Keys are the key number big-endian in `--key-size` bytes. Each
//! workload reports ops/s, per-op latency percentiles, fences per op and bytes flushed per byte
//! of user data from the pool's persistence counters; then the time to reopen the filled store
//! (recovery and the rebuild of the inner nodes) and the DRAM bytes of the inner nodes per key.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pobj::PersistStats;
use pobj_kv::Db;

use super::args::BenchArgs;
use super::codec::{grouped, human_bytes};
use super::error::{stdout_error, CliError, CliResult};

/// splitmix64: a small, fast, seeded generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-high.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// `0..n` in a random order (Fisher-Yates).
fn permutation(n: u64, rng: &mut SplitMix64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// Writes key number `i` big-endian into `buf` (`buf.len()` bytes, zero-padded on the left).
fn encode_key(i: u64, buf: &mut [u8]) {
    let be = i.to_be_bytes();
    if buf.len() >= 8 {
        let pad = buf.len() - 8;
        buf[..pad].fill(0);
        buf[pad..].copy_from_slice(&be);
    } else {
        let n = buf.len();
        buf.copy_from_slice(&be[8 - n..]);
    }
}

/// Writes a value for key `i` into `buf`: a pattern from `salt`, with the key number in front.
fn fill_value(i: u64, salt: u8, buf: &mut [u8]) {
    buf.fill(salt);
    let le = i.to_le_bytes();
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&le[..n]);
}

/// The measurements of one workload.
struct Row {
    name: &'static str,
    ops: u64,
    elapsed: Duration,
    /// Per-op latencies in nanoseconds, sorted.
    lat: Vec<u64>,
    persist: PersistStats,
    /// Key and value bytes written (0 for reads).
    user_bytes: u64,
}

impl Row {
    /// The `q` quantile (nearest rank) of the latencies, in nanoseconds.
    fn percentile(&self, q: f64) -> u64 {
        if self.lat.is_empty() {
            return 0;
        }
        let rank = (q * self.lat.len() as f64).ceil() as usize;
        self.lat[rank.clamp(1, self.lat.len()) - 1]
    }

    fn ops_per_sec(&self) -> u64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.ops as f64 / s).round() as u64
        } else {
            0
        }
    }
}

/// Runs `op` for each of `order`, timing each call; `user_bytes` per op written.
fn measure(
    db: &Db,
    name: &'static str,
    order: &[u64],
    user_bytes: u64,
    mut op: impl FnMut(u64) -> CliResult,
) -> CliResult<Row> {
    let mut lat = Vec::with_capacity(order.len());
    let before = db.pool().persist_stats();
    let start = Instant::now();
    for &i in order {
        let t = Instant::now();
        op(i)?;
        lat.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    let elapsed = start.elapsed();
    let persist = db.pool().persist_stats().since(&before);
    lat.sort_unstable();
    Ok(Row {
        name,
        ops: order.len() as u64,
        elapsed,
        lat,
        persist,
        user_bytes: user_bytes * order.len() as u64,
    })
}

/// Removes the bench pool when dropped (also on an error).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn remove_if_present(path: &Path) -> CliResult {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::io(format!("removing {}", path.display()), &e)),
    }
}

fn default_pool() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join("pkv-bench.pool")
}

/// Checks that an existing `--pool` file is a pkv store before replacing it.
fn check_replaceable(path: &Path) -> CliResult {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::io(path.display(), &e)),
        Ok(m) if !m.is_file() => Err(CliError::fatal(format!(
            "{}: not a regular file; refusing to replace it",
            path.display()
        ))),
        Ok(_) => match Db::open(path) {
            Ok(_) => Ok(()),
            Err(e) => Err(CliError::fatal(format!(
                "{}: refusing to replace a file that does not open as a pkv store ({e})",
                path.display()
            ))),
        },
    }
}

/// Pool size for the workload: keys × (key + value + 200) × 2, rounded up to a MiB, at least
/// 64 MiB.
fn pool_size(keys: u64, key_size: u64, value_size: u64) -> CliResult<u64> {
    const MIB: u64 = 1 << 20;
    keys.checked_mul(key_size + value_size + 200)
        .and_then(|b| b.checked_mul(2))
        .and_then(|b| b.checked_next_multiple_of(MIB))
        .map(|b| b.max(64 * MIB))
        .ok_or_else(|| CliError::fatal("pool size overflows; use fewer keys"))
}

/// Runs the benchmark and prints its table.
pub fn run(args: &BenchArgs) -> CliResult {
    let n = args.keys;
    let ks = usize::try_from(args.key_size).map_err(CliError::fatal)?;
    let vs = args.value_size;
    if ks < 8 && n.checked_mul(2).is_none_or(|m| m > 1u64 << (8 * ks)) {
        return Err(CliError::fatal(format!(
            "--key-size {ks} holds only {} distinct keys; the benchmark needs 2 × --keys",
            1u64 << (8 * ks)
        )));
    }
    if vs > pobj_kv::MAX_VALUE_LEN {
        return Err(CliError::fatal(format!(
            "--value-size {vs} exceeds the maximum of {}",
            pobj_kv::MAX_VALUE_LEN
        )));
    }
    let size = pool_size(n, ks as u64, vs as u64)?;
    let path = match &args.pool {
        Some(p) => {
            check_replaceable(p)?;
            p.clone()
        }
        None => default_pool(),
    };
    remove_if_present(&path)?;
    let _cleanup = RemoveOnDrop(path.clone());
    let create = |path: &Path| Db::create(path, size).map_err(CliError::from);

    let mut rng = SplitMix64(args.seed);
    let seq: Vec<u64> = (0..n).collect();
    let mut key = vec![0u8; ks];
    let mut value = vec![0u8; vs];
    let kv_bytes = (ks + vs) as u64;
    let mut rows = Vec::with_capacity(7);

    // fillseq, readseq
    let db = create(&path)?;
    let mode = db.pool().persist_mode();
    rows.push(measure(&db, "fillseq", &seq, kv_bytes, |i| {
        encode_key(i, &mut key);
        fill_value(i, 1, &mut value);
        Ok(db.put(&key, &value)?)
    })?);
    {
        let mut it = db.iter();
        rows.push(measure(&db, "readseq", &seq, 0, |_| match it.next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
            None => Err(CliError::fatal(
                "readseq: the store has fewer keys than written",
            )),
        })?);
        if it.next().is_some() {
            return Err(CliError::fatal(
                "readseq: the store has more keys than written",
            ));
        }
    }
    drop(db);

    // fillrandom and the rest on a fresh pool
    remove_if_present(&path)?;
    let db = create(&path)?;
    let order = permutation(n, &mut rng);
    rows.push(measure(&db, "fillrandom", &order, kv_bytes, |i| {
        encode_key(i, &mut key);
        fill_value(i, 2, &mut value);
        Ok(db.put(&key, &value)?)
    })?);
    let order = permutation(n, &mut rng);
    rows.push(measure(&db, "readrandom", &order, 0, |i| {
        encode_key(i, &mut key);
        match db.get_with(&key, <[u8]>::len)? {
            Some(l) if l == vs => Ok(()),
            Some(l) => Err(CliError::fatal(format!(
                "readrandom: key {i} has a value of {l} bytes, not {vs}"
            ))),
            None => Err(CliError::fatal(format!("readrandom: key {i} is missing"))),
        }
    })?);
    let missing: Vec<u64> = permutation(n, &mut rng)
        .into_iter()
        .map(|i| i + n)
        .collect();
    rows.push(measure(&db, "readmissing", &missing, 0, |i| {
        encode_key(i, &mut key);
        match db.get_with(&key, |_| ())? {
            None => Ok(()),
            Some(()) => Err(CliError::fatal(format!("readmissing: key {i} is present"))),
        }
    })?);
    let order = permutation(n, &mut rng);
    rows.push(measure(&db, "overwrite", &order, kv_bytes, |i| {
        encode_key(i, &mut key);
        fill_value(i, 3, &mut value);
        Ok(db.put(&key, &value)?)
    })?);

    // Reopen the filled store: recovery and the rebuild of the inner nodes.
    drop(db);
    let t = Instant::now();
    let db = Db::open(&path)?;
    let open_time = t.elapsed();
    let stats = db.stats();
    if stats.keys != n {
        return Err(CliError::fatal(format!(
            "reopened store has {} keys, expected {n}",
            stats.keys
        )));
    }

    let order = permutation(n, &mut rng);
    rows.push(measure(&db, "deleterandom", &order, ks as u64, |i| {
        encode_key(i, &mut key);
        if db.remove(&key)? {
            Ok(())
        } else {
            Err(CliError::fatal(format!("deleterandom: key {i} is missing")))
        }
    })?);
    let left = db.count_all()?;
    drop(db);
    if left != 0 {
        return Err(CliError::fatal(format!(
            "{left} keys left after deleterandom"
        )));
    }

    let table = render(args, &path, size, mode, &rows, open_time, &stats);
    let mut out = io::stdout().lock();
    out.write_all(table.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| stdout_error(&e))
}

fn render(
    args: &BenchArgs,
    path: &Path,
    size: u64,
    mode: pobj::PersistMode,
    rows: &[Row],
    open_time: Duration,
    stats: &pobj_kv::Stats,
) -> String {
    let headers = [
        "workload",
        "ops",
        "ops/s",
        "p50 ns",
        "p99 ns",
        "fences/op",
        "flushed B/user B",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let ops = r.ops.max(1) as f64;
            [
                r.name.to_string(),
                grouped(r.ops),
                grouped(r.ops_per_sec()),
                grouped(r.percentile(0.50)),
                grouped(r.percentile(0.99)),
                format!("{:.2}", r.persist.fences as f64 / ops),
                if r.user_bytes == 0 {
                    "-".to_string()
                } else {
                    format!(
                        "{:.2}",
                        r.persist.bytes_flushed as f64 / r.user_bytes as f64
                    )
                },
            ]
        })
        .collect();
    let mut width = headers.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[&str]| {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(width).enumerate() {
            if i == 0 {
                s.push_str(&format!("{c:<w$}"));
            } else {
                s.push_str(&format!("  {c:>w$}"));
            }
        }
        s.push('\n');
        s
    };

    let mut out = format!(
        "pkv bench: {} keys, {} B keys, {} B values, seed {}\n\
         pool: {} ({}, persistence {mode})\n\n",
        grouped(args.keys),
        args.key_size,
        args.value_size,
        args.seed,
        path.display(),
        human_bytes(size),
    );
    out.push_str(&line(&headers));
    let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in &cells {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    let per_key = if stats.keys > 0 {
        stats.dram_bytes as f64 / stats.keys as f64
    } else {
        0.0
    };
    out.push_str(&format!(
        "\nopen (recovery + rebuild) of the filled store: {:.2} ms ({} keys in {} leaves)\n\
         DRAM of the inner nodes: {} bytes, {per_key:.2} bytes per key\n\
         (user bytes: key + value per write, key per delete)\n",
        open_time.as_secs_f64() * 1e3,
        grouped(stats.keys),
        grouped(stats.leaves),
        grouped(stats.dram_bytes),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_big_endian_and_ordered() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        encode_key(255, &mut a);
        encode_key(256, &mut b);
        assert!(a < b);
        assert_eq!(&a[8..], &255u64.to_be_bytes());
        let mut c = [0u8; 2];
        encode_key(0x1234, &mut c);
        assert_eq!(c, [0x12, 0x34]);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut rng = SplitMix64(7);
        let mut p = permutation(1000, &mut rng);
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn pool_sizes() {
        assert_eq!(pool_size(1, 16, 100).ok(), Some(64 << 20));
        assert_eq!(pool_size(1_000_000, 16, 100).ok(), Some(603 << 20));
        assert!(pool_size(u64::MAX, 16, 100).is_err());
    }
}
