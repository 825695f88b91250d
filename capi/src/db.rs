//! `pmemkv_db`: engines by name, and `pmemkv_open` / `pmemkv_close`.
//!
//! Every persistent engine name opens the one store (`pobj_kv::Db`, ordered, concurrent); the
//! volatile names open it on a private pool file that is removed at close; `blackhole` stores
//! nothing.

use std::ffi::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pobj::PoolOptions;
use pobj_kv::{Bytewise, Comparator, Db};

use crate::comparator::pmemkv_comparator;
use crate::config::pmemkv_config;
use crate::ffi::put_out;
use crate::status::{
    guard, guard_void, Failure, NOT_SUPPORTED, OK, UNKNOWN_ERROR, WRONG_ENGINE_NAME,
};

/// Engine names that open the persistent store.
const PERSISTENT: [&str; 6] = ["cmap", "csmap", "radix", "stree", "tree3", "robinhood"];
/// Engine names that open a volatile store (gone at close).
const VOLATILE: [&str; 3] = ["vsmap", "vcmap", "dram_vcmap"];
/// The engine that stores nothing.
const BLACKHOLE: &str = "blackhole";

/// The smallest pool a config may create (pmemkv's minimum, 8 MiB).
pub const MIN_SIZE: u64 = 8 << 20;

/// What an open handle holds.
pub(crate) enum Engine {
    Store(Db),
    /// A store whose pool file is removed at close.
    Volatile(Option<Db>, PathBuf),
    Blackhole,
}

/// An open store.
#[allow(non_camel_case_types)]
pub struct pmemkv_db {
    pub(crate) engine: Engine,
}

impl pmemkv_db {
    /// The store; `None` for blackhole.
    pub(crate) fn store(&self) -> Option<&Db> {
        match &self.engine {
            Engine::Store(db) | Engine::Volatile(Some(db), _) => Some(db),
            Engine::Volatile(None, _) | Engine::Blackhole => None,
        }
    }
}

impl Drop for pmemkv_db {
    fn drop(&mut self) {
        if let Engine::Volatile(db, path) = &mut self.engine {
            drop(db.take());
            // Best effort: a file left behind (the directory made read-only meanwhile) is the
            // caller's to remove.
            let _ = std::fs::remove_file(&*path);
        }
    }
}

fn engine_names() -> String {
    let mut all: Vec<&str> = PERSISTENT.iter().chain(&VOLATILE).copied().collect();
    all.push(BLACKHOLE);
    all.join(", ")
}

fn kv(e: pobj_kv::Error) -> Failure {
    Failure::from(e)
}

/// The comparator of the config, if any.
fn comparator(cfg: &pmemkv_config) -> Result<Option<Arc<dyn Comparator>>, Failure> {
    match cfg.object("comparator")? {
        None => Ok(None),
        // SAFETY: pmemkv's contract: the "comparator" item is a comparator handle (what
        // `pmemkv_config_put_comparator` stores; its magic is checked).
        Some(p) => Ok(Some(
            unsafe { pmemkv_comparator::from_object(p) }? as Arc<dyn Comparator>
        )),
    }
}

/// The pool of a store to create: "size" (at least 8 MiB) is its fixed capacity, unless the
/// config opts into growth with "max_size" (and optionally "grow_step").
fn pool_options(cfg: &pmemkv_config) -> Result<PoolOptions, Failure> {
    let size = cfg
        .uint("size")?
        .ok_or_else(|| Failure::invalid("Config does not contain item with key: \"size\""))?;
    if size < MIN_SIZE {
        return Err(Failure::invalid(format!(
            "size {size} is below the minimum of {MIN_SIZE} bytes"
        )));
    }
    match cfg.uint("max_size")? {
        None => Ok(PoolOptions::fixed(size)),
        Some(max) => {
            let mut o = PoolOptions::default().initial_size(size).max_size(max);
            if let Some(step) = cfg.uint("grow_step")? {
                o = o.grow_step(step);
            }
            Ok(o)
        }
    }
}

fn open_persistent(cfg: &pmemkv_config) -> Result<Engine, Failure> {
    let path = cfg.path("path")?;
    let oid = cfg.get("oid").is_some();
    let path = match (path, oid) {
        (Some(_), true) => {
            return Err(Failure::invalid(
                "Config contains both \"path\" and \"oid\": give one",
            ))
        }
        (None, true) => {
            return Err(Failure::new(
                NOT_SUPPORTED,
                "\"oid\" names an object in a PMDK pool; this library opens its own pools only (give \"path\")",
            ))
        }
        (None, false) => {
            return Err(Failure::invalid("Config does not contain item with key: \"path\""))
        }
        (Some(p), false) => p,
    };
    let if_missing = cfg.flag("create_if_missing")?;
    let or_error = cfg.flag("create_or_error_if_exists")? || cfg.flag("force_create")?;
    if if_missing && or_error {
        return Err(Failure::invalid(
            "both \"create_if_missing\" and \"create_or_error_if_exists\" are set",
        ));
    }
    // No comparator configured: the default, named (as pmemkv records it), so that a store this
    // interface creates refuses any other comparator later. A store that records no name (made
    // by `pkv create`) opens with it and may still adopt one while empty.
    let opts = Db::options().comparator(comparator(cfg)?.unwrap_or_else(|| Arc::new(Bytewise)));
    let db = if or_error {
        opts.pool(pool_options(cfg)?).create(&path)
    } else if if_missing && !path.exists() {
        opts.pool(pool_options(cfg)?).open_or_create(&path)
    } else {
        if !path.exists() {
            return Err(Failure::new(
                UNKNOWN_ERROR,
                format!("Failed opening pool {}: no such file", path.display()),
            ));
        }
        opts.open(&path)
    };
    Ok(Engine::Store(db.map_err(kv)?))
}

static VOLATILE_FILES: AtomicU64 = AtomicU64::new(0);

/// A fresh name for a volatile store's file: the process, a counter and the clock, so that a
/// file left by a crashed process (its pid reused) is not in the way.
fn volatile_name(dir: &Path) -> PathBuf {
    let n = VOLATILE_FILES.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    dir.join(format!(
        ".pmemkv-volatile-{}-{n}-{t:x}.pool",
        std::process::id()
    ))
}

fn open_volatile(cfg: &pmemkv_config) -> Result<Engine, Failure> {
    let dir = match cfg.path("path")? {
        Some(p) => p,
        None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    };
    if !dir.is_dir() {
        return Err(Failure::invalid(format!(
            "path {} is not a directory (a volatile engine keeps its private file there)",
            dir.display()
        )));
    }
    let file = volatile_name(&dir);
    let pool = match cfg.uint("size")? {
        Some(_) => pool_options(cfg)?,
        None => PoolOptions::default(),
    };
    let mut opts = Db::options().pool(pool);
    if let Some(c) = comparator(cfg)? {
        opts = opts.comparator(c);
    }
    match opts.create(&file) {
        Ok(db) => Ok(Engine::Volatile(Some(db), file)),
        Err(e) => {
            // The pool file may exist even though the store did not open: never leave it.
            if file.exists() {
                let _ = std::fs::remove_file(&file);
            }
            Err(kv(e))
        }
    }
}

/// Opens a store of engine `engine` as `config` says. The config is always consumed (deleted,
/// its deleters run), even when the open fails or `db` is NULL.
///
/// # Safety
///
/// `engine` is NULL or a C string; `config` NULL or a live config (not used afterwards); `db`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_open(
    engine: *const c_char,
    config: *mut pmemkv_config,
    db: *mut *mut pmemkv_db,
) -> c_int {
    // Owned from here on: dropped (deleters run) however the open ends.
    // SAFETY: the caller's contract: NULL or a live config handed over.
    let cfg = (!config.is_null()).then(|| unsafe { Box::from_raw(config) });
    guard("pmemkv_open", move || {
        if db.is_null() {
            return Err(Failure::invalid("db pointer is NULL"));
        }
        let cfg = cfg.ok_or_else(|| Failure::invalid("config is NULL"))?;
        if engine.is_null() {
            return Err(Failure::invalid("engine name is NULL"));
        }
        // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
        let raw = unsafe { std::ffi::CStr::from_ptr(engine) };
        let name = raw.to_str().unwrap_or("");
        let e = if PERSISTENT.contains(&name) {
            open_persistent(&cfg)?
        } else if VOLATILE.contains(&name) {
            open_volatile(&cfg)?
        } else if name == BLACKHOLE {
            Engine::Blackhole
        } else {
            return Err(Failure::new(
                WRONG_ENGINE_NAME,
                format!(
                    "Unknown engine name \"{}\". Available engines: {}",
                    raw.to_string_lossy(),
                    engine_names()
                ),
            ));
        };
        drop(cfg);
        let h = Box::into_raw(Box::new(pmemkv_db { engine: e }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put_out(db, h, "db pointer") }?;
        Ok(OK)
    })
}

/// Closes a store: everything committed is durable already; volatile engines' data is gone.
///
/// # Safety
///
/// `kv` is NULL or from `pmemkv_open`, not yet closed; its transactions and iterators are
/// deleted first.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_close(kv: *mut pmemkv_db) {
    if kv.is_null() {
        return;
    }
    guard_void("pmemkv_close", || {
        // SAFETY: the caller's contract: ours, live, closed once.
        drop(unsafe { Box::from_raw(kv) });
    });
}
