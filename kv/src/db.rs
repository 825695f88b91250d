//! `Db`: the store's operations.
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
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pobj::crash::SimMedium;
use pobj::{PBytes, PPtr, Pool, Tx};

use crate::error::{Error, Result};
use crate::inner::{Index, LeafMeta};
use crate::leaf::{KvRoot, Leaf, LeafHead, KV_MAGIC, KV_VERSION, LEAF_MAGIC, SLOTS, SLOT_MASK};
use crate::slot::{self, fingerprint, fits_inline, Slot};
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

/// A slot found to hold a key.
#[derive(Clone, Copy, Debug)]
struct Hit {
    slot: usize,
    buffer: Option<PBytes>,
}

/// A persistent key-value store: a B+ tree whose leaves live in a pobj pool and whose inner
/// nodes live in DRAM. Every operation is atomic and durable when it returns.
pub struct Db {
    pool: Pool<KvRoot>,
    index: RwLock<Index>,
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

    /// A store on a simulated medium (crash testing, see `pobj::crash`).
    pub fn create_simulated(size: u64) -> Result<(Db, Arc<SimMedium>)> {
        let (pool, sim) = Pool::create_simulated(LAYOUT, size)?;
        Ok((Db::from_pool(pool)?, sim))
    }

    /// Opens the store on a simulated medium (for instance a post-crash image).
    pub fn open_medium(sim: Arc<SimMedium>) -> Result<Db> {
        Db::from_pool(Pool::open_medium(sim, LAYOUT)?)
    }

    /// Wraps an open pool: initialises a new store (its root is still zero), or validates the
    /// root and rebuilds the inner nodes from the leaves.
    pub fn from_pool(pool: Pool<KvRoot>) -> Result<Db> {
        let root = pool.root();
        if root.magic == 0 && root.head.is_null() {
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
            index: RwLock::new(Index::default()),
        };
        let index = db.rebuild()?;
        *db.write_index() = index;
        Ok(db)
    }

    /// The pool the store lives in.
    pub fn pool(&self) -> &Pool<KvRoot> {
        &self.pool
    }

    fn read_index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_index(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    // ---- rebuild --------------------------------------------------------------------------

    /// The full key of a slot (reading its buffer when out of line).
    fn slot_key(&self, s: &Slot, at: u64) -> Result<Vec<u8>> {
        let m = s.meta().ok_or(corrupted("slot metadata", at))?;
        match s.buffer() {
            None => Ok(s.data[..m.klen].to_vec()),
            Some(b) => self.pool.read_bytes(b, |d| {
                if d.len() == m.klen + m.vlen {
                    Ok(d[..m.klen].to_vec())
                } else {
                    Err(corrupted("out-of-line entry length", b.offset()))
                }
            })?,
        }
    }

    /// Walks the leaf list and builds the inner nodes: each leaf's bound is its smallest key
    /// (the first leaf's is the empty key).
    fn rebuild(&self) -> Result<Index> {
        let root = self.pool.root();
        let mut index = Index::default();
        let mut p = root.head;
        let mut first = true;
        let max_leaves = self.pool.size() / core::mem::size_of::<Leaf>() as u64 + 1;
        let mut seen = 0u64;
        while !p.is_null() {
            seen += 1;
            if seen > max_leaves {
                return Err(corrupted("leaf list (cycle)", p.offset()));
            }
            let (leaf_head, slots, magic) = self.pool.read(p, |l| (l.head, l.slots, l.magic))?;
            if magic != LEAF_MAGIC {
                return Err(corrupted("leaf magic", p.offset()));
            }
            let mut fps = [0u8; SLOTS];
            let mut min: Option<Vec<u8>> = None;
            let mut n = 0;
            let mut b = leaf_head.bitmap & SLOT_MASK;
            while b != 0 {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                let s = &slots[i];
                let m = s.meta().ok_or(corrupted(
                    "slot metadata",
                    p.offset() + slot_offset(i) as u64,
                ))?;
                fps[i] = m.fp;
                n += 1;
                if !first {
                    let k = self.slot_key(s, p.offset())?;
                    if min.as_ref().is_none_or(|mk| k < *mk) {
                        min = Some(k);
                    }
                }
            }
            index.count += n;
            if first {
                index.map.insert(Vec::new(), LeafMeta { ptr: p, fps });
            } else if let Some(k) = min {
                index.map.insert(k, LeafMeta { ptr: p, fps });
            }
            // An empty leaf after the first is not indexed (its range falls to its predecessor);
            // `check` reports it.
            first = false;
            p = leaf_head.next;
        }
        if index.map.is_empty() {
            return Err(corrupted(
                "store has no leaves",
                self.pool.root_ptr().offset(),
            ));
        }
        Ok(index)
    }

    /// Re-reads the whole tree after a failed transaction (whose DRAM changes may not match the
    /// rolled-back leaves).
    fn recover_index(&self, idx: &mut Index) {
        if let Ok(fresh) = self.rebuild() {
            *idx = fresh;
        }
    }

    // ---- lookup ---------------------------------------------------------------------------

    /// Finds `key` in the leaf `meta` (outside a transaction).
    fn find(&self, meta: &LeafMeta, key: &[u8], fp: u8) -> Result<(LeafHead, Option<Hit>)> {
        let mut cands: Vec<(usize, PBytes, usize)> = Vec::new();
        let (head, hit) = self.pool.read(meta.ptr, |leaf| {
            for i in leaf.valid() {
                if meta.fps[i] != fp {
                    continue;
                }
                let s = &leaf.slots[i];
                let Some(m) = s.meta() else { continue };
                if m.out_of_line {
                    if m.klen == key.len() {
                        if let Some(b) = s.buffer() {
                            cands.push((i, b, m.klen));
                        }
                    }
                } else if m.klen == key.len() && &s.data[..m.klen] == key {
                    return (
                        leaf.head,
                        Some(Hit {
                            slot: i,
                            buffer: None,
                        }),
                    );
                }
            }
            (leaf.head, None)
        })?;
        if hit.is_some() {
            return Ok((head, hit));
        }
        for (i, b, klen) in cands {
            if self
                .pool
                .read_bytes(b, |d| d.len() >= klen && &d[..klen] == key)?
            {
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

    /// Calls `f` with the value of `key` without copying it; `None` if absent.
    pub fn get_with<U>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> U,
    ) -> Result<Option<U>> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        let idx = self.read_index();
        let Some((_, meta)) = idx.route(key) else {
            return Ok(None);
        };
        let mut f = Some(f);
        let mut cands: Vec<(PBytes, usize)> = Vec::new();
        let inline = self.pool.read(meta.ptr, |leaf| {
            for i in leaf.valid() {
                if meta.fps[i] != fp {
                    continue;
                }
                let s = &leaf.slots[i];
                let Some(m) = s.meta() else { continue };
                if m.klen != key.len() {
                    continue;
                }
                if m.out_of_line {
                    if let Some(b) = s.buffer() {
                        cands.push((b, m.klen));
                    }
                } else if &s.data[..m.klen] == key {
                    return f.take().map(|f| f(&s.data[m.klen..m.klen + m.vlen]));
                }
            }
            None
        })?;
        if inline.is_some() {
            return Ok(inline);
        }
        for (b, klen) in cands {
            let r = self.pool.read_bytes(b, |d| {
                if d.len() >= klen && &d[..klen] == key {
                    f.take().map(|f| f(&d[klen..]))
                } else {
                    None
                }
            })?;
            if r.is_some() {
                return Ok(r);
            }
        }
        Ok(None)
    }

    /// The value of `key`, copied; `None` if absent.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Whether `key` is present.
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get_with(key, |_| ())?.is_some())
    }

    // ---- put ------------------------------------------------------------------------------

    /// Inserts or replaces `key`'s value. Atomic and durable when it returns.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_sizes(key, Some(value))?;
        let fp = fingerprint(key);
        let mut idx = self.write_index();
        let (ptr, head, hit) = {
            let (_, meta) = idx.route(key).ok_or(corrupted("empty index", 0))?;
            let (head, hit) = self.find(meta, key, fp)?;
            (meta.ptr, head, hit)
        };
        let free = !head.bitmap & SLOT_MASK;
        if free == 0 {
            // Full leaf: split and insert in one logged transaction.
            let r = self
                .pool
                .transaction(|tx| self.put_tx(tx, &mut idx, key, value));
            if r.is_err() {
                self.recover_index(&mut idx);
            }
            return r;
        }
        let slot_i = free.trailing_zeros() as usize;
        let old_buf = hit.and_then(|h| h.buffer);
        self.pool.transaction(|tx| {
            let s = if fits_inline(key.len(), value.len()) {
                slot::inline(key, value)
            } else {
                let b = tx.alloc_bytes_zeroed((key.len() + value.len()) as u64)?;
                tx.write_bytes(b, 0, key)?;
                tx.write_bytes(b, key.len() as u64, value)?;
                slot::out_of_line(key, value.len(), b)
            };
            // A free slot's bytes are nobody's: no undo log needed for them.
            tx.update_at_unlogged(ptr, slot_offset(slot_i), s)?;
            let mut bitmap = head.bitmap | 1 << slot_i;
            if let Some(h) = hit {
                bitmap &= !(1 << h.slot);
            }
            if let Some(b) = old_buf {
                tx.free_bytes(b)?;
            }
            tx.commit_word_at(ptr, BITMAP_OFFSET, bitmap)?;
            Ok::<_, Error>(())
        })?;
        if let Some((_, meta)) = idx.route_mut(key) {
            meta.fps[slot_i] = fp;
        }
        if hit.is_none() {
            idx.count += 1;
        }
        Ok(())
    }

    /// Put inside a transaction, with logged writes (batches, and puts that split).
    fn put_tx(
        &self,
        tx: &mut Tx<'_, KvRoot>,
        idx: &mut Index,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let fp = fingerprint(key);
        for _ in 0..3 {
            let (ptr, head, hit) = {
                let (_, meta) = idx.route(key).ok_or(corrupted("empty index", 0))?;
                let (head, hit) = find_tx(tx, meta, key, fp)?;
                (meta.ptr, head, hit)
            };
            let free = !head.bitmap & SLOT_MASK;
            if free == 0 {
                let sep = idx.route(key).map(|(s, _)| s.clone()).unwrap_or_default();
                split_tx(tx, idx, &sep)?;
                continue;
            }
            let slot_i = free.trailing_zeros() as usize;
            let s = if fits_inline(key.len(), value.len()) {
                slot::inline(key, value)
            } else {
                let b = tx.alloc_bytes_zeroed((key.len() + value.len()) as u64)?;
                tx.write_bytes(b, 0, key)?;
                tx.write_bytes(b, key.len() as u64, value)?;
                slot::out_of_line(key, value.len(), b)
            };
            tx.update_at(ptr, slot_offset(slot_i), s)?;
            let mut bitmap = head.bitmap | 1 << slot_i;
            if let Some(h) = hit {
                bitmap &= !(1 << h.slot);
                if let Some(b) = h.buffer {
                    tx.free_bytes(b)?;
                }
            }
            tx.update_at(ptr, BITMAP_OFFSET, bitmap)?;
            if let Some((_, meta)) = idx.route_mut(key) {
                meta.fps[slot_i] = fp;
            }
            if hit.is_none() {
                idx.count += 1;
            }
            return Ok(());
        }
        Err(corrupted("leaf still full after a split", 0))
    }

    // ---- remove ---------------------------------------------------------------------------

    /// Removes `key`; `false` if it was absent. Atomic and durable when it returns.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        let mut idx = self.write_index();
        let (sep_empty, ptr, head, hit) = {
            let (sep, meta) = idx.route(key).ok_or(corrupted("empty index", 0))?;
            let (head, hit) = self.find(meta, key, fp)?;
            (sep.is_empty(), meta.ptr, head, hit)
        };
        let Some(hit) = hit else { return Ok(false) };
        let bitmap = head.bitmap & !(1 << hit.slot);
        if bitmap & SLOT_MASK == 0 && !sep_empty {
            // The leaf empties: unlink and free it in one logged transaction.
            let r = self
                .pool
                .transaction(|tx| self.remove_tx(tx, &mut idx, key));
            if r.is_err() {
                self.recover_index(&mut idx);
            }
            return r;
        }
        self.pool.transaction(|tx| {
            if let Some(b) = hit.buffer {
                tx.free_bytes(b)?;
            }
            tx.commit_word_at(ptr, BITMAP_OFFSET, bitmap)?;
            Ok::<_, Error>(())
        })?;
        idx.count -= 1;
        Ok(true)
    }

    /// Remove inside a transaction, with logged writes.
    fn remove_tx(&self, tx: &mut Tx<'_, KvRoot>, idx: &mut Index, key: &[u8]) -> Result<bool> {
        let fp = fingerprint(key);
        let (sep, ptr, head, hit) = {
            let (sep, meta) = idx.route(key).ok_or(corrupted("empty index", 0))?;
            let (head, hit) = find_tx(tx, meta, key, fp)?;
            (sep.clone(), meta.ptr, head, hit)
        };
        let Some(hit) = hit else { return Ok(false) };
        if let Some(b) = hit.buffer {
            tx.free_bytes(b)?;
        }
        let bitmap = head.bitmap & !(1 << hit.slot);
        if bitmap & SLOT_MASK == 0 && !sep.is_empty() {
            let prev = idx
                .prev(&sep)
                .map(|(_, m)| m.ptr)
                .ok_or(corrupted("leaf without predecessor", ptr.offset()))?;
            tx.update_at(prev, NEXT_OFFSET, head.next)?;
            tx.free(ptr)?;
            idx.map.remove(&sep);
        } else {
            tx.update_at(ptr, BITMAP_OFFSET, bitmap)?;
        }
        idx.count -= 1;
        Ok(true)
    }

    // ---- batches --------------------------------------------------------------------------

    /// Applies a batch of puts and removes in one transaction: all or nothing, durable when it
    /// returns.
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        for op in &batch.ops {
            match op {
                BatchOp::Put(k, v) => check_sizes(k, Some(v))?,
                BatchOp::Remove(k) => check_sizes(k, None)?,
            }
        }
        let mut idx = self.write_index();
        let r = self.pool.transaction(|tx| {
            for op in &batch.ops {
                match op {
                    BatchOp::Put(k, v) => self.put_tx(tx, &mut idx, k, v)?,
                    BatchOp::Remove(k) => {
                        self.remove_tx(tx, &mut idx, k)?;
                    }
                }
            }
            Ok::<_, Error>(())
        });
        if r.is_err() {
            self.recover_index(&mut idx);
        }
        r
    }

    // ---- scans ----------------------------------------------------------------------------

    /// Entries of one leaf within `range`, sorted; `values` false leaves values empty.
    pub(crate) fn leaf_entries<R: RangeBounds<[u8]>>(
        &self,
        ptr: PPtr<Leaf>,
        range: &R,
        values: bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut bufs: Vec<(PBytes, usize)> = Vec::new();
        self.pool.read(ptr, |leaf| {
            for i in leaf.valid() {
                let s = &leaf.slots[i];
                let Some(m) = s.meta() else { continue };
                if m.out_of_line {
                    if let Some(b) = s.buffer() {
                        bufs.push((b, m.klen));
                    }
                } else {
                    let k = &s.data[..m.klen];
                    if range.contains(k) {
                        let v = if values {
                            s.data[m.klen..m.klen + m.vlen].to_vec()
                        } else {
                            Vec::new()
                        };
                        out.push((k.to_vec(), v));
                    }
                }
            }
        })?;
        for (b, klen) in bufs {
            if let Some(e) = self.pool.read_bytes(b, |d| {
                let k = d.get(..klen)?;
                range.contains(k).then(|| {
                    (
                        k.to_vec(),
                        if values {
                            d[klen..].to_vec()
                        } else {
                            Vec::new()
                        },
                    )
                })
            })? {
                out.push(e);
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The leaves that may hold keys in `range`, in order, as (bound, pointer).
    pub(crate) fn leaves_for<R: RangeBounds<[u8]>>(&self, range: &R) -> Vec<(Vec<u8>, PPtr<Leaf>)> {
        let idx = self.read_index();
        let start: &[u8] = match range.start_bound() {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => &[],
        };
        let first = idx.route(start).map(|(s, _)| s.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for (sep, meta) in idx
            .map
            .range::<[u8], _>((Bound::Included(&first[..]), Bound::Unbounded))
        {
            let past_end = match range.end_bound() {
                Bound::Included(e) => sep.as_slice() > e,
                Bound::Excluded(e) => sep.as_slice() >= e && !sep.is_empty(),
                Bound::Unbounded => false,
            };
            if past_end {
                break;
            }
            out.push((sep.clone(), meta.ptr));
        }
        out
    }

    /// Counts keys in `range` without copying values.
    fn count_range<R: RangeBounds<[u8]>>(&self, range: R) -> Result<u64> {
        let mut n = 0;
        for (_, ptr) in self.leaves_for(&range) {
            n += self.leaf_entries(ptr, &range, false)?.len() as u64;
        }
        Ok(n)
    }

    /// Number of entries.
    pub fn count_all(&self) -> Result<u64> {
        Ok(self.read_index().count)
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

    fn get_range<R: RangeBounds<[u8]>>(
        &self,
        range: R,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        for (_, ptr) in self.leaves_for(&range) {
            for (k, v) in self.leaf_entries(ptr, &range, true)? {
                if !f(&k, &v) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Calls `f(key, value)` for every entry in key order, until it returns `false`.
    pub fn get_all(&self, f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.get_range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Unbounded, Bound::Unbounded), f)
    }

    /// Entries with keys greater than `key`, in order, until `f` returns `false`.
    pub fn get_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.get_range((Bound::Excluded(key.as_ref()), Bound::Unbounded), f)
    }

    /// Entries with keys greater than or equal to `key`.
    pub fn get_equal_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.get_range((Bound::Included(key.as_ref()), Bound::Unbounded), f)
    }

    /// Entries with keys less than `key`.
    pub fn get_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.get_range((Bound::Unbounded, Bound::Excluded(key.as_ref())), f)
    }

    /// Entries with keys less than or equal to `key`.
    pub fn get_equal_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.get_range((Bound::Unbounded, Bound::Included(key.as_ref())), f)
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
        self.get_range((Bound::Excluded(a), Bound::Excluded(b)), f)
    }

    // ---- check and stats ------------------------------------------------------------------

    /// A full consistency check: the pool's own check, then the tree: leaf magics, slot
    /// metadata, fingerprints, out-of-line buffers, key order within and across leaves, no
    /// duplicates, no empty leaf but the first, and agreement with the inner nodes and count.
    pub fn check(&self) -> CheckReport {
        let mut report = CheckReport {
            problems: self.pool.check().problems,
            ..CheckReport::default()
        };
        let idx = self.read_index();
        let root = self.pool.root();
        let mut p = root.head;
        let mut prev_max: Option<Vec<u8>> = None;
        let max_leaves = self.pool.size() / core::mem::size_of::<Leaf>() as u64 + 1;
        let mut indexed = 0;
        while !p.is_null() {
            report.leaves += 1;
            if report.leaves > max_leaves {
                report.problems.push("leaf list has a cycle".into());
                break;
            }
            let leaf = match self.pool.get(p) {
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
            let mut keys = Vec::new();
            for i in leaf.valid() {
                let s = &leaf.slots[i];
                match (s.meta(), self.slot_key(s, p.offset())) {
                    (Some(m), Ok(k)) => {
                        if m.fp != fingerprint(&k) {
                            report.problems.push(format!(
                                "leaf {p:?} slot {i}: fingerprint does not match the key"
                            ));
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
            // The index routes each of this leaf's keys to this leaf.
            for k in &keys {
                if idx.route(k).map(|(_, m)| m.ptr) != Some(p) {
                    report
                        .problems
                        .push(format!("leaf {p:?}: the inner nodes route a key elsewhere"));
                    break;
                }
            }
            if idx.map.values().any(|m| m.ptr == p) {
                indexed += 1;
            }
            report.keys += keys.len() as u64;
            if let Some(last) = keys.pop() {
                prev_max = Some(last);
            }
            p = leaf.head.next;
        }
        if report.keys != idx.count {
            report.problems.push(format!(
                "count {} but {} keys in the leaves",
                idx.count, report.keys
            ));
        }
        if indexed != idx.map.len() {
            report.problems.push(format!(
                "{} inner-node entries but {indexed} of them name a leaf in the list",
                idx.map.len()
            ));
        }
        report
    }

    /// Store statistics.
    pub fn stats(&self) -> Stats {
        let idx = self.read_index();
        let ps = self.pool.stats();
        Stats {
            keys: idx.count,
            leaves: idx.map.len() as u64,
            bytes_used: ps.heap.allocated_bytes,
            bytes_free: ps.heap.free_bytes,
            dram_bytes: idx.dram_bytes(),
            persist: ps.persist,
        }
    }
}

/// Finds `key` in a leaf inside a transaction.
fn find_tx(
    tx: &Tx<'_, KvRoot>,
    meta: &LeafMeta,
    key: &[u8],
    fp: u8,
) -> Result<(LeafHead, Option<Hit>)> {
    let leaf = tx.get(meta.ptr)?;
    let head = leaf.head;
    let mut cands = Vec::new();
    for i in leaf.valid() {
        if meta.fps[i] != fp {
            continue;
        }
        let s = &leaf.slots[i];
        let Some(m) = s.meta() else { continue };
        if m.klen != key.len() {
            continue;
        }
        if m.out_of_line {
            if let Some(b) = s.buffer() {
                cands.push((i, b));
            }
        } else if &s.data[..m.klen] == key {
            return Ok((
                head,
                Some(Hit {
                    slot: i,
                    buffer: None,
                }),
            ));
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

/// Splits the full leaf with bound `sep` inside a transaction: the upper half of its entries
/// moves to a new leaf linked after it.
fn split_tx(tx: &mut Tx<'_, KvRoot>, idx: &mut Index, sep: &[u8]) -> Result<()> {
    let meta = idx
        .map
        .get(sep)
        .cloned()
        .ok_or(corrupted("split of an unknown leaf", 0))?;
    let (head, slots) = {
        let leaf = tx.get(meta.ptr)?;
        (leaf.head, leaf.slots)
    };
    let mut keyed: Vec<(Vec<u8>, usize)> = Vec::with_capacity(SLOTS);
    let mut b = head.bitmap & SLOT_MASK;
    while b != 0 {
        let i = b.trailing_zeros() as usize;
        b &= b - 1;
        let s = &slots[i];
        let m = s
            .meta()
            .ok_or(corrupted("slot metadata", meta.ptr.offset()))?;
        let k = match s.buffer() {
            None => s.data[..m.klen].to_vec(),
            Some(buf) => tx
                .bytes(buf)?
                .get(..m.klen)
                .ok_or(corrupted("out-of-line entry", buf.offset()))?
                .to_vec(),
        };
        keyed.push((k, i));
    }
    if keyed.len() < 2 {
        return Err(corrupted(
            "split of a leaf with fewer than two entries",
            meta.ptr.offset(),
        ));
    }
    keyed.sort_unstable();
    let moved = &keyed[keyed.len() / 2..];
    let mut new_leaf = Leaf::empty(head.next);
    let mut fps = [0u8; SLOTS];
    let mut moved_bits = 0u64;
    for (j, (_, i)) in moved.iter().enumerate() {
        new_leaf.slots[j] = slots[*i];
        new_leaf.head.bitmap |= 1 << j;
        fps[j] = meta.fps[*i];
        moved_bits |= 1 << i;
    }
    let n = tx.alloc(new_leaf)?;
    tx.update_at(
        meta.ptr,
        core::mem::offset_of!(Leaf, head),
        LeafHead {
            bitmap: head.bitmap & !moved_bits,
            next: n,
        },
    )?;
    let new_sep = moved[0].0.clone();
    idx.map.insert(new_sep, LeafMeta { ptr: n, fps });
    Ok(())
}
