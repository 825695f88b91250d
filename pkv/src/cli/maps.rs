//! `pkv maps` and `pkv check --map`: the maps of a pool of any layout and root type, found by
//! their headers (`MapHandle::find_all`), opened with `Pool::open_any`.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use pobj::{AnyRoot, Pool};
use pobj_kv::{Map, MapHandle};

use super::commands::with_path;
use super::error::{stdout_error, CliError, CliResult};

fn open_any(path: &Path) -> CliResult<Arc<Pool<AnyRoot>>> {
    Pool::open_any(path)
        .map(Arc::new)
        .map_err(|e| with_path(path, &e.into()))
}

/// Lists every map of the pool.
pub(crate) fn list(path: &Path) -> CliResult {
    let pool = open_any(path)?;
    let maps = MapHandle::find_all(&pool).map_err(|e| with_path(path, &e))?;
    let mut out = io::stdout().lock();
    let w = |out: &mut io::StdoutLock<'_>, line: String| {
        writeln!(out, "{line}").map_err(|e| stdout_error(&e))
    };
    w(
        &mut out,
        format!(
            "{}: layout {:?}, {} map{}",
            path.display(),
            pool.layout(),
            maps.len(),
            if maps.len() == 1 { "" } else { "s" }
        ),
    )?;
    for h in maps {
        let at = h.header().offset();
        let line = match Map::open(&pool, h) {
            Ok(m) => {
                let s = m.stats();
                format!("map {at:#x}: {} keys in {} leaves", s.keys, s.leaves)
            }
            Err(e) => format!("map {at:#x}: does not open: {e}"),
        };
        w(&mut out, line)?;
    }
    out.flush().map_err(|e| stdout_error(&e))
}

/// Checks the pool and the map at `which` (an offset, or `all`).
pub(crate) fn check(path: &Path, which: &str) -> CliResult {
    let pool = open_any(path)?;
    let handles = if which == "all" {
        MapHandle::find_all(&pool).map_err(|e| with_path(path, &e))?
    } else {
        vec![MapHandle::from_offset(parse_offset(which)?)]
    };
    let mut out = io::stdout().lock();
    let mut problems = 0usize;
    let pool_report = pool.check();
    for p in &pool_report.problems {
        writeln!(out, "pool: {p}").map_err(|e| stdout_error(&e))?;
        problems += 1;
    }
    for h in handles {
        let at = h.header().offset();
        match Map::open(&pool, h) {
            Ok(m) => {
                let r = m.check();
                // The pool's own problems were printed once above.
                let own: Vec<_> = r
                    .problems
                    .iter()
                    .filter(|p| !matches!(p, pobj_kv::CheckProblem::Pool(_)))
                    .collect();
                if own.is_empty() {
                    writeln!(
                        out,
                        "map {at:#x}: ok: {} keys in {} leaves",
                        r.keys, r.leaves
                    )
                } else {
                    problems += own.len();
                    own.iter()
                        .try_for_each(|p| writeln!(out, "map {at:#x}: {p}"))
                }
                .map_err(|e| stdout_error(&e))?;
            }
            Err(e) => {
                problems += 1;
                writeln!(out, "map {at:#x}: does not open: {e}").map_err(|e| stdout_error(&e))?;
            }
        }
    }
    out.flush().map_err(|e| stdout_error(&e))?;
    if problems == 0 {
        Ok(())
    } else {
        Err(CliError::No(format!(
            "check found {problems} problem{}",
            if problems == 1 { "" } else { "s" }
        )))
    }
}

/// A pool offset: decimal, or hex with `0x`.
fn parse_offset(s: &str) -> CliResult<u64> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| CliError::fatal(format!("--map: not an offset or `all`: {s:?}")))
}
