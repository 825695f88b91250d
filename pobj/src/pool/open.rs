//! Creating and opening pools: the file, its lock and mapping, formatting, header validation,
//! recovery and the heap's rebuild.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::front::Front;
pub(super) use super::front::FRONT;
use super::options::PoolOptions;
use super::Pool;
use crate::error::{Error, Result};
use crate::format::extent::{self, EXTENT_OFFSET};
use crate::format::header::{PoolHeader, FORMAT_VERSION, HEADER_SIZE, MAGIC, MAX_LAYOUT_LEN};
use crate::format::layout::Geometry;
use crate::heap::{GrowMedium, Growth, Heap};
use crate::lane;
use crate::media::mapping::FileMapping;
use crate::media::persist::{self, Batch, Persister};
use crate::media::region::Region;
use crate::tx::check_type;
use crate::tx::lanes::Lanes;
use crate::tx::pool_core::{Backing, CoreParts, PoolCore};
use crate::Persistent;

pub(super) fn io<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
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

pub(super) fn validate_layout(layout: &str) -> Result<[u8; 64]> {
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

pub(super) fn root_check<R: Persistent>() -> Result<()> {
    let () = R::__LAYOUT_CHECK;
    if core::mem::align_of::<R>() > 64 {
        return Err(Error::BadAlignment {
            align: core::mem::align_of::<R>(),
        });
    }
    Ok(())
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

impl<R: Persistent> Pool<R> {
    /// Creates a pool file with the given layout name and a zeroed root. Fails if the file
    /// exists.
    ///
    /// `size` is a number of bytes, for a pool of that fixed capacity, or [`PoolOptions`]: with
    /// `PoolOptions::default()` the pool starts small and grows on demand (see there).
    pub fn create(
        path: impl AsRef<Path>,
        layout: &str,
        size: impl Into<PoolOptions>,
    ) -> Result<Self> {
        let path = path.as_ref();
        root_check::<R>()?;
        let layout_bytes = validate_layout(layout)?;
        let (geo, chunks, step) = size.into().plan()?;
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
        // A second descriptor of the same open file, so that the lock (per open file) is held
        // until a failed creation's file is unlinked: no other process can lock it meanwhile
        // (one that opened the path just before the unlink then fails to lock, or locks a file
        // no longer named).
        let held = match file.try_clone() {
            Ok(h) => h,
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(path);
                return Err(io(path, "dup")(e));
            }
        };
        let unlink = |e| {
            let _ = std::fs::remove_file(path);
            drop(held);
            e
        };
        if let Err(e) = Self::format(&file, path, &geo, chunks, step, layout_bytes) {
            drop(file);
            return Err(unlink(e));
        }
        // Opened with the same (still locked) file: no other process can slip in between. A
        // pool that cannot be opened (its address space cannot be reserved, say) is not left.
        match Self::open_locked(file, path, layout) {
            Ok(pool) => Ok(pool),
            Err(e) => Err(unlink(e)),
        }
    }

    fn format(
        file: &File,
        path: &Path,
        geo: &Geometry,
        chunks: u64,
        step: u64,
        layout: [u8; 64],
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        lock_file(file, path)?;
        let len = geo.len_for(chunks);
        file.set_len(len).map_err(io(path, "set_len"))?;
        // Allocate every block in use now, so a full disk fails here rather than as SIGBUS
        // later: everything but the chunk table's pages past the first chunks, which stay holes
        // until growth reaches them.
        for (lo, hi) in [(0, geo.table_end_for(chunks)), (geo.chunk_base, len)] {
            let (Ok(o), Ok(n)) = (libc::off_t::try_from(lo), libc::off_t::try_from(hi - lo)) else {
                return Err(Error::Internal {
                    what: "a validated pool size does not fit off_t",
                });
            };
            // SAFETY: plain syscall on an open fd.
            let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), o, n) };
            if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    op: "fallocate",
                    source: std::io::Error::from_raw_os_error(rc),
                });
            }
        }
        // A second descriptor of the same open file: the lock stays with `file` when the
        // mapping closes it.
        let dup = file.try_clone().map_err(io(path, "dup"))?;
        let map = FileMapping::map(dup, path, len, len)?;
        let region = map.region();
        let mode = persist::choose_mode(map.kind().is_memory())?;
        let p = Persister::new(mode, region).with_path(path);
        Self::format_region(region, &p, geo, chunks, step, layout)?;
        map.sync_all()
    }

    /// Writes a new pool into `region`: lanes, chunk table, the zeroed root, and last the
    /// header (a crash before the header is durable leaves something that is not a pool).
    pub(super) fn format_region(
        region: Region,
        p: &Persister,
        geo: &Geometry,
        chunks: u64,
        step: u64,
        layout: [u8; 64],
    ) -> Result<()> {
        let mut b = Batch::new();
        // SAFETY: exclusive access to a new, locked file.
        unsafe { lane::format(&region, geo, p, &mut b)? };
        // SAFETY: as above.
        unsafe { Heap::format(&region, geo, chunks, p, &mut b)? };
        p.fence(&mut b)?;
        // The root: a zeroed object of type R, allocated directly (no transaction is needed
        // before the header exists: a crash leaves a file that is not a pool).
        // SAFETY: exclusive access (new file).
        let heap = unsafe { Heap::rebuild(region, *geo, chunks, p)? };
        let root_size = core::mem::size_of::<R>() as u64;
        let block = heap.reserve(p, root_size, core::mem::align_of::<R>() as u64)?;
        let word = block.alloc_word(geo).mark_allocated(&region)?;
        p.flush(&mut b, word, 8);
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
            .map_or(0, |d| d.as_secs());
        let mut h = PoolHeader {
            magic: MAGIC,
            version: FORMAT_VERSION,
            header_size: HEADER_SIZE,
            uuid: *uuid::Uuid::new_v4().as_bytes(),
            pool_size: geo.max_size,
            layout,
            root_offset,
            root_size,
            root_type_id: R::TYPE_ID,
            lane_offset: geo.lane_offset,
            lane_count: geo.lane_count,
            lane_size: geo.lane_size,
            chunk_table: geo.chunk_table,
            chunk_count: geo.chunk_slots,
            chunk_base: geo.chunk_base,
            chunk_size: crate::format::layout::CHUNK_SIZE,
            created,
            grow_step: step,
            reserved: [0; 60],
            checksum: 0,
        };
        h.checksum = h.compute_checksum();
        // The extent word, durable before the header that makes the file a pool.
        let count = u32::try_from(chunks).map_err(|_| Error::Internal {
            what: "a chunk count beyond 32 bits",
        })?;
        region
            .atomic(EXTENT_OFFSET)?
            .store(extent::encode(count, h.checksum), Ordering::Release);
        p.flush(&mut b, EXTENT_OFFSET, 8);
        p.fence(&mut b)?;
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
        let mut hb = [0u8; FRONT];
        let n = read_prefix(&file, &mut hb).map_err(io(path, "read header"))?;
        let front = Self::validate_header(path, &hb[..n], len, layout)?;
        // SAFETY (of the mapping's use): we hold the exclusive lock on the file, its length is
        // at least `front.len` (checked above), and the documented contract is that no other
        // program modifies or truncates a pool file while it is open (docs/format.md,
        // "Soundness").
        let map = Arc::new(FileMapping::map(file, path, front.len, front.room)?);
        let region = map.region();
        let mode = persist::choose_mode(map.kind().is_memory())?;
        let persister = Persister::new(mode, region).with_path(path);
        let grow: Arc<dyn GrowMedium> = map.clone();
        let reserved = map.reserved();
        Self::finish_open(
            path,
            front,
            region,
            persister,
            Backing::File(map),
            Some((grow, reserved)),
        )
    }

    /// Recovery, heap rebuild and root checks, shared by files and simulated media.
    pub(super) fn finish_open(
        path: &Path,
        front: Front,
        region: Region,
        persister: Persister,
        backing: Backing,
        grow: Option<(Arc<dyn GrowMedium>, u64)>,
    ) -> Result<Self> {
        let Front { h, geo, .. } = front;
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
        let mut heap = unsafe { Heap::rebuild(region, geo, front.chunks, &persister)? };
        if front.step > 0 {
            // As far as the address space reserved for the pool reaches.
            let growth = grow.and_then(|(medium, reserved)| {
                let limit = geo.chunks_in(reserved.min(front.room));
                (front.chunks < limit)
                    .then(|| Growth::new(medium, path, front.step, limit, h.checksum))
            });
            heap.set_growth(growth, geo.len_for(geo.chunk_slots));
        }
        let (_, oh) = heap.resolve(h.root_offset).map_err(|_| Error::Corrupted {
            what: "root object",
            offset: h.root_offset,
        })?;
        // The root is lent by reference (`root`, `root_mut`): it is never a shared object.
        if oh.is_shared() {
            return Err(Error::Corrupted {
                what: "root object header (marked shared)",
                offset: h.root_offset,
            });
        }
        if !crate::types::any_root::is_any_root::<R>() {
            check_type::<R>(h.root_offset, &oh).map_err(|_| Error::Corrupted {
                what: "root object header",
                offset: h.root_offset,
            })?;
        }
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
            sh: Box::new(PoolCore::new(CoreParts {
                region,
                geo,
                persister,
                heap,
                lanes,
                header: h,
                path: path.to_path_buf(),
                backing,
            })),
            _root: PhantomData,
        })
    }

    /// Opens the pool at `path` if the file exists, else creates it with `size` (bytes of a
    /// fixed size, or [`PoolOptions`]).
    pub fn open_or_create(
        path: impl AsRef<Path>,
        layout: &str,
        size: impl Into<PoolOptions>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let size = size.into();
        match Self::create(path, layout, size) {
            Err(Error::AlreadyExists { .. }) => Self::open(path, layout),
            r => r,
        }
    }
}

impl Pool<crate::AnyRoot> {
    /// Opens any pool, whatever its layout name and root type (for tools that inspect pools
    /// they did not make): everything else is checked and recovered as by [`Pool::open`].
    /// The root is reached as a zero-sized [`AnyRoot`](crate::AnyRoot); objects by offset.
    pub fn open_any(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path, "")
    }
}
