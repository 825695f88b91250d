//! The memory under a simulated medium (a buffer with room for the pool's maximum size,
//! committed only as it is touched, recycled between media) and a pool's view of it
//! ([`SimBacking`], whose length grows as the pool does).

use std::sync::Arc;
#[cfg(not(miri))]
use std::sync::Mutex;

use super::sim::{Claim, SimMedium};

/// The memory of the working image: page-aligned, zero-initialised, owned by the medium. Its
/// length is the largest the image may grow to (a pool's maximum size); pages are only
/// committed as they are touched.
pub(super) enum Buffer {
    /// An anonymous mapping (everywhere but Miri).
    #[cfg(not(miri))]
    Map(AnonMap),
    /// Under Miri, which has no `mmap`: a page-aligned heap allocation.
    #[cfg(miri)]
    Heap(std::ptr::NonNull<u8>, std::alloc::Layout),
}

impl Buffer {
    /// A buffer of `size` bytes, and how many of its first bytes may be nonzero (0 for a fresh
    /// one; a recycled one's earlier image).
    pub(super) fn new(size: usize) -> std::io::Result<(Buffer, usize)> {
        #[cfg(miri)]
        {
            let layout = std::alloc::Layout::from_size_align(size, 4096)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            // SAFETY: the layout has a non-zero size (at least one page).
            let p = unsafe { std::alloc::alloc_zeroed(layout) };
            let p = std::ptr::NonNull::new(p).ok_or_else(|| std::io::Error::other("no memory"))?;
            Ok((Buffer::Heap(p, layout), 0))
        }
        #[cfg(not(miri))]
        {
            // Recycled buffers skip the page faults of a fresh mapping; anonymous mappings are
            // page-aligned.
            match recycled(size) {
                Some(m) => {
                    let dirty = m.dirty;
                    Ok((Buffer::Map(m), dirty))
                }
                None => Ok((Buffer::Map(AnonMap::new(size)?), 0)),
            }
        }
    }

    pub(super) fn base(&mut self) -> Option<std::ptr::NonNull<u8>> {
        match self {
            #[cfg(not(miri))]
            Buffer::Map(m) => Some(m.base),
            #[cfg(miri)]
            Buffer::Heap(p, _) => Some(*p),
        }
    }

    /// Gives the memory back (to the recycled buffers, where it is small enough); only its
    /// first `dirty` bytes may have been written.
    pub(super) fn release(self, dirty: usize) {
        #[cfg(miri)]
        let _ = dirty;
        match self {
            #[cfg(not(miri))]
            Buffer::Map(mut m) => {
                m.dirty = dirty.min(m.len);
                recycle(m);
            }
            #[cfg(miri)]
            Buffer::Heap(p, layout) => {
                // SAFETY: allocated in `Buffer::new` with this layout; nothing refers to it
                // any more (its medium is being dropped).
                unsafe { std::alloc::dealloc(p.as_ptr(), layout) }
            }
        }
    }
}

/// A pool's hold on its medium together with the length of the pool's region on it, which
/// grows as the pool does ([`SimMedium::extend`]).
#[derive(Debug)]
pub(crate) struct SimBacking {
    claim: Claim,
    len: crate::media::region::MappedLen,
}

impl SimBacking {
    /// The backing of a pool mapping `len` bytes of the claimed medium.
    pub(crate) fn new(claim: Claim, len: u64) -> Self {
        SimBacking {
            claim,
            len: crate::media::region::MappedLen::new(len),
        }
    }

    /// The claimed medium.
    pub(crate) fn medium(&self) -> &Arc<SimMedium> {
        self.claim.medium()
    }

    /// The claim, for a pool that opens the medium anew (creation hands over to open).
    pub(crate) fn into_claim(self) -> Claim {
        self.claim
    }

    /// A region over the pool's bytes of the medium.
    ///
    /// # Safety
    /// The length given to `new` is at most the medium's room (its buffer's length).
    pub(crate) unsafe fn region(&self) -> crate::media::region::Region {
        // SAFETY: the buffer is valid for its whole room, which bounds every length published
        // here (contract of `new`, and `extend` refuses more); it and the length live as long
        // as `self`, which the pool keeps while regions are used.
        unsafe { crate::media::region::Region::new(self.medium().base(), &self.len) }
    }
}

impl crate::heap::GrowMedium for SimBacking {
    fn allocate(&self, _alloc: &[(u64, u64)], new_len: u64) -> std::io::Result<()> {
        let n = usize::try_from(new_len).map_err(|_| std::io::Error::other("beyond usize"))?;
        self.medium().extend(n)
    }

    fn sync(&self) -> std::io::Result<()> {
        // The simulated extension is durable at once (what `fdatasync` promises a file).
        self.medium().sync_extension()
    }

    fn map(&self, new_len: u64) -> std::io::Result<()> {
        if new_len > self.medium().image_len() as u64 {
            return Err(std::io::Error::other("mapping past the simulated image"));
        }
        // SAFETY: the image is at least `new_len` bytes (checked), within the medium's buffer.
        unsafe { self.len.grow_to(new_len) };
        Ok(())
    }
}

/// The room a medium for `image` needs: the maximum size of the pool it holds, if it is a pool
/// of format version 2 that can grow (read from the header without trusting it further than a
/// size to reserve, capped at the largest pool), else the image's own length.
pub(super) fn room_for(image: &[u8]) -> usize {
    let word = |at: usize, n: usize| -> Option<u64> {
        let b = image.get(at..at + n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    let max = match (image.get(..8), word(8, 4), word(32, 8)) {
        (Some(m), Some(2), Some(max)) if m == crate::format::header::MAGIC => max,
        _ => 0,
    };
    let max = max.min(crate::format::layout::MAX_POOL_SIZE);
    image.len().max(usize::try_from(max).unwrap_or(0))
}

/// An anonymous private mapping that commits memory only as it is touched (`MAP_NORESERVE`),
/// so that a medium can have room for a large pool.
#[cfg(not(miri))]
pub(super) struct AnonMap {
    base: std::ptr::NonNull<u8>,
    len: usize,
    /// Bytes from the start that may be nonzero (the rest was never touched).
    dirty: usize,
}

// SAFETY: plain memory owned by this value.
#[cfg(not(miri))]
unsafe impl Send for AnonMap {}

#[cfg(not(miri))]
impl AnonMap {
    fn new(len: usize) -> std::io::Result<AnonMap> {
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(p.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("null mapping"))?;
        Ok(AnonMap {
            base,
            len,
            dirty: 0,
        })
    }
}

#[cfg(not(miri))]
impl Drop for AnonMap {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing refers to it any more (its medium is gone).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Buffers of dropped media, reused by new ones of the same size (at most a few, and only
/// small ones: a recycled buffer's used part is zeroed for its next image).
#[cfg(not(miri))]
static RECYCLED: Mutex<Vec<AnonMap>> = Mutex::new(Vec::new());

#[cfg(not(miri))]
const RECYCLE_MAX: usize = 256 << 20;

#[cfg(not(miri))]
fn recycled(size: usize) -> Option<AnonMap> {
    let mut r = RECYCLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = r.iter().position(|m| m.len == size)?;
    Some(r.swap_remove(i))
}

#[cfg(not(miri))]
fn recycle(m: AnonMap) {
    let mut r = RECYCLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if r.len() < 8 && m.len >= 4096 && m.len <= RECYCLE_MAX {
        r.push(m);
    }
}
