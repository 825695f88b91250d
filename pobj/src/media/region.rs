//! The one module that touches mapped bytes through raw pointers.
//!
//! Everything else reads and writes the pool through a [`Region`]: bounds are checked here, and
//! the only ways to get a Rust reference into the mapping are [`Region::obj`], [`Region::obj_mut`],
//! [`Region::bytes`] and [`Region::bytes_mut`], whose contracts the callers (the pool's locking and
//! the transaction's borrow rules) uphold. See `docs/format.md`, "Soundness of the mapping".

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::types::persistent::Persistent;

/// The length of a mapping that grows in place: the mapping's owner stores a larger length
/// (with `Release`) after the new bytes are mapped; readers load it with `Acquire`, so a
/// length they see is always backed by mapped bytes. It never shrinks while regions use it.
#[derive(Debug)]
pub(crate) struct MappedLen(Box<AtomicU64>);

impl MappedLen {
    pub(crate) fn new(len: u64) -> Self {
        MappedLen(Box::new(AtomicU64::new(len)))
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Publishes a larger length.
    ///
    /// # Safety
    /// Bytes `0..len` of the mapping are mapped and stay mapped as long as the regions built
    /// on this length are used.
    pub(crate) unsafe fn grow_to(&self, len: u64) {
        self.0.fetch_max(len, Ordering::AcqRel);
    }
}

/// A mapped byte range: base address and (live) length. It does not own the mapping or the
/// length; the pool keeps both alive for as long as any `Region` copy is used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    len: NonNull<AtomicU64>,
    /// The length when this region was made: a lower bound of the live length (which only
    /// grows), so that checks inside it need no atomic load.
    known: u64,
}

// SAFETY: a `Region` is an address and a length. Access through it is either atomic or governed
// by the unsafe methods' contracts, which require exclusion between threads.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// # Safety
    /// `base` must be page-aligned and valid for reads and writes of as many bytes as `len`
    /// says at any time, and both must live for as long as the region (or any copy) is used.
    pub(crate) unsafe fn new(base: NonNull<u8>, len: &MappedLen) -> Self {
        Region {
            base,
            len: NonNull::from(&*len.0),
            known: len.get(),
        }
    }

    pub(crate) fn base_addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// The mapped length now (it only grows).
    #[inline]
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: the length cell lives as long as the region is used (`new`'s contract).
        unsafe { self.len.as_ref() }.load(Ordering::Acquire)
    }

    /// Checks that `off..off+len` lies inside the region.
    #[inline]
    pub(crate) fn check(&self, off: u64, len: u64, what: &'static str) -> Result<()> {
        match off.checked_add(len) {
            Some(end) if end <= self.known || end <= self.len() => Ok(()),
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
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "the offset is checked to be a multiple of 8 and the mapping is page-aligned"
    )]
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

    /// Copies bytes out with relaxed atomic loads of whole aligned 8-byte words (the edge
    /// words too, whose other bytes are simply not copied), so that a copy racing with
    /// `store_bytes` is a torn read, never a data race, and every racing access has the same
    /// size.
    ///
    /// # Safety
    /// In bounds (checked by the caller; the region's length is a multiple of 8, so the aligned
    /// words around the range are in bounds too); no concurrent non-atomic writer.
    #[inline]
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "only whole aligned words of the page-aligned mapping are cast"
    )]
    unsafe fn load_bytes(&self, off: u64, out: &mut [u8]) {
        let n = out.len() as u64;
        if n == 0 {
            return;
        }
        let base = self.base_addr() as u64;
        let (start, end) = (base + off, base + off + n);
        let mut w = start & !7;
        while w < end {
            // SAFETY: `w` is 8-aligned and inside the mapping (see the contract); atomic load.
            let v = unsafe { AtomicU64::from_ptr(self.ptr(w - base).cast::<u64>()) }
                .load(Ordering::Relaxed);
            let bytes = v.to_ne_bytes();
            let lo = start.max(w);
            let hi = end.min(w + 8);
            out[(lo - start) as usize..(hi - start) as usize]
                .copy_from_slice(&bytes[(lo - w) as usize..(hi - w) as usize]);
            w += 8;
        }
    }

    /// Copies bytes in with relaxed atomic stores of whole aligned 8-byte words; a word only
    /// partly in the range is updated with a compare-and-swap loop that keeps its other bytes.
    /// Every store pobj makes to pool bytes goes through here, so optimistic readers
    /// (`Pool::read_words`) never race with plain stores or with accesses of another size.
    ///
    /// # Safety
    /// In bounds (checked by the caller); no live reference to these bytes.
    #[inline]
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "only whole aligned words of the page-aligned mapping are cast"
    )]
    unsafe fn store_bytes(&self, off: u64, data: &[u8]) {
        let n = data.len() as u64;
        if n == 0 {
            return;
        }
        let base = self.base_addr() as u64;
        let (start, end) = (base + off, base + off + n);
        let mut w = start & !7;
        while w < end {
            // SAFETY: `w` is 8-aligned and inside the mapping (see the contract).
            let a = unsafe { AtomicU64::from_ptr(self.ptr(w - base).cast::<u64>()) };
            let lo = start.max(w);
            let hi = end.min(w + 8);
            let src = &data[(lo - start) as usize..(hi - start) as usize];
            if lo == w && hi == w + 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(src);
                a.store(u64::from_ne_bytes(b), Ordering::Relaxed);
            } else {
                let mut cur = a.load(Ordering::Relaxed);
                loop {
                    let mut b = cur.to_ne_bytes();
                    b[(lo - w) as usize..(hi - w) as usize].copy_from_slice(src);
                    match a.compare_exchange_weak(
                        cur,
                        u64::from_ne_bytes(b),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(x) => cur = x,
                    }
                }
            }
            w += 8;
        }
    }

    /// Copies a value out of the region (any alignment).
    ///
    /// # Safety
    /// No `&mut` reference to these bytes may be live, and no other thread may write them
    /// except with pobj's own (atomic) stores, in which case the value may be torn.
    #[inline]
    pub(crate) unsafe fn read<T: Persistent>(&self, off: u64) -> Result<T> {
        crate::types::persistent::layout_proof::<T>();
        let len = core::mem::size_of::<T>();
        self.check(off, len as u64, "read")?;
        let mut v: T = crate::types::persistent::zeroed();
        // SAFETY: `T` has no padding, so its bytes may be written as a byte slice, and every bit
        // pattern is a valid `T`; the slice covers exactly `v`.
        let out = unsafe { core::slice::from_raw_parts_mut((&raw mut v).cast::<u8>(), len) };
        // SAFETY: in bounds (checked); atomic loads (contract).
        unsafe { self.load_bytes(off, out) };
        Ok(v)
    }

    /// Copies a value into the region (any alignment), with atomic word stores.
    ///
    /// # Safety
    /// No reference to these bytes may be live, and no other thread may write them.
    #[inline]
    pub(crate) unsafe fn write<T: Persistent>(&self, off: u64, v: &T) -> Result<()> {
        crate::types::persistent::layout_proof::<T>();
        // SAFETY: forwarded contract.
        unsafe { self.write_from(off, crate::types::persistent::as_bytes(v)) }
    }

    /// Copies bytes out of the region.
    ///
    /// # Safety
    /// As [`Region::read`].
    #[inline]
    pub(crate) unsafe fn read_into(&self, off: u64, out: &mut [u8]) -> Result<()> {
        self.check(off, out.len() as u64, "read")?;
        // SAFETY: in bounds; atomic loads (contract).
        unsafe { self.load_bytes(off, out) };
        Ok(())
    }

    /// Copies bytes into the region, with atomic word stores.
    ///
    /// # Safety
    /// As [`Region::write`]; `data` must not overlap the target range.
    #[inline]
    pub(crate) unsafe fn write_from(&self, off: u64, data: &[u8]) -> Result<()> {
        self.check(off, data.len() as u64, "write")?;
        // SAFETY: in bounds; no live reference, no other writer (contract).
        unsafe { self.store_bytes(off, data) };
        Ok(())
    }

    /// Fills bytes with zero, with atomic word stores.
    ///
    /// # Safety
    /// As [`Region::write`].
    pub(crate) unsafe fn zero(&self, off: u64, len: u64) -> Result<()> {
        const Z: [u8; 4096] = [0; 4096];
        self.check(off, len, "zero")?;
        let mut done = 0;
        while done < len {
            let n = (len - done).min(Z.len() as u64);
            // SAFETY: in bounds; contract forwarded.
            unsafe { self.store_bytes(off + done, &Z[..n as usize]) };
            done += n;
        }
        Ok(())
    }

    /// Fills bytes with zero with one plain (non-atomic) write, for memory that no other thread
    /// can reach: a pool being created, before any handle exists. (Cheaper than word stores,
    /// and one access for Miri's race detector rather than one per word.)
    ///
    /// # Safety
    /// No other thread may access these bytes, and no reference to them may be live, until the
    /// pool is published to other threads (which synchronises).
    pub(crate) unsafe fn zero_fresh(&self, off: u64, len: u64) -> Result<()> {
        self.check(off, len, "zero")?;
        // SAFETY: in bounds (checked); exclusive access (contract).
        unsafe { core::ptr::write_bytes(self.ptr(off), 0, len as usize) };
        Ok(())
    }

    /// A shared reference to a `T` at `off`.
    ///
    /// # Safety
    /// For the lifetime `'a`, no thread may write these bytes and no `&mut` to them may exist.
    pub(crate) unsafe fn obj<'a, T: Persistent>(&self, off: u64) -> Result<&'a T> {
        crate::types::persistent::layout_proof::<T>();
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
        crate::types::persistent::layout_proof::<T>();
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
