//! `pobj-bench`: pobj-kv side by side with its peers (RocksDB, redb, LMDB, `BTreeMap`, PMDK's
//! example B-tree) through one trait and one workload engine (`pobj_workload`), and pobj's
//! transactions against PMDK's libpmemobj — all in one run, every figure as a ratio to pobj's.
//!
//! Each store runs in a child process of its own (this binary, `child-kv`), so that peak RSS,
//! the process's I/O counters and a peer's failure belong to that store alone; the parent
//! collects the children's JSON reports and prints the comparison. The PMDK children get
//! `PMEM_IS_PMEM_FORCE=1` (PMDK then flushes with cache-line instructions on tmpfs, as pobj
//! does).
//!
//! Set-up and the full comparison: `bash bench/setup.sh`, then `bash bench/run.sh`.

mod compare;
#[cfg(feature = "pmdk")]
mod pmdk;
mod stores;
mod txbench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Args, Parser, Subcommand};
use pobj_workload::{self as workload, Config, Workload};

/// pobj-kv and pobj side by side with peers, in one run.
#[derive(Debug, Parser)]
#[command(name = "pobj-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The key-value comparison, then the transaction micro-benchmarks (the default).
    All,
    /// The key-value comparison.
    Kv,
    /// pobj's transactions against PMDK's libpmemobj.
    Tx,
    /// (internal) Runs one store's workloads and writes its JSON report.
    #[command(hide = true)]
    ChildKv {
        #[arg(long)]
        store: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// (internal) Runs one implementation's transaction benchmarks and writes JSON.
    #[command(hide = true)]
    ChildTx {
        #[arg(long)]
        implementation: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
struct Opts {
    /// Stores, comma-separated [default: every one in this build]: pobj-kv, btreemap,
    /// rocksdb-sync, rocksdb, redb, redb-batch, lmdb, pmdk-btree.
    #[arg(long, global = true)]
    stores: Option<String>,
    /// Workloads, comma-separated, in order (`all`, `ycsb`, or names as in `pkv bench`).
    #[arg(long, global = true, default_value = "all")]
    workloads: String,
    /// Keys written by the fills.
    #[arg(long, global = true, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// Operations of each random-access and YCSB workload (YCSB E: a tenth) [default: --keys].
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    ops: Option<u64>,
    /// Bytes per key.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=65536))]
    key_size: u64,
    /// Bytes per value.
    #[arg(long, global = true, default_value_t = 100)]
    value_size: usize,
    /// Threads sharing each workload.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: u64,
    /// Seed of every random choice.
    #[arg(long, global = true, default_value_t = 42)]
    seed: u64,
    /// Transactions per micro-benchmark case.
    #[arg(long, global = true, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    tx_ops: u64,
    /// Directory of the stores' files [default: /dev/shm, else the temporary directory].
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Also write every figure to FILE as JSON.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also draw charts: FILE.svg and FILE.png (ops/s per workload and store), and
    /// FILE-tx.svg and FILE-tx.png (ns per transaction).
    #[arg(long, global = true, value_name = "FILE")]
    chart: Option<PathBuf>,
}

impl Opts {
    fn config(&self) -> Result<Config, String> {
        let mut c = Config::new(self.keys);
        c.ops = self.ops.unwrap_or(self.keys);
        c.key_size = usize::try_from(self.key_size).map_err(|e| e.to_string())?;
        c.value_size = self.value_size;
        c.threads = usize::try_from(self.threads).map_err(|e| e.to_string())?;
        c.seed = self.seed;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| {
            let shm = Path::new("/dev/shm");
            if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            }
        })
    }

    fn stores(&self) -> Result<Vec<String>, String> {
        match &self.stores {
            None => Ok(stores::known()
                .into_iter()
                .filter(|(_, built, _)| *built)
                .map(|(n, _, _)| n.to_string())
                .collect()),
            Some(list) => {
                let v: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for s in &v {
                    if !stores::known().iter().any(|(n, _, _)| n == s) {
                        return Err(format!(
                            "unknown store {s:?}; known: {}",
                            stores::known()
                                .iter()
                                .map(|k| k.0)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                Ok(v)
            }
        }
    }

    /// The options as arguments for a child process.
    fn child_args(&self) -> Vec<String> {
        let mut a = vec![
            "--workloads".into(),
            self.workloads.clone(),
            "--keys".into(),
            self.keys.to_string(),
            "--key-size".into(),
            self.key_size.to_string(),
            "--value-size".into(),
            self.value_size.to_string(),
            "--threads".into(),
            self.threads.to_string(),
            "--seed".into(),
            self.seed.to_string(),
            "--tx-ops".into(),
            self.tx_ops.to_string(),
            "--dir".into(),
            self.dir().display().to_string(),
        ];
        if let Some(o) = self.ops {
            a.push("--ops".into());
            a.push(o.to_string());
        }
        a
    }
}

fn child_kv(opts: &Opts, store: &str, out: &Path) -> Result<(), String> {
    let cfg = opts.config()?;
    let workloads = Workload::parse_list(&opts.workloads).map_err(|e| e.to_string())?;
    let dir = opts.dir();
    let backend = stores::backend(
        store,
        &dir,
        cfg.keys.saturating_add(cfg.ops),
        cfg.key_size as u64,
        cfg.value_size as u64,
    )?;
    let bar = workload::Bar::new();
    let r = workload::run(backend.as_ref(), &workloads, &cfg, &bar);
    drop(backend);
    stores::cleanup(&dir, store);
    let report = r.map_err(|e| e.to_string())?;
    std::fs::write(out, report.to_json().to_string()).map_err(|e| format!("{}: {e}", out.display()))
}

fn child_tx(opts: &Opts, implementation: &str, out: &Path) -> Result<(), String> {
    let path = opts.dir().join(format!(
        "pobj-bench-tx-{implementation}-{}.pool",
        std::process::id()
    ));
    let results = match implementation {
        "pobj" => txbench::run_pobj(&path, opts.tx_ops)?,
        #[cfg(feature = "pmdk")]
        "pmdk" => txbench::run_pmdk(&path, opts.tx_ops)?,
        other => return Err(format!("{other}: not in this build")),
    };
    let _ = std::fs::remove_file(&path);
    std::fs::write(out, txbench::to_json(implementation, &results))
        .map_err(|e| format!("{}: {e}", out.display()))
}

/// Runs this binary as a child with `args`; the JSON it wrote, or why it failed.
fn run_child(args: &[String], pmdk: bool, out: &Path) -> Result<serde_json::Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::inherit());
    if pmdk {
        cmd.env("PMEM_IS_PMEM_FORCE", "1");
    }
    let status = cmd.status().map_err(|e| format!("starting a child: {e}"))?;
    if !status.success() {
        return Err(match status.code() {
            Some(c) => format!("failed (exit status {c}; its error is above)"),
            None => "killed by a signal".to_string(),
        });
    }
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_file(out);
    serde_json::from_str(&text).map_err(|e| format!("report: {e}"))
}

fn kv(opts: &Opts) -> Result<Vec<compare::StoreRun>, String> {
    let cfg = opts.config()?;
    Workload::parse_list(&opts.workloads).map_err(|e| e.to_string())?;
    let names = opts.stores()?;
    let dir = opts.dir();
    let mut runs = Vec::new();
    eprintln!(
        "pobj-bench kv: {} keys, {} ops, {} B keys, {} B values, {} thread(s), stores in {}",
        cfg.keys,
        cfg.ops,
        cfg.key_size,
        cfg.value_size,
        cfg.threads,
        dir.display()
    );
    for name in &names {
        let built = stores::known()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .is_some_and(|(_, b, _)| b);
        if !built {
            let err = stores::backend(name, &dir, 1, 16, 100)
                .err()
                .unwrap_or_default();
            eprintln!("{name}: {err}");
            runs.push(compare::StoreRun {
                name: name.clone(),
                result: Err(err),
            });
            continue;
        }
        eprintln!("{name} ...");
        let out = dir.join(format!("pobj-bench-{name}-{}.json", std::process::id()));
        let mut args = vec![
            "child-kv".to_string(),
            "--store".into(),
            name.clone(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(opts.child_args());
        let r = run_child(&args, name == "pmdk-btree", &out);
        if let Err(e) = &r {
            eprintln!("{name}: {e}");
        }
        runs.push(compare::StoreRun {
            name: name.clone(),
            result: r,
        });
    }
    Ok(runs)
}

fn tx(opts: &Opts) -> Vec<compare::TxRun> {
    let dir = opts.dir();
    let mut runs = Vec::new();
    for imp in ["pobj", "pmdk"] {
        if imp == "pmdk" && !cfg!(feature = "pmdk") {
            runs.push(compare::TxRun {
                name: imp.into(),
                result: Err(
                    "not in this build (cargo feature `pmdk`: bash bench/setup.sh, \
                             then bash bench/run.sh)"
                        .into(),
                ),
            });
            continue;
        }
        eprintln!("tx {imp} ...");
        let out = dir.join(format!("pobj-bench-tx-{imp}-{}.json", std::process::id()));
        let mut args = vec![
            "child-tx".to_string(),
            "--implementation".into(),
            imp.into(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(opts.child_args());
        let r = run_child(&args, imp == "pmdk", &out);
        if let Err(e) = &r {
            eprintln!("tx {imp}: {e}");
        }
        runs.push(compare::TxRun {
            name: imp.into(),
            result: r,
        });
    }
    runs
}

fn run(cli: Cli) -> Result<(), String> {
    let opts = &cli.opts;
    match cli.command.unwrap_or(Cmd::All) {
        Cmd::ChildKv { store, out } => child_kv(opts, &store, &out),
        Cmd::ChildTx {
            implementation,
            out,
        } => child_tx(opts, &implementation, &out),
        cmd => {
            let cfg = opts.config()?;
            let (kv_runs, tx_runs) = match cmd {
                Cmd::Kv => (kv(opts)?, Vec::new()),
                Cmd::Tx => (Vec::new(), tx(opts)),
                _ => (kv(opts)?, tx(opts)),
            };
            let cmp = compare::Comparison {
                config: cfg,
                workloads: Workload::parse_list(&opts.workloads).map_err(|e| e.to_string())?,
                stores: kv_runs,
                tx: tx_runs,
                tx_ops: opts.tx_ops,
            };
            print!("{}", cmp.render());
            if let Some(file) = &opts.json {
                std::fs::write(file, cmp.to_json())
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                println!("JSON: {}", file.display());
            }
            if let Some(file) = &opts.chart {
                let written = cmp.charts(file)?;
                println!("charts: {}", written.join(", "));
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pobj-bench: {e}");
            ExitCode::from(2)
        }
    }
}
