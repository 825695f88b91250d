//! The simulated medium: a pool image in DRAM with a second, *persisted* image that only
//! flush + fence update, so that the images a power failure could leave can be produced.
//!
//! Model (docs/crash-testing.md): code writes the working image. A flush records the flushed
//! cache lines (or, for msync-style callers, pages) with their content at that moment; a fence
//! copies the recorded lines into the persisted image. At every fence — a crash point — a hook
//! may look at both images: the lines (or 8-byte words) in which they differ are exactly those
//! whose fate a power failure leaves open, each independently.
//!
//! A simulated pool is driven by one thread at a time (or a deterministic interleaving): the
//! hook reads the working image while the code under test is stopped inside a fence.

use std::sync::{Arc, Mutex};

use crate::persist::CACHE_LINE;

/// What the hook sees at a crash point.
pub struct CrashPoint<'a> {
    /// Fences issued before this one on this medium.
    pub index: u64,
    /// The image that would survive if no unfenced line reached the medium.
    pub persisted: &'a [u8],
    /// The image as the code wrote it (every store reached the medium).
    pub working: &'a [u8],
}

/// A hook called at every fence, before the fence takes effect.
pub type FenceHook = Box<dyn FnMut(&CrashPoint<'_>) + Send>;

struct State {
    /// Empty for an untracked medium (no persisted image is kept).
    persisted: Vec<u8>,
    tracked: bool,
    /// Flushed lines not yet fenced, per flushing thread: a fence (`sfence`) orders only the
    /// issuing thread's flushes.
    pending: Vec<(std::thread::ThreadId, u64, u64, [u8; CACHE_LINE as usize])>,
    /// Sequence number of each flush; a line's persisted copy never goes back to an older
    /// flush's content (a later write-back of the line by another thread wins).
    flush_seq: u64,
    persisted_seq: std::collections::HashMap<u64, u64>,
    after_fence: Option<Arc<dyn Fn() + Send + Sync>>,
    fences: u64,
    hook: Option<FenceHook>,
}

/// A simulated persistent-memory medium holding one pool image.
pub struct SimMedium {
    // Owns the memory (taken only by `drop`); accessed only through `base`.
    working: Option<memmap2::MmapMut>,
    base: std::ptr::NonNull<u8>,
    len: usize,
    image_len: usize,
    state: Mutex<State>,
}

// SAFETY: the working image is plain memory owned by `working`; `base` is its address. Access
// to it follows the pool's rules (the region's contracts), and the hook reads it only while the
// single thread driving a simulated pool is stopped inside a fence (module documentation).
unsafe impl Send for SimMedium {}
// SAFETY: as above; the mutable state is behind a mutex.
unsafe impl Sync for SimMedium {}

impl std::fmt::Debug for SimMedium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMedium").field("len", &self.len).finish()
    }
}

impl SimMedium {
    /// A medium whose working and persisted images are both `image`.
    pub fn from_image(image: &[u8]) -> std::io::Result<Arc<SimMedium>> {
        Self::new(image, true)
    }

    /// A medium that keeps no persisted image: flushes and fences are not recorded and no hook
    /// can be set. Opening a post-crash image only to check it needs no more.
    pub(crate) fn from_image_untracked(image: &[u8]) -> std::io::Result<Arc<SimMedium>> {
        Self::new(image, false)
    }

    fn new(image: &[u8], tracked: bool) -> std::io::Result<Arc<SimMedium>> {
        let size = image.len().max(4096).div_ceil(4096) * 4096;
        // Recycled buffers skip the page faults of a fresh mapping; anonymous mappings are
        // page-aligned.
        let mut working = match recycled(size) {
            Some(m) => m,
            None => memmap2::MmapMut::map_anon(size)?,
        };
        working[..image.len()].copy_from_slice(image);
        working[image.len()..].fill(0);
        let persisted = if tracked {
            working.to_vec()
        } else {
            Vec::new()
        };
        let len = working.len();
        let base = std::ptr::NonNull::new(working.as_mut_ptr())
            .ok_or_else(|| std::io::Error::other("null mapping"))?;
        Ok(Arc::new(SimMedium {
            working: Some(working),
            base,
            len,
            image_len: image.len(),
            state: Mutex::new(State {
                persisted,
                tracked,
                pending: Vec::new(),
                flush_seq: 0,
                persisted_seq: std::collections::HashMap::new(),
                after_fence: None,
                fences: 0,
                hook: None,
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Base address of the working image (for the pool's region).
    pub(crate) fn base(&self) -> std::ptr::NonNull<u8> {
        self.base
    }

    /// Length of the image (as a file would have it).
    pub fn image_len(&self) -> usize {
        self.image_len
    }

    /// A copy of the first `n` bytes of the working image (at most the image's length).
    pub(crate) fn prefix(&self, n: usize) -> Vec<u8> {
        self.working_slice()[..n.min(self.image_len)].to_vec()
    }

    /// Reads the working image. Called only from `flush`, `fence` and the image copies, while
    /// the thread driving the pool is inside pobj code that holds no reference into the image.
    fn working_slice(&self) -> &[u8] {
        // SAFETY: `base` is valid for `len` initialised bytes for the life of `self`; nothing
        // writes them while this shared slice is in use (see above and the module docs).
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// Records that `off..off+len` was flushed: the lines' current contents become pending.
    pub(crate) fn flush(&self, off: u64, len: u64) {
        if !self.lock().tracked {
            return;
        }
        let start = off / CACHE_LINE * CACHE_LINE;
        let end = (off + len).div_ceil(CACHE_LINE) * CACHE_LINE;
        let w = self.working_slice();
        let me = std::thread::current().id();
        let mut st = self.lock();
        let mut l = start;
        while l < end && (l + CACHE_LINE) as usize <= w.len() {
            let mut line = [0u8; CACHE_LINE as usize];
            line.copy_from_slice(&w[l as usize..(l + CACHE_LINE) as usize]);
            st.flush_seq += 1;
            let seq = st.flush_seq;
            st.pending.push((me, l, seq, line));
            l += CACHE_LINE;
        }
    }

    /// A fence: first the crash point (the hook), then the pending lines reach the persisted
    /// image.
    pub(crate) fn fence(&self) {
        let mut st = self.lock();
        if !st.tracked {
            st.fences += 1;
            return;
        }
        // The hook runs with the medium locked: another thread's flush or fence waits for it.
        // (It must not use this medium itself; checks open images on media of their own.)
        if let Some(mut hook) = st.hook.take() {
            let index = st.fences;
            let persisted = std::mem::take(&mut st.persisted);
            hook(&CrashPoint {
                index,
                persisted: &persisted,
                working: self.working_slice(),
            });
            st.persisted = persisted;
            if st.hook.is_none() {
                st.hook = Some(hook);
            }
        }
        let me = std::thread::current().id();
        let pending = std::mem::take(&mut st.pending);
        let mut keep = Vec::new();
        for (t, l, seq, line) in pending {
            if t == me {
                let newer = st.persisted_seq.get(&l).is_some_and(|&p| p > seq);
                if !newer {
                    st.persisted[l as usize..(l + CACHE_LINE) as usize].copy_from_slice(&line);
                    st.persisted_seq.insert(l, seq);
                }
            } else {
                keep.push((t, l, seq, line));
            }
        }
        st.pending = keep;
        st.fences += 1;
        let after = st.after_fence.clone();
        drop(st);
        if let Some(f) = after {
            f();
        }
    }

    /// Installs (or removes) a callback run after every fence, outside the medium's lock: a
    /// scheduling point for tests that interleave several threads deterministically.
    pub fn set_after_fence(&self, f: Option<Arc<dyn Fn() + Send + Sync>>) {
        self.lock().after_fence = f;
    }

    /// Installs (or removes) the fence hook.
    pub fn set_hook(&self, hook: Option<FenceHook>) {
        self.lock().hook = hook;
    }

    /// Fences so far.
    pub fn fences(&self) -> u64 {
        self.lock().fences
    }

    /// A copy of the persisted image (for an untracked medium, the working image).
    pub fn persisted_image(&self) -> Vec<u8> {
        let st = self.lock();
        if st.tracked {
            st.persisted[..self.image_len].to_vec()
        } else {
            drop(st);
            self.working_image()
        }
    }

    /// A copy of the working image.
    pub fn working_image(&self) -> Vec<u8> {
        self.working_slice()[..self.image_len].to_vec()
    }
}

impl Drop for SimMedium {
    fn drop(&mut self) {
        if let Some(m) = self.working.take() {
            recycle(m);
        }
    }
}

/// Buffers of dropped media, reused by new ones of the same size (at most a few).
static RECYCLED: Mutex<Vec<memmap2::MmapMut>> = Mutex::new(Vec::new());

fn recycled(size: usize) -> Option<memmap2::MmapMut> {
    let mut r = RECYCLED.lock().unwrap_or_else(|e| e.into_inner());
    let i = r.iter().position(|m| m.len() == size)?;
    Some(r.swap_remove(i))
}

fn recycle(m: memmap2::MmapMut) {
    let mut r = RECYCLED.lock().unwrap_or_else(|e| e.into_inner());
    if r.len() < 8 && m.len() >= 4096 {
        r.push(m);
    }
}
