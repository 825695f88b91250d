//! Creating and opening pools: the file, its lock and mapping, formatting, header validation,
//! recovery and the heap's rebuild.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Pool;
use crate::error::{Error, Result};
use crate::format::header::{
    PoolHeader, FORMAT_VERSION, HEADER_AREA, HEADER_SIZE, MAGIC, MAX_LAYOUT_LEN,
};
use crate::format::layout::{Geometry, MAX_POOL_SIZE, MIN_POOL_SIZE};
use crate::heap::Heap;
use crate::lane;
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

/// Whether writes to a mapping of this file reach memory that is itself the medium: tmpfs, or a
/// DAX file system (probed with `MAP_SYNC`).
fn mapping_is_memory(file: &File, len: u64) -> bool {
    use std::os::fd::AsRawFd;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // SAFETY: `statfs` is plain data; `fstatfs` writes into it and reads only the fd.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call; `st` is a valid out-pointer.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &raw mut st) } == 0
        && st.f_type as i64 == TMPFS_MAGIC
    {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        let probe_len = len.min(4096) as usize;
        // SAFETY: a fresh shared mapping of the first page at an address the kernel chooses
        // (no existing mapping is replaced); nothing reads or writes through it.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                probe_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
                file.as_raw_fd(),
                0,
            )
        };
        if p != libc::MAP_FAILED {
            // SAFETY: `p` is the probe mapping made above, of `probe_len` bytes, unused.
            unsafe { libc::munmap(p, probe_len) };
            return true;
        }
    }
    let _ = len;
    false
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
        let len = libc::off_t::try_from(geo.pool_size).map_err(|_| Error::Internal {
            what: "a validated pool size does not fit off_t",
        })?;
        // SAFETY: plain syscall on an open fd.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
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
        let base = NonNull::new(map.as_mut_ptr()).ok_or(Error::Internal {
            what: "mmap returned a null mapping",
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
    pub(super) fn format_region(
        region: Region,
        p: &Persister,
        geo: &Geometry,
        layout: [u8; 64],
    ) -> Result<()> {
        let mut b = Batch::new();
        // SAFETY: exclusive access to a new, locked file.
        unsafe { lane::format(&region, geo, p, &mut b)? };
        // SAFETY: as above.
        unsafe { Heap::format(&region, geo, p, &mut b)? };
        p.fence(&mut b)?;
        // The root: a zeroed object of type R, allocated directly (no transaction is needed
        // before the header exists: a crash leaves a file that is not a pool).
        // SAFETY: exclusive access (new file).
        let heap = unsafe { Heap::rebuild(region, *geo, p)? };
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
            chunk_size: crate::format::layout::CHUNK_SIZE,
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
        let base = NonNull::new(map.as_mut_ptr()).ok_or(Error::Internal {
            what: "mmap returned a null mapping",
        })?;
        // SAFETY: valid for `pool_size` bytes and page-aligned; the mapping is owned by `PoolCore`
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
    pub(super) fn validate_header(
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
        let h: PoolHeader = crate::types::persistent::from_bytes(&hb[..HEADER_SIZE as usize])
            .ok_or(Error::NotAPool {
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
        let any = crate::types::any_root::is_any_root::<R>();
        if !any && found.as_bytes() != layout.as_bytes() {
            return Err(Error::LayoutMismatch {
                path: path.to_path_buf(),
                expected: layout.to_string(),
                found,
            });
        }
        let want_size = core::mem::size_of::<R>() as u64;
        if !any && (h.root_type_id != R::TYPE_ID || h.root_size != want_size) {
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
        if stored != geo || h.chunk_size != crate::format::layout::CHUNK_SIZE {
            return Err(Error::Corrupted {
                what: "header geometry",
                offset: 128,
            });
        }
        Ok((h, geo))
    }

    /// Recovery, heap rebuild and root checks, shared by files and simulated media.
    pub(super) fn finish_open(
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

    /// Opens the pool at `path` if the file exists, else creates it with `size` bytes.
    pub fn open_or_create(path: impl AsRef<Path>, layout: &str, size: u64) -> Result<Self> {
        let path = path.as_ref();
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
