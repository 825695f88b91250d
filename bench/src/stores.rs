//! The peers behind [`Store`]: `std::collections::BTreeMap`, RocksDB, redb, LMDB (heed) and
//! PMDK's example B-tree, each with a [`Backend`] that creates and reopens it in a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use pobj_workload::{Backend, KvBackend, Store, StoreError};

/// The store names `--stores` accepts, in table order, with whether this build has them.
pub(crate) fn known() -> Vec<(&'static str, bool, &'static str)> {
    vec![
        ("pobj-kv", true, ""),
        ("btreemap", true, ""),
        ("rocksdb-sync", cfg!(feature = "rocksdb"), "rocksdb"),
        ("rocksdb", cfg!(feature = "rocksdb"), "rocksdb"),
        ("redb", cfg!(feature = "redb"), "redb"),
        ("redb-batch", cfg!(feature = "redb"), "redb"),
        ("lmdb", cfg!(feature = "lmdb"), "lmdb"),
        ("pmdk-btree", cfg!(pmdk_btree), "pmdk"),
    ]
}

fn remove_path(p: &Path) -> Result<(), StoreError> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::new(format!("removing {}: {e}", p.display()))),
    }
}

/// Where a store keeps its files under `dir`.
pub(crate) fn store_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("pobj-bench-{name}-{}", std::process::id()))
}

/// The backend of store `name` with files under `dir`, sized for `keys` entries of
/// `entry_bytes` (key + value).
pub(crate) fn backend(
    name: &str,
    dir: &Path,
    keys: u64,
    key_size: u64,
    value_size: u64,
) -> Result<Box<dyn Backend>, String> {
    let path = store_path(dir, name);
    let _ = (keys, key_size, value_size);
    match name {
        "pobj-kv" => {
            let size = KvBackend::pool_size(keys, key_size, value_size)
                .ok_or_else(|| "pool size overflows".to_string())?;
            Ok(Box::new(KvBackend::new(path, size)))
        }
        "btreemap" => Ok(Box::new(MapBackend)),
        #[cfg(feature = "rocksdb")]
        "rocksdb-sync" => Ok(Box::new(rocks::RocksBackend { path, sync: true })),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Ok(Box::new(rocks::RocksBackend { path, sync: false })),
        #[cfg(feature = "redb")]
        "redb" => Ok(Box::new(redb_store::RedbBackend { path, batch: 1 })),
        #[cfg(feature = "redb")]
        "redb-batch" => Ok(Box::new(redb_store::RedbBackend {
            path,
            batch: redb_store::BATCH,
        })),
        #[cfg(feature = "lmdb")]
        "lmdb" => Ok(Box::new(lmdb::LmdbBackend {
            path,
            map_size: lmdb::map_size(keys, key_size + value_size),
        })),
        #[cfg(pmdk_btree)]
        "pmdk-btree" => Ok(Box::new(pmdk_btree::PmdkBtreeBackend {
            path,
            size: pmdk_btree::pool_size(keys, key_size + value_size),
        })),
        other => match known().into_iter().find(|(n, _, _)| *n == other) {
            Some((_, _, feature)) => Err(format!(
                "{other}: not in this build (enable the cargo feature `{feature}` of \
                     pobj-bench: bash bench/setup.sh, then bash bench/run.sh)"
            )),
            None => Err(format!(
                "unknown store {other:?}; known: {}",
                known().iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
            )),
        },
    }
}

/// Removes whatever store `name` left under `dir`.
pub(crate) fn cleanup(dir: &Path, name: &str) {
    let _ = remove_path(&store_path(dir, name));
}

// ---- BTreeMap -----------------------------------------------------------------------------------

/// `BTreeMap` behind a `RwLock`: the DRAM ceiling, no persistence.
pub(crate) struct MapStore(RwLock<BTreeMap<Vec<u8>, Vec<u8>>>);

fn poisoned<T>(_: T) -> StoreError {
    StoreError::new("lock poisoned")
}

impl Store for MapStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut m = self.0.write().map_err(poisoned)?;
        match m.get_mut(key) {
            Some(v) => {
                v.clear();
                v.extend_from_slice(value);
            }
            None => {
                m.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        let m = self.0.read().map_err(poisoned)?;
        match m.get(key) {
            Some(v) => {
                value.clear();
                value.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.0.write().map_err(poisoned)?.remove(key).is_some())
    }

    fn scan(
        &self,
        start: &[u8],
        count: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        use std::ops::Bound;
        let m = self.0.read().map_err(poisoned)?;
        let mut n = 0;
        for (k, v) in m
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .take(count)
        {
            visit(k, v);
            n += 1;
        }
        Ok(n)
    }
}

/// [`MapStore`]'s backend.
pub(crate) struct MapBackend;

impl Backend for MapBackend {
    fn name(&self) -> String {
        "btreemap".into()
    }
    fn description(&self) -> String {
        "std BTreeMap behind a RwLock, in DRAM, no persistence".into()
    }
    fn create(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(MapStore(RwLock::new(BTreeMap::new()))))
    }
    fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
        Ok(None)
    }
}

// ---- RocksDB ------------------------------------------------------------------------------------

#[cfg(feature = "rocksdb")]
mod rocks {
    use std::path::PathBuf;

    use pobj_workload::{Backend, Store, StoreError, WriteCounters};
    use rocksdb::{Options, WriteOptions, DB};

    fn err(e: rocksdb::Error) -> StoreError {
        StoreError::new(e)
    }

    /// RocksDB with its WAL on, `sync` per write or not.
    pub struct RocksBackend {
        pub path: PathBuf,
        pub sync: bool,
    }

    pub struct RocksStore {
        db: DB,
        opts: Options,
        write: WriteOptions,
    }

    impl RocksBackend {
        fn open(&self) -> Result<RocksStore, StoreError> {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.enable_statistics();
            let db = DB::open(&opts, &self.path).map_err(err)?;
            let mut write = WriteOptions::default();
            write.set_sync(self.sync);
            write.disable_wal(false);
            Ok(RocksStore { db, opts, write })
        }
    }

    impl Backend for RocksBackend {
        fn name(&self) -> String {
            if self.sync { "rocksdb-sync" } else { "rocksdb" }.into()
        }
        fn description(&self) -> String {
            format!(
                "RocksDB {} (Debian's librocksdb), default options, WAL on, {}",
                "7.8",
                if self.sync {
                    "sync per write"
                } else {
                    "no sync (the OS writes the WAL back)"
                }
            )
        }
        fn create(&self) -> Result<Box<dyn Store>, StoreError> {
            super::remove_path(&self.path)?;
            Ok(Box::new(self.open()?))
        }
        fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
            Ok(Some(Box::new(self.open()?)))
        }
    }

    /// A ticker's count from RocksDB's statistics dump (`NAME COUNT : N`).
    fn ticker(stats: &str, name: &str) -> u64 {
        stats
            .lines()
            .find_map(|l| {
                let rest = l.strip_prefix(name)?.trim_start();
                let n = rest.strip_prefix("COUNT")?.trim_start().strip_prefix(':')?;
                n.trim().parse().ok()
            })
            .unwrap_or(0)
    }

    impl Store for RocksStore {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.db.put_opt(key, value, &self.write).map_err(err)
        }
        fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
            match self.db.get_pinned(key).map_err(err)? {
                Some(v) => {
                    value.clear();
                    value.extend_from_slice(&v);
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
            // RocksDB's delete does not say whether the key existed; a get first (as a KV API
            // that reports it must do).
            let found = self.db.get_pinned(key).map_err(err)?.is_some();
            if found {
                self.db.delete_opt(key, &self.write).map_err(err)?;
            }
            Ok(found)
        }
        fn scan(
            &self,
            start: &[u8],
            count: usize,
            visit: &mut dyn FnMut(&[u8], &[u8]),
        ) -> Result<usize, StoreError> {
            let mut it = self.db.raw_iterator();
            it.seek(start);
            let mut n = 0;
            while n < count {
                match (it.key(), it.value()) {
                    (Some(k), Some(v)) => visit(k, v),
                    _ => break,
                }
                n += 1;
                it.next();
            }
            it.status().map_err(err)?;
            Ok(n)
        }
        fn write_counters(&self) -> Option<WriteCounters> {
            let s = self.opts.get_statistics()?;
            let bytes = ticker(&s, "rocksdb.flush.write.bytes")
                + ticker(&s, "rocksdb.compact.write.bytes")
                + ticker(&s, "rocksdb.wal.bytes");
            Some(WriteCounters {
                bytes,
                fences: None,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn tickers_parse() {
            let s = "rocksdb.wal.bytes COUNT : 1234\nrocksdb.flush.write.bytes COUNT : 7\n";
            assert_eq!(super::ticker(s, "rocksdb.wal.bytes"), 1234);
            assert_eq!(super::ticker(s, "rocksdb.flush.write.bytes"), 7);
            assert_eq!(super::ticker(s, "rocksdb.compact.write.bytes"), 0);
        }
    }
}

// ---- redb ---------------------------------------------------------------------------------------

#[cfg(feature = "redb")]
mod redb_store {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    use pobj_workload::{Backend, Store, StoreError};
    use redb::{Database, Durability, ReadableDatabase, TableDefinition};

    const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
    /// Writes per durable commit in the batched variant.
    pub(super) const BATCH: u64 = 1000;

    fn err(e: impl std::fmt::Display) -> StoreError {
        StoreError::new(e)
    }

    /// redb: one write transaction per operation, each durable (`batch` 1), or durable every
    /// `batch` commits (the others `Durability::None`, made durable by the next durable one).
    pub(super) struct RedbBackend {
        pub path: PathBuf,
        pub batch: u64,
    }

    pub(super) struct RedbStore {
        db: Database,
        batch: u64,
        commits: AtomicU64,
    }

    impl Backend for RedbBackend {
        fn name(&self) -> String {
            if self.batch == 1 {
                "redb"
            } else {
                "redb-batch"
            }
            .into()
        }
        fn description(&self) -> String {
            if self.batch == 1 {
                "redb 4.6, one durable commit per operation".into()
            } else {
                format!(
                    "redb 4.6, one commit per operation, durable every {} commits",
                    self.batch
                )
            }
        }
        fn create(&self) -> Result<Box<dyn Store>, StoreError> {
            super::remove_path(&self.path)?;
            let db = Database::create(&self.path).map_err(err)?;
            let w = db.begin_write().map_err(err)?;
            w.open_table(TABLE).map_err(err)?;
            w.commit().map_err(err)?;
            Ok(Box::new(RedbStore {
                db,
                batch: self.batch,
                commits: AtomicU64::new(0),
            }))
        }
        fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
            let db = Database::open(&self.path).map_err(err)?;
            Ok(Some(Box::new(RedbStore {
                db,
                batch: self.batch,
                commits: AtomicU64::new(0),
            })))
        }
    }

    impl RedbStore {
        fn write<T>(
            &self,
            f: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<T, StoreError>,
        ) -> Result<T, StoreError> {
            let mut w = self.db.begin_write().map_err(err)?;
            let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
            if self.batch > 1 && !n.is_multiple_of(self.batch) {
                w.set_durability(Durability::None).map_err(err)?;
            }
            let r = {
                let mut t = w.open_table(TABLE).map_err(err)?;
                f(&mut t)?
            };
            w.commit().map_err(err)?;
            Ok(r)
        }
    }

    impl Store for RedbStore {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.write(|t| t.insert(key, value).map(|_| ()).map_err(err))
        }
        fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
            let r = self.db.begin_read().map_err(err)?;
            let t = r.open_table(TABLE).map_err(err)?;
            match t.get(key).map_err(err)? {
                Some(g) => {
                    value.clear();
                    value.extend_from_slice(g.value());
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
            self.write(|t| t.remove(key).map(|o| o.is_some()).map_err(err))
        }
        fn scan(
            &self,
            start: &[u8],
            count: usize,
            visit: &mut dyn FnMut(&[u8], &[u8]),
        ) -> Result<usize, StoreError> {
            let r = self.db.begin_read().map_err(err)?;
            let t = r.open_table(TABLE).map_err(err)?;
            let mut n = 0;
            for e in t.range(start..).map_err(err)?.take(count) {
                let (k, v) = e.map_err(err)?;
                visit(k.value(), v.value());
                n += 1;
            }
            Ok(n)
        }
        fn flush(&self) -> Result<(), StoreError> {
            if self.batch > 1
                && !self
                    .commits
                    .load(Ordering::Relaxed)
                    .is_multiple_of(self.batch)
            {
                // Make the non-durable commits durable: one durable (empty) commit.
                let w = self.db.begin_write().map_err(err)?;
                w.commit().map_err(err)?;
                self.commits.store(0, Ordering::Relaxed);
            }
            Ok(())
        }
    }
}

// ---- LMDB (heed) --------------------------------------------------------------------------------

#[cfg(feature = "lmdb")]
mod lmdb {
    use std::ops::Bound;
    use std::path::PathBuf;

    use heed::types::Bytes;
    use heed::{CommitOrAbort, Database, Env, EnvOpenOptions};
    use pobj_workload::{Backend, Store, StoreError};

    fn err(e: heed::Error) -> StoreError {
        StoreError::new(e)
    }

    /// The LMDB map size for `keys` entries of `entry` bytes: 4 × the data plus 256 MiB, in
    /// whole MiB (a sparse reservation).
    pub(super) fn map_size(keys: u64, entry: u64) -> usize {
        let b = keys
            .saturating_mul(entry.saturating_add(64))
            .saturating_mul(4)
            .saturating_add(256 << 20);
        usize::try_from(b.next_multiple_of(1 << 20)).unwrap_or(usize::MAX >> 1)
    }

    /// LMDB through heed: one write transaction per operation, committed with LMDB's default
    /// durability (fsync at commit).
    pub(super) struct LmdbBackend {
        pub path: PathBuf,
        pub map_size: usize,
    }

    pub(super) struct LmdbStore {
        env: Env,
        db: Database<'static, Bytes, Bytes>,
    }

    impl LmdbBackend {
        fn open(&self) -> Result<LmdbStore, StoreError> {
            std::fs::create_dir_all(&self.path)
                .map_err(|e| StoreError::new(format!("{}: {e}", self.path.display())))?;
            // SAFETY: heed requires that the environment is not opened twice in one process
            // at the same time; the backend opens it only after the previous handle was
            // dropped, and no other process uses this private directory.
            let env = unsafe {
                EnvOpenOptions::new()
                    .map_size(self.map_size)
                    .max_dbs(1)
                    .open(&self.path)
            }
            .map_err(err)?;
            let w = env.write_txn().map_err(err)?;
            let made = env
                .create_databases_and_commit(w, |opener, wtxn| {
                    opener
                        .create_database::<Bytes, Bytes>(wtxn, None)
                        .map(CommitOrAbort::<_, ()>::Commit)
                })
                .map_err(err)?;
            let db = match made {
                CommitOrAbort::Commit(db) => db,
                CommitOrAbort::Abort(()) => {
                    return Err(StoreError::new("creating the LMDB database was aborted"))
                }
            };
            Ok(LmdbStore { env, db })
        }
    }

    impl Backend for LmdbBackend {
        fn name(&self) -> String {
            "lmdb".into()
        }
        fn description(&self) -> String {
            "LMDB (heed 0.23), one durable write transaction per operation".into()
        }
        fn create(&self) -> Result<Box<dyn Store>, StoreError> {
            super::remove_path(&self.path)?;
            Ok(Box::new(self.open()?))
        }
        fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
            Ok(Some(Box::new(self.open()?)))
        }
    }

    impl Store for LmdbStore {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            let mut w = self.env.write_txn().map_err(err)?;
            self.db.put(&mut w, key, value).map_err(err)?;
            w.commit().map_err(err)
        }
        fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
            let r = self.env.read_txn().map_err(err)?;
            match self.db.get(&r, key).map_err(err)? {
                Some(v) => {
                    value.clear();
                    value.extend_from_slice(v);
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
            let mut w = self.env.write_txn().map_err(err)?;
            let found = self.db.delete(&mut w, key).map_err(err)?;
            w.commit().map_err(err)?;
            Ok(found)
        }
        fn scan(
            &self,
            start: &[u8],
            count: usize,
            visit: &mut dyn FnMut(&[u8], &[u8]),
        ) -> Result<usize, StoreError> {
            let r = self.env.read_txn().map_err(err)?;
            let range: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(start), Bound::Unbounded);
            let mut n = 0;
            for e in self.db.range(&r, &range).map_err(err)?.take(count) {
                let (k, v) = e.map_err(err)?;
                visit(k, v);
                n += 1;
            }
            Ok(n)
        }
    }
}

// ---- PMDK's example B-tree ----------------------------------------------------------------------

#[cfg(pmdk_btree)]
mod pmdk_btree {
    use std::ffi::c_void;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use pobj_workload::{Backend, Store, StoreError};

    use crate::pmdk::btree::{self, BtreeMapToid};
    use crate::pmdk::{self, PmemObjPool, PmemOid, Pool};

    const LAYOUT: &str = "pobj-bench-btree";

    /// A pool for `keys` entries of `entry` bytes: 4 × (entry + 96) per key, at least 64 MiB.
    pub fn pool_size(keys: u64, entry: u64) -> u64 {
        keys.saturating_mul(entry.saturating_add(96))
            .saturating_mul(4)
            .max(64 << 20)
            .next_multiple_of(1 << 20)
    }

    /// PMDK's example B-tree (`btree_map.c`, order 8, 8-byte keys) on libpmemobj: each entry a
    /// separate object (key length, value length, key, value) allocated in the insert's
    /// transaction. Keys are the key number (the last 8 bytes, big-endian) plus one (0 marks
    /// an empty slot in that B-tree). No range scan; not thread-safe (a mutex serializes it).
    pub struct PmdkBtreeBackend {
        pub path: PathBuf,
        pub size: u64,
    }

    struct Inner {
        pool: Pool,
        map: BtreeMapToid,
    }

    // SAFETY: the pool handle may move between threads (see `Pool`); the map handle is a
    // persistent pointer (plain data). All access goes through the store's mutex.
    unsafe impl Send for Inner {}

    pub struct PmdkBtreeStore {
        inner: Mutex<Inner>,
    }

    fn open_map(pool: Pool, create: bool) -> Result<PmdkBtreeStore, StoreError> {
        let root = pool
            .root(std::mem::size_of::<PmemOid>())
            .map_err(StoreError::new)?;
        // SAFETY: `root` is the pool's root object, at least the size of a PMEMoid, mapped
        // while `pool` is open.
        let slot = unsafe { pmdk::pmemobj_direct(root) }.cast::<BtreeMapToid>();
        if slot.is_null() {
            return Err(StoreError::new("pmemobj_direct(root) returned NULL"));
        }
        if create {
            // SAFETY: `slot` points into the pool (the root object), as btree_map_create
            // requires (it writes the new map's pointer there inside its transaction).
            let rc = unsafe { btree::btree_map_create(pool.raw(), slot, std::ptr::null_mut()) };
            if rc != 0 {
                return Err(StoreError::new(format!(
                    "btree_map_create: {}",
                    pmdk::last_error()
                )));
            }
        }
        // SAFETY: `slot` is valid for reads (see above); the map handle is plain data.
        let map = unsafe { slot.read() };
        Ok(PmdkBtreeStore {
            inner: Mutex::new(Inner { pool, map }),
        })
    }

    impl Backend for PmdkBtreeBackend {
        fn name(&self) -> String {
            "pmdk-btree".into()
        }
        fn description(&self) -> String {
            "PMDK 1.12's example B-tree (btree_map.c) on libpmemobj, PMEM_IS_PMEM_FORCE=1".into()
        }
        fn create(&self) -> Result<Box<dyn Store>, StoreError> {
            let pool = Pool::create(&self.path, LAYOUT, self.size).map_err(StoreError::new)?;
            Ok(Box::new(open_map(pool, true)?))
        }
        fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
            let pool = Pool::open(&self.path, LAYOUT).map_err(StoreError::new)?;
            Ok(Some(Box::new(open_map(pool, false)?)))
        }
    }

    /// The B-tree key of `key`: its last 8 bytes as a big-endian number, plus one.
    fn tree_key(key: &[u8]) -> u64 {
        let tail = &key[key.len().saturating_sub(8)..];
        let mut b = [0u8; 8];
        b[8 - tail.len()..].copy_from_slice(tail);
        u64::from_be_bytes(b).wrapping_add(1)
    }

    /// What the constructor copies into the new object.
    struct Entry<'a> {
        key: &'a [u8],
        value: &'a [u8],
    }

    const HEADER: usize = 8;

    /// Fills a new entry object: key length, value length (u32 each), key, value.
    unsafe extern "C" fn construct(_pop: *mut PmemObjPool, ptr: *mut c_void, arg: *mut c_void) {
        // SAFETY: `arg` is the `Entry` passed to btree_map_insert_new by `put`, alive during
        // the call; `ptr` is the new object of HEADER + key + value bytes (the size passed).
        unsafe {
            let e = &*arg.cast::<Entry<'_>>();
            let p = ptr.cast::<u8>();
            let kl = (e.key.len() as u32).to_le_bytes();
            let vl = (e.value.len() as u32).to_le_bytes();
            std::ptr::copy_nonoverlapping(kl.as_ptr(), p, 4);
            std::ptr::copy_nonoverlapping(vl.as_ptr(), p.add(4), 4);
            std::ptr::copy_nonoverlapping(e.key.as_ptr(), p.add(HEADER), e.key.len());
            std::ptr::copy_nonoverlapping(
                e.value.as_ptr(),
                p.add(HEADER + e.key.len()),
                e.value.len(),
            );
        }
    }

    impl PmdkBtreeStore {
        fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
            self.inner
                .lock()
                .map_err(|_| StoreError::new("lock poisoned"))
        }
    }

    impl Store for PmdkBtreeStore {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            let g = self.lock()?;
            let (pop, map) = (g.pool.raw(), g.map);
            let k = tree_key(key);
            let mut entry = Entry { key, value };
            let size = HEADER + key.len() + value.len();
            let arg = std::ptr::addr_of_mut!(entry).cast::<c_void>();
            // SAFETY: the pool is open and the map is its B-tree; the mutex serializes use.
            let exists = unsafe { btree::btree_map_lookup(pop, map, k) } != 0;
            let insert = || {
                // SAFETY: as above; `construct` writes exactly `size` bytes from `entry`,
                // which outlives the call.
                unsafe { btree::btree_map_insert_new(pop, map, k, size, 1, Some(construct), arg) }
            };
            if !exists {
                if insert() != 0 {
                    return Err(StoreError::new(format!(
                        "btree_map_insert_new: {}",
                        pmdk::last_error()
                    )));
                }
                return Ok(());
            }
            // Replace: remove and free the old entry and insert the new one in one
            // transaction (the example B-tree has no update).
            let mut ok = true;
            g.pool
                .transaction(|| {
                    // SAFETY: inside a transaction of this pool; nested transactions join it.
                    ok = unsafe { btree::btree_map_remove_free(pop, map, k) } == 0 && insert() == 0;
                    ok
                })
                .map_err(StoreError::new)?;
            Ok(())
        }

        fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
            let g = self.lock()?;
            // SAFETY: the pool is open; the mutex serializes use of the B-tree.
            let oid = unsafe { btree::btree_map_get(g.pool.raw(), g.map, tree_key(key)) };
            if oid.is_null() {
                return Ok(false);
            }
            // SAFETY: `oid` is a live entry object of this pool, laid out by `construct`
            // (header, key, value); the mutex keeps it from being freed meanwhile.
            unsafe {
                let p = pmdk::pmemobj_direct(oid).cast::<u8>();
                if p.is_null() {
                    return Err(StoreError::new("pmemobj_direct returned NULL"));
                }
                let mut h = [0u8; HEADER];
                std::ptr::copy_nonoverlapping(p, h.as_mut_ptr(), HEADER);
                let kl = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let vl = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
                let v = std::slice::from_raw_parts(p.add(HEADER + kl), vl);
                value.clear();
                value.extend_from_slice(v);
            }
            Ok(true)
        }

        fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
            let g = self.lock()?;
            let k = tree_key(key);
            // SAFETY: the pool is open; the mutex serializes use of the B-tree.
            let exists = unsafe { btree::btree_map_lookup(g.pool.raw(), g.map, k) } != 0;
            if !exists {
                return Ok(false);
            }
            // SAFETY: as above.
            if unsafe { btree::btree_map_remove_free(g.pool.raw(), g.map, k) } != 0 {
                return Err(StoreError::new(format!(
                    "btree_map_remove_free: {}",
                    pmdk::last_error()
                )));
            }
            Ok(true)
        }

        fn scan(
            &self,
            _start: &[u8],
            _count: usize,
            _visit: &mut dyn FnMut(&[u8], &[u8]),
        ) -> Result<usize, StoreError> {
            Err(StoreError::unsupported(
                "PMDK's example B-tree has no range scan",
            ))
        }
    }
}
