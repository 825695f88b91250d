//! A pool file mapped into a reserved address range that it can grow into in place.
//!
//! At open the whole maximum size is reserved as inaccessible address space (`PROT_NONE`,
//! no memory committed) and the file's current part is mapped over its start. Growing maps the
//! file's new part directly after the old (`MAP_FIXED` over the reservation), so every address
//! handed out stays valid: nothing is ever moved or unmapped while the pool is open. The live
//! length ([`MappedLen`]) is published only after the new part is mapped.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::media::region::{MappedLen, Region};

/// What the medium under a file is, as far as persistence is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// tmpfs: the page cache is the medium; cache-line flushes, no `MAP_SYNC`.
    Tmpfs,
    /// A DAX file system that accepts `MAP_SYNC`: mapped with it, cache-line flushes.
    Dax,
    /// Anything else: msync.
    Other,
}

impl FileKind {
    /// Whether stores through a mapping reach the medium itself.
    pub(crate) fn is_memory(self) -> bool {
        self != FileKind::Other
    }
}

/// A file mapped at the start of a reserved range of `reserved` bytes.
#[derive(Debug)]
pub(crate) struct FileMapping {
    file: File,
    path: PathBuf,
    base: NonNull<u8>,
    reserved: usize,
    len: MappedLen,
    kind: FileKind,
    /// Serialises growth of the mapping.
    grow: Mutex<()>,
}

// SAFETY: the mapping is plain shared memory; `FileMapping` hands out only its address (through
// `Region`, whose users uphold its contracts) and changes the mapping only under `grow`.
unsafe impl Send for FileMapping {}
// SAFETY: as above.
unsafe impl Sync for FileMapping {}

fn io(path: &Path, op: &'static str, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl FileMapping {
    /// Maps bytes `0..len` of `file` (which must be at least that long) into a fresh
    /// reservation of `reserved` bytes (`len <= reserved`, both page multiples).
    pub(crate) fn map(file: File, path: &Path, len: u64, reserved: u64) -> Result<FileMapping> {
        let internal = |what| Error::Internal { what };
        if len > reserved || len == 0 {
            return Err(internal("a mapping longer than its reservation"));
        }
        let reserved_us =
            usize::try_from(reserved).map_err(|_| internal("reservation beyond usize"))?;
        let kind = file_kind(&file, len);
        let reserve = |n: usize| {
            // SAFETY: a fresh private anonymous reservation at an address the kernel chooses
            // (no existing mapping is touched); nothing accesses it (`PROT_NONE`).
            unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    n,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            }
        };
        let mut reserved_us = reserved_us;
        let mut p = reserve(reserved_us);
        if p == libc::MAP_FAILED && reserved_us as u64 > len {
            // An address-space limit (RLIMIT_AS, a small virtual address space): map what the
            // pool has now; it then cannot grow past it (`reserved`).
            reserved_us = usize::try_from(len).map_err(|_| internal("mapping beyond usize"))?;
            p = reserve(reserved_us);
        }
        if p == libc::MAP_FAILED {
            return Err(io(
                path,
                "reserve address space",
                std::io::Error::last_os_error(),
            ));
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or(internal("mmap returned null"))?;
        let m = FileMapping {
            file,
            path: path.to_path_buf(),
            base,
            reserved: reserved_us,
            len: MappedLen::new(0),
            kind,
            grow: Mutex::new(()),
        };
        // On failure `m` is dropped, which unmaps the reservation.
        m.map_part(0, len)?;
        // SAFETY: `0..len` is mapped (just above) and stays mapped until drop.
        unsafe { m.len.grow_to(len) };
        Ok(m)
    }

    /// Maps the file's bytes `from..to` over the reservation at the same offsets.
    fn map_part(&self, from: u64, to: u64) -> Result<()> {
        let internal = |what| Error::Internal { what };
        let n = usize::try_from(to - from).map_err(|_| internal("mapping beyond usize"))?;
        let off = libc::off_t::try_from(from).map_err(|_| internal("offset beyond off_t"))?;
        if to > self.reserved as u64 || !from.is_multiple_of(4096) || !to.is_multiple_of(4096) {
            return Err(internal("a mapping outside its reservation"));
        }
        let at = self
            .base
            .as_ptr()
            .wrapping_add(from as usize)
            .cast::<libc::c_void>();
        let flags = if self.kind == FileKind::Dax {
            libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC | libc::MAP_FIXED
        } else {
            libc::MAP_SHARED | libc::MAP_FIXED
        };
        // SAFETY: `at..at+n` lies inside our own reservation (checked above) and is not yet in
        // use (`from` is the mapped length: nothing reads or writes these addresses until the
        // new length is published), so `MAP_FIXED` replaces only reserved address space.
        let p = unsafe {
            libc::mmap(
                at,
                n,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                self.file.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io(&self.path, "mmap", std::io::Error::last_os_error()));
        }
        if p != at {
            return Err(internal("MAP_FIXED mapped elsewhere"));
        }
        Ok(())
    }

    /// A region over the mapping (its length follows growth).
    pub(crate) fn region(&self) -> Region {
        // SAFETY: `base` is page-aligned and valid for `len` bytes at any time (the length is
        // published only after mapping); both live as long as `self`, which the pool keeps
        // for as long as any region copy is used.
        unsafe { Region::new(self.base, &self.len) }
    }

    /// Bytes of address space reserved: the most the pool can grow to in this session.
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved as u64
    }

    /// How the file's medium persists.
    pub(crate) fn kind(&self) -> FileKind {
        self.kind
    }

    /// Makes the file at least `new_len` bytes long with the byte ranges `alloc` really
    /// allocated, so that a full medium fails here (`ENOSPC`), not as `SIGBUS` on a later
    /// store. Where the file system has no `fallocate`, only the length is set (sparse:
    /// docs/persistence.md). A failure leaves the mapping unchanged (the file may be longer).
    pub(crate) fn allocate(&self, alloc: &[(u64, u64)], new_len: u64) -> std::io::Result<()> {
        let fd = self.file.as_raw_fd();
        let mut fallocated = true;
        for &(lo, hi) in alloc {
            if hi <= lo {
                continue;
            }
            let (Ok(o), Ok(l)) = (libc::off_t::try_from(lo), libc::off_t::try_from(hi - lo)) else {
                return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
            };
            // SAFETY: plain syscall on an open fd.
            match unsafe { libc::posix_fallocate(fd, o, l) } {
                0 => {}
                libc::EOPNOTSUPP | libc::EINVAL => fallocated = false,
                rc => return Err(std::io::Error::from_raw_os_error(rc)),
            }
        }
        let flen = self.file.metadata()?.len();
        if !fallocated || flen < new_len {
            self.file.set_len(new_len.max(flen))?;
        }
        Ok(())
    }

    /// Makes the file's length and allocation durable (`fdatasync`).
    pub(crate) fn sync_len(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Maps the file up to `new_len` directly after the mapped part (the file must be that
    /// long), then publishes the new length.
    pub(crate) fn map_to(&self, new_len: u64) -> std::io::Result<()> {
        let _g = self
            .grow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.len.get();
        if new_len <= old {
            return Ok(());
        }
        self.map_part(old, new_len).map_err(|e| match e {
            Error::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        })?;
        // SAFETY: `0..new_len` is mapped now and stays mapped until drop.
        unsafe { self.len.grow_to(new_len) };
        Ok(())
    }

    /// `msync` of everything mapped (creation).
    pub(crate) fn sync_all(&self) -> Result<()> {
        let len = usize::try_from(self.len.get()).map_err(|_| Error::Internal {
            what: "mapping beyond usize",
        })?;
        // SAFETY: `base..base+len` is mapped; msync does not change memory contents.
        let rc = unsafe { libc::msync(self.base.as_ptr().cast(), len, libc::MS_SYNC) };
        if rc != 0 {
            return Err(io(&self.path, "msync", std::io::Error::last_os_error()));
        }
        self.file.sync_all().map_err(|e| io(&self.path, "fsync", e))
    }
}

impl Drop for FileMapping {
    fn drop(&mut self) {
        // SAFETY: the whole reservation is ours; the pool drops its mapping only after every
        // region copy is out of use.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.reserved) };
    }
}

/// Whether writes to a mapping of this file reach memory that is itself the medium: tmpfs, or a
/// DAX file system (probed with `MAP_SYNC`).
pub(crate) fn file_kind(file: &File, len: u64) -> FileKind {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // SAFETY: `statfs` is plain data; `fstatfs` writes into it and reads only the fd.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call; `st` is a valid out-pointer.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &raw mut st) } == 0
        && st.f_type as i64 == TMPFS_MAGIC
    {
        return FileKind::Tmpfs;
    }
    let probe_len = len.clamp(1, 4096) as usize;
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
    if p == libc::MAP_FAILED {
        return FileKind::Other;
    }
    // SAFETY: `p` is the probe mapping made above, of `probe_len` bytes, unused.
    unsafe { libc::munmap(p, probe_len) };
    FileKind::Dax
}

impl crate::heap::GrowMedium for FileMapping {
    fn allocate(&self, alloc: &[(u64, u64)], new_len: u64) -> std::io::Result<()> {
        FileMapping::allocate(self, alloc, new_len)
    }

    fn sync(&self) -> std::io::Result<()> {
        self.sync_len()
    }

    fn map(&self, new_len: u64) -> std::io::Result<()> {
        self.map_to(new_len)
    }
}
