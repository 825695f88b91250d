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

mod batch;
mod check;
mod ops;
mod read;
mod report;
mod scan;
mod write;

use std::path::Path;
#[cfg(feature = "crash-test")]
use std::sync::Arc;

#[cfg(feature = "crash-test")]
use pobj::crash::SimMedium;
use pobj::{PPtr, Pool};

use crate::chain::LeafChain;
use crate::error::{Error, Result};
use crate::inner::{Index, LeafState};
use crate::leaf::{KvRoot, Leaf, LeafHead, KV_MAGIC, KV_VERSION, SLOTS, SLOT_MASK};
use crate::rebuild;
use crate::slot::Slot;
use crate::sync::{AtomicBool, AtomicU64, Ordering, RwLock};
use crate::{MAX_KEY_LEN, MAX_VALUE_LEN};

pub use batch::WriteBatch;
pub use report::{CheckProblem, CheckReport};

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
            .finish_non_exhaustive()
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

/// An invariant of the store's own code (its DRAM state, its protocols) that does not hold.
fn internal(what: &'static str) -> Error {
    Error::Internal { what }
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
/// on an index that never settles (a bug) into `Error::Internal`.
const MAX_REROUTES: u32 = 1 << 24;

/// Whether a failed write passed its commit point: its changes are on the medium (durability
/// unknown), so the DRAM state must follow them as for a commit.
fn in_doubt<T>(r: &Result<T>) -> bool {
    matches!(r, Err(Error::Pool(pobj::Error::CommitInDoubt { .. })))
}

fn index_inconsistent() -> Error {
    internal("inner nodes (the routed leaf does not hold the key)")
}

fn backoff(attempt: u32) {
    if attempt < SPIN_BEFORE_YIELD && !cfg!(loom) {
        std::hint::spin_loop();
    } else {
        crate::sync::yield_now();
    }
}

/// Unlinks and frees every empty leaf after the first (they cannot arise from the store's own
/// protocols, which unlink a leaf in the transaction that empties it, but a damaged or foreign
/// pool may hold some). Runs at open, before the store is shared.
fn unlink_empty_leaves(pool: &Pool<KvRoot>) -> Result<()> {
    // The leaf before the one walked (the walk read its `next` before it is unlinked).
    let mut prev: Option<PPtr<Leaf>> = None;
    for leaf in LeafChain::new(pool, pool.root()?.head) {
        let leaf = leaf?;
        match prev {
            Some(p) if leaf.head.bitmap & SLOT_MASK == 0 => {
                pool.transaction(|tx| {
                    tx.update_at(p, NEXT_OFFSET, leaf.head.next)?;
                    tx.free(leaf.ptr)
                })?;
            }
            _ => prev = Some(leaf.ptr),
        }
    }
    Ok(())
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
        } else if root.head.is_null() {
            // An initialised store always has its first leaf (it is never unlinked); without
            // it the index would name no state for any key.
            return Err(corrupted(
                "store root (no first leaf)",
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
