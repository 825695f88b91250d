//! The commands other than `bench`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use pobj::PoolOptions;
use pobj_kv::Db;

use super::args::{Cli, Command};
use super::codec::{from_hex, grouped, human_bytes, to_hex};
use super::error::{stdout_error, CliError, CliResult};

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> CliResult {
    let hex = cli.hex;
    match cli.command {
        Command::Create {
            pool,
            size,
            initial_size,
            max_size,
            grow_step,
        } => {
            let opts = size.map_or_else(
                || {
                    let mut o = PoolOptions::default();
                    if let Some(n) = initial_size {
                        o = o.initial_size(n);
                    }
                    if let Some(n) = max_size {
                        o = o.max_size(n);
                    }
                    if let Some(n) = grow_step {
                        o = o.grow_step(n);
                    }
                    o
                },
                PoolOptions::fixed,
            );
            create(&pool, opts)
        }
        Command::Info { pool } => info(&pool),
        Command::Check { pool, map: None } => check(&pool),
        Command::Check {
            pool,
            map: Some(which),
        } => super::maps::check(&pool, &which),
        Command::Maps { pool } => super::maps::list(&pool),
        Command::Put { pool, key, value } => {
            let (k, v) = (
                arg_bytes(&key, hex, "KEY")?,
                arg_bytes(&value, hex, "VALUE")?,
            );
            open(&pool)?.put(k, v)?;
            Ok(())
        }
        Command::Get { pool, key } => get(&pool, &arg_bytes(&key, hex, "KEY")?, hex),
        Command::Remove { pool, key } => {
            let k = arg_bytes(&key, hex, "KEY")?;
            if open(&pool)?.remove(k)? {
                Ok(())
            } else {
                Err(CliError::No("not found".into()))
            }
        }
        Command::Count { pool } => {
            let n = open(&pool)?.count_all()?;
            print_line(n.to_string().as_bytes())
        }
        Command::Scan {
            pool,
            from,
            to,
            limit,
        } => {
            let from = from.map(|f| arg_bytes(&f, hex, "--from")).transpose()?;
            let to = to.map(|t| arg_bytes(&t, hex, "--to")).transpose()?;
            scan(&pool, from, to, limit, hex)
        }
        Command::Load { pool, file } => load(&pool, file, hex),
        Command::Bench(args) => super::bench::run(&args),
    }
}

/// Opens a store; the error names the pool file.
pub(crate) fn open(path: &Path) -> CliResult<Db> {
    Db::open(path).map_err(|e| with_path(path, &e))
}

/// An error message that names `path` (pool errors already do; store errors do not).
pub(crate) fn with_path(path: &Path, e: &pobj_kv::Error) -> CliError {
    let msg = e.to_string();
    let shown = path.display().to_string();
    if msg.contains(&shown) {
        CliError::fatal(msg)
    } else {
        CliError::fatal(format!("{shown}: {msg}"))
    }
}

/// A KEY or VALUE argument as bytes: its UTF-8 text, or decoded hex with `--hex`.
fn arg_bytes(s: &str, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    if hex {
        from_hex(s.as_bytes()).map_err(|e| CliError::fatal(format!("invalid hex in {what}: {e}")))
    } else {
        Ok(s.as_bytes().to_vec())
    }
}

/// Bytes for output: raw, or lowercase hex with `--hex`.
fn out_bytes(b: &[u8], hex: bool) -> std::borrow::Cow<'_, [u8]> {
    if hex {
        std::borrow::Cow::Owned(to_hex(b).into_bytes())
    } else {
        std::borrow::Cow::Borrowed(b)
    }
}

/// Writes `bytes` and a newline to stdout.
pub(super) fn print_line(bytes: &[u8]) -> CliResult {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| stdout_error(&e))
}

fn create(path: &Path, opts: PoolOptions) -> CliResult {
    let db = Db::create(path, opts).map_err(|e| with_path(path, &e))?;
    let info = db.pool_info();
    let (size, max, mode) = (info.size(), info.max_size(), info.persist_mode());
    drop(db);
    let sizes = if max > size {
        format!("{}, grows to {}", human_bytes(size), human_bytes(max))
    } else {
        format!("{}, fixed size", human_bytes(size))
    };
    print_line(format!("created {} ({sizes}, persistence {mode})", path.display()).as_bytes())
}

fn info(path: &Path) -> CliResult {
    let t = Instant::now();
    let db = open(path)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let s = db.stats();
    let pool = db.pool_info();
    let growth = if pool.grow_step() > 0 {
        format!("grows by {} at a time", human_bytes(pool.grow_step()))
    } else if pool.max_size() > pool.size() {
        "cannot grow".to_string()
    } else {
        "fixed size".to_string()
    };
    let rows: [(&str, String); 10] = [
        ("path", pool.path().display().to_string()),
        (
            "pool size",
            format!("{} bytes ({})", pool.size(), human_bytes(pool.size())),
        ),
        (
            "max size",
            format!(
                "{} bytes ({}, {growth})",
                pool.max_size(),
                human_bytes(pool.max_size())
            ),
        ),
        ("persistence", pool.persist_mode().to_string()),
        ("keys", s.keys.to_string()),
        ("leaves", s.leaves.to_string()),
        (
            "bytes used",
            format!("{} ({})", s.bytes_used, human_bytes(s.bytes_used)),
        ),
        (
            "bytes free",
            format!("{} ({})", s.bytes_free, human_bytes(s.bytes_free)),
        ),
        (
            "dram bytes",
            format!(
                "{} ({}, inner nodes)",
                s.dram_bytes,
                human_bytes(s.dram_bytes)
            ),
        ),
        ("open time", format!("{open_ms:.3} ms")),
    ];
    let mut out = io::stdout().lock();
    for (k, v) in rows {
        writeln!(out, "{:<12} {v}", format!("{k}:")).map_err(|e| stdout_error(&e))?;
    }
    out.flush().map_err(|e| stdout_error(&e))
}

fn check(path: &Path) -> CliResult {
    let db = open(path)?;
    let r = db.check();
    let mut out = io::stdout().lock();
    if r.is_ok() {
        writeln!(out, "ok: {} keys in {} leaves", r.keys, r.leaves)
            .map_err(|e| stdout_error(&e))?;
        return out.flush().map_err(|e| stdout_error(&e));
    }
    for p in &r.problems {
        writeln!(out, "{p}").map_err(|e| stdout_error(&e))?;
    }
    out.flush().map_err(|e| stdout_error(&e))?;
    Err(CliError::No(format!(
        "check found {} problem{} ({} keys in {} leaves)",
        r.problems.len(),
        if r.problems.len() == 1 { "" } else { "s" },
        r.keys,
        r.leaves
    )))
}

fn get(path: &Path, key: &[u8], hex: bool) -> CliResult {
    let db = open(path)?;
    let found = db.get_with(key, |v| print_line(&out_bytes(v, hex)))?;
    found.unwrap_or_else(|| Err(CliError::No("not found".into())))
}

fn scan(
    path: &Path,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
    limit: Option<u64>,
    hex: bool,
) -> CliResult {
    let db = open(path)?;
    if let (Some(f), Some(t)) = (&from, &to) {
        if f >= t {
            return Ok(());
        }
    }
    let lower = from.map_or(Bound::Unbounded, Bound::Included);
    let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut left = limit.unwrap_or(u64::MAX);
    for entry in db.range((lower, upper)) {
        if left == 0 {
            break;
        }
        left -= 1;
        let (k, v) = entry?;
        out.write_all(&out_bytes(&k, hex))
            .and_then(|()| out.write_all(b"\t"))
            .and_then(|()| out.write_all(&out_bytes(&v, hex)))
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| stdout_error(&e))?;
    }
    out.flush().map_err(|e| stdout_error(&e))
}

/// The progress display of `load`: a bar over the input's bytes for a file, a key counter for
/// stdin; nothing when stderr is not a terminal.
struct Progress {
    bar: Option<ProgressBar>,
    by_bytes: bool,
}

impl Progress {
    fn new(file_len: Option<u64>) -> Self {
        if !io::stderr().is_terminal() {
            return Progress {
                bar: None,
                by_bytes: false,
            };
        }
        let (bar, template) = match file_len {
            Some(len) => (
                ProgressBar::new(len),
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{spinner} [{elapsed_precise}] {human_pos} keys loaded",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar: Some(bar),
            by_bytes: file_len.is_some(),
        }
    }

    fn advance(&self, bytes: usize, loaded: u64) {
        if let Some(b) = &self.bar {
            if self.by_bytes {
                b.inc(bytes as u64);
                if loaded.is_multiple_of(1024) {
                    b.set_message(format!("{} keys", grouped(loaded)));
                }
            } else {
                b.inc(1);
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn load(path: &Path, file: Option<PathBuf>, hex: bool) -> CliResult {
    let file = file.filter(|f| f.as_os_str() != "-");
    let (mut input, len): (Box<dyn BufRead>, Option<u64>) = match &file {
        Some(f) => {
            let h = File::open(f).map_err(|e| CliError::io(f.display(), &e))?;
            let len = h
                .metadata()
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
            (Box::new(BufReader::with_capacity(1 << 16, h)), len)
        }
        None => (Box::new(io::stdin().lock()), None),
    };
    let source = file
        .as_ref()
        .map_or_else(|| "stdin".to_string(), |f| f.display().to_string());
    let db = open(path)?;
    let progress = Progress::new(len);
    let r = load_lines(&db, &mut input, &source, hex, &progress);
    progress.finish();
    let loaded = r?;
    print_line(format!("loaded {loaded} keys").as_bytes())
}

/// Puts every line of `input`; the number loaded, or an error naming the line.
fn load_lines(
    db: &Db,
    input: &mut dyn BufRead,
    source: &str,
    hex: bool,
    progress: &Progress,
) -> CliResult<u64> {
    let mut line = Vec::new();
    let mut lineno = 0u64;
    let mut loaded = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::io(format!("reading {source}"), &e))?;
        if n == 0 {
            return Ok(loaded);
        }
        lineno += 1;
        let fail = |what: String| {
            CliError::fatal(format!(
                "{source}: line {lineno}: {what} ({loaded} keys loaded before it)"
            ))
        };
        let mut text = line.as_slice();
        if let Some(t) = text.strip_suffix(b"\n") {
            text = t.strip_suffix(b"\r").unwrap_or(t);
        }
        let tab = text
            .iter()
            .position(|&b| b == b'\t')
            .ok_or_else(|| fail("no TAB between key and value".into()))?;
        let (k, v) = (&text[..tab], &text[tab + 1..]);
        let (k, v) = if hex {
            (
                from_hex(k).map_err(|e| fail(format!("invalid hex in the key: {e}")))?,
                from_hex(v).map_err(|e| fail(format!("invalid hex in the value: {e}")))?,
            )
        } else {
            if std::str::from_utf8(text).is_err() {
                return Err(fail("not UTF-8 text (use --hex for binary data)".into()));
            }
            (k.to_vec(), v.to_vec())
        };
        db.put(&k, &v).map_err(|e| fail(e.to_string()))?;
        loaded += 1;
        progress.advance(n, loaded);
    }
}
