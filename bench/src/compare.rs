//! The comparison: tables with every figure as a ratio to pobj-kv's (or pobj's) in the same
//! run, the targets checked, JSON and charts.

use std::path::Path;

use pobj_workload::{chart, proc, Config, Workload};
use serde_json::{json, Value};

/// One store's run: its report (the engine's JSON), or why there is none.
pub(crate) struct StoreRun {
    pub name: String,
    pub result: Result<Value, String>,
}

/// One implementation's transaction benchmarks (JSON), or why there are none.
pub(crate) struct TxRun {
    pub name: String,
    pub result: Result<Value, String>,
}

/// Everything one `pobj-bench` run measured.
pub(crate) struct Comparison {
    pub config: Config,
    pub workloads: Vec<Workload>,
    pub stores: Vec<StoreRun>,
    pub tx: Vec<TxRun>,
    pub tx_ops: u64,
}

/// A checked target.
struct Target {
    name: String,
    value: Option<f64>,
    bound: f64,
    at_least: bool,
    note: String,
}

impl Target {
    fn met(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.bound
            } else {
                v <= self.bound
            }
        })
    }
}

/// `v` to three significant digits with a k/M/G suffix.
fn short(v: f64) -> String {
    let (d, s) = if v >= 1e9 {
        (1e9, "G")
    } else if v >= 1e6 {
        (1e6, "M")
    } else if v >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if x >= 100.0 || (s.is_empty() && x.fract() == 0.0) {
        format!("{x:.0}{s}")
    } else if x >= 10.0 {
        format!("{x:.1}{s}")
    } else {
        format!("{x:.2}{s}")
    }
}

fn ratio(r: f64) -> String {
    if !r.is_finite() {
        "-".into()
    } else if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

fn time_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A table: first column left-aligned, the others right-aligned.
fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |row: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(&width).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(headers);
    let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&line(&rule));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

/// A row of the per-store summary: label, JSON field, format.
type SummaryItem = (&'static str, &'static str, fn(f64) -> String);

impl Comparison {
    fn report(&self, store: &str) -> Option<&Value> {
        self.stores
            .iter()
            .find(|s| s.name == store)
            .and_then(|s| s.result.as_ref().ok())
    }

    fn workload(&self, store: &str, w: Workload) -> Option<&Value> {
        self.report(store)?
            .get("workloads")?
            .as_array()?
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(w.name()))
    }

    fn wfig(&self, store: &str, w: Workload, path: &[&str]) -> Option<f64> {
        f(self.workload(store, w)?, path)
    }

    fn skipped(&self, store: &str, w: Workload) -> bool {
        self.report(store)
            .and_then(|r| r.get("skipped"))
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x.get("name").and_then(Value::as_str) == Some(w.name()))
            })
    }

    fn names(&self) -> Vec<String> {
        self.stores.iter().map(|s| s.name.clone()).collect()
    }

    fn workload_list(&self) -> Vec<Workload> {
        let mut v: Vec<Workload> = Vec::new();
        for w in &self.workloads {
            if !v.contains(w) {
                v.push(*w);
            }
        }
        v
    }

    /// A table of one per-workload figure for every store, with ratios to pobj-kv.
    fn figure_table(
        &self,
        title: &str,
        path: &[&str],
        fmt: fn(f64) -> String,
        only_writes: bool,
    ) -> String {
        let names = self.names();
        let mut headers = vec!["workload".to_string()];
        headers.extend(names.iter().cloned());
        let mut rows = Vec::new();
        for w in self.workload_list() {
            if only_writes && !w.writes() {
                continue;
            }
            let base = self.wfig("pobj-kv", w, path);
            let mut row = vec![w.name().to_string()];
            for n in &names {
                let cell = match self.wfig(n, w, path) {
                    Some(v) if n == "pobj-kv" => fmt(v),
                    Some(v) => match base {
                        Some(b) if b > 0.0 => format!("{} ({})", fmt(v), ratio(v / b)),
                        _ => fmt(v),
                    },
                    None if self.skipped(n, w) => "n/a".into(),
                    None => "-".into(),
                };
                row.push(cell);
            }
            rows.push(row);
        }
        format!("{title}\n{}\n", table(&headers, &rows))
    }

    fn summary_table(&self) -> String {
        let names = self.names();
        let mut headers = vec![String::new()];
        headers.extend(names.iter().cloned());
        let items: [SummaryItem; 4] = [
            ("open (recovery) ms", "open_ms", |v| format!("{v:.1}")),
            ("DRAM B/key (store's count)", "dram_bytes_per_key", |v| {
                format!("{v:.1}")
            }),
            ("anon memory B/key (fill)", "anon_bytes_per_key", |v| {
                format!("{v:.1}")
            }),
            ("peak RSS MiB", "peak_rss_bytes", |v| {
                format!("{:.0}", v / (1u64 << 20) as f64)
            }),
        ];
        let mut rows = Vec::new();
        for (label, key, fmt) in items {
            let base = self.report("pobj-kv").and_then(|r| f(r, &[key]));
            let mut row = vec![label.to_string()];
            for n in &names {
                let v = self.report(n).and_then(|r| f(r, &[key]));
                row.push(match (v, base) {
                    (Some(v), _) if n == "pobj-kv" => fmt(v),
                    (Some(v), Some(b)) if b > 0.0 => format!("{} ({})", fmt(v), ratio(v / b)),
                    (Some(v), _) => fmt(v),
                    (None, _) => "-".into(),
                });
            }
            rows.push(row);
        }
        format!(
            "per store (× = ratio to pobj-kv)\n{}\n",
            table(&headers, &rows)
        )
    }

    fn tx_case(&self, imp: &str, case: &str, field: &str) -> Option<f64> {
        let r = self
            .tx
            .iter()
            .find(|t| t.name == imp)?
            .result
            .as_ref()
            .ok()?;
        let c = r
            .get("cases")?
            .as_array()?
            .iter()
            .find(|c| c.get("case").and_then(Value::as_str) == Some(case))?;
        f(c, &[field])
    }

    fn tx_table(&self) -> String {
        let headers: Vec<String> = [
            "case",
            "pobj mean",
            "pobj p99",
            "pobj fences/op",
            "libpmemobj mean",
            "libpmemobj p99",
            "libpmemobj / pobj",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        let mut rows = Vec::new();
        for (label, key) in crate::txbench::CASES {
            let pm = self.tx_case("pobj", key, "mean_ns");
            let dm = self.tx_case("pmdk", key, "mean_ns");
            let cell = |v: Option<f64>| v.map_or_else(|| "-".into(), time_ns);
            rows.push(vec![
                label.to_string(),
                cell(pm),
                cell(self.tx_case("pobj", key, "p99_ns")),
                self.tx_case("pobj", key, "fences_per_op")
                    .map_or_else(|| "-".into(), |v| format!("{v:.2}")),
                cell(dm),
                cell(self.tx_case("pmdk", key, "p99_ns")),
                match (pm, dm) {
                    (Some(p), Some(d)) if p > 0.0 => ratio(d / p),
                    _ => "-".into(),
                },
            ]);
        }
        let mut out = format!(
            "pobj transactions vs PMDK's libpmemobj ({} per case, same medium; \
             libpmemobj with PMEM_IS_PMEM_FORCE=1)\n{}",
            self.tx_ops,
            table(&headers, &rows)
        );
        for t in &self.tx {
            if let Err(e) = &t.result {
                out.push_str(&format!("{}: {e}\n", t.name));
            }
        }
        out.push('\n');
        out
    }

    fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        let pk = |w| self.wfig("pobj-kv", w, &["ops_per_sec"]);
        let peer = |s: &str, w| self.wfig(s, w, &["ops_per_sec"]);
        let rel = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let rr = Workload::ReadRandom;
        let fr = Workload::FillRandom;
        if self.stores.is_empty() {
            self.tx_targets(&mut t);
            return t;
        }
        t.push(Target {
            name: "readrandom vs btreemap".into(),
            value: rel(pk(rr), peer("btreemap", rr)),
            bound: 1.0,
            at_least: true,
            note: "×".into(),
        });
        let rocks_read = [peer("rocksdb", rr), peer("rocksdb-sync", rr)]
            .into_iter()
            .flatten()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        t.push(Target {
            name: "readrandom vs rocksdb (the faster variant)".into(),
            value: rel(pk(rr), rocks_read),
            bound: 8.0,
            at_least: true,
            note: "×".into(),
        });
        t.push(Target {
            name: "fillrandom vs btreemap insert".into(),
            value: rel(pk(fr), peer("btreemap", fr)),
            bound: 0.6,
            at_least: true,
            note: "×".into(),
        });
        t.push(Target {
            name: "fillrandom vs rocksdb-sync".into(),
            value: rel(pk(fr), peer("rocksdb-sync", fr)),
            bound: 3.0,
            at_least: true,
            note: "×".into(),
        });
        t.push(Target {
            name: "fillrandom vs pmdk-btree (PMDK's example B-tree)".into(),
            value: rel(pk(fr), peer("pmdk-btree", fr)),
            bound: 2.5,
            at_least: true,
            note: "×".into(),
        });
        for w in [Workload::FillRandom, Workload::Overwrite] {
            t.push(Target {
                name: format!("write amplification, {w}"),
                value: self.wfig("pobj-kv", w, &["write_amplification"]),
                bound: 2.0,
                at_least: false,
                note: " B/B".into(),
            });
        }
        t.push(Target {
            name: "open time of the filled store".into(),
            value: self.report("pobj-kv").and_then(|r| f(r, &["open_ms"])),
            bound: 50.0,
            at_least: false,
            note: " ms".into(),
        });
        self.tx_targets(&mut t);
        t
    }

    fn tx_targets(&self, t: &mut Vec<Target>) {
        if self.tx.is_empty() {
            return;
        }
        let rel = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        for (label, key) in crate::txbench::CASES {
            t.push(Target {
                name: format!("tx {label}: libpmemobj time / pobj time"),
                value: rel(
                    self.tx_case("pmdk", key, "mean_ns"),
                    self.tx_case("pobj", key, "mean_ns"),
                ),
                bound: 1.5,
                at_least: true,
                note: "×".into(),
            });
        }
    }

    fn targets_text(&self) -> String {
        let mut rows = Vec::new();
        for t in self.targets() {
            let fmt = |v: f64| {
                if t.note == "×" {
                    ratio(v)
                } else {
                    format!("{v:.2}{}", t.note)
                }
            };
            let verdict = match (t.met(), t.value) {
                (Some(true), _) => "met".to_string(),
                (Some(false), Some(v)) => {
                    let by = if t.at_least {
                        format!("{:.0}% short", (1.0 - v / t.bound) * 100.0)
                    } else {
                        format!("{:.0}% over", (v / t.bound - 1.0) * 100.0)
                    };
                    format!("MISSED ({by})")
                }
                _ => "not measured".to_string(),
            };
            rows.push(vec![
                t.name.clone(),
                t.value.map_or_else(|| "-".into(), fmt),
                format!("{} {}", if t.at_least { "≥" } else { "≤" }, fmt(t.bound)),
                verdict,
            ]);
        }
        let headers: Vec<String> = ["target (pobj-kv / pobj)", "this run", "target", ""]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        let mut out = format!("targets of issue 7\n{}", table(&headers, &rows));
        if self.config.keys != 1_000_000 || self.config.threads != 1 {
            out.push_str(&format!(
                "(the targets are set for 1,000,000 keys and one thread; this run used {} keys \
                 and {} thread(s))\n",
                self.config.keys, self.config.threads
            ));
        }
        out
    }

    /// The whole text output.
    pub(crate) fn render(&self) -> String {
        let c = &self.config;
        let (cpu, cpus, mem) = proc::machine();
        let mut out = format!(
            "\npobj-bench: {} keys, {} ops per random workload, {} B keys, {} B values, \
             {} thread(s), seed {}\nmachine: {cpu}, {cpus} CPUs, {:.1} GiB\n\n",
            c.keys,
            c.ops,
            c.key_size,
            c.value_size,
            c.threads,
            c.seed,
            mem.unwrap_or(0) as f64 / (1u64 << 30) as f64,
        );
        if !self.stores.is_empty() {
            out.push_str("stores\n");
            for s in &self.stores {
                let d = match &s.result {
                    Ok(v) => v
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    Err(e) => format!("NOT RUN: {e}"),
                };
                out.push_str(&format!("  {:<13} {d}\n", s.name));
            }
            out.push('\n');
            out.push_str(&self.figure_table(
                "ops/s (× = ratio to pobj-kv in this run; higher is faster)",
                &["ops_per_sec"],
                short,
                false,
            ));
            out.push_str(&self.figure_table(
                "p50 latency (× = ratio to pobj-kv; lower is faster)",
                &["latency_ns", "p50"],
                time_ns,
                false,
            ));
            out.push_str(&self.figure_table(
                "p99 latency (× = ratio to pobj-kv; lower is faster)",
                &["latency_ns", "p99"],
                time_ns,
                false,
            ));
            out.push_str(&self.figure_table(
                "p99.9 latency (× = ratio to pobj-kv; lower is faster)",
                &["latency_ns", "p999"],
                time_ns,
                false,
            ));
            out.push_str(&self.figure_table(
                "bytes written per byte of user data (× = ratio to pobj-kv): pobj-kv flushed \
                 cache lines, RocksDB flush + compaction + WAL bytes, others the process's \
                 write() bytes; - = not measurable (no writes, or writes through a mapping)",
                &["write_amplification"],
                |v| format!("{v:.2}"),
                true,
            ));
            out.push_str(&self.summary_table());
        }
        if !self.tx.is_empty() {
            out.push_str(&self.tx_table());
        }
        out.push_str(&self.targets_text());
        out
    }

    /// Every figure as JSON.
    pub(crate) fn to_json(&self) -> String {
        let (cpu, cpus, mem) = proc::machine();
        let stores: Vec<Value> = self
            .stores
            .iter()
            .map(|s| match &s.result {
                Ok(v) => json!({ "name": s.name, "report": v }),
                Err(e) => json!({ "name": s.name, "error": e }),
            })
            .collect();
        let tx: Vec<Value> = self
            .tx
            .iter()
            .map(|t| match &t.result {
                Ok(v) => json!({ "name": t.name, "results": v }),
                Err(e) => json!({ "name": t.name, "error": e }),
            })
            .collect();
        let targets: Vec<Value> = self
            .targets()
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "value": t.value,
                    "bound": t.bound,
                    "at_least": t.at_least,
                    "met": t.met(),
                })
            })
            .collect();
        let c = &self.config;
        let v = json!({
            "tool": "pobj-bench",
            "machine": { "cpu": cpu, "cpus": cpus, "memory_bytes": mem },
            "config": {
                "keys": c.keys, "ops": c.ops, "key_size": c.key_size,
                "value_size": c.value_size, "threads": c.threads, "seed": c.seed,
                "tx_ops": self.tx_ops,
                "workloads": self.workload_list().iter().map(|w| w.name()).collect::<Vec<_>>(),
            },
            "stores": stores,
            "tx": tx,
            "targets": targets,
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string());
        s.push('\n');
        s
    }

    /// Writes the charts; the paths written.
    pub(crate) fn charts(&self, file: &Path) -> Result<Vec<String>, String> {
        let mut written = Vec::new();
        let stem = match file.extension().and_then(|e| e.to_str()) {
            Some("svg" | "png") => file.with_extension(""),
            _ => file.to_path_buf(),
        };
        if !self.stores.is_empty() {
            let ws = self.workload_list();
            let series = self
                .stores
                .iter()
                .filter(|s| s.result.is_ok())
                .map(|s| {
                    (
                        s.name.clone(),
                        ws.iter()
                            .map(|w| self.wfig(&s.name, *w, &["ops_per_sec"]))
                            .collect(),
                    )
                })
                .collect();
            let c = chart::BarChart {
                title: format!(
                    "ops/s: {} keys, {} B keys, {} B values, {} thread(s)",
                    self.config.keys,
                    self.config.key_size,
                    self.config.value_size,
                    self.config.threads
                ),
                y_label: "ops/s".into(),
                groups: ws.iter().map(|w| w.name().to_string()).collect(),
                series,
            };
            // Nothing to draw when every store failed or was skipped.
            if !c.is_empty() {
                for p in
                    chart::write_both(&stem, &c).map_err(|e| format!("{}: {e}", stem.display()))?
                {
                    written.push(p.display().to_string());
                }
            }
        }
        if self.tx.iter().any(|t| t.result.is_ok()) {
            let series = self
                .tx
                .iter()
                .filter(|t| t.result.is_ok())
                .map(|t| {
                    (
                        if t.name == "pmdk" {
                            "libpmemobj".to_string()
                        } else {
                            t.name.clone()
                        },
                        crate::txbench::CASES
                            .iter()
                            .map(|(_, k)| self.tx_case(&t.name, k, "mean_ns"))
                            .collect(),
                    )
                })
                .collect();
            let c = chart::BarChart {
                title: "transactions: mean ns per operation (lower is faster)".into(),
                y_label: "ns".into(),
                groups: crate::txbench::CASES
                    .iter()
                    .map(|(l, _)| l.to_string())
                    .collect(),
                series,
            };
            let mut tx_stem = stem.clone().into_os_string();
            tx_stem.push("-tx");
            let tx_stem = std::path::PathBuf::from(tx_stem);
            if !c.is_empty() {
                for p in chart::write_both(&tx_stem, &c)
                    .map_err(|e| format!("{}: {e}", tx_stem.display()))?
                {
                    written.push(p.display().to_string());
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(short(232_041.0), "232k");
        assert_eq!(short(2_078_535.0), "2.08M");
        assert_eq!(short(33_392.0), "33.4k");
        assert_eq!(short(512.0), "512");
        assert_eq!(ratio(0.456), "0.46×");
        assert_eq!(ratio(22.4), "22.4×");
        assert_eq!(time_ns(1_500.0), "1.5 µs");
    }

    #[test]
    fn ratios_to_pobj_kv() {
        let report = |ops: f64| {
            json!({"description": "d", "workloads": [
                {"name": "readrandom", "ops_per_sec": ops, "latency_ns": {"p50": 1, "p99": 2, "p999": 3}}
            ], "skipped": [], "open_ms": 10.0})
        };
        let c = Comparison {
            config: Config::new(1000),
            workloads: vec![Workload::ReadRandom],
            stores: vec![
                StoreRun {
                    name: "pobj-kv".into(),
                    result: Ok(report(1000.0)),
                },
                StoreRun {
                    name: "btreemap".into(),
                    result: Ok(report(2000.0)),
                },
                StoreRun {
                    name: "rocksdb".into(),
                    result: Err("not built".into()),
                },
            ],
            tx: Vec::new(),
            tx_ops: 10,
        };
        let text = c.render();
        assert!(text.contains("2.00k (2.00×)"), "{text}");
        assert!(text.contains("readrandom vs btreemap"), "{text}");
        assert!(text.contains("MISSED (50% short)"), "{text}");
        assert!(text.contains("NOT RUN: not built"), "{text}");
        assert!(serde_json::from_str::<Value>(&c.to_json()).is_ok());
    }

    /// Regression (found by review of the move to plotters): with every store failed there is
    /// no bar to draw, and the refused empty chart failed the whole run before the
    /// transactions' chart was written. Empty charts are now skipped.
    #[test]
    fn regression_11_charts_skip_what_has_nothing_to_draw() {
        let dir = std::env::temp_dir().join(format!("pobj-bench-charts-{}", std::process::id()));
        assert!(std::fs::create_dir_all(&dir).is_ok());
        let cases: Vec<Value> = crate::txbench::CASES
            .iter()
            .map(|(_, k)| json!({"case": k, "ops": 10, "mean_ns": 100.0, "p50_ns": 90, "p99_ns": 200}))
            .collect();
        let c = Comparison {
            config: Config::new(1000),
            workloads: vec![Workload::ReadRandom],
            stores: vec![StoreRun {
                name: "pobj-kv".into(),
                result: Err("failed".into()),
            }],
            tx: vec![TxRun {
                name: "pobj".into(),
                result: Ok(json!({"implementation": "pobj", "cases": cases})),
            }],
            tx_ops: 10,
        };
        let written = c.charts(&dir.join("c"));
        let tx_svg = dir.join("c-tx.svg").exists();
        let _ = std::fs::remove_dir_all(&dir);
        let written = written.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.len(), 2, "{written:?}");
        assert!(tx_svg);
    }
}
