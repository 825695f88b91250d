//! `Db`: the store's operations.
//!
//! Concurrency (docs/kv.md): readers take no lock — they route through a lock-free index and
//! validate what they read with the leaf's version; writers lock the leaf they change (and, to
//! unlink it, its predecessor) and write through shared transactions in their own lanes;
//! batches exclude other writers.
//!
//! Protocols (docs/kv.md):
//! - **put into a leaf with a free slot**: the entry is written into a free slot without undo
//!   logging (a free slot's bytes are nobody's), then the leaf's bitmap is switched with one
//!   8-byte commit word: set the new slot's bit, and for an overwrite clear the old slot's bit in
//!   the same store. Two fences; an out-of-line value or a freed old buffer makes it a logged
//!   transaction (three fences).
//! - **remove**: clear the bit with a commit word (one fence); a leaf that empties is unlinked
//!   from its predecessor and freed in one logged transaction.
//! - **split** (a put into a full leaf): in one transaction, allocate a new leaf holding the
//!   upper half of the entries, link it after the old leaf and clear the moved bits (logged),
//!   then insert.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "crash-test")]
use pobj::crash::SimMedium;
use pobj::{PBytes, PPtr, Pool, Tx};

use crate::error::{Error, Result};
use crate::inner::{Index, LeafState};
use crate::leaf::{KvRoot, Leaf, LeafHead, KV_MAGIC, KV_VERSION, LEAF_MAGIC, SLOTS, SLOT_MASK};
use crate::optimistic;
use crate::rebuild;
use crate::reentry::Entered;
use crate::slot::{self, fingerprint, fits_inline, Slot};
use crate::sync::{AtomicBool, AtomicU64, Ordering, RwLock};
use crate::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// The pool layout name of a store.
pub const LAYOUT: &str = "pobj-kv";
/// Default pool size for `pkv create` and the benchmarks.
pub const DEFAULT_SIZE: u64 = 1 << 30;

const SLOTS_OFFSET: usize = core::mem::offset_of!(Leaf, slots);
const BITMAP_OFFSET: usize =
    core::mem::offset_of!(Leaf, head) + core::mem::offset_of!(LeafHead, bitmap);
const NEXT_OFFSET: usize =
    core::mem::offset_of!(Leaf, head) + core::mem::offset_of!(LeafHead, next);

fn slot_offset(i: usize) -> usize {
    SLOTS_OFFSET + i * core::mem::size_of::<Slot>()
}

/// Store statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries.
    pub keys: u64,
    /// Leaves.
    pub leaves: u64,
    /// Bytes allocated in the pool (leaves, out-of-line entries, the root).
    pub bytes_used: u64,
    /// Bytes free in the pool.
    pub bytes_free: u64,
    /// DRAM bytes of the inner nodes (estimate).
    pub dram_bytes: u64,
    /// The pool's persistence counters since open.
    pub persist: pobj::PersistStats,
}

/// Options for opening or creating a store.
#[derive(Clone, Debug)]
pub struct Options {
    size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { size: DEFAULT_SIZE }
    }
}

impl Options {
    /// The pool size for `create` and `open_or_create` (default 1 GiB).
    #[must_use]
    pub fn size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }

    /// Creates a store.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<Db> {
        Db::from_pool(Pool::create(path, LAYOUT, self.size)?)
    }

    /// Opens a store.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Db> {
        Db::from_pool(Pool::open(path, LAYOUT)?)
    }

    /// Opens a store, creating it if the file does not exist.
    pub fn open_or_create(&self, path: impl AsRef<Path>) -> Result<Db> {
        Db::from_pool(Pool::open_or_create(path, LAYOUT, self.size)?)
    }
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum BatchOp {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
}

/// Puts and removes applied atomically by [`Db::write`], in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.ops
            .push(BatchOp::Put(key.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }
    /// Adds a remove.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(BatchOp::Remove(key.as_ref().to_vec()));
        self
    }
    /// Operations in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// Whether the batch is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The result of [`Db::check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Problems found in the pool and in the tree; empty when consistent.
    pub problems: Vec<String>,
    /// Entries found by walking the leaves.
    pub keys: u64,
    /// Leaves found.
    pub leaves: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Key-value pairs read from one leaf, sorted.
pub(crate) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A slot found to hold a key.
#[derive(Clone, Copy, Debug)]
struct Hit {
    slot: usize,
    buffer: Option<PBytes>,
}

/// A persistent key-value store: a B+ tree whose leaves live in a pobj pool and whose inner
/// nodes live in DRAM. Every operation is atomic and durable when it returns. `Db` is
/// `Send + Sync`: share it with `Arc<Db>`; every operation takes `&self`.
pub struct Db {
    pool: Pool<KvRoot>,
    index: Index,
    count: AtomicU64,
    /// Common-path writers hold it shared; batches and `check` exclusively. Readers only on
    /// their slow path, after many failed optimistic attempts.
    writers: RwLock<()>,
    /// Set once a write failed in a way that may leave the store out of step with the medium
    /// (a persistence failure): every operation then refuses until the store is reopened.
    failed: AtomicBool,
    /// Identifies the store to the re-entry check (`reentry.rs`).
    id: u64,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("pool", &self.pool.path())
            .finish()
    }
}

fn check_sizes(key: &[u8], value: Option<&[u8]>) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    if let Some(v) = value {
        if v.len() > MAX_VALUE_LEN {
            return Err(Error::ValueTooLarge {
                len: v.len(),
                max: MAX_VALUE_LEN,
            });
        }
    }
    Ok(())
}

fn corrupted(what: &'static str, offset: u64) -> Error {
    Error::Corrupted { what, offset }
}

/// After this many failed optimistic attempts a reader yields its time slice between attempts.
const SPIN_BEFORE_YIELD: u32 = 64;
/// After this many failed optimistic attempts a reader takes the writers' lock (shared) and the
/// leaf's lock, under which its read cannot fail: readers always make progress.
const OPTIMISTIC_ATTEMPTS: u32 = 256;
/// Re-routes an operation holding the writers' lock may make. Each follows a split or unlink
/// that another writer completed or is publishing (the skip list replaces an entry by removing
/// the old node before linking the new one, so a router may briefly see a neighbour's state):
/// transient, and waited out with a backoff. The bound only turns what would be an endless loop
/// on an index that never settles (a bug) into `Corrupted`.
const MAX_REROUTES: u32 = 1 << 24;

/// Whether a failed write passed its commit point: its changes are on the medium (durability
/// unknown), so the DRAM state must follow them as for a commit.
fn in_doubt<T>(r: &Result<T>) -> bool {
    matches!(r, Err(Error::Pool(pobj::Error::CommitInDoubt { .. })))
}

fn index_inconsistent(offset: u64) -> Error {
    corrupted(
        "inner nodes (the routed leaf does not hold the key)",
        offset,
    )
}

fn backoff(attempt: u32) {
    if attempt < SPIN_BEFORE_YIELD && !cfg!(loom) {
        std::hint::spin_loop();
    } else {
        crate::sync::yield_now();
    }
}

/// Ends a leaf write even if the operation fails or panics. Ended by a panic (something
/// unwound between changing the leaf and publishing its DRAM state), it marks the store failed
/// first: the DRAM state may not match the leaf.
struct WriteGuard<'a> {
    st: &'a LeafState,
    failed: &'a AtomicBool,
    /// The thread was already unwinding when the write began (a store write from a destructor
    /// during an unrelated panic): only a panic that starts during the write counts.
    was_panicking: bool,
}
impl<'a> WriteGuard<'a> {
    fn new(failed: &'a AtomicBool, st: &'a LeafState) -> Self {
        st.version.write_begin();
        WriteGuard {
            st,
            failed,
            was_panicking: std::thread::panicking(),
        }
    }
}
impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.was_panicking {
            self.failed.store(true, Ordering::Release);
        }
        self.st.version.write_end();
    }
}

impl Db {
    /// Creates a store in a new pool file of `size` bytes.
    pub fn create(path: impl AsRef<Path>, size: u64) -> Result<Db> {
        Options::default().size(size).create(path)
    }

    /// Opens a store.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Options::default().open(path)
    }

    /// Opens a store, creating it with `size` bytes if the file does not exist.
    pub fn open_or_create(path: impl AsRef<Path>, size: u64) -> Result<Db> {
        Options::default().size(size).open_or_create(path)
    }

    /// An options builder.
    #[must_use]
    pub fn options() -> Options {
        Options::default()
    }

    /// A store on a simulated medium (crash testing, see `pobj::crash`; feature `crash-test`).
    #[cfg(feature = "crash-test")]
    pub fn create_simulated(size: u64) -> Result<(Db, Arc<SimMedium>)> {
        let (pool, sim) = Pool::create_simulated(LAYOUT, size)?;
        Ok((Db::from_pool(pool)?, sim))
    }

    /// Opens the store on a simulated medium (for instance a post-crash image; feature
    /// `crash-test`).
    #[cfg(feature = "crash-test")]
    pub fn open_medium(sim: Arc<SimMedium>) -> Result<Db> {
        Db::from_pool(Pool::open_medium(sim, LAYOUT)?)
    }

    /// Wraps an open pool: initialises a new store (its root is still zero), or validates the
    /// root and rebuilds the inner nodes from the leaves.
    pub fn from_pool(pool: Pool<KvRoot>) -> Result<Db> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let root = pool.root()?;
        if root.magic == 0 && root.head.is_null() {
            // The only safe (exclusive) transaction of the store: no reader exists yet.
            pool.transaction(|tx| {
                let head = tx.alloc(Leaf::empty(PPtr::null()))?;
                let r = tx.root_mut()?;
                r.head = head;
                r.magic = KV_MAGIC;
                r.version = KV_VERSION;
                r.slots_per_leaf = SLOTS as u64;
                Ok::<_, pobj::Error>(())
            })?;
        } else if root.magic != KV_MAGIC
            || root.version != KV_VERSION
            || root.slots_per_leaf != SLOTS as u64
        {
            return Err(corrupted(
                "store root (magic, version or leaf geometry)",
                pool.root_ptr().offset(),
            ));
        }
        let db = Db {
            pool,
            index: Index::new(),
            count: AtomicU64::new(0),
            writers: RwLock::new(()),
            failed: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        // Empty leaves after the first cannot arise from the store's own protocols (the
        // transaction that empties a leaf unlinks it), but a damaged or foreign pool may hold
        // some: the rebuild finds them, and they are unlinked here, before the store is shared.
        if db.rebuild()? {
            unlink_empty_leaves(&db.pool)?;
            db.rebuild()?;
        }
        Ok(db)
    }

    /// The pool the store lives in, read-only: its path, size, persistence mode and figures.
    ///
    /// The pool itself is not lent out: the store's writers change leaves in shared
    /// transactions that its readers read without locks, so any other access to the leaves
    /// (a `Pool::read`, a safe transaction) would race with them.
    pub fn pool_info(&self) -> pobj::PoolInfo<'_> {
        self.pool.info()
    }

    // ---- rebuild --------------------------------------------------------------------------

    /// Walks the leaf list (`rebuild.rs` checks it) and (re)builds the inner nodes: each leaf's
    /// bound is its smallest key (the first leaf's is the empty key). Called at open, and with
    /// writers excluded after a failed batch; old states are marked dead so that readers
    /// re-route. Returns whether an empty leaf after the first was found.
    fn rebuild(&self) -> Result<bool> {
        let walk = rebuild::walk(&self.pool)?;
        for old in self.index.states() {
            old.dead.store(true, Ordering::Release);
        }
        self.index.clear();
        let n = walk.leaves.len();
        for i in 0..n {
            let high = walk.leaves.get(i + 1).map(|l| l.0.clone());
            let (low, ptr, fps) = &walk.leaves[i];
            self.index
                .insert(low.clone(), LeafState::new(*ptr, low.clone(), high, *fps));
        }
        self.count.store(walk.count, Ordering::Release);
        Ok(walk.found_empty)
    }

    // ---- lookup ---------------------------------------------------------------------------

    /// The state the index names for `key`: none while a rebuild is in progress.
    fn route(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        self.index.route(key)
    }

    /// `route` for an operation holding the writers' lock, under which no rebuild runs: an
    /// index with no state for a key is damage.
    fn route_locked(&self, key: &[u8]) -> Result<Arc<LeafState>> {
        self.index
            .route(key)
            .ok_or(corrupted("inner nodes (no leaf for a key)", 0))
    }

    /// Finds `key` in a leaf whose writers are excluded (lock held): bitmap and hit.
    fn find_locked(&self, st: &LeafState, key: &[u8], fp: u8) -> Result<(LeafHead, Option<Hit>)> {
        // Only the header and the slots whose fingerprint matches are read.
        let reader = optimistic::LeafReader::new(&self.pool, st.ptr)?;
        let (head, _) = reader.header()?;
        let mut bits = head.bitmap & SLOT_MASK;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if st.fp(i) != fp {
                continue;
            }
            let slot = reader.slot_prefix(i, 8 + key.len().max(8))?;
            let s = &slot;
            let Some(m) = s.meta() else { continue };
            if m.klen != key.len() {
                continue;
            }
            match s.buffer() {
                None => {
                    if &s.data[..m.klen] == key {
                        return Ok((
                            head,
                            Some(Hit {
                                slot: i,
                                buffer: None,
                            }),
                        ));
                    }
                }
                Some(b) => {
                    if optimistic::buffer(&self.pool, b, 0, m.klen)? == key {
                        return Ok((
                            head,
                            Some(Hit {
                                slot: i,
                                buffer: Some(b),
                            }),
                        ));
                    }
                }
            }
        }
        Ok((head, None))
    }

    /// One optimistic lookup attempt in `st`: `Ok(None)` means "retry", `Ok(Some(v))` the
    /// validated answer (`v` itself `None` when the key is absent).
    fn try_get(&self, st: &LeafState, key: &[u8], fp: u8) -> Result<Option<Option<Vec<u8>>>> {
        let Some(v) = st.version.read_begin() else {
            return Ok(None);
        };
        if st.is_dead() || !st.contains(key) {
            return Ok(None);
        }
        let read = (|| -> Result<Option<Vec<u8>>> {
            let reader = optimistic::LeafReader::new_unchecked(&self.pool, st.ptr)?;
            let bitmap = reader.header()?.0.bitmap & SLOT_MASK;
            let mut b = bitmap;
            while b != 0 {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                if st.fp(i) != fp {
                    continue;
                }
                let s = reader.slot_prefix(i, core::mem::size_of::<Slot>())?;
                let Some(m) = s.meta() else { continue };
                if m.klen != key.len() {
                    continue;
                }
                match s.buffer() {
                    None => {
                        if &s.data[..m.klen] == key {
                            return Ok(Some(s.data[m.klen..m.klen + m.vlen].to_vec()));
                        }
                    }
                    Some(buf) => {
                        let d = optimistic::buffer(&self.pool, buf, 0, m.klen + m.vlen)?;
                        if &d[..m.klen] == key {
                            return Ok(Some(d[m.klen..].to_vec()));
                        }
                    }
                }
            }
            Ok(None)
        })();
        // Anything read (or any error from reading torn data) counts only if validated.
        if !st.version.read_validate(v) || st.is_dead() {
            return Ok(None);
        }
        // A write that failed late set `failed` before its leaf's version became even again:
        // a read validated against that version sees it.
        self.check_failed()?;
        read.map(Some)
    }

    /// Calls `f` with the value of `key`; `None` if absent. The value is copied out of the
    /// pool and validated before `f` sees it (readers take no lock).
    pub fn get_with<U>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> U,
    ) -> Result<Option<U>> {
        Ok(self.get(key)?.map(|v| f(&v)))
    }

    /// The value of `key`, copied; `None` if absent.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            self.check_failed()?;
            if let Some(st) = self.route(key) {
                if let Some(r) = self.try_get(&st, key, fp)? {
                    return Ok(r);
                }
            }
            backoff(attempt);
        }
        Ok(self.read_locked(key, |st| self.try_get(st, key, fp))?.1)
    }

    /// The readers' slow path: under the writers' read lock and the lock of the leaf holding
    /// `key`, `read` cannot be overtaken, so a reader that kept losing races still finishes.
    /// `read` answering "retry" under the lock means the leaf's version is odd: corruption.
    fn read_locked<T>(
        &self,
        key: &[u8],
        mut read: impl FnMut(&LeafState) -> Result<Option<T>>,
    ) -> Result<(Arc<LeafState>, T)> {
        let _in = Entered::new(self.id)?;
        let _w = self.writers.read().unwrap_or_else(|e| e.into_inner());
        for attempt in 0..MAX_REROUTES {
            let st = self.route_locked(key)?;
            let g = st.lock();
            if st.is_dead() || !st.contains(key) {
                drop(g);
                backoff(attempt);
                continue;
            }
            let r = read(&st)?
                .ok_or_else(|| corrupted("leaf version (odd under its lock)", st.ptr.offset()))?;
            drop(g);
            return Ok((st, r));
        }
        Err(index_inconsistent(0))
    }

    /// Whether `key` is present.
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    // ---- put ------------------------------------------------------------------------------

    /// Inserts or replaces `key`'s value. Atomic and durable when it returns.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_sizes(key, Some(value))?;
        let fp = fingerprint(key);
        let _in = Entered::new(self.id)?;
        let _w = self.writers.read().unwrap_or_else(|e| e.into_inner());
        self.check_failed()?;
        for attempt in 0..MAX_REROUTES {
            let st = self.route_locked(key)?;
            let _g = st.lock();
            if st.is_dead() || !st.contains(key) {
                drop(_g);
                backoff(attempt);
                continue;
            }
            let (head, hit) = self.find_locked(&st, key, fp)?;
            let free = !head.bitmap & SLOT_MASK;
            if free == 0 {
                if let Some(h) = hit {
                    // An overwrite in a full leaf: replace the slot in place, logged.
                    return self.overwrite_in_place(&st, h, key, value);
                }
                self.split_locked(&st)?;
                continue;
            }
            let slot_i = free.trailing_zeros() as usize;
            let ptr = st.ptr;
            let wg = WriteGuard::new(&self.failed, &st);
            #[expect(
                unsafe_code,
                reason = "shared transactions: the store does its own locking"
            )]
            // SAFETY: this transaction modifies only leaf `ptr`, whose writers are excluded by
            // its lock, through atomic stores (`update_at_unlogged`, `commit_word_at`), and a
            // buffer it allocates; the old buffer it frees is reachable only from this leaf.
            // Readers use the racy-read primitives and validate with the leaf's version.
            let r = unsafe {
                self.pool.transaction_shared(|tx| {
                    let s = new_slot(tx, key, value)?;
                    // A free slot's bytes are nobody's: no undo log needed for them.
                    tx.update_at_unlogged(ptr, slot_offset(slot_i), s)?;
                    let mut bitmap = head.bitmap | 1 << slot_i;
                    if let Some(h) = hit {
                        bitmap &= !(1 << h.slot);
                        if let Some(b) = h.buffer {
                            tx.free_bytes(b)?;
                        }
                    }
                    tx.commit_word_at(ptr, BITMAP_OFFSET, bitmap)?;
                    Ok::<_, Error>(())
                })
            };
            if r.is_ok() || in_doubt(&r) {
                st.set_fp(slot_i, fp);
                if hit.is_none() {
                    self.count.fetch_add(1, Ordering::AcqRel);
                }
            }
            if r.is_err() {
                self.after_failed_write();
            }
            drop(wg);
            return r;
        }
        Err(index_inconsistent(0))
    }

    /// Replaces the entry in slot `h` of a full leaf (its lock held) in one logged transaction.
    fn overwrite_in_place(
        &self,
        st: &Arc<LeafState>,
        h: Hit,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let wg = WriteGuard::new(&self.failed, st);
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only slot `h.slot` of this leaf (lock held; a logged atomic store),
        // allocates a buffer and frees the old one, reachable only from this leaf.
        let r = unsafe {
            self.pool.transaction_shared(|tx| {
                let s = new_slot(tx, key, value)?;
                tx.update_at(st.ptr, slot_offset(h.slot), s)?;
                if let Some(b) = h.buffer {
                    tx.free_bytes(b)?;
                }
                Ok::<_, Error>(())
            })
        };
        // Nothing in DRAM changes with an overwrite in place (same key, same fingerprint), so a
        // late failure needs no publication either.
        if r.is_err() {
            self.after_failed_write();
        }
        drop(wg);
        r
    }

    /// Splits the full leaf `st` (its lock held): a new leaf takes the upper half of the
    /// entries; the two new states replace `st`, which dies.
    fn split_locked(&self, st: &Arc<LeafState>) -> Result<()> {
        let leaf = optimistic::leaf(&self.pool, st.ptr)?;
        let plan = split_plan(&self.pool, st, &leaf)?;
        let wg = WriteGuard::new(&self.failed, st);
        let mut new_leaf = None;
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only leaf `st.ptr` (lock held; atomic stores via `update_at`) and a
        // leaf it allocates, which no one can reach before the index publishes it.
        let r = unsafe {
            self.pool.transaction_shared(|tx| {
                let n = tx.alloc(plan.new_leaf)?;
                tx.update_at(
                    st.ptr,
                    HEAD_OFFSET,
                    LeafHead {
                        bitmap: plan.keep_bitmap,
                        next: n,
                    },
                )?;
                new_leaf = Some(n);
                Ok::<_, Error>(())
            })
        };
        if r.is_ok() || in_doubt(&r) {
            if let Some(n) = new_leaf {
                self.publish_split(st, n, &plan, None);
            }
        }
        if r.is_err() {
            // Before the leaf's version is even again (see `try_get`).
            self.after_failed_write();
        }
        drop(wg);
        r
    }

    /// Replaces `st` by the two halves of its split. Inside a batch, the new states are
    /// marked mid-write before readers can find them.
    fn publish_split(
        &self,
        st: &Arc<LeafState>,
        n: PPtr<Leaf>,
        plan: &SplitPlan,
        batch: Option<&mut BatchState>,
    ) {
        let right = LeafState::new(n, plan.bound.clone(), st.high.clone(), plan.right_fps);
        let left = LeafState::new(
            st.ptr,
            st.low.clone(),
            Some(plan.bound.clone()),
            plan.left_fps,
        );
        if let Some(b) = batch {
            Self::touch(b, &right);
            Self::touch(b, &left);
        }
        self.index.insert(plan.bound.clone(), right);
        self.index.insert(st.low.clone(), left);
        #[cfg(loom)]
        if crate::sync::mutated("split keeps the old state alive") {
            return;
        }
        st.dead.store(true, Ordering::Release);
    }

    /// Replaces the predecessor `pst` and the unlinked `st` by one state covering both ranges.
    /// The index entry of `st` is removed only if it still names `st`, and before the merged
    /// state is published (so that no split of the merged state can be removed by mistake).
    fn publish_unlink(
        &self,
        pst: &Arc<LeafState>,
        st: &Arc<LeafState>,
        batch: Option<&mut BatchState>,
    ) {
        let merged = LeafState::new(pst.ptr, pst.low.clone(), st.high.clone(), pst.fps());
        if let Some(b) = batch {
            Self::touch(b, &merged);
        }
        self.index.remove_if(&st.low, st);
        self.index.insert(pst.low.clone(), merged);
        pst.dead.store(true, Ordering::Release);
        st.dead.store(true, Ordering::Release);
    }

    // ---- remove ---------------------------------------------------------------------------

    /// Removes `key`; `false` if it was absent. Atomic and durable when it returns.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        let _in = Entered::new(self.id)?;
        let _w = self.writers.read().unwrap_or_else(|e| e.into_inner());
        self.check_failed()?;
        for attempt in 0..MAX_REROUTES {
            let st = self.route_locked(key)?;
            let _g = st.lock();
            if st.is_dead() || !st.contains(key) {
                drop(_g);
                backoff(attempt);
                continue;
            }
            let (head, hit) = self.find_locked(&st, key, fp)?;
            let Some(hit) = hit else { return Ok(false) };
            let bitmap = head.bitmap & !(1 << hit.slot);
            if bitmap & SLOT_MASK == 0 && !st.low.is_empty() {
                // The leaf empties: unlink it from its predecessor (locked after it: locks are
                // always taken from a leaf to its predecessor, never the other way).
                let Some(pst) = self.index.prev(&st.low) else {
                    continue;
                };
                let _pg = pst.lock();
                if pst.is_dead() || pst.high.as_deref() != Some(st.low.as_slice()) {
                    continue;
                }
                // The predecessor must link to this leaf (an empty leaf left by damage could sit
                // between them unindexed); otherwise only the bit is cleared.
                if optimistic::leaf(&self.pool, pst.ptr)?.head.next != st.ptr {
                    return self.clear_bit(&st, hit, bitmap);
                }
                let (wg, pwg) = (
                    WriteGuard::new(&self.failed, &st),
                    WriteGuard::new(&self.failed, &pst),
                );
                #[expect(
                    unsafe_code,
                    reason = "shared transactions: the store does its own locking"
                )]
                // SAFETY: modifies the predecessor's `next` (its lock held; atomic stores) and
                // frees this leaf (its lock held) and the entry's buffer.
                let r = unsafe {
                    self.pool.transaction_shared(|tx| {
                        if let Some(b) = hit.buffer {
                            tx.free_bytes(b)?;
                        }
                        tx.update_at(pst.ptr, NEXT_OFFSET, head.next)?;
                        tx.free(st.ptr)?;
                        Ok::<_, Error>(())
                    })
                };
                if r.is_ok() || in_doubt(&r) {
                    self.publish_unlink(&pst, &st, None);
                    self.count.fetch_sub(1, Ordering::AcqRel);
                }
                if r.is_err() {
                    self.after_failed_write();
                }
                drop((wg, pwg));
                return r.map(|()| true);
            }
            return self.clear_bit(&st, hit, bitmap);
        }
        Err(index_inconsistent(0))
    }

    /// Removes an entry by clearing its bit with a commit word (the leaf's lock held).
    fn clear_bit(&self, st: &Arc<LeafState>, hit: Hit, bitmap: u64) -> Result<bool> {
        let wg = WriteGuard::new(&self.failed, st);
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: modifies only this leaf's bitmap (lock held; a commit word) and frees the
        // entry's buffer, reachable only from this leaf.
        let r = unsafe {
            self.pool.transaction_shared(|tx| {
                if let Some(b) = hit.buffer {
                    tx.free_bytes(b)?;
                }
                tx.commit_word_at(st.ptr, BITMAP_OFFSET, bitmap)?;
                Ok::<_, Error>(())
            })
        };
        if r.is_ok() || in_doubt(&r) {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        if r.is_err() {
            self.after_failed_write();
        }
        drop(wg);
        r.map(|()| true)
    }

    /// After a write that failed: if the pool is poisoned (a persistence failure after the
    /// point of no return), the DRAM state may not match the leaves; the store then refuses
    /// writes like the pool, and must be reopened.
    fn after_failed_write(&self) {
        if self.pool.is_poisoned() {
            self.failed.store(true, Ordering::Release);
        }
    }

    /// The error of a store that refuses operations (see `after_failed_write`).
    fn check_failed(&self) -> Result<()> {
        // A poisoned pool (a persistence failure, or a rollback that could not complete) may
        // hold leaves the DRAM state does not describe: refuse as well.
        if self.failed.load(Ordering::Acquire) || self.pool.is_poisoned() {
            Err(Error::Pool(pobj::Error::Poisoned))
        } else {
            Ok(())
        }
    }

    // ---- batches --------------------------------------------------------------------------

    /// Applies a batch of puts and removes in one transaction: all or nothing, durable when it
    /// returns. Other writers wait; readers see, for each leaf, its state before or after the
    /// whole batch (every leaf the batch touches stays mid-write until it commits).
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        for op in &batch.ops {
            match op {
                BatchOp::Put(k, v) => check_sizes(k, Some(v))?,
                BatchOp::Remove(k) => check_sizes(k, None)?,
            }
        }
        let _in = Entered::new(self.id)?;
        let _w = self.writers.write().unwrap_or_else(|e| e.into_inner());
        self.check_failed()?;
        // Ends the batch whatever happens: on failure (an error, or a panic unwinding through
        // here) the states it created or retired do not match the rolled-back leaves, so the
        // inner nodes are rebuilt from the leaves; every touched leaf's write then ends.
        let mut guard = BatchGuard {
            db: self,
            b: BatchState::default(),
            committed: false,
        };
        #[expect(
            unsafe_code,
            reason = "shared transactions: the store does its own locking"
        )]
        // SAFETY: other writers are excluded (`writers` held exclusively); the transaction
        // writes only through atomic stores; every leaf it touches is mid-write for readers.
        let r = unsafe {
            self.pool.transaction_shared(|tx| {
                for op in &batch.ops {
                    match op {
                        BatchOp::Put(k, v) => self.put_tx(tx, &mut guard.b, k, v)?,
                        BatchOp::Remove(k) => {
                            self.remove_tx(tx, &mut guard.b, k)?;
                        }
                    }
                }
                Ok::<_, Error>(())
            })
        };
        if r.is_ok() || in_doubt(&r) {
            // (A late failure leaves the batch's changes in place: the states it published
            // match them, so they stay; the store then refuses further operations.)
            let delta = guard.b.delta;
            self.count.store(
                (self.count.load(Ordering::Acquire) as i64 + delta) as u64,
                Ordering::Release,
            );
            guard.committed = true;
            if r.is_err() {
                self.after_failed_write();
            }
        }
        drop(guard);
        r
    }

    /// Marks `st` as written by the batch (once).
    fn touch(b: &mut BatchState, st: &Arc<LeafState>) {
        if !b.touched.iter().any(|t| Arc::ptr_eq(t, st)) {
            st.version.write_begin();
            b.touched.push(Arc::clone(st));
        }
    }

    /// Put inside a batch's transaction, with logged writes.
    fn put_tx(
        &self,
        tx: &mut Tx<'_, KvRoot>,
        b: &mut BatchState,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let fp = fingerprint(key);
        for _ in 0..3 {
            let st = self.route_locked(key)?;
            Self::touch(b, &st);
            let (head, hit) = find_tx(tx, &st, key, fp)?;
            let free = !head.bitmap & SLOT_MASK;
            if free == 0 {
                let leaf = *tx.get(st.ptr)?;
                let plan = split_plan_tx(tx, &st, &leaf)?;
                let n = tx.alloc(plan.new_leaf)?;
                tx.update_at(
                    st.ptr,
                    HEAD_OFFSET,
                    LeafHead {
                        bitmap: plan.keep_bitmap,
                        next: n,
                    },
                )?;
                self.publish_split(&st, n, &plan, Some(b));
                continue;
            }
            let slot_i = free.trailing_zeros() as usize;
            let s = new_slot(tx, key, value)?;
            tx.update_at(st.ptr, slot_offset(slot_i), s)?;
            let mut bitmap = head.bitmap | 1 << slot_i;
            if let Some(h) = hit {
                bitmap &= !(1 << h.slot);
                if let Some(buf) = h.buffer {
                    tx.free_bytes(buf)?;
                }
            }
            tx.update_at(st.ptr, BITMAP_OFFSET, bitmap)?;
            st.fps[slot_i].store(fp, std::sync::atomic::Ordering::Relaxed);
            if hit.is_none() {
                b.delta += 1;
            }
            return Ok(());
        }
        Err(corrupted("leaf still full after a split", 0))
    }

    /// Remove inside a batch's transaction, with logged writes.
    fn remove_tx(&self, tx: &mut Tx<'_, KvRoot>, b: &mut BatchState, key: &[u8]) -> Result<bool> {
        let fp = fingerprint(key);
        let st = self.route_locked(key)?;
        Self::touch(b, &st);
        let (head, hit) = find_tx(tx, &st, key, fp)?;
        let Some(hit) = hit else { return Ok(false) };
        if let Some(buf) = hit.buffer {
            tx.free_bytes(buf)?;
        }
        let bitmap = head.bitmap & !(1 << hit.slot);
        if bitmap & SLOT_MASK == 0 && !st.low.is_empty() {
            let pst = self
                .index
                .prev(&st.low)
                .ok_or(corrupted("leaf without predecessor", st.ptr.offset()))?;
            Self::touch(b, &pst);
            tx.update_at(pst.ptr, NEXT_OFFSET, head.next)?;
            tx.free(st.ptr)?;
            self.publish_unlink(&pst, &st, Some(b));
        } else {
            tx.update_at(st.ptr, BITMAP_OFFSET, bitmap)?;
        }
        b.delta -= 1;
        Ok(true)
    }

    // ---- scans ----------------------------------------------------------------------------

    /// One validated read of the entries of `st` within `range` (and within the leaf's own
    /// range), sorted; `None` if it must be retried (a concurrent write or a dead state).
    fn try_leaf_entries<R: RangeBounds<[u8]>>(
        &self,
        st: &LeafState,
        range: &R,
        values: bool,
    ) -> Result<Option<Entries>> {
        let Some(v) = st.version.read_begin() else {
            return Ok(None);
        };
        if st.is_dead() {
            return Ok(None);
        }
        let read = (|| -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            let leaf = optimistic::leaf(&self.pool, st.ptr)?;
            let mut out = Vec::new();
            for i in leaf.valid() {
                let s = &leaf.slots[i];
                let Some(m) = s.meta() else { continue };
                let (k, v) = match s.buffer() {
                    None => (
                        s.data[..m.klen].to_vec(),
                        if values {
                            s.data[m.klen..m.klen + m.vlen].to_vec()
                        } else {
                            Vec::new()
                        },
                    ),
                    Some(buf) => {
                        let d = optimistic::buffer(
                            &self.pool,
                            buf,
                            0,
                            if values { m.klen + m.vlen } else { m.klen },
                        )?;
                        let k = d[..m.klen].to_vec();
                        (
                            k,
                            if values {
                                d[m.klen..].to_vec()
                            } else {
                                Vec::new()
                            },
                        )
                    }
                };
                if range.contains(k.as_slice()) && st.contains(&k) {
                    out.push((k, v));
                }
            }
            out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        })();
        if !st.version.read_validate(v) || st.is_dead() {
            return Ok(None);
        }
        self.check_failed()?;
        read.map(Some)
    }

    /// The next leaf state at or after `from` with entries in `range`, and those entries; none
    /// when the range is exhausted. Visits one leaf at a time (O(log n) routing each).
    pub(crate) fn next_entries(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        values: bool,
    ) -> Result<Option<Entries>> {
        let mut lower: Bound<Vec<u8>> = match from {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        loop {
            self.check_failed()?;
            let probe: &[u8] = match &lower {
                Bound::Included(k) | Bound::Excluded(k) => k,
                Bound::Unbounded => &[],
            };
            // Nothing left between the lower bound and the end?
            let empty = match (&lower, to) {
                (_, Bound::Unbounded) | (Bound::Unbounded, _) => false,
                (Bound::Included(k), Bound::Included(e)) => k.as_slice() > e,
                (Bound::Included(k), Bound::Excluded(e))
                | (Bound::Excluded(k), Bound::Excluded(e) | Bound::Included(e)) => {
                    k.as_slice() >= e
                }
            };
            if empty {
                return Ok(None);
            }
            let range = (lower.as_ref().map(Vec::as_slice), to);
            let (st, e) = self.entries_holding(probe, &range, values)?;
            if !e.is_empty() {
                return Ok(Some(e));
            }
            // Nothing here: continue at the next leaf's bound, which is above the lower bound
            // since this leaf holds it.
            match &st.high {
                None => return Ok(None),
                Some(h) => lower = Bound::Included(h.clone()),
            }
        }
    }

    /// The state holding `probe` and its validated entries in `range`: optimistic attempts,
    /// then (after `OPTIMISTIC_ATTEMPTS`) one under the writers' and the leaf's locks.
    fn entries_holding<R: RangeBounds<[u8]>>(
        &self,
        probe: &[u8],
        range: &R,
        values: bool,
    ) -> Result<(Arc<LeafState>, Entries)> {
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            self.check_failed()?;
            // Never use a state that does not hold the lower bound (the index may be
            // publishing a split or an unlink), or the scan could go backwards.
            if let Some(st) = self.route(probe).filter(|st| st.contains(probe)) {
                if let Some(e) = self.try_leaf_entries(&st, range, values)? {
                    return Ok((st, e));
                }
            }
            backoff(attempt);
        }
        self.read_locked(probe, |st| self.try_leaf_entries(st, range, values))
    }

    /// Calls `f` for each entry in `range` in key order until it returns `false`.
    fn scan<R: RangeBounds<[u8]>>(
        &self,
        range: R,
        values: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        loop {
            let from = match &last {
                Some(k) => Bound::Excluded(k.as_slice()),
                None => range.start_bound(),
            };
            let Some(entries) = self.next_entries(from, range.end_bound(), values)? else {
                return Ok(());
            };
            for (k, v) in &entries {
                if !f(k, v) {
                    return Ok(());
                }
            }
            last = entries.into_iter().next_back().map(|e| e.0);
        }
    }

    /// Counts keys in `range` without copying values.
    fn count_range<R: RangeBounds<[u8]>>(&self, range: R) -> Result<u64> {
        let mut n = 0;
        self.scan(range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Number of entries.
    pub fn count_all(&self) -> Result<u64> {
        Ok(self.count.load(Ordering::Acquire))
    }

    /// Keys greater than `key`.
    pub fn count_above(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Excluded(key.as_ref()), Bound::Unbounded))
    }

    /// Keys greater than or equal to `key`.
    pub fn count_equal_above(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Included(key.as_ref()), Bound::Unbounded))
    }

    /// Keys less than `key`.
    pub fn count_below(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Unbounded, Bound::Excluded(key.as_ref())))
    }

    /// Keys less than or equal to `key`.
    pub fn count_equal_below(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Unbounded, Bound::Included(key.as_ref())))
    }

    /// Keys strictly between `k1` and `k2` (0 when `k1 >= k2`).
    pub fn count_between(&self, k1: impl AsRef<[u8]>, k2: impl AsRef<[u8]>) -> Result<u64> {
        let (a, b) = (k1.as_ref(), k2.as_ref());
        if a >= b {
            return Ok(0);
        }
        self.count_range((Bound::Excluded(a), Bound::Excluded(b)))
    }

    /// Calls `f(key, value)` for every entry in key order, until it returns `false`.
    pub fn get_all(&self, f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.scan::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Unbounded, Bound::Unbounded), true, f)
    }

    /// Entries with keys greater than `key`, in order, until `f` returns `false`.
    pub fn get_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Excluded(key.as_ref()), Bound::Unbounded), true, f)
    }

    /// Entries with keys greater than or equal to `key`.
    pub fn get_equal_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Included(key.as_ref()), Bound::Unbounded), true, f)
    }

    /// Entries with keys less than `key`.
    pub fn get_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Unbounded, Bound::Excluded(key.as_ref())), true, f)
    }

    /// Entries with keys less than or equal to `key`.
    pub fn get_equal_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Unbounded, Bound::Included(key.as_ref())), true, f)
    }

    /// Entries with keys strictly between `k1` and `k2`.
    pub fn get_between(
        &self,
        k1: impl AsRef<[u8]>,
        k2: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let (a, b) = (k1.as_ref(), k2.as_ref());
        if a >= b {
            return Ok(());
        }
        self.scan((Bound::Excluded(a), Bound::Excluded(b)), true, f)
    }

    // ---- check and stats ------------------------------------------------------------------

    /// A full consistency check (writers wait while it runs): the pool's own check, then the
    /// tree: leaf magics, slot metadata, fingerprints, out-of-line buffers, key order within
    /// and across leaves, no duplicates, no empty leaf but the first, and agreement with the
    /// inner nodes and the count.
    pub fn check(&self) -> CheckReport {
        let _in = match Entered::new(self.id) {
            Ok(g) => g,
            Err(e) => {
                return CheckReport {
                    problems: vec![format!("check: {e}")],
                    ..CheckReport::default()
                }
            }
        };
        let _w = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let mut report = CheckReport {
            problems: self.pool.check().problems,
            ..CheckReport::default()
        };
        let by_ptr: std::collections::HashMap<u64, Arc<LeafState>> = self
            .index
            .states()
            .into_iter()
            .map(|st| (st.ptr.offset(), st))
            .collect();
        let mut p = match self.pool.root() {
            Ok(root) => root.head,
            Err(e) => {
                report.problems.push(format!("store root: {e}"));
                return report;
            }
        };
        let mut prev_max: Option<Vec<u8>> = None;
        let max_leaves = rebuild::max_leaves(&self.pool);
        let mut indexed = 0;
        while !p.is_null() {
            report.leaves += 1;
            if report.leaves > max_leaves {
                report.problems.push("leaf list has a cycle".into());
                break;
            }
            let leaf = match optimistic::leaf(&self.pool, p) {
                Ok(l) => l,
                Err(e) => {
                    report.problems.push(format!("leaf {p:?}: {e}"));
                    break;
                }
            };
            if leaf.magic != LEAF_MAGIC {
                report.problems.push(format!("leaf {p:?}: bad magic"));
            }
            if leaf.head.bitmap & !SLOT_MASK != 0 {
                report
                    .problems
                    .push(format!("leaf {p:?}: bitmap bits past the last slot"));
            }
            let state = by_ptr.get(&p.offset()).cloned();
            let mut keys = Vec::new();
            for i in leaf.valid() {
                let s = &leaf.slots[i];
                match (s.meta(), rebuild::slot_key(&self.pool, s, p.offset())) {
                    (Some(m), Ok(k)) => {
                        if m.fp != fingerprint(&k) {
                            report.problems.push(format!(
                                "leaf {p:?} slot {i}: fingerprint does not match the key"
                            ));
                        }
                        if let Some(st) = &state {
                            if st.fp(i) != m.fp {
                                report
                                    .problems
                                    .push(format!("leaf {p:?} slot {i}: DRAM fingerprint differs"));
                            }
                        }
                        keys.push(k);
                    }
                    (_, Err(e)) => report.problems.push(format!("leaf {p:?} slot {i}: {e}")),
                    (None, _) => report
                        .problems
                        .push(format!("leaf {p:?} slot {i}: bad metadata")),
                }
            }
            keys.sort();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                report.problems.push(format!("leaf {p:?}: duplicate keys"));
            }
            if let (Some(pm), Some(first)) = (&prev_max, keys.first()) {
                if first <= pm {
                    report.problems.push(format!(
                        "leaf {p:?}: keys out of order with the previous leaf"
                    ));
                }
            }
            if keys.is_empty() && report.leaves > 1 {
                report
                    .problems
                    .push(format!("leaf {p:?}: empty leaf left in the list"));
            }
            for k in &keys {
                if self.index.route(k).map(|s| s.ptr) != Some(p) {
                    report
                        .problems
                        .push(format!("leaf {p:?}: the inner nodes route a key elsewhere"));
                    break;
                }
            }
            if state.is_some() {
                indexed += 1;
            }
            report.keys += keys.len() as u64;
            if let Some(last) = keys.pop() {
                prev_max = Some(last);
            }
            p = leaf.head.next;
        }
        let count = self.count.load(Ordering::Acquire);
        if report.keys != count {
            report.problems.push(format!(
                "count {count} but {} keys in the leaves",
                report.keys
            ));
        }
        if indexed != self.index.len() {
            report.problems.push(format!(
                "{} inner-node entries but {indexed} of them name a leaf in the list",
                self.index.len()
            ));
        }
        // Adjacent states' ranges meet.
        let states: Vec<Arc<LeafState>> = self.index.states();
        for w in states.windows(2) {
            if w[0].high.as_deref() != Some(w[1].low.as_slice()) || w[0].is_dead() {
                report
                    .problems
                    .push("inner nodes: ranges of adjacent leaves do not meet".into());
                break;
            }
        }
        report
    }

    /// Store statistics.
    pub fn stats(&self) -> Stats {
        let ps = self.pool.stats();
        Stats {
            keys: self.count.load(Ordering::Acquire),
            leaves: self.index.len() as u64,
            bytes_used: ps.heap.allocated_bytes,
            bytes_free: ps.heap.free_bytes,
            dram_bytes: self.index.dram_bytes(),
            persist: ps.persist,
        }
    }
}

/// Unlinks and frees every empty leaf after the first (they cannot arise from the store's own
/// protocols, which unlink a leaf in the transaction that empties it, but a damaged or foreign
/// pool may hold some). Runs at open, before the store is shared.
fn unlink_empty_leaves(pool: &Pool<KvRoot>) -> Result<()> {
    let max_leaves = rebuild::max_leaves(pool);
    let mut prev = pool.root()?.head;
    let mut seen = 0u64;
    while !prev.is_null() {
        seen += 1;
        if seen > max_leaves {
            return Err(corrupted("leaf list (cycle)", prev.offset()));
        }
        // Only the headers are read (no copy of whole leaves).
        let next = pool.read(prev, |l| l.head.next)?;
        if next.is_null() {
            break;
        }
        let head = pool.read(next, |l| l.head)?;
        if head.bitmap & SLOT_MASK == 0 {
            pool.transaction(|tx| {
                tx.update_at(prev, NEXT_OFFSET, head.next)?;
                tx.free(next)
            })?;
            continue;
        }
        prev = next;
    }
    Ok(())
}

/// What a batch did, to publish after it commits (or undo in DRAM if it aborts).
#[derive(Default)]
struct BatchState {
    touched: Vec<Arc<LeafState>>,
    delta: i64,
}

/// Ends a batch: rebuilds the inner nodes if it did not commit, then ends every touched
/// leaf's write.
struct BatchGuard<'a> {
    db: &'a Db,
    b: BatchState,
    committed: bool,
}

impl Drop for BatchGuard<'_> {
    fn drop(&mut self) {
        if !self.committed {
            for st in &self.b.touched {
                st.dead.store(true, Ordering::Release);
            }
            if self.db.rebuild().is_err() {
                // The leaves could not be read back: refuse everything until reopened.
                self.db.failed.store(true, Ordering::Release);
            }
            self.db.after_failed_write();
        }
        for st in self.b.touched.iter().rev() {
            st.version.write_end();
        }
    }
}

/// A new slot for `key`/`value`, allocating the out-of-line buffer when needed.
fn new_slot(tx: &mut Tx<'_, KvRoot>, key: &[u8], value: &[u8]) -> Result<Slot> {
    if fits_inline(key.len(), value.len()) {
        Ok(slot::inline(key, value))
    } else {
        let b = tx.alloc_bytes_zeroed((key.len() + value.len()) as u64)?;
        tx.write_bytes(b, 0, key)?;
        tx.write_bytes(b, key.len() as u64, value)?;
        Ok(slot::out_of_line(key, value.len(), b))
    }
}

const HEAD_OFFSET: usize = core::mem::offset_of!(Leaf, head);

/// How a full leaf splits.
struct SplitPlan {
    new_leaf: Leaf,
    keep_bitmap: u64,
    bound: Vec<u8>,
    left_fps: [u8; SLOTS],
    right_fps: [u8; SLOTS],
}

fn plan_from(st: &LeafState, leaf: &Leaf, mut keyed: Vec<(Vec<u8>, usize)>) -> Result<SplitPlan> {
    if keyed.len() < 2 {
        return Err(corrupted(
            "split of a leaf with fewer than two entries",
            st.ptr.offset(),
        ));
    }
    keyed.sort_unstable();
    let moved = &keyed[keyed.len() / 2..];
    let mut new_leaf = Leaf::empty(leaf.head.next);
    let mut right_fps = [0u8; SLOTS];
    let mut moved_bits = 0u64;
    for (j, (_, i)) in moved.iter().enumerate() {
        new_leaf.slots[j] = leaf.slots[*i];
        new_leaf.head.bitmap |= 1 << j;
        right_fps[j] = st.fp(*i);
        moved_bits |= 1 << i;
    }
    Ok(SplitPlan {
        new_leaf,
        keep_bitmap: leaf.head.bitmap & !moved_bits,
        bound: moved[0].0.clone(),
        left_fps: st.fps(),
        right_fps,
    })
}

fn split_plan(pool: &Pool<KvRoot>, st: &LeafState, leaf: &Leaf) -> Result<SplitPlan> {
    let mut keyed = Vec::with_capacity(SLOTS);
    for i in leaf.valid() {
        let s = &leaf.slots[i];
        let m = s
            .meta()
            .ok_or(corrupted("slot metadata", st.ptr.offset()))?;
        let k = match s.buffer() {
            None => s.data[..m.klen].to_vec(),
            Some(b) => optimistic::buffer(pool, b, 0, m.klen)?,
        };
        keyed.push((k, i));
    }
    plan_from(st, leaf, keyed)
}

fn split_plan_tx(tx: &Tx<'_, KvRoot>, st: &LeafState, leaf: &Leaf) -> Result<SplitPlan> {
    let mut keyed = Vec::with_capacity(SLOTS);
    for i in leaf.valid() {
        let s = &leaf.slots[i];
        let m = s
            .meta()
            .ok_or(corrupted("slot metadata", st.ptr.offset()))?;
        let k = match s.buffer() {
            None => s.data[..m.klen].to_vec(),
            Some(b) => tx
                .bytes(b)?
                .get(..m.klen)
                .ok_or(corrupted("out-of-line entry", b.offset()))?
                .to_vec(),
        };
        keyed.push((k, i));
    }
    plan_from(st, leaf, keyed)
}

/// Finds `key` in a leaf inside a transaction.
fn find_tx(
    tx: &Tx<'_, KvRoot>,
    st: &LeafState,
    key: &[u8],
    fp: u8,
) -> Result<(LeafHead, Option<Hit>)> {
    let leaf = tx.get(st.ptr)?;
    let head = leaf.head;
    let mut cands = Vec::new();
    for i in leaf.valid() {
        if st.fp(i) != fp {
            continue;
        }
        let s = &leaf.slots[i];
        let Some(m) = s.meta() else { continue };
        if m.klen != key.len() {
            continue;
        }
        match s.buffer() {
            Some(b) => cands.push((i, b)),
            None => {
                if &s.data[..m.klen] == key {
                    return Ok((
                        head,
                        Some(Hit {
                            slot: i,
                            buffer: None,
                        }),
                    ));
                }
            }
        }
    }
    for (i, b) in cands {
        let d = tx.bytes(b)?;
        if d.len() >= key.len() && &d[..key.len()] == key {
            return Ok((
                head,
                Some(Hit {
                    slot: i,
                    buffer: Some(b),
                }),
            ));
        }
    }
    Ok((head, None))
}
