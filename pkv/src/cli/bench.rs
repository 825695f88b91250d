//! `pkv bench`: the workloads of [`pobj_workload`] on a fresh store, as a table, JSON and
//! a chart.
//!
//! The pool lives on /dev/shm where it exists (else in the temporary directory), or at
//! `--pool`; it is replaced at each fill and removed at the end. Workloads run in the order
//! given; fills start from an empty store, others load one first if none is full. See the
//! engine's documentation for what each workload does and how each figure is measured.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pobj_kv::Db;
use pobj_workload::{self as workload, chart, Bar, Config, KvBackend, Report, Workload};
use serde_json::json;

use super::args::BenchArgs;
use super::codec::{grouped, human_bytes};
use super::error::{stdout_error, CliError, CliResult};

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

/// /dev/shm if it exists, else the temporary directory.
fn default_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
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

fn config(args: &BenchArgs) -> CliResult<Config> {
    let mut cfg = Config::new(args.keys);
    cfg.ops = args.ops.unwrap_or(args.keys);
    cfg.key_size = usize::try_from(args.key_size).map_err(CliError::fatal)?;
    cfg.value_size = args.value_size;
    cfg.threads = usize::try_from(args.threads).map_err(CliError::fatal)?;
    cfg.seed = args.seed;
    cfg.validate().map_err(CliError::fatal)?;
    Ok(cfg)
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(args: &BenchArgs) -> CliResult {
    let workloads = Workload::parse_list(&args.workloads).map_err(CliError::fatal)?;
    let cfg = config(args)?;
    let size = KvBackend::pool_size(
        cfg.keys.saturating_add(cfg.ops),
        cfg.key_size as u64,
        cfg.value_size as u64,
    )
    .ok_or_else(|| CliError::fatal("pool size overflows; use fewer keys"))?;
    let path = match &args.pool {
        Some(p) => {
            check_replaceable(p)?;
            p.clone()
        }
        None => default_dir().join("pkv-bench.pool"),
    };
    remove_if_present(&path)?;
    let _cleanup = RemoveOnDrop(path.clone());
    let (backend, size) = if args.grow {
        let opts = pobj::PoolOptions::default()
            .initial_size(pobj::MIN_POOL_SIZE)
            .max_size(size.max(pobj::DEFAULT_MAX_SIZE));
        (KvBackend::new(&path, opts), pobj::MIN_POOL_SIZE)
    } else {
        (KvBackend::new(&path, size), size)
    };
    let bar = Bar::new();
    let report = workload::run(&backend, &workloads, &cfg, &bar).map_err(CliError::fatal)?;
    let mode = backend
        .persist_mode()
        .map_or_else(|| "unknown".to_string(), |m| m.to_string());

    let desc = if args.grow {
        format!("created at {}, grows", human_bytes(size))
    } else {
        human_bytes(size)
    };
    let table = render(&report, &path, &desc, &mode);
    {
        let mut out = io::stdout().lock();
        out.write_all(table.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| stdout_error(&e))?;
    }
    if let Some(file) = &args.json {
        let text = to_json(&report, &path, size, &mode);
        fs::write(file, text).map_err(|e| CliError::io(file.display(), &e))?;
        super::commands::print_line(format!("JSON: {}", file.display()).as_bytes())?;
    }
    if let Some(file) = &args.chart {
        let run = format!(
            "{} keys, {} B keys, {} B values, {} thread{}",
            grouped(cfg.keys),
            cfg.key_size,
            cfg.value_size,
            cfg.threads,
            if cfg.threads == 1 { "" } else { "s" }
        );
        let stem = chart::stem(file);
        let charts = [
            (
                stem.clone(),
                chart::throughput(&report, format!("pkv bench, ops/s: {run}")),
            ),
            (
                chart::with_suffix(&stem, "-latency"),
                chart::latency(&report, format!("pkv bench, latency: {run}")),
            ),
        ];
        let mut names = Vec::new();
        for (path, c) in charts.iter().filter(|(_, c)| !c.is_empty()) {
            let written = chart::write_both(path, c).map_err(|e| CliError::fatal(e.to_string()))?;
            names.extend(written.iter().map(|p| p.display().to_string()));
        }
        super::commands::print_line(format!("charts: {}", names.join(", ")).as_bytes())?;
    }
    Ok(())
}

fn machine_line() -> String {
    let (cpu, cpus, mem) = workload::proc::machine();
    format!(
        "{cpu}, {cpus} CPU{}, {}",
        if cpus == 1 { "" } else { "s" },
        mem.map_or_else(|| "memory unknown".into(), human_bytes)
    )
}

fn to_json(report: &Report, path: &Path, size: u64, mode: &str) -> String {
    let (cpu, cpus, mem) = workload::proc::machine();
    let doc = json!({
        "tool": "pkv bench",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": { "cpu": cpu, "cpus": cpus, "memory_bytes": mem },
        "pool": path.display().to_string(),
        "pool_size": size,
        "persistence": mode,
        "report": report.to_json(),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// A table with the first column left-aligned and the others right-aligned.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |row: &[&str]| {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(&width).enumerate() {
            if i == 0 {
                s.push_str(&format!("{c:<w$}"));
            } else {
                s.push_str(&format!("  {c:>w$}"));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(headers);
    let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

fn render(report: &Report, path: &Path, size: &str, mode: &str) -> String {
    let cfg = &report.config;
    let headers = [
        "workload",
        "ops",
        "ops/s",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "fences/op",
        "flushed B/user B",
    ];
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            vec![
                r.workload.name().to_string(),
                grouped(r.ops),
                grouped(whole(r.ops_per_sec())),
                grouped(r.latency.p50),
                grouped(r.latency.p99),
                grouped(r.latency.p999),
                r.fences_per_op()
                    .map_or_else(|| "-".into(), |f| format!("{f:.2}")),
                r.write_amplification()
                    .map_or_else(|| "-".into(), |w| format!("{w:.2}")),
            ]
        })
        .collect();
    let mut out = format!(
        "pkv bench: {} keys, {} ops per random workload, {} B keys, {} B values, {} thread{}, seed {}\n\
         pool: {} ({}, persistence {mode})\n\
         machine: {}\n\n",
        grouped(cfg.keys),
        grouped(cfg.ops),
        cfg.key_size,
        cfg.value_size,
        cfg.threads,
        if cfg.threads == 1 { "" } else { "s" },
        cfg.seed,
        path.display(),
        size,
        machine_line(),
    );
    out.push_str(&table(&headers, &rows));
    out.push('\n');
    for r in &report.results {
        if r.background_ops > 0 {
            out.push_str(&format!(
                "{}: the readers' figures; the writer did {} overwrites ({} ops/s) meanwhile\n",
                r.workload,
                grouped(r.background_ops),
                grouped(whole(r.background_ops_per_sec()))
            ));
        }
        if r.misses > 0 {
            out.push_str(&format!(
                "{}: {} reads of keys being inserted by another thread found nothing yet\n",
                r.workload,
                grouped(r.misses)
            ));
        }
    }
    for (w, why) in &report.skipped {
        out.push_str(&format!("{w}: skipped ({why})\n"));
    }
    match report.open {
        Some((d, keys)) => out.push_str(&format!(
            "open (recovery + rebuild of the inner nodes) of the filled store: {:.2} ms ({} keys)\n",
            d.as_secs_f64() * 1e3,
            grouped(keys)
        )),
        None => out.push_str("open time: not measured (no full store to reopen)\n"),
    }
    let per_key = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |b| format!("{b:.1}"));
    out.push_str(&format!(
        "DRAM of the inner nodes: {} bytes per key; the process's anonymous memory grew {} bytes \
         per key over the first fill\n",
        per_key(report.dram_bytes_per_key),
        per_key(report.anon_bytes_per_key),
    ));
    out.push_str(&format!(
        "peak RSS: {} (counts the pool's pages mapped from {})\n",
        report.peak_rss.map_or_else(|| "-".into(), human_bytes),
        path.parent()
            .map_or_else(|| ".".into(), |p| p.display().to_string()),
    ));
    out.push_str(
        "(user bytes: key + value per write, key per delete; latencies per operation, \
         readseq per entry)\n",
    );
    out
}

/// A rate rounded to whole operations per second.
#[expect(clippy::cast_sign_loss, reason = "rates are non-negative")]
fn whole(rate: f64) -> u64 {
    rate.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_sizes() {
        assert_eq!(KvBackend::pool_size(1, 16, 100), Some(64 << 20));
        assert_eq!(KvBackend::pool_size(1_000_000, 16, 100), Some(603 << 20));
        assert!(KvBackend::pool_size(u64::MAX, 16, 100).is_none());
    }

    #[test]
    fn tables_align() {
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxyz   1\n");
    }
}
