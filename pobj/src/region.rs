//! The one module that touches mapped bytes through raw pointers.
//!
//! Everything else reads and writes the pool through a [`Region`]: bounds are checked here, and
//! the only ways to get a Rust reference into the mapping are [`Region::obj`], [`Region::obj_mut`],
//! [`Region::bytes`] and [`Region::bytes_mut`], whose contracts the callers (the pool's locking and
//! the transaction's borrow rules) uphold. See `docs/format.md`, "Soundness of the mapping".

use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

use crate::error::{Error, Result};
use crate::persistent::Persistent;

/// A mapped byte range: base address and length. It does not own the mapping; the pool keeps the
/// mapping alive for as long as any `Region` copy is used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    len: u64,
}

// SAFETY: a `Region` is an address and a length. Access through it is either atomic or governed
// by the unsafe methods' contracts, which require exclusion between threads.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// # Safety
    /// `base` must be valid for reads and writes of `len` bytes, page-aligned, for as long as the
    /// region (or any copy) is used.
    pub(crate) unsafe fn new(base: NonNull<u8>, len: u64) -> Self {
        Region { base, len }
    }

    pub(crate) fn base_addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Checks that `off..off+len` lies inside the region.
    #[inline]
    pub(crate) fn check(&self, off: u64, len: u64, what: &'static str) -> Result<()> {
        match off.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::Corrupted { what, offset: off }),
        }
    }

    #[inline]
    fn ptr(&self, off: u64) -> *mut u8 {
        // SAFETY (of callers): every caller checked `off` against `len` first, so the result
        // is inside (or one past) the mapping. `wrapping_add` itself never causes UB.
        self.base.as_ptr().wrapping_add(off as usize)
    }

    /// The 8-byte word at `off` as an atomic. `off` must be 8-aligned and in bounds.
    #[inline]
    pub(crate) fn atomic(&self, off: u64) -> Result<&AtomicU64> {
        self.check(off, 8, "atomic word")?;
        if !off.is_multiple_of(8) {
            return Err(Error::Corrupted {
                what: "unaligned atomic word",
                offset: off,
            });
        }
        // SAFETY: in bounds and 8-aligned (the base is page-aligned); the mapping lives as long as
        // `self` is used; all concurrent access to words used this way is atomic (metadata words:
        // chunk headers, run bitmaps, lane generations, object headers).
        Ok(unsafe { AtomicU64::from_ptr(self.ptr(off).cast::<u64>()) })
    }

    /// Copies a value out of the region (any alignment).
    ///
    /// # Safety
    /// No other thread may write these bytes concurrently, and no `&mut` reference to them may be
    /// live.
    #[inline]
    pub(crate) unsafe fn read<T: Persistent>(&self, off: u64) -> Result<T> {
        self.check(off, core::mem::size_of::<T>() as u64, "read")?;
        // SAFETY: in bounds; every bit pattern is a valid `T`; no concurrent writer (contract).
        Ok(unsafe { core::ptr::read_unaligned(self.ptr(off).cast::<T>()) })
    }

    /// Copies a value into the region (any alignment).
    ///
    /// # Safety
    /// No other thread may access these bytes concurrently, and no reference to them may be live.
    #[inline]
    pub(crate) unsafe fn write<T: Persistent>(&self, off: u64, v: &T) -> Result<()> {
        self.check(off, core::mem::size_of::<T>() as u64, "write")?;
        // SAFETY: in bounds, writable mapping; exclusive access (contract).
        unsafe { core::ptr::write_unaligned(self.ptr(off).cast::<T>(), *v) };
        Ok(())
    }

    /// Copies bytes out of the region.
    ///
    /// # Safety
    /// As [`Region::read`].
    #[inline]
    pub(crate) unsafe fn read_into(&self, off: u64, out: &mut [u8]) -> Result<()> {
        self.check(off, out.len() as u64, "read")?;
        // SAFETY: in bounds; `out` is a distinct DRAM buffer; no concurrent writer (contract).
        unsafe { core::ptr::copy_nonoverlapping(self.ptr(off), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies bytes into the region.
    ///
    /// # Safety
    /// As [`Region::write`].
    #[inline]
    pub(crate) unsafe fn write_from(&self, off: u64, data: &[u8]) -> Result<()> {
        self.check(off, data.len() as u64, "write")?;
        // SAFETY: in bounds; `data` is not inside the region's written range (callers pass DRAM
        // buffers or disjoint pool ranges); exclusive access (contract).
        unsafe { core::ptr::copy(data.as_ptr(), self.ptr(off), data.len()) };
        Ok(())
    }

    /// Fills bytes with zero.
    ///
    /// # Safety
    /// As [`Region::write`].
    pub(crate) unsafe fn zero(&self, off: u64, len: u64) -> Result<()> {
        self.check(off, len, "zero")?;
        // SAFETY: in bounds; exclusive access (contract).
        unsafe { core::ptr::write_bytes(self.ptr(off), 0, len as usize) };
        Ok(())
    }

    /// A shared reference to a `T` at `off`.
    ///
    /// # Safety
    /// For the lifetime `'a`, no thread may write these bytes and no `&mut` to them may exist.
    pub(crate) unsafe fn obj<'a, T: Persistent>(&self, off: u64) -> Result<&'a T> {
        self.check(off, core::mem::size_of::<T>() as u64, "object")?;
        if !(self.base_addr() + off as usize).is_multiple_of(core::mem::align_of::<T>()) {
            return Err(Error::InvalidPointer {
                offset: off,
                reason: "misaligned for the type",
            });
        }
        // SAFETY: in bounds, aligned, initialised (the mapping is all initialised bytes), every
        // bit pattern valid; aliasing rules are the caller's contract.
        Ok(unsafe { &*self.ptr(off).cast::<T>() })
    }

    /// A unique reference to a `T` at `off`.
    ///
    /// # Safety
    /// For the lifetime `'a`, no other reference to these bytes may exist and no other thread may
    /// access them.
    pub(crate) unsafe fn obj_mut<'a, T: Persistent>(&self, off: u64) -> Result<&'a mut T> {
        self.check(off, core::mem::size_of::<T>() as u64, "object")?;
        if !(self.base_addr() + off as usize).is_multiple_of(core::mem::align_of::<T>()) {
            return Err(Error::InvalidPointer {
                offset: off,
                reason: "misaligned for the type",
            });
        }
        // SAFETY: as `obj`, with uniqueness guaranteed by the caller.
        Ok(unsafe { &mut *self.ptr(off).cast::<T>() })
    }

    /// A shared byte slice.
    ///
    /// # Safety
    /// As [`Region::obj`].
    pub(crate) unsafe fn bytes<'a>(&self, off: u64, len: u64) -> Result<&'a [u8]> {
        self.check(off, len, "bytes")?;
        // SAFETY: in bounds, initialised; aliasing per the caller's contract.
        Ok(unsafe { core::slice::from_raw_parts(self.ptr(off), len as usize) })
    }

    /// A unique byte slice.
    ///
    /// # Safety
    /// As [`Region::obj_mut`].
    pub(crate) unsafe fn bytes_mut<'a>(&self, off: u64, len: u64) -> Result<&'a mut [u8]> {
        self.check(off, len, "bytes")?;
        // SAFETY: in bounds, initialised; uniqueness per the caller's contract.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.ptr(off), len as usize) })
    }

    /// The address of `off`, for cache-line flush instructions and msync.
    pub(crate) fn addr(&self, off: u64) -> usize {
        self.base_addr() + off as usize
    }
}
