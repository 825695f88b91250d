//! `Pool<R>`: one file mapped into memory, with a root object of type `R`.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(feature = "crash-test")]
use std::sync::Arc;
use std::sync::RwLock;

#[cfg(feature = "crash-test")]
use crate::sim::{Claim, SimMedium};

use crate::chunk::ChunkHeader;
use crate::error::{Error, Result};
use crate::header::{PoolHeader, FORMAT_VERSION, HEADER_AREA, HEADER_SIZE, MAGIC, MAX_LAYOUT_LEN};
use crate::heap::{Block, Heap, HeapStats, ObjectInfo};
use crate::lane;
use crate::layout::{Geometry, MAX_POOL_SIZE, MIN_POOL_SIZE};
use crate::persist::{self, Batch, PersistMode, PersistStats, Persister};
use crate::ptr::{PBytes, PPtr, BYTES_TYPE_ID};
use crate::region::Region;
use crate::tx::{check_type, Tx};
use crate::Persistent;

/// The path reported in errors for simulated pools.
#[cfg(feature = "crash-test")]
const SIM_PATH: &str = "<simulated>";

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Pools on which this thread is running a transaction.
    static ACTIVE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is inside pool `id` (a transaction, its commit or rollback, or a `read`
/// closure). A thread whose locals are being destroyed (a call from a thread-local's
/// destructor) counts as inside every pool: it is refused rather than left unguarded.
fn in_tx(id: u64) -> bool {
    ACTIVE
        .try_with(|a| a.borrow().contains(&id))
        .unwrap_or(true)
}

struct ActiveGuard(u64);
impl ActiveGuard {
    fn new(id: u64) -> Self {
        // Callers checked `in_tx` first, so the locals are alive.
        let _ = ACTIVE.try_with(|a| a.borrow_mut().push(id));
        ActiveGuard(id)
    }
}
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| {
            let mut a = a.borrow_mut();
            if let Some(i) = a.iter().rposition(|&x| x == self.0) {
                a.remove(i);
            }
        });
    }
}

/// A lane held by a transaction, with the log-extension buffers it keeps.
#[derive(Debug)]
pub(crate) struct LaneSlot {
    pub(crate) index: u32,
    pub(crate) exts: Vec<(u64, u64, Block)>,
    /// The checksum seed of the lane's own log buffer (computed once).
    pub(crate) seed: Option<u32>,
    /// DRAM bookkeeping reused by the lane's transactions.
    pub(crate) scratch: Option<Box<crate::tx::Scratch>>,
}

/// Which lanes are in use. A thread starts looking at a lane of its own (spread by a counter),
/// so that uncontended threads keep to separate lanes without a shared lock.
#[derive(Debug)]
struct Lanes {
    busy: Vec<AtomicBool>,
    /// The slot of each lane while it is free (taken by the transaction that holds the lane).
    slots: Vec<std::sync::Mutex<Option<LaneSlot>>>,
}

static NEXT_LANE_HINT: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static LANE_HINT: u32 = NEXT_LANE_HINT.fetch_add(1, Ordering::Relaxed);
}

impl Lanes {
    fn acquire(&self) -> LaneSlot {
        let n = self.busy.len();
        let hint = LANE_HINT.with(|h| *h as usize);
        loop {
            for k in 0..n {
                let i = (hint + k) % n;
                if self.busy[i]
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    let kept = self.slots[i]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take();
                    return kept.unwrap_or_else(|| LaneSlot {
                        index: i as u32,
                        exts: Vec::new(),
                        seed: None,
                        scratch: None,
                    });
                }
            }
            // More transactions in flight than lanes: wait for one to finish.
            std::thread::yield_now();
        }
    }

    fn release(&self, s: LaneSlot) {
        let i = s.index as usize;
        if let Some(slot) = self.slots.get(i) {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        }
        if let Some(b) = self.busy.get(i) {
            b.store(false, Ordering::Release);
        }
    }
}

/// Faults that a test can inject (feature `fault-injection`) to prove that crash tests catch
/// broken persistence protocols. Never enabled in a normal build.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Undo-log snapshot entries are not flushed before the range is modified.
    SkipSnapshotFlush = 1,
    /// Commit does not fence between flushing the data and retiring the log.
    SkipCommitFence = 2,
    /// Commit retires the log before flushing the modified data.
    RetireBeforeDataFlush = 3,
}

pub(crate) const FAULT_SKIP_SNAPSHOT_FLUSH: u8 = 1;
pub(crate) const FAULT_SKIP_COMMIT_FENCE: u8 = 2;
pub(crate) const FAULT_RETIRE_BEFORE_DATA_FLUSH: u8 = 3;

/// What holds the pool's memory.
#[derive(Debug)]
enum Backing {
    /// A mapped file. Field order matters: unmapped before the file (and its lock) is closed.
    File { _map: memmap2::MmapMut, _file: File },
    /// A simulated medium (crash testing), claimed for as long as the pool is open.
    #[cfg(feature = "crash-test")]
    Sim(Claim),
}

/// State shared by a pool handle and its transactions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) region: Region,
    pub(crate) geo: Geometry,
    pub(crate) persister: Persister,
    pub(crate) heap: Heap,
    pub(crate) root_offset: u64,
    lanes: Lanes,
    lock: RwLock<()>,
    id: u64,
    committed: AtomicU64,
    aborted: AtomicU64,
    fault: std::sync::atomic::AtomicU8,
    header: PoolHeader,
    path: PathBuf,
    _backing: Backing,
}

impl Shared {
    /// Whether the injected fault `f` is active (always false without `fault-injection`).
    #[inline]
    pub(crate) fn fault(&self, f: u8) -> bool {
        cfg!(feature = "fault-injection") && self.fault.load(Ordering::Relaxed) == f
    }
}

/// A resolved object for several racy reads (from [`Pool::racy`]).
#[derive(Debug)]
pub struct RacyRef<'a, T> {
    region: Region,
    off: u64,
    _pool: PhantomData<&'a ()>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Persistent> RacyRef<'_, T> {
    /// Copies `out.len()` words from byte `offset` (a multiple of 8) of the object with atomic
    /// loads; they may be torn by concurrent writes.
    pub fn read_words(&self, offset: usize, out: &mut [u64]) -> Result<()> {
        let len = out.len() * 8;
        if !offset.is_multiple_of(8)
            || offset
                .checked_add(len)
                .is_none_or(|e| e > core::mem::size_of::<T>())
        {
            return Err(Error::OutOfBounds {
                offset: self.off,
                start: offset as u64,
                end: (offset + len) as u64,
                len: core::mem::size_of::<T>() as u64,
            });
        }
        // SAFETY: `u64` has no padding and any bytes are a valid `u64`; the slice covers `out`.
        let bytes = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), len) };
        // SAFETY: in bounds of the object resolved by `Pool::racy`, whose caller promised the
        // racy-read contract (only pobj's atomic stores race with these atomic loads).
        unsafe { self.region.read_into(self.off + offset as u64, bytes) }
    }
}

/// Pool statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The allocator's figures.
    pub heap: HeapStats,
    /// Flushes and fences since the pool was opened.
    pub persist: PersistStats,
    /// Transactions committed since open.
    pub tx_committed: u64,
    /// Transactions aborted since open.
    pub tx_aborted: u64,
}

/// The result of [`Pool::check`]: every inconsistency found, one line each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// What is wrong; empty when the pool is consistent.
    pub problems: Vec<String>,
    /// Objects found on media.
    pub objects: u64,
}

impl CheckReport {
    /// Whether no problem was found.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How a transaction ended, decided with the lane still held and without calling the caller's
/// code (its error conversion or drops come after the lane is released).
enum End<T, E> {
    /// Committed; the closure's value.
    Done(T),
    /// Aborted or failed with pobj's error; the closure's value or error, dropped after the
    /// lane is released.
    Failed(Error, Leftovers<T, E>),
    /// The closure's own error; the transaction was rolled back.
    Refused(E),
    /// The closure panicked; the transaction was rolled back.
    Panicked(Box<dyn std::any::Any + Send>),
}

/// What the closure returned, when pobj's error is reported instead.
enum Leftovers<T, E> {
    None,
    Value(
        #[expect(
            dead_code,
            reason = "held only to be dropped after the lane is released"
        )]
        Box<T>,
    ),
    Error(
        #[expect(
            dead_code,
            reason = "held only to be dropped after the lane is released"
        )]
        Box<E>,
    ),
}

/// A transaction holding its lane. Dropped without `finish` (something unwound through the
/// commit or the rollback), it rolls back what it can, poisons the pool (the lane's log is in
/// an unknown state) and releases the lane all the same; recovery at the next open decides.
struct LaneHold<'a, R: Persistent> {
    sh: &'a Shared,
    tx: Option<Tx<'a, R>>,
}

impl<R: Persistent> LaneHold<'_, R> {
    fn finish(mut self) {
        if let Some(tx) = self.tx.take() {
            self.sh.lanes.release(tx.into_slot());
        }
    }
}

impl<R: Persistent> Drop for LaneHold<'_, R> {
    fn drop(&mut self) {
        if let Some(mut tx) = self.tx.take() {
            // Something unwound through the commit or the rollback (a bug: fence hooks' panics
            // are turned into failed fences). Before the commit point, undo what is in memory
            // so that no reader sees half a transaction; after it, the changes stand.
            if !tx.past_commit_point() {
                let _ = tx.abort();
            }
            self.sh.persister.poison();
            self.sh.lanes.release(tx.into_slot());
        }
    }
}

/// A pool whose root object has type `R`. See the crate documentation for an example.
///
/// `Pool` is `Send + Sync`: share it between threads with `&Pool` or `Arc<Pool>`. Safe
/// transactions run one at a time (each holds the pool's write lock for its duration) and reads
/// with `root`/`get` take the read lock; [`Pool::transaction_shared`] runs transactions
/// concurrently in separate lanes for callers that do their own locking.
#[derive(Debug)]
pub struct Pool<R> {
    sh: Box<Shared>,
    _root: PhantomData<fn() -> R>,
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn lock_file(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Io {
            path: path.to_path_buf(),
            op: "lock",
            source: e,
        }),
    }
}

/// Whether writes to a mapping of this file reach memory that is itself the medium: tmpfs, or a
/// DAX file system (probed with `MAP_SYNC`).
fn mapping_is_memory(file: &File, len: u64) -> bool {
    use std::os::fd::AsRawFd;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // SAFETY: `statfs` is plain data; `fstatfs` writes into it and reads only the fd.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call; `st` is a valid out-pointer.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } == 0 && st.f_type as i64 == TMPFS_MAGIC {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        let probe_len = len.min(4096) as usize;
        // SAFETY: a fresh shared mapping of the first page, unmapped right away; nothing reads or
        // writes through it.
        unsafe {
            let p = libc::mmap(
                core::ptr::null_mut(),
                probe_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
                file.as_raw_fd(),
                0,
            );
            if p != libc::MAP_FAILED {
                libc::munmap(p, probe_len);
                return true;
            }
        }
    }
    let _ = len;
    false
}

fn validate_layout(layout: &str) -> Result<[u8; 64]> {
    if layout.len() > MAX_LAYOUT_LEN {
        return Err(Error::InvalidLayout {
            name: layout.to_string(),
            reason: "longer than 63 bytes",
        });
    }
    if layout.as_bytes().contains(&0) {
        return Err(Error::InvalidLayout {
            name: layout.to_string(),
            reason: "contains a NUL byte",
        });
    }
    let mut out = [0u8; 64];
    out[..layout.len()].copy_from_slice(layout.as_bytes());
    Ok(out)
}

fn root_check<R: Persistent>() -> Result<()> {
    let () = R::__LAYOUT_CHECK;
    if core::mem::align_of::<R>() > 64 {
        return Err(Error::BadAlignment {
            align: core::mem::align_of::<R>(),
        });
    }
    Ok(())
}

impl<R: Persistent> Pool<R> {
    /// Creates a pool file of `size` bytes with the given layout name and a zeroed root.
    /// Fails if the file exists.
    pub fn create(path: impl AsRef<Path>, layout: &str, size: u64) -> Result<Self> {
        let path = path.as_ref();
        root_check::<R>()?;
        let layout_bytes = validate_layout(layout)?;
        let geo = Geometry::for_size(size)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::AlreadyExists {
                        path: path.to_path_buf(),
                    }
                } else {
                    Error::Io {
                        path: path.to_path_buf(),
                        op: "create",
                        source: e,
                    }
                }
            })?;
        let r = Self::format(&file, path, &geo, layout_bytes);
        if let Err(e) = r {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        // Opened with the same (still locked) file: no other process can slip in between.
        Self::open_locked(file, path, layout)
    }

    fn format(file: &File, path: &Path, geo: &Geometry, layout: [u8; 64]) -> Result<()> {
        use std::os::fd::AsRawFd;
        lock_file(file, path)?;
        file.set_len(geo.pool_size).map_err(io(path, "set_len"))?;
        // Allocate every block now, so a full disk fails here rather than as SIGBUS later.
        // SAFETY: plain syscall on an open fd.
        let rc =
            unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, geo.pool_size as libc::off_t) };
        if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
            return Err(Error::Io {
                path: path.to_path_buf(),
                op: "fallocate",
                source: std::io::Error::from_raw_os_error(rc),
            });
        }
        // SAFETY: the file is ours (just created, locked); nothing else maps it. The mapping is
        // dropped at the end of this function.
        let mut map = unsafe {
            memmap2::MmapOptions::new()
                .len(geo.pool_size as usize)
                .map_mut(file)
        }
        .map_err(io(path, "mmap"))?;
        let base = NonNull::new(map.as_mut_ptr()).ok_or(Error::Corrupted {
            what: "mapping",
            offset: 0,
        })?;
        // SAFETY: the mapping is valid for `pool_size` bytes, page-aligned, and lives until the
        // end of this function, after every use of `region`.
        let region = unsafe { Region::new(base, geo.pool_size) };
        let mode = persist::choose_mode(mapping_is_memory(file, geo.pool_size))?;
        let p = Persister::new(mode, region).with_path(path);
        Self::format_region(region, &p, geo, layout)?;
        map.flush().map_err(io(path, "msync"))?;
        file.sync_all().map_err(io(path, "fsync"))?;
        Ok(())
    }

    /// Writes a new pool into `region`: lanes, chunk table, the zeroed root, and last the
    /// header (a crash before the header is durable leaves something that is not a pool).
    fn format_region(
        region: Region,
        p: &Persister,
        geo: &Geometry,
        layout: [u8; 64],
    ) -> Result<()> {
        let mut b = Batch::new();
        // SAFETY: exclusive access to a new, locked file.
        unsafe {
            lane::format(&region, geo, p, &mut b)?;
            Heap::format(&region, geo, p, &mut b)?;
        }
        p.fence(&mut b)?;
        // The root: a zeroed object of type R, allocated directly (no transaction is needed
        // before the header exists: a crash leaves a file that is not a pool).
        // SAFETY: exclusive access (new file).
        let heap = unsafe { Heap::rebuild(region, *geo, p)? };
        let root_size = core::mem::size_of::<R>() as u64;
        let block = heap.reserve(p, root_size, core::mem::align_of::<R>() as u64)?;
        match block.bit(geo) {
            Some((w, m)) => {
                region.atomic(w)?.fetch_or(m, Ordering::AcqRel);
                p.flush(&mut b, w, 8);
            }
            None => {
                let Block::Large { chunk, len } = block else {
                    return Err(Error::Corrupted {
                        what: "root block",
                        offset: 0,
                    });
                };
                let h = geo.chunk_header_offset(chunk);
                region
                    .atomic(h)?
                    .store(ChunkHeader::Used { len }.encode(), Ordering::Release);
                p.flush(&mut b, h, 8);
            }
        }
        let hoff = block.header_offset(geo);
        let root_offset = block.payload_offset(geo);
        region.atomic(hoff)?.store(root_size, Ordering::Release);
        region
            .atomic(hoff + 8)?
            .store(R::TYPE_ID, Ordering::Release);
        // SAFETY: exclusive access (new file).
        unsafe { region.zero(root_offset, root_size)? };
        p.flush(&mut b, hoff, 16 + root_size);
        p.fence(&mut b)?;
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut h = PoolHeader {
            magic: MAGIC,
            version: FORMAT_VERSION,
            header_size: HEADER_SIZE,
            uuid: *uuid::Uuid::new_v4().as_bytes(),
            pool_size: geo.pool_size,
            layout,
            root_offset,
            root_size,
            root_type_id: R::TYPE_ID,
            lane_offset: geo.lane_offset,
            lane_count: geo.lane_count,
            lane_size: geo.lane_size,
            chunk_table: geo.chunk_table,
            chunk_count: geo.chunk_count,
            chunk_base: geo.chunk_base,
            chunk_size: crate::layout::CHUNK_SIZE,
            created,
            reserved: [0; 68],
            checksum: 0,
        };
        h.checksum = h.compute_checksum();
        // SAFETY: exclusive access (new file).
        unsafe { region.write(0, &h)? };
        p.flush(&mut b, 0, u64::from(HEADER_SIZE));
        p.fence(&mut b)?;
        drop(heap);
        Ok(())
    }

    /// Opens an existing pool, checking its header, layout name and root type, and recovering
    /// any transaction a crash interrupted.
    pub fn open(path: impl AsRef<Path>, layout: &str) -> Result<Self> {
        let path = path.as_ref();
        root_check::<R>()?;
        validate_layout(layout)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io(path, "open"))?;
        lock_file(&file, path)?;
        Self::open_locked(file, path, layout)
    }

    /// `open` after the file is opened and locked.
    fn open_locked(file: File, path: &Path, layout: &str) -> Result<Self> {
        let len = file.metadata().map_err(io(path, "stat"))?.len();
        let mut hb = [0u8; HEADER_SIZE as usize];
        let n = read_prefix(&file, &mut hb).map_err(io(path, "read header"))?;
        let (h, geo) = Self::validate_header(path, &hb[..n], len, layout)?;
        // SAFETY: we hold the exclusive lock on the file, its length is at least `pool_size`
        // (checked above), and the documented contract is that no other program modifies or
        // truncates a pool file while it is open (see docs/format.md, "Soundness").
        let mut map = unsafe {
            memmap2::MmapOptions::new()
                .len(h.pool_size as usize)
                .map_mut(&file)
        }
        .map_err(io(path, "mmap"))?;
        let base = NonNull::new(map.as_mut_ptr()).ok_or(Error::Corrupted {
            what: "mapping",
            offset: 0,
        })?;
        // SAFETY: valid for `pool_size` bytes and page-aligned; the mapping is owned by `Shared`
        // below, which outlives every use of the region (transactions borrow the pool).
        let region = unsafe { Region::new(base, h.pool_size) };
        let mode = persist::choose_mode(mapping_is_memory(&file, h.pool_size))?;
        let persister = Persister::new(mode, region).with_path(path);
        Self::finish_open(
            path,
            h,
            geo,
            region,
            persister,
            Backing::File {
                _map: map,
                _file: file,
            },
        )
    }

    /// Checks a pool header read from a file (or image) of `len` bytes: magic, version,
    /// checksum, sizes, layout name, root type and geometry, in that order.
    fn validate_header(
        path: &Path,
        hb: &[u8],
        len: u64,
        layout: &str,
    ) -> Result<(PoolHeader, Geometry)> {
        let n = hb.len();
        if n < 8 || hb[..8] != MAGIC {
            return Err(Error::NotAPool {
                path: path.to_path_buf(),
            });
        }
        if n < HEADER_SIZE as usize || len < HEADER_AREA {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: HEADER_AREA,
                actual: len,
            });
        }
        let h: PoolHeader =
            crate::persistent::from_bytes(&hb[..HEADER_SIZE as usize]).ok_or(Error::NotAPool {
                path: path.to_path_buf(),
            })?;
        if h.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: h.version,
                supported: FORMAT_VERSION,
            });
        }
        let computed = h.compute_checksum();
        if computed != h.checksum {
            return Err(Error::DamagedHeader {
                path: path.to_path_buf(),
                found: h.checksum,
                computed,
            });
        }
        if h.header_size != HEADER_SIZE {
            return Err(Error::Corrupted {
                what: "header size",
                offset: 12,
            });
        }
        if !(MIN_POOL_SIZE..=MAX_POOL_SIZE).contains(&h.pool_size) {
            return Err(Error::SizeOutOfRange {
                size: h.pool_size,
                min: MIN_POOL_SIZE,
                max: MAX_POOL_SIZE,
            });
        }
        if len < h.pool_size {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: h.pool_size,
                actual: len,
            });
        }
        let found = h.layout_name();
        if found.as_bytes() != layout.as_bytes() {
            return Err(Error::LayoutMismatch {
                path: path.to_path_buf(),
                expected: layout.to_string(),
                found,
            });
        }
        let want_size = core::mem::size_of::<R>() as u64;
        if h.root_type_id != R::TYPE_ID || h.root_size != want_size {
            return Err(Error::RootTypeMismatch {
                path: path.to_path_buf(),
                expected: R::TYPE_ID,
                found: h.root_type_id,
                expected_size: want_size,
                found_size: h.root_size,
            });
        }
        let geo = Geometry::for_size(h.pool_size)?;
        let stored = Geometry {
            pool_size: h.pool_size,
            lane_offset: h.lane_offset,
            lane_count: h.lane_count,
            lane_size: h.lane_size,
            chunk_table: h.chunk_table,
            chunk_count: h.chunk_count,
            chunk_base: h.chunk_base,
        };
        if stored != geo || h.chunk_size != crate::layout::CHUNK_SIZE {
            return Err(Error::Corrupted {
                what: "header geometry",
                offset: 128,
            });
        }
        Ok((h, geo))
    }

    /// Recovery, heap rebuild and root checks, shared by files and simulated media.
    fn finish_open(
        path: &Path,
        h: PoolHeader,
        geo: Geometry,
        region: Region,
        persister: Persister,
        backing: Backing,
    ) -> Result<Self> {
        let want_size = core::mem::size_of::<R>() as u64;
        // Recovery: roll back every lane holding an unfinished transaction. The lanes share one
        // set of walked extension chunks, so that no crafted link makes recovery revisit bytes.
        let mut walked = lane::Walked::default();
        for i in 0..geo.lane_count {
            // SAFETY: exclusive access during open (file lock, no handle yet).
            unsafe { lane::rollback(&region, &geo, &persister, i, &mut walked, None)? };
        }
        // SAFETY: as above.
        unsafe { lane::reseed(&region, &geo, &persister)? };
        // SAFETY: exclusive access during open.
        let heap = unsafe { Heap::rebuild(region, geo, &persister)? };
        let (_, oh) = heap.resolve(h.root_offset).map_err(|_| Error::Corrupted {
            what: "root object",
            offset: h.root_offset,
        })?;
        check_type::<R>(h.root_offset, &oh).map_err(|_| Error::Corrupted {
            what: "root object header",
            offset: h.root_offset,
        })?;
        region.check(h.root_offset, want_size, "root object")?;
        if !(region.base_addr() + h.root_offset as usize).is_multiple_of(core::mem::align_of::<R>())
        {
            return Err(Error::Corrupted {
                what: "root object alignment",
                offset: h.root_offset,
            });
        }
        let lanes = Lanes {
            busy: (0..geo.lane_count)
                .map(|_| AtomicBool::new(false))
                .collect(),
            slots: (0..geo.lane_count)
                .map(|_| std::sync::Mutex::new(None))
                .collect(),
        };
        Ok(Pool {
            sh: Box::new(Shared {
                region,
                geo,
                persister,
                heap,
                root_offset: h.root_offset,
                lanes,
                lock: RwLock::new(()),
                id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
                committed: AtomicU64::new(0),
                aborted: AtomicU64::new(0),
                fault: std::sync::atomic::AtomicU8::new(0),
                header: h,
                path: path.to_path_buf(),
                _backing: backing,
            }),
            _root: PhantomData,
        })
    }

    #[cfg(feature = "crash-test")]
    /// Creates a pool on a new simulated medium, for crash testing (`pobj::crash`). Returns the
    /// pool and its medium, whose fence hook sees every crash point.
    pub fn create_simulated(layout: &str, size: u64) -> Result<(Self, Arc<SimMedium>)> {
        root_check::<R>()?;
        let layout_bytes = validate_layout(layout)?;
        let geo = Geometry::for_size(size)?;
        let sim = SimMedium::from_image(&vec![0u8; geo.pool_size as usize])
            .map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let claim = Claim::take(Arc::clone(&sim)).ok_or_else(|| Error::Locked {
            path: PathBuf::from(SIM_PATH),
        })?;
        // SAFETY: the medium's memory is valid for its length (>= pool_size), page-aligned, and
        // kept alive by the claim for as long as the region is used (here, and by the pool).
        let region = unsafe { Region::new(sim.base(), geo.pool_size) };
        let p = Persister::simulated(region, Arc::clone(&sim));
        Self::format_region(region, &p, &geo, layout_bytes)?;
        drop(p);
        let pool = Self::open_claimed(claim, layout)?;
        Ok((pool, sim))
    }

    #[cfg(feature = "crash-test")]
    /// Opens the pool image held by a simulated medium (for instance a post-crash image),
    /// running recovery on it. Recovery's fences are crash points of that medium.
    ///
    /// The pool holds the medium until it is dropped: opening a medium that another pool holds
    /// returns [`Error::Locked`], as a second open of a pool file does.
    pub fn open_medium(sim: Arc<SimMedium>, layout: &str) -> Result<Self> {
        root_check::<R>()?;
        validate_layout(layout)?;
        let claim = Claim::take(sim).ok_or_else(|| Error::Locked {
            path: PathBuf::from(SIM_PATH),
        })?;
        Self::open_claimed(claim, layout)
    }

    #[cfg(feature = "crash-test")]
    /// `open_medium` with the medium claimed: nothing else can open it or copy its image.
    fn open_claimed(claim: Claim, layout: &str) -> Result<Self> {
        let path = Path::new(SIM_PATH);
        let sim = claim.medium();
        let hb = sim.prefix(HEADER_SIZE as usize);
        let (h, geo) = Self::validate_header(path, &hb, sim.image_len() as u64, layout)?;
        // SAFETY: `validate_header` checked `pool_size <= image_len`; the medium's memory is
        // valid and page-aligned for that long and is kept alive by the claim in `Shared`.
        let region = unsafe { Region::new(sim.base(), h.pool_size) };
        let persister = Persister::simulated(region, Arc::clone(sim));
        Self::finish_open(path, h, geo, region, persister, Backing::Sim(claim))
    }

    #[cfg(feature = "crash-test")]
    /// Opens a pool from an image in memory on a fresh simulated medium.
    pub fn open_image(image: &[u8], layout: &str) -> Result<(Self, Arc<SimMedium>)> {
        let sim =
            SimMedium::from_image(image).map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let pool = Self::open_medium(Arc::clone(&sim), layout)?;
        Ok((pool, sim))
    }

    /// Injects a fault into this pool's persistence protocol (tests of the crash harness).
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, f: Option<Fault>) {
        self.sh
            .fault
            .store(f.map_or(0, |f| f as u8), Ordering::Relaxed);
    }

    #[cfg(feature = "crash-test")]
    /// Opens an image on an untracked medium (no persisted image kept): for checking images.
    pub(crate) fn open_image_untracked(image: &[u8], layout: &str) -> Result<Self> {
        let sim = SimMedium::from_image_untracked(image)
            .map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        Self::open_medium(sim, layout)
    }

    #[cfg(feature = "crash-test")]
    /// The simulated medium of a pool created by `create_simulated` or opened by
    /// `open_medium`/`open_image` (`None` for a file, and for the untracked media on which the
    /// crash harness opens post-crash images).
    pub fn medium(&self) -> Option<Arc<SimMedium>> {
        match &self.sh._backing {
            Backing::Sim(c) if c.medium().is_tracked() => Some(Arc::clone(c.medium())),
            Backing::Sim(_) | Backing::File { .. } => None,
        }
    }

    /// Opens the pool at `path` if the file exists, else creates it with `size` bytes.
    pub fn open_or_create(path: impl AsRef<Path>, layout: &str, size: u64) -> Result<Self> {
        let path = path.as_ref();
        match Self::create(path, layout, size) {
            Err(Error::AlreadyExists { .. }) => Self::open(path, layout),
            r => r,
        }
    }

    /// The read lock for a read outside any transaction; inside one (or inside a `read`
    /// closure) on this pool in this thread, `NestedTransaction`: the thread may hold a `&mut`
    /// into the pool, and taking the lock would deadlock against its own transaction.
    fn read_guard(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        if in_tx(self.sh.id) {
            return Err(Error::NestedTransaction);
        }
        Ok(self.sh.lock.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the root object.
    ///
    /// Inside a transaction on this pool in the same thread it returns
    /// [`Error::NestedTransaction`] (use `tx.root()`).
    pub fn root(&self) -> Result<R> {
        let _g = self.read_guard()?;
        // SAFETY: validated at open; the read lock excludes safe transactions (writers), and
        // shared transactions promise not to modify what others read.
        unsafe { self.sh.region.read::<R>(self.sh.root_offset) }
    }

    /// A pointer to the root object.
    pub fn root_ptr(&self) -> PPtr<R> {
        PPtr::from_offset(self.sh.root_offset)
    }

    /// A copy of the object at `p`.
    pub fn get<T: Persistent>(&self, p: PPtr<T>) -> Result<T> {
        self.read(p, |v| *v)
    }

    /// Calls `f` with a reference to the object at `p` (no copy).
    pub fn read<T: Persistent, U>(&self, p: PPtr<T>, f: impl FnOnce(&T) -> U) -> Result<U> {
        let _g = self.read_guard()?;
        let (_, h) = self.sh.heap.resolve(p.offset())?;
        check_type::<T>(p.offset(), &h)?;
        // SAFETY: a live object of type T; the read lock excludes writers as in `root`.
        let r = unsafe { self.sh.region.obj::<T>(p.offset())? };
        // While `f` runs, this thread counts as inside the pool, so that a nested
        // `transaction` is refused rather than deadlocking on the lock held here.
        let _active = ActiveGuard::new(self.sh.id);
        Ok(f(r))
    }

    /// Calls `f` with the contents of the byte buffer at `p` (no copy).
    pub fn read_bytes<U>(&self, p: PBytes, f: impl FnOnce(&[u8]) -> U) -> Result<U> {
        let _g = self.read_guard()?;
        let (_, h) = self.sh.heap.resolve(p.offset())?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: p.offset(),
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        // SAFETY: a live buffer of `h.size` bytes (bounded by its block); read lock as above.
        let b = unsafe { self.sh.region.bytes(p.offset(), h.size)? };
        let _active = ActiveGuard::new(self.sh.id);
        Ok(f(b))
    }

    /// A copy of the byte buffer at `p`.
    pub fn bytes(&self, p: PBytes) -> Result<Vec<u8>> {
        self.read_bytes(p, <[u8]>::to_vec)
    }

    /// Copies `out.len()` 8-byte words of the object at `p`, starting at byte `offset` (a
    /// multiple of 8), with atomic loads and **without** the pool's lock: for optimistic readers
    /// that validate what they read with their own protocol (a version counter), as the KV
    /// store does. The words may be torn between concurrent writes.
    ///
    /// # Safety
    /// While this runs, no thread may write the object's bytes except through pobj's own
    /// stores, which are atomic word by word: the `Tx` methods that take values (`write`,
    /// `update_at`, `update_at_unlogged`, `update_field*`, `commit_word*`, `alloc*`,
    /// `write_bytes`) and rollback. In particular no `&mut` from `Tx::get_mut`, `root_mut` or
    /// `bytes_mut` may be live for it in another thread, and no safe transaction may run on the
    /// pool without such a guarantee (shared transactions are the intended writers). The
    /// object may be freed concurrently only if the caller tolerates an error or garbage.
    pub unsafe fn read_words<T: Persistent>(
        &self,
        p: PPtr<T>,
        offset: usize,
        out: &mut [u64],
    ) -> Result<()> {
        let off = p.offset();
        let (_, h) = self.sh.heap.resolve(off)?;
        check_type::<T>(off, &h)?;
        let len = out.len() * 8;
        if !offset.is_multiple_of(8)
            || offset
                .checked_add(len)
                .is_none_or(|e| e > core::mem::size_of::<T>())
        {
            return Err(Error::OutOfBounds {
                offset: off,
                start: offset as u64,
                end: (offset + len) as u64,
                len: h.size,
            });
        }
        // SAFETY: `u64` has no padding and any bytes are a valid `u64`; the byte slice covers
        // exactly `out`, which is borrowed mutably here.
        let bytes = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), len) };
        // SAFETY: in bounds of a live object (checked by `read_into`); concurrent writers store
        // atomically (contract), and `read_into` loads atomically.
        unsafe { self.sh.region.read_into(off + offset as u64, bytes) }
    }

    /// Resolves `p` once for several racy reads of the object (see [`Pool::read_words`]).
    ///
    /// # Safety
    /// As [`Pool::read_words`], for every read made through the returned handle.
    pub unsafe fn racy<T: Persistent>(&self, p: PPtr<T>) -> Result<RacyRef<'_, T>> {
        let off = p.offset();
        let (_, h) = self.sh.heap.resolve(off)?;
        check_type::<T>(off, &h)?;
        Ok(RacyRef {
            region: self.sh.region,
            off,
            _pool: PhantomData,
            _t: PhantomData,
        })
    }

    /// Like [`Pool::racy`] without consulting the allocator: only that the object's bytes lie
    /// in the pool and that its offset is 8-aligned is checked. For callers that keep pointers
    /// they validated earlier (an index rebuilt from the pool), whose reads are validated
    /// afterwards anyway; it saves the allocator-metadata cache misses of a full resolution.
    ///
    /// # Safety
    /// As [`Pool::read_words`]. The bytes may belong to a freed or reused block: the reads are
    /// then garbage, never undefined behaviour (they are atomic loads inside the mapping).
    pub unsafe fn racy_unchecked<T: Persistent>(&self, p: PPtr<T>) -> Result<RacyRef<'_, T>> {
        let off = p.offset();
        if off == 0 || !off.is_multiple_of(8) {
            return Err(Error::InvalidPointer {
                offset: off,
                reason: "null or misaligned",
            });
        }
        self.sh
            .region
            .check(off, core::mem::size_of::<T>() as u64, "object")?;
        Ok(RacyRef {
            region: self.sh.region,
            off,
            _pool: PhantomData,
            _t: PhantomData,
        })
    }

    /// Copies bytes `at..at + out.len()` of the byte buffer at `p` with atomic loads and
    /// without the pool's lock (see [`Pool::read_words`]).
    ///
    /// # Safety
    /// As [`Pool::read_words`].
    pub unsafe fn read_bytes_racy(&self, p: PBytes, at: u64, out: &mut [u8]) -> Result<()> {
        let off = p.offset();
        let (_, h) = self.sh.heap.resolve(off)?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: off,
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        let end = at.checked_add(out.len() as u64).filter(|&e| e <= h.size);
        if end.is_none() {
            return Err(Error::OutOfBounds {
                offset: off,
                start: at,
                end: at.saturating_add(out.len() as u64),
                len: h.size,
            });
        }
        // SAFETY: in bounds of a live buffer; atomic loads; writers atomic (contract).
        unsafe { self.sh.region.read_into(off + at, out) }
    }

    /// The recorded length of the byte buffer at `p`. Takes the read lock like [`Pool::get`]:
    /// without it, resolving a stale pointer could read an object header at a place that a
    /// transaction has meanwhile reallocated and is writing through `bytes_mut`.
    pub fn bytes_len(&self, p: PBytes) -> Result<u64> {
        let _g = self.read_guard()?;
        let (_, h) = self.sh.heap.resolve(p.offset())?;
        if h.type_id != BYTES_TYPE_ID {
            return Err(Error::TypeMismatch {
                offset: p.offset(),
                expected: BYTES_TYPE_ID,
                found: h.type_id,
            });
        }
        Ok(h.size)
    }

    /// Runs `f` as a transaction: all of its changes become durable together when this returns
    /// `Ok`, or none of them if `f` returns `Err` or panics (the panic then resumes).
    ///
    /// Safe transactions are serialized by the pool's lock. Nest with [`Tx::transaction`]; a
    /// call to `Pool::transaction` on the same pool inside `f` returns
    /// [`Error::NestedTransaction`].
    pub fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        if in_tx(self.sh.id) {
            return Err(Error::NestedTransaction.into());
        }
        self.run(f, false)
    }

    /// Runs `f` as a transaction concurrently with other shared transactions and readers, in a
    /// lane of its own.
    ///
    /// # Safety
    /// While `f` runs, no other thread may read or write any object (or byte range) that `f`
    /// modifies — except readers using [`Pool::read_words`] / [`Pool::read_bytes_racy`] while
    /// `f` modifies only through pobj's atomic stores (`write`, `update_at*`, `commit_word*`,
    /// not `get_mut`) — nor free or modify an object that `f` reads. Structures that lock their
    /// own nodes meet this. Allocation and free are safe to run concurrently: the allocator
    /// synchronizes itself.
    ///
    /// On a simulated medium (`create_simulated`, `open_medium`), in addition, `f` writes only
    /// through those value-taking methods, never through a `&mut` from `get_mut`, `root_mut` or
    /// `bytes_mut`: the medium reads the whole working image at every fence of any thread
    /// (docs/format.md §12.7–12.8).
    pub unsafe fn transaction_shared<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        if in_tx(self.sh.id) {
            return Err(Error::NestedTransaction.into());
        }
        self.run(f, true)
    }

    /// A transaction under the pool's lock (the read lock if `shared`, else the write lock).
    fn run<T, E, F>(&self, f: F, shared: bool) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
        E: From<Error>,
    {
        // The lane and the lock are released, and the thread no longer counts as inside the
        // pool, before any code of the caller's runs again: `E::from` and the drops of the
        // closure's values (which may panic, or use the pool) come after this block.
        let end = if shared {
            let _g = self.sh.lock.read().unwrap_or_else(|e| e.into_inner());
            self.run_in_lane(f)
        } else {
            let _g = self.sh.lock.write().unwrap_or_else(|e| e.into_inner());
            self.run_in_lane(f)
        };
        match end {
            End::Done(v) => Ok(v),
            End::Failed(e, leftovers) => {
                drop(leftovers);
                Err(E::from(e))
            }
            End::Refused(e) => Err(e),
            End::Panicked(p) => std::panic::resume_unwind(p),
        }
    }

    /// Runs `f` in a lane and commits or aborts; the lane is released when this returns, and
    /// also if anything in it unwinds (a fence hook of the simulator, say).
    fn run_in_lane<T, E, F>(&self, f: F) -> End<T, E>
    where
        F: FnOnce(&mut Tx<'_, R>) -> Result<T, E>,
    {
        let sh = &*self.sh;
        if sh.persister.poisoned() {
            return End::Failed(Error::Poisoned, Leftovers::None);
        }
        // This thread counts as inside the pool until the transaction has ended, commit and
        // rollback included (also the rollback of `LaneHold::drop`, which is why the guard is
        // declared first and so dropped last): a call back into the pool from a fence hook is
        // refused (`NestedTransaction`) rather than deadlocking on the lock this transaction
        // holds.
        let guard = ActiveGuard::new(sh.id);
        let slot = sh.lanes.acquire();
        let tx = match Tx::<R>::begin(sh, slot) {
            Ok(t) => t,
            Err((e, slot)) => {
                sh.lanes.release(slot);
                return End::Failed(e, Leftovers::None);
            }
        };
        let mut held = LaneHold { sh, tx: Some(tx) };
        let Some(tx) = held.tx.as_mut() else {
            return End::Failed(Error::TxAborted, Leftovers::None);
        };
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(tx)));
        let end = match out {
            Ok(Ok(v)) if !tx.wants_abort() => match tx.commit() {
                Ok(()) => {
                    sh.committed.fetch_add(1, Ordering::Relaxed);
                    End::Done(v)
                }
                Err(e) if tx.past_commit_point() => {
                    // The commit point was passed (the commit word or the retire is stored):
                    // the changes stand in memory and nothing may roll them back; only their
                    // durability is unknown. The pool refuses writes until it is reopened.
                    let _ = tx.abort();
                    sh.persister.poison();
                    sh.committed.fetch_add(1, Ordering::Relaxed);
                    End::Failed(
                        Error::CommitInDoubt {
                            source: Box::new(e),
                        },
                        Leftovers::Value(Box::new(v)),
                    )
                }
                Err(e) => {
                    if tx.abort().is_err() {
                        sh.persister.poison();
                    }
                    sh.aborted.fetch_add(1, Ordering::Relaxed);
                    End::Failed(e, Leftovers::Value(Box::new(v)))
                }
            },
            Ok(Ok(v)) => {
                let r = tx.abort();
                if r.is_err() {
                    sh.persister.poison();
                }
                sh.aborted.fetch_add(1, Ordering::Relaxed);
                End::Failed(
                    r.err().unwrap_or(Error::TxAborted),
                    Leftovers::Value(Box::new(v)),
                )
            }
            Ok(Err(e)) => {
                sh.aborted.fetch_add(1, Ordering::Relaxed);
                match tx.abort() {
                    Ok(()) => End::Refused(e),
                    Err(ae) => {
                        sh.persister.poison();
                        End::Failed(ae, Leftovers::Error(Box::new(e)))
                    }
                }
            }
            Err(panic) => {
                if tx.abort().is_err() {
                    sh.persister.poison();
                }
                sh.aborted.fetch_add(1, Ordering::Relaxed);
                End::Panicked(panic)
            }
        };
        drop(guard);
        held.finish();
        end
    }
    /// Atomically allocates an object holding `value` and stores its pointer in the field of
    /// the object `owner` that `field` selects (like `pmemobj_alloc`): after a crash, either
    /// both happened or neither did. Returns the new pointer.
    pub fn alloc_into<P: Persistent, T: Persistent>(
        &self,
        owner: PPtr<P>,
        field: impl FnOnce(&mut P) -> &mut PPtr<T>,
        value: T,
    ) -> Result<PPtr<T>> {
        self.transaction(|tx| {
            let p = tx.alloc(value)?;
            tx.update_field(owner, field, p)?;
            Ok(p)
        })
    }

    /// Atomically frees the object that the field of `owner` selected by `field` points to,
    /// and sets that field to null (like `pmemobj_free`). Does nothing if it is null.
    pub fn free_from<P: Persistent, T: Persistent>(
        &self,
        owner: PPtr<P>,
        field: impl Fn(&mut P) -> &mut PPtr<T>,
    ) -> Result<()> {
        self.transaction(|tx| {
            let mut cur = *tx.get(owner)?;
            let p = *field(&mut cur);
            if p.is_null() {
                return Ok(());
            }
            tx.free(p)?;
            tx.update_field(owner, field, PPtr::null())
        })
    }

    /// A read-only consistency check of the header, lanes and heap.
    pub fn check(&self) -> CheckReport {
        let _g = if in_tx(self.sh.id) {
            return CheckReport {
                problems: vec!["check called inside a transaction".into()],
                objects: 0,
            };
        } else {
            self.sh.lock.write().unwrap_or_else(|e| e.into_inner())
        };
        let sh = &*self.sh;
        let mut problems = Vec::new();
        // SAFETY: the write lock excludes every transaction and reader of this handle.
        match unsafe { sh.region.read::<PoolHeader>(0) } {
            Ok(h) if h.compute_checksum() == h.checksum && h.magic == MAGIC => {}
            _ => problems.push("pool header: magic or checksum wrong".into()),
        }
        for i in 0..sh.geo.lane_count {
            // SAFETY: no transaction runs (write lock), so no lane log is being written.
            match unsafe { lane::scan(&sh.region, &sh.geo, i) } {
                Ok(e) if e.is_empty() => {}
                Ok(e) => problems.push(format!(
                    "lane {i}: {} undo entries outstanding with no transaction running",
                    e.len()
                )),
                Err(e) => problems.push(format!("lane {i}: {e}")),
            }
        }
        let objects = sh.heap.check(&mut problems);
        if let Err(e) = sh
            .heap
            .resolve(sh.root_offset)
            .and_then(|(_, h)| check_type::<R>(sh.root_offset, &h))
        {
            problems.push(format!("root object: {e}"));
        }
        CheckReport { problems, objects }
    }

    /// A read-only view of the pool's identity and figures, without access to its objects:
    /// what a structure that owns its pool (such as the key-value store) can lend out.
    pub fn info(&self) -> PoolInfo<'_> {
        PoolInfo { sh: &self.sh }
    }

    /// Every live object: its offset, recorded size, type id and block capacity, in offset
    /// order (`pmemobj_first`/`pmemobj_next`). Reads allocator metadata only; inside a
    /// transaction on this pool in this thread, [`Error::NestedTransaction`].
    pub fn objects(&self) -> Result<Vec<ObjectInfo>> {
        let _g = self.read_guard()?;
        self.sh.heap.objects()
    }

    /// Allocation, transaction and persistence figures.
    pub fn stats(&self) -> Stats {
        self.info().stats()
    }

    /// The persistence counters alone.
    pub fn persist_stats(&self) -> PersistStats {
        self.info().persist_stats()
    }

    /// Whether the pool refuses writes because a persistence failure left its state unknown
    /// (reopen it: recovery decides).
    pub fn is_poisoned(&self) -> bool {
        self.info().is_poisoned()
    }

    /// How this pool is made durable.
    pub fn persist_mode(&self) -> PersistMode {
        self.info().persist_mode()
    }

    /// The pool's file.
    pub fn path(&self) -> &Path {
        &self.sh.path
    }

    /// The pool's size in bytes.
    pub fn size(&self) -> u64 {
        self.info().size()
    }

    /// The layout name.
    pub fn layout(&self) -> String {
        self.info().layout()
    }

    /// The pool's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.info().uuid()
    }
}

/// A read-only view of a pool (from [`Pool::info`]): its identity, persistence mode and
/// figures. It gives no access to the pool's bytes, so it can be lent by a structure whose
/// own protocol owns them.
#[derive(Clone, Copy)]
pub struct PoolInfo<'a> {
    sh: &'a Shared,
}

impl std::fmt::Debug for PoolInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolInfo")
            .field("path", &self.sh.path)
            .field("size", &self.sh.geo.pool_size)
            .field("mode", &self.sh.persister.mode())
            .finish_non_exhaustive()
    }
}

impl<'a> PoolInfo<'a> {
    /// The pool's file (`<simulated>` on a simulated medium).
    pub fn path(&self) -> &'a Path {
        &self.sh.path
    }

    /// The pool's size in bytes.
    pub fn size(&self) -> u64 {
        self.sh.geo.pool_size
    }

    /// The layout name.
    pub fn layout(&self) -> String {
        self.sh.header.layout_name()
    }

    /// The pool's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.sh.header.uuid)
    }

    /// How the pool is made durable.
    pub fn persist_mode(&self) -> PersistMode {
        self.sh.persister.mode()
    }

    /// Flushes and fences since the pool was opened.
    pub fn persist_stats(&self) -> PersistStats {
        self.sh.persister.stats()
    }

    /// Allocation, transaction and persistence figures.
    pub fn stats(&self) -> Stats {
        Stats {
            heap: self.sh.heap.stats(),
            persist: self.sh.persister.stats(),
            tx_committed: self.sh.committed.load(Ordering::Relaxed),
            tx_aborted: self.sh.aborted.load(Ordering::Relaxed),
        }
    }

    /// Whether the pool refuses writes after a persistence failure (reopen it).
    pub fn is_poisoned(&self) -> bool {
        self.sh.persister.poisoned()
    }
}

fn read_prefix(file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
