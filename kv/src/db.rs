//! `Db`: a pool that holds one map, its root (pmemkv's model): the convenience over [`Map`].

use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "crash-test")]
use pobj::crash::SimMedium;
use pobj::{PPtr, Pool, PoolOptions};

use crate::error::Result;
use crate::leaf::{version_for, KvRoot, Leaf, KV_MAGIC, SLOTS};
use crate::map::Map;
use crate::order::{Comparator, BINARY_COMPARATOR};

/// The pool layout name of a store.
pub const LAYOUT: &str = "pobj-kv";
/// Pool size of the benchmarks' fixed-size stores.
pub const DEFAULT_SIZE: u64 = 1 << 30;

/// Options for opening or creating a store. By default a new store's pool grows on demand
/// (`PoolOptions::default()`: 8 MiB at first, up to 64 GiB).
#[derive(Clone, Default)]
pub struct Options {
    pool: PoolOptions,
    comparator: Option<Arc<dyn Comparator>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("pool", &self.pool)
            .field(
                "comparator",
                &self
                    .comparator
                    .as_ref()
                    .map_or(BINARY_COMPARATOR, |c| c.name()),
            )
            .finish()
    }
}

impl Options {
    /// A pool of this fixed size for `create` and `open_or_create` (pmemkv's meaning of a
    /// size: the store's capacity).
    #[must_use]
    pub fn size(mut self, size: u64) -> Self {
        self.pool = PoolOptions::fixed(size);
        self
    }

    /// The pool's sizes for `create` and `open_or_create`: where it starts, how far and by how
    /// much it grows.
    #[must_use]
    pub fn pool(mut self, pool: PoolOptions) -> Self {
        self.pool = pool;
        self
    }

    /// The order of the keys: a new store records the comparator's name, and an existing one
    /// must have been created with a comparator of that name ([`Error::ComparatorMismatch`]
    /// otherwise; a store created without one is bytewise, [`crate::BINARY_COMPARATOR`], and
    /// adopts the comparator at its first open while it is empty). Default: bytewise.
    ///
    /// [`Error::ComparatorMismatch`]: crate::Error::ComparatorMismatch
    #[must_use]
    pub fn comparator(mut self, comparator: Arc<dyn Comparator>) -> Self {
        self.comparator = Some(comparator);
        self
    }

    /// Creates a store.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<Db> {
        self.wrap(Pool::create(path, LAYOUT, self.pool)?)
    }

    /// Opens a store.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Db> {
        self.wrap(Pool::open(path, LAYOUT)?)
    }

    /// Opens a store, creating it if the file does not exist.
    pub fn open_or_create(&self, path: impl AsRef<Path>) -> Result<Db> {
        self.wrap(Pool::open_or_create(path, LAYOUT, self.pool)?)
    }

    /// Wraps an open pool with these options' comparator (see [`Db::from_pool`]).
    pub fn wrap(&self, pool: Pool<KvRoot>) -> Result<Db> {
        Db::from_pool_ordered(pool, self.comparator.clone())
    }
}

/// A persistent key-value store: a pool whose root is one [`Map`] (pmemkv's model). Every
/// operation is atomic and durable when it returns. `Db` is `Send + Sync`: share it with
/// `Arc<Db>`; every operation of the map (`put`, `get`, `range`, `write`, `check`, ...) takes
/// `&self`, reached through `Deref<Target = Map<KvRoot>>`.
///
/// Its pool is reachable (`db.pool()`), and safe code may run transactions on it: the store's
/// leaves and entries are shared objects, into which pobj lends no reference. To combine the
/// store with objects of your own root type, use a [`Map`] in a pool of your own.
pub struct Db {
    map: Map<KvRoot>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("pool", &self.map.pool().path())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Db {
    type Target = Map<KvRoot>;
    fn deref(&self) -> &Map<KvRoot> {
        &self.map
    }
}

impl Db {
    /// Creates a store in a new pool file: `size` is a number of bytes (a fixed capacity) or
    /// [`PoolOptions`] (`PoolOptions::default()`: a pool that grows).
    pub fn create(path: impl AsRef<Path>, size: impl Into<PoolOptions>) -> Result<Db> {
        Options::default().pool(size.into()).create(path)
    }

    /// Opens a store.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Options::default().open(path)
    }

    /// Opens a store, creating it with `size` (as for [`Db::create`]) if the file does not
    /// exist.
    pub fn open_or_create(path: impl AsRef<Path>, size: impl Into<PoolOptions>) -> Result<Db> {
        Options::default().pool(size.into()).open_or_create(path)
    }

    /// An options builder.
    #[must_use]
    pub fn options() -> Options {
        Options::default()
    }

    /// A store on a simulated medium (crash testing, see `pobj::crash`; feature `crash-test`).
    #[cfg(feature = "crash-test")]
    pub fn create_simulated(size: impl Into<PoolOptions>) -> Result<(Db, Arc<SimMedium>)> {
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
        Self::from_pool_ordered(pool, None)
    }

    fn from_pool_ordered(
        pool: Pool<KvRoot>,
        comparator: Option<Arc<dyn Comparator>>,
    ) -> Result<Db> {
        let root = pool.root()?;
        if root.magic == 0 && root.head.is_null() {
            // The only safe (exclusive) transaction of the store: no reader exists yet.
            let owner = pool.root_ptr().offset();
            pool.transaction(|tx| {
                let head = tx.alloc_shared(Leaf::empty(PPtr::null(), owner))?;
                let name = crate::map::record_comparator(tx, comparator.as_deref())?;
                let r = tx.root_mut()?;
                r.reserved[0] = name;
                r.head = head;
                r.magic = KV_MAGIC;
                r.version = version_for(name);
                r.slots_per_leaf = SLOTS as u64;
                Ok::<_, crate::Error>(())
            })?;
        }
        let pool = Arc::new(pool);
        Ok(Db {
            map: Map::open_ordered(
                &pool,
                crate::MapHandle::from_header(pool.root_ptr()),
                comparator,
            )?,
        })
    }

    /// The map of the store.
    pub fn map(&self) -> &Map<KvRoot> {
        &self.map
    }
}
