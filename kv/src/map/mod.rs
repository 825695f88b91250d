//! `Map`: the ordered map of byte strings, in any pool, and its operations.
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
mod comparator;
mod cursor;
mod handle;
mod ops;
mod read;
mod report;
mod scan;
mod txops;
mod write;

use std::sync::Arc;

use pobj::{PPtr, Persistent, Pool};

use crate::chain::LeafChain;
use crate::error::{Error, Result};
use crate::inner::{Index, LeafState};
use crate::leaf::{
    KvRoot, Leaf, LeafHead, KV_MAGIC, KV_VERSION, KV_VERSION_ORDERED, SLOTS, SLOT_MASK,
};
use crate::order::{Comparator, KeyOrder};
use crate::rebuild;
use crate::slot::Slot;
use crate::sync::{AtomicBool, AtomicU64, Ordering, RwLock};
use crate::{MAX_KEY_LEN, MAX_VALUE_LEN};

pub use batch::WriteBatch;
pub(crate) use comparator::record as record_comparator;
pub use cursor::Cursor;
pub use handle::MapHandle;
pub use report::{CheckProblem, CheckReport};
pub(crate) use scan::{not_an_order, progress};
pub use txops::MapTx;

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

/// An ordered map of byte strings whose leaves live in a pool of any root type `R`, with its
/// DRAM index (rebuilt when it is opened). Every standalone operation is atomic and durable
/// when it returns; [`Map::tx`] runs the same operations inside a user's transaction, so that
/// they commit or roll back with the user's own changes. `Map` is a cheap handle (`Clone`,
/// `Send + Sync`): clones share one index.
///
/// The map's leaves and out-of-line entries are *shared* objects of the pool (no reference
/// into them is lent to safe code; see `pobj::Tx::alloc_shared`), read by other threads
/// without locks and validated with per-leaf versions.
pub struct Map<R: Persistent> {
    pool: Arc<Pool<R>>,
    core: Arc<Core>,
}

impl<R: Persistent> Clone for Map<R> {
    fn clone(&self) -> Self {
        Map {
            pool: Arc::clone(&self.pool),
            core: Arc::clone(&self.core),
        }
    }
}

/// The DRAM side of an open map, shared by its handles and by the transactions that change it.
pub(crate) struct Core {
    /// The map's header object (for `Db`, the pool's root).
    header: PPtr<KvRoot>,
    /// The key order (the comparator whose name the header records).
    pub(crate) order: KeyOrder,
    /// The header's comparator-name buffer (0: none), which no slot may reference.
    name_buffer: u64,
    /// The first leaf (never unlinked; the header's `head`).
    head: PPtr<Leaf>,
    index: Index,
    count: AtomicU64,
    /// Common-path writers hold it shared; `check` exclusively. Readers only on their slow
    /// path, after many failed optimistic attempts. Taken after the pool's shared section.
    writers: RwLock<()>,
    /// Set once a write failed in a way that may leave the map out of step with the medium
    /// (a persistence failure), or the map was destroyed: every operation then refuses.
    failed: AtomicBool,
    /// Set when a transaction that destroyed the map committed.
    destroyed: AtomicBool,
    /// Identifies the map to the re-entry check (`reentry.rs`) and to transactions' states.
    id: u64,
}

impl<R: Persistent> std::fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map")
            .field("pool", &self.pool.path())
            .field("header", &self.core.header.offset())
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
/// pool may hold some). Runs at open, before the map is shared.
fn unlink_empty_leaves<R: Persistent>(pool: &Pool<R>, head: PPtr<Leaf>) -> Result<()> {
    // The leaf before the one walked (the walk read its `next` before it is unlinked).
    let mut prev: Option<PPtr<Leaf>> = None;
    for leaf in LeafChain::new(pool, head) {
        let leaf = leaf?;
        match prev {
            Some(p) if leaf.head.bitmap & SLOT_MASK == 0 => {
                pool.transaction(|tx| {
                    tx.update_at(p, NEXT_OFFSET, leaf.head.next)?;
                    // SAFETY: the map is being opened: no reader exists yet, and the leaf is
                    // unlinked in this transaction.
                    unsafe_free_leaf(tx, leaf.ptr)
                })?;
            }
            _ => prev = Some(leaf.ptr),
        }
    }
    Ok(())
}

/// Frees a leaf that the same transaction unlinks (or that no reader can reach).
fn unsafe_free_leaf<R: Persistent>(tx: &mut pobj::Tx<'_, R>, leaf: PPtr<Leaf>) -> Result<()> {
    #[expect(unsafe_code, reason = "freeing a shared object")]
    // SAFETY: every caller unlinks the leaf (or its map) in this transaction, with the leaf's
    // version odd until the transaction ends, so that readers pinned later never reach it.
    unsafe {
        tx.free_shared(leaf)?;
    }
    Ok(())
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The maps open in this process: (pool handle's address, header offset) and their DRAM state.
/// An entry whose state is alive names a live pool (every holder of the state holds the pool),
/// so an address is never confused with a later pool's.
static OPEN: std::sync::Mutex<Vec<(usize, u64, std::sync::Weak<Core>)>> =
    std::sync::Mutex::new(Vec::new());

/// Checks a map header read from the pool.
fn check_header(root: &KvRoot, at: u64) -> Result<()> {
    if root.magic != KV_MAGIC {
        return Err(Error::Corrupted {
            what: "map header (magic)",
            offset: at,
        });
    }
    if root.version != KV_VERSION && root.version != KV_VERSION_ORDERED {
        return Err(Error::UnsupportedVersion {
            found: root.version,
            supported: KV_VERSION_ORDERED,
            offset: at,
        });
    }
    if root.version != crate::leaf::version_for(root.comparator()) {
        // Version 3 and a recorded name go together (a version 2 header's field is zero).
        return Err(Error::Corrupted {
            what: "map header (version and comparator name disagree)",
            offset: at,
        });
    }
    if root.slots_per_leaf != SLOTS as u64 {
        return Err(Error::Corrupted {
            what: "map header (leaf geometry)",
            offset: at,
        });
    }
    if root.head.is_null() {
        // An initialised map always has its first leaf (it is never unlinked); without it the
        // index would name no state for any key.
        return Err(Error::Corrupted {
            what: "map header (no first leaf)",
            offset: at,
        });
    }
    Ok(())
}

impl<R: Persistent> Map<R> {
    /// Opens the map whose handle is `handle` in `pool`: checks its header and leaves and
    /// rebuilds its DRAM index. A damaged map is an error here; the pool and its other
    /// structures stay usable.
    ///
    /// The map's keys are ordered bytewise: a map created with a comparator
    /// ([`MapHandle::create_with`]) is refused with [`Error::ComparatorMismatch`]; open it with
    /// [`Map::open_with`].
    pub fn open(pool: &Arc<Pool<R>>, handle: MapHandle) -> Result<Map<R>> {
        Self::open_ordered(pool, handle, None)
    }

    /// Opens the map with the comparator its keys are ordered by. The header records the
    /// comparator's name when the map is created with it; another name is refused with
    /// [`Error::ComparatorMismatch`]. A map that records no name (created without a comparator)
    /// is in the bytewise order ([`crate::BINARY_COMPARATOR`]); while it is empty, opening it
    /// with another comparator records that one.
    pub fn open_with(
        pool: &Arc<Pool<R>>,
        handle: MapHandle,
        comparator: Arc<dyn Comparator>,
    ) -> Result<Map<R>> {
        Self::open_ordered(pool, handle, Some(comparator))
    }

    pub(crate) fn open_ordered(
        pool: &Arc<Pool<R>>,
        handle: MapHandle,
        comparator: Option<Arc<dyn Comparator>>,
    ) -> Result<Map<R>> {
        Self::with_header(Arc::clone(pool), handle.header(), comparator)
    }

    /// The name of the comparator the map's keys are ordered by.
    pub fn comparator_name(&self) -> &str {
        self.core.order.name()
    }

    /// The map whose header is `header`: the DRAM state of the map if it is already open (a
    /// second index over one leaf list would miss the first's changes: its fingerprints and
    /// splits, and the leaves it unlinks and frees), else the header checked, the comparator
    /// resolved against the recorded name (and adopted, see `comparator.rs`) and the index
    /// rebuilt from the leaves — all under the registry of open maps, so that two opens in the
    /// process never decide on the header apart.
    pub(crate) fn with_header(
        pool: Arc<Pool<R>>,
        header: PPtr<KvRoot>,
        comparator: Option<Arc<dyn Comparator>>,
    ) -> Result<Map<R>> {
        let key = (Arc::as_ptr(&pool).cast::<()>() as usize, header.offset());
        let mut open = OPEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|(_, _, w)| w.strong_count() > 0);
        if let Some(core) = open
            .iter()
            .find(|(p, h, _)| (*p, *h) == key)
            .and_then(|(_, _, w)| w.upgrade())
        {
            let want = comparator
                .as_ref()
                .map_or(crate::BINARY_COMPARATOR, |c| c.name());
            if core.order.name() != want {
                return Err(Error::ComparatorMismatch {
                    expected: core.order.name().to_owned(),
                    found: want.to_owned(),
                });
            }
            return Ok(Map { pool, core });
        }
        // Not open in this process (and no other process has the pool open): the header is
        // read, checked and its comparator resolved (a name to adopt recorded) here.
        let root = pool.get(header)?;
        check_header(&root, header.offset())?;
        let plan = comparator::resolve(&pool, header, &root, comparator)?;
        if plan.adopt {
            comparator::adopt(&pool, header, &plan.order)?;
        }
        let order = plan.order;
        let head = root.head;
        let name_buffer = pool.get(header)?.comparator();
        let map = Map {
            pool,
            core: Arc::new(Core {
                header,
                index: Index::new(&order),
                order,
                name_buffer,
                head,
                count: AtomicU64::new(0),
                writers: RwLock::new(()),
                failed: AtomicBool::new(false),
                destroyed: AtomicBool::new(false),
                id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            }),
        };
        // Empty leaves after the first cannot arise from the store's own protocols (the
        // transaction that empties a leaf unlinks it), but a damaged or foreign pool may hold
        // some: the rebuild finds them, and they are unlinked here, before the map is shared.
        if rebuild_index(&map.pool, &map.core)? {
            unlink_empty_leaves(&map.pool, head)?;
            rebuild_index(&map.pool, &map.core)?;
        }
        open.push((key.0, key.1, Arc::downgrade(&map.core)));
        Ok(map)
    }

    /// The handle to store in the pool (in any field of the user's objects).
    pub fn handle(&self) -> MapHandle {
        MapHandle::from_header(self.core.header)
    }

    /// The pool the map lives in.
    pub fn pool(&self) -> &Arc<Pool<R>> {
        &self.pool
    }

    /// The pool's path, size, persistence mode and figures.
    pub fn pool_info(&self) -> pobj::PoolInfo<'_> {
        self.pool.info()
    }

    /// Statistics of the map (and of its pool's heap and persistence).
    pub fn stats(&self) -> Stats {
        let ps = self.pool.stats();
        Stats {
            keys: self.core.count.load(Ordering::Acquire),
            leaves: self.core.index.len() as u64,
            bytes_used: ps.heap.allocated_bytes,
            bytes_free: ps.heap.free_bytes,
            dram_bytes: self.core.index.dram_bytes(),
            persist: ps.persist,
        }
    }
}

/// Walks the leaf list (`rebuild.rs` checks it) and (re)builds the inner nodes: each leaf's
/// bound is its smallest key (the first leaf's is the empty key). Called at open, and with
/// writers excluded after a failed transaction; old states are marked dead so that readers
/// re-route. Returns whether an empty leaf after the first was found.
pub(crate) fn rebuild_index<R: Persistent>(pool: &Pool<R>, core: &Core) -> Result<bool> {
    let walk = rebuild::walk(
        pool,
        core.header.offset(),
        core.head,
        &core.order,
        core.name_buffer,
    )?;
    for old in core.index.states() {
        old.dead.store(true, Ordering::Release);
    }
    core.index.clear();
    let n = walk.leaves.len();
    for i in 0..n {
        let high = walk.leaves.get(i + 1).map(|l| l.0.clone());
        let (low, ptr, fps) = &walk.leaves[i];
        core.index
            .insert(LeafState::new(*ptr, i == 0, low.clone(), high, *fps));
    }
    core.count.store(walk.count, Ordering::Release);
    Ok(walk.found_empty)
}
