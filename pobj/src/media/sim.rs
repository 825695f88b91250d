//! The simulated medium: a pool image in DRAM with a second, *persisted* image that only
//! flush + fence update, so that the images a power failure could leave can be produced.
//!
//! Model (docs/crash-testing.md): code writes the working image. A flush records the flushed
//! cache lines with their content at that moment; a fence copies the recorded lines of the
//! fencing thread into the persisted image. At every fence — a crash point — a hook may look at
//! both images: the lines (or 8-byte words) in which they differ are exactly those whose fate a
//! power failure leaves open, each independently.
//!
//! Soundness (docs/format.md §12.7): the working image is the pool's memory, which transactions
//! write while the medium reads it. The medium therefore reads it only with atomic 8-byte loads
//! (every store pobj makes is an atomic 8-byte store, so the two never race), and only where no
//! `&mut` into it can be live: inside a fence (the fencing thread is in pobj code, and the
//! safe API excludes other writers holding references), or while it holds the medium's claim
//! itself (no pool is open on it). A pool holds the claim for as long as it is open, so that
//! two pools can never share one image.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

pub(crate) use super::sim_memory::SimBacking;
use super::sim_memory::{room_for, Buffer};
use crate::format::layout::CACHE_LINE;

/// What the hook sees at a crash point.
pub struct CrashPoint<'a> {
    /// Fences issued before this one on this medium.
    pub index: u64,
    /// The image that would survive if no unfenced line reached the medium.
    pub persisted: &'a [u8],
    medium: &'a SimMedium,
}

impl CrashPoint<'_> {
    /// Length of the working image (equal to the persisted image's).
    pub fn working_len(&self) -> usize {
        self.medium.image_len()
    }

    /// Copies the working image — every store the code made, as if all of it reached the
    /// medium — into `out` (resized to the image's length). The copy is made with atomic
    /// 8-byte loads, so it is sound while other threads' shared transactions store into the
    /// pool (their stores are atomic too).
    pub fn copy_working(&self, out: &mut Vec<u8>) {
        self.medium.copy_working(out);
    }

    /// A copy of the working image (see [`CrashPoint::copy_working`]).
    pub fn working(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.copy_working(&mut v);
        v
    }
}

/// A hook called at every fence, before the fence takes effect.
pub type FenceHook = Box<dyn FnMut(&CrashPoint<'_>) + Send>;

struct State {
    /// Empty for an untracked medium (no persisted image is kept). Shared with a running hook,
    /// which reads it without the lock.
    persisted: Arc<Vec<u8>>,
    tracked: bool,
    /// Flushed lines not yet fenced, per flushing thread: a fence (`sfence`) orders only the
    /// issuing thread's flushes.
    pending: Vec<(std::thread::ThreadId, u64, u64, [u8; CACHE_LINE as usize])>,
    /// Sequence number of each flush; a line's persisted copy never goes back to an older
    /// flush's content (a later write-back of the line by another thread wins).
    flush_seq: u64,
    persisted_seq: std::collections::HashMap<u64, u64>,
    after_fence: Option<Arc<dyn Fn() + Send + Sync>>,
    hook: Option<FenceHook>,
    /// Bumped by every `set_hook`, so that a hook that replaces or removes itself is not put
    /// back when it returns.
    hook_generation: u64,
    /// A hook is running (without the lock): other threads' fences wait for it.
    hook_running: bool,
    /// The index of the fence that is to fail (a failing msync), if any.
    fail_at: Option<u64>,
    /// Extensions fail (as a full file system would) while set.
    extend_fails: bool,
    /// Syncs of an extension fail (as an `fdatasync` reporting a write-back error would).
    sync_fails: bool,
}

/// A simulated persistent-memory medium holding one pool image.
pub struct SimMedium {
    // Owns the memory (taken only by `drop`); accessed only through `base`.
    working: Option<Buffer>,
    base: std::ptr::NonNull<u8>,
    /// Bytes of the buffer: the most the image can grow to.
    len: usize,
    /// Bytes of the image now (as a file would have it); grows with [`SimMedium::extend`].
    image_len: AtomicUsize,
    /// Held by the pool open on this medium (or by an image copy in progress).
    claimed: AtomicBool,
    fences: AtomicU64,
    state: Mutex<State>,
    hook_done: Condvar,
}

// SAFETY: the working image is plain memory owned by `working`; `base` is its address. The
// medium reads it only with atomic loads and only where no reference into it can be live
// (module documentation); everything else is behind the mutex or atomic.
unsafe impl Send for SimMedium {}
// SAFETY: as above.
unsafe impl Sync for SimMedium {}

impl std::fmt::Debug for SimMedium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMedium")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A pool's hold on its medium: while it lives, no other pool can open the medium and the
/// medium's own image copies are refused.
#[derive(Debug)]
pub(crate) struct Claim(Arc<SimMedium>);

impl Claim {
    /// Claims the medium, or `None` if a pool (or a copy) already holds it.
    pub(crate) fn take(sim: Arc<SimMedium>) -> Option<Claim> {
        sim.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(Claim(sim))
    }

    pub(crate) fn medium(&self) -> &Arc<SimMedium> {
        &self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.claimed.store(false, Ordering::Release);
    }
}

/// Puts a running hook back (unless it was replaced meanwhile) and wakes waiting fences, also
/// when the hook panics.
struct HookRun<'a> {
    medium: &'a SimMedium,
    hook: Option<FenceHook>,
    generation: u64,
}

impl Drop for HookRun<'_> {
    fn drop(&mut self) {
        let mut st = self.medium.lock();
        st.hook_running = false;
        if st.hook.is_none() && st.hook_generation == self.generation {
            st.hook = self.hook.take();
        }
        drop(st);
        self.medium.hook_done.notify_all();
        // A hook that replaced itself is dropped here, inside the fence: its captures' drop
        // must not unwind through the pool's commit or rollback either.
        drop_quietly(self.hook.take());
    }
}

impl SimMedium {
    /// A medium whose working and persisted images are both `image`. If `image` holds a pool
    /// that can grow, the medium has room for the pool's maximum size.
    pub fn from_image(image: &[u8]) -> std::io::Result<Arc<SimMedium>> {
        Self::new(image, room_for(image), true)
    }

    /// A medium holding `image` with room to grow to `reserve` bytes.
    pub(crate) fn with_room(image: &[u8], reserve: usize) -> std::io::Result<Arc<SimMedium>> {
        Self::new(image, reserve, true)
    }

    /// A medium that keeps no persisted image: flushes and fences are not recorded and no hook
    /// can be set. Opening a post-crash image only to check it needs no more.
    pub(crate) fn from_image_untracked(image: &[u8]) -> std::io::Result<Arc<SimMedium>> {
        Self::new(image, room_for(image), false)
    }

    fn new(image: &[u8], reserve: usize, tracked: bool) -> std::io::Result<Arc<SimMedium>> {
        let page = |n: usize| n.max(4096).div_ceil(4096) * 4096;
        let size = page(image.len().max(reserve));
        // Where the room cannot be reserved (an address-space limit), the image's own length:
        // the pool then cannot grow on this medium.
        let (size, (mut working, dirty)) = match Buffer::new(size) {
            Ok(b) => (size, b),
            Err(_) if size > page(image.len()) => {
                (page(image.len()), Buffer::new(page(image.len()))?)
            }
            Err(e) => return Err(e),
        };
        let base = working
            .base()
            .ok_or_else(|| std::io::Error::other("null mapping"))?;
        // SAFETY: `base` is valid for `size` bytes and nothing else refers to the new buffer.
        let mem = unsafe { std::slice::from_raw_parts_mut(base.as_ptr(), size) };
        mem[..image.len()].copy_from_slice(image);
        if dirty > image.len() {
            mem[image.len()..dirty].fill(0);
        }
        let persisted = if tracked {
            mem[..page(image.len())].to_vec()
        } else {
            Vec::new()
        };
        Ok(Arc::new(SimMedium {
            working: Some(working),
            base,
            len: size,
            image_len: AtomicUsize::new(image.len()),
            claimed: AtomicBool::new(false),
            fences: AtomicU64::new(0),
            state: Mutex::new(State {
                persisted: Arc::new(persisted),
                tracked,
                pending: Vec::new(),
                flush_seq: 0,
                persisted_seq: std::collections::HashMap::new(),
                after_fence: None,
                hook: None,
                hook_generation: 0,
                hook_running: false,
                fail_at: None,
                extend_fails: false,
                sync_fails: false,
            }),
            hook_done: Condvar::new(),
        }))
    }

    /// The lock, once no hook of another thread's fence is running.
    fn lock_between_hooks(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.lock();
        while st.hook_running {
            st = self
                .hook_done
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        st
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Base address of the working image (for the pool's region).
    pub(crate) fn base(&self) -> std::ptr::NonNull<u8> {
        self.base
    }

    /// Length of the image (as a file would have it).
    pub fn image_len(&self) -> usize {
        self.image_len.load(Ordering::Acquire)
    }

    /// Bytes the image may grow to (its buffer's length).
    pub(crate) fn room(&self) -> usize {
        self.len
    }

    /// Extends the image to `new_len` bytes of zeros, as a file extension made durable
    /// (`fallocate` + `fdatasync`) would: both images grow at once, so a crash after this call
    /// leaves the longer image. Fails with `ENOSPC` beyond the medium's room, or while
    /// [`SimMedium::fail_extensions`] is set. Waits for a running crash-point hook, so that a
    /// hook never sees the image change length.
    pub(crate) fn extend(&self, new_len: usize) -> std::io::Result<()> {
        let mut st = self.lock_between_hooks();
        if new_len <= self.image_len() {
            return Ok(());
        }
        if st.extend_fails || new_len > self.len {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        if st.tracked {
            let want = new_len.div_ceil(4096) * 4096;
            if st.persisted.len() < want {
                Arc::make_mut(&mut st.persisted).resize(want, 0);
            }
        }
        self.image_len.store(new_len, Ordering::Release);
        Ok(())
    }

    /// Makes every extension fail with `ENOSPC` (a full file system) while `on`.
    pub fn fail_extensions(&self, on: bool) {
        self.lock().extend_fails = on;
    }

    /// Makes the sync of every extension fail with `EIO` while `on`, as an `fdatasync` does
    /// that reports an earlier write-back failure.
    pub fn fail_syncs(&self, on: bool) {
        self.lock().sync_fails = on;
    }

    /// The sync of an extension: durable at once, unless [`SimMedium::fail_syncs`] is set.
    pub(crate) fn sync_extension(&self) -> std::io::Result<()> {
        if self.lock().sync_fails {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }

    /// Whether the medium keeps a persisted image (media made by `from_image` do).
    pub(crate) fn is_tracked(&self) -> bool {
        self.lock().tracked
    }

    /// Copies the whole 8-byte words `from..from + out.len()` of the working image (both
    /// multiples of 8, inside the buffer) with atomic loads.
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "the buffer is page-aligned and `from` a multiple of 8"
    )]
    fn load_words(&self, from: usize, out: &mut [u8]) {
        debug_assert!(from.is_multiple_of(8) && out.len().is_multiple_of(8));
        debug_assert!(from + out.len() <= self.len);
        for (k, chunk) in out.chunks_exact_mut(8).enumerate() {
            let p = self.base.as_ptr().wrapping_add(from + k * 8).cast::<u64>();
            // SAFETY: `p` is 8-aligned (the buffer is page-aligned, `from` a multiple of 8) and
            // inside the buffer (asserted above; callers pass ranges within `len`), which lives
            // as long as `self`. Every access to the working image by pobj is an atomic 8-byte
            // access, and the medium reads only where no reference into the image is live
            // (module documentation), so this load races with nothing non-atomic.
            let v = unsafe { AtomicU64::from_ptr(p) }.load(Ordering::Relaxed);
            chunk.copy_from_slice(&v.to_ne_bytes());
        }
    }

    /// The working image, whole words, cut to the image's length.
    fn copy_working(&self, out: &mut Vec<u8>) {
        let n = self.image_len();
        let words = n.div_ceil(8) * 8;
        out.resize(words, 0);
        self.load_words(0, out);
        out.truncate(n);
    }

    /// A copy of the first `n` bytes of the working image (at most the image's length). Called
    /// by a pool opening the medium, with its claim held.
    pub(crate) fn prefix(&self, n: usize) -> Vec<u8> {
        let n = n.min(self.image_len());
        let mut v = vec![0u8; n.div_ceil(8) * 8];
        self.load_words(0, &mut v);
        v.truncate(n);
        v
    }

    /// Records that `off..off+len` was flushed: the lines' current contents become pending.
    pub(crate) fn flush(&self, off: u64, len: u64) {
        let mut st = self.lock();
        if !st.tracked {
            return;
        }
        let start = off / CACHE_LINE * CACHE_LINE;
        let end = (off + len).div_ceil(CACHE_LINE) * CACHE_LINE;
        let me = std::thread::current().id();
        let mut l = start;
        while l < end && (l + CACHE_LINE) as usize <= st.persisted.len() {
            let mut line = [0u8; CACHE_LINE as usize];
            // Other threads may be storing into this line (bitmap words are shared): atomic
            // loads, each word as some thread last stored it.
            self.load_words(l as usize, &mut line);
            st.flush_seq += 1;
            let seq = st.flush_seq;
            st.pending.push((me, l, seq, line));
            l += CACHE_LINE;
        }
    }

    /// Like [`SimMedium::flush`] followed by a fence, for a pool being created: no other thread
    /// can reach the image and no crash point can be observed yet (the medium is new and has no
    /// hook), so the lines go straight to the persisted image, with one plain copy. (For Miri's
    /// checkers that is one access rather than one per word and line, which makes creating a
    /// pool under Miri take seconds rather than half a minute.)
    ///
    /// # Safety
    /// No other thread accesses the image and no reference into `off..off+len` is live.
    pub(crate) unsafe fn flush_fresh(&self, off: u64, len: u64) {
        let mut st = self.lock();
        if !st.tracked {
            return;
        }
        let start = (off / CACHE_LINE * CACHE_LINE) as usize;
        let end =
            ((off + len).div_ceil(CACHE_LINE) * CACHE_LINE).min(st.persisted.len() as u64) as usize;
        if start >= end {
            return;
        }
        // SAFETY: inside the buffer (clamped to `len`), which lives as long as `self`; exclusive
        // access (contract), so a plain shared view of these bytes races with nothing.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().wrapping_add(start), end - start)
        };
        let mut persisted = std::mem::take(&mut st.persisted);
        Arc::make_mut(&mut persisted)[start..end].copy_from_slice(bytes);
        st.persisted = persisted;
    }

    /// A fence: first the crash point (the hook), then the calling thread's pending lines reach
    /// the persisted image. Fails, as a failed `msync` would, at the index set by
    /// [`SimMedium::fail_fence`]: its lines then stay pending (not known to be durable).
    pub(crate) fn fence(&self) -> std::io::Result<()> {
        // Crash points are taken one at a time.
        let mut st = self.lock_between_hooks();
        let index = self.fences.load(Ordering::Acquire);
        if st.fail_at == Some(index) {
            st.fail_at = None;
            self.fences.fetch_add(1, Ordering::AcqRel);
            return Err(std::io::Error::other(format!(
                "simulated medium: fence {index} failed (injected)"
            )));
        }
        if !st.tracked {
            self.fences.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        if let Some(hook) = st.hook.take() {
            // The hook runs without the lock, so that it may call back into the medium (its
            // copies, `fences`, `set_hook`) without deadlocking; other fences wait for it.
            st.hook_running = true;
            let persisted = Arc::clone(&st.persisted);
            let mut run = HookRun {
                medium: self,
                hook: Some(hook),
                generation: st.hook_generation,
            };
            drop(st);
            // A hook that panics is a fence that failed: the panic must not unwind through the
            // pool's commit or rollback, which would leave a transaction half done in memory.
            let outcome = match run.hook.as_mut() {
                Some(h) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    h(&CrashPoint {
                        index,
                        persisted: &persisted[..self.image_len().min(persisted.len())],
                        medium: self,
                    });
                })),
                None => Ok(()),
            };
            drop(persisted);
            st = self.lock();
            if let Err(p) = outcome {
                self.fences.fetch_add(1, Ordering::AcqRel);
                drop(st);
                drop(run);
                return Err(panicked("fence hook", index, p));
            }
            Self::apply_pending(&mut st);
            self.fences.fetch_add(1, Ordering::AcqRel);
            let after = st.after_fence.clone();
            drop(st);
            // Clears `hook_running`, puts the hook back and wakes waiting fences.
            drop(run);
            return Self::after(after, index);
        }
        Self::apply_pending(&mut st);
        self.fences.fetch_add(1, Ordering::AcqRel);
        let after = st.after_fence.clone();
        drop(st);
        Self::after(after, index)
    }

    /// Runs the after-fence callback; one that panics makes the fence report failure.
    fn after(f: Option<Arc<dyn Fn() + Send + Sync>>, index: u64) -> std::io::Result<()> {
        let Some(f) = f else { return Ok(()) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f()))
            .map_err(|p| panicked("after-fence callback", index, p));
        // The last reference if the callback removed itself: its captures' drop must not
        // unwind out of the fence either.
        drop_quietly(f);
        r
    }

    /// Copies the calling thread's pending lines into the persisted image.
    fn apply_pending(st: &mut State) {
        let me = std::thread::current().id();
        let pending = std::mem::take(&mut st.pending);
        let mut keep = Vec::new();
        let mut persisted = std::mem::take(&mut st.persisted);
        let img = Arc::make_mut(&mut persisted);
        for (t, l, seq, line) in pending {
            if t == me {
                let newer = st.persisted_seq.get(&l).is_some_and(|&p| p > seq);
                if !newer {
                    img[l as usize..(l + CACHE_LINE) as usize].copy_from_slice(&line);
                    st.persisted_seq.insert(l, seq);
                }
            } else {
                keep.push((t, l, seq, line));
            }
        }
        st.persisted = persisted;
        st.pending = keep;
    }

    /// Installs (or removes) a callback run after every fence, outside the medium's lock: a
    /// scheduling point for tests that interleave several threads deterministically. If it
    /// panics, the fence reports an I/O error (the panic's message) to the pool that issued it,
    /// which then refuses writes until reopened.
    pub fn set_after_fence(&self, f: Option<Arc<dyn Fn() + Send + Sync>>) {
        // The old callback is dropped after the lock is released: its captures' drop may call
        // the medium.
        let old = std::mem::replace(&mut self.lock().after_fence, f);
        drop(old);
    }

    /// Installs (or removes) the fence hook. It may be called from inside the hook itself.
    ///
    /// The hook runs inside the fencing thread's operation: calls back into the pool or store
    /// under test are refused (`NestedTransaction`). If it panics, the fence fails as a failed
    /// `msync` would: the pool gets an I/O error carrying the panic's message, and refuses
    /// writes until reopened.
    pub fn set_hook(&self, hook: Option<FenceHook>) {
        let mut st = self.lock();
        let old = std::mem::replace(&mut st.hook, hook);
        st.hook_generation += 1;
        drop(st);
        // Dropped without the lock: its captures' drop may call the medium.
        drop(old);
    }

    /// Makes the fence with index `index` (as counted by [`SimMedium::fences`]) fail, as an
    /// `msync` that reports an I/O error would: nothing it was to make durable is known to be,
    /// and the pool that issued it returns an error and refuses writes until reopened. `None`
    /// cancels. For testing what a structure does when persistence fails.
    pub fn fail_fence(&self, index: Option<u64>) {
        self.lock().fail_at = index;
    }

    /// Fences so far.
    pub fn fences(&self) -> u64 {
        self.fences.load(Ordering::Acquire)
    }

    /// A copy of the persisted image. For an untracked medium (internal to the crash harness)
    /// it is the working image, when no pool holds the medium, and empty otherwise.
    pub fn persisted_image(&self) -> Vec<u8> {
        let st = self.lock();
        if st.tracked {
            st.persisted[..self.image_len().min(st.persisted.len())].to_vec()
        } else {
            drop(st);
            self.working_image().unwrap_or_default()
        }
    }

    /// A copy of the working image, or `None` while a pool is open on the medium (its
    /// transactions may hold references into the image; use a fence hook's
    /// [`CrashPoint::copy_working`] to see it mid-workload).
    pub fn working_image(&self) -> Option<Vec<u8>> {
        // Holding the claim for the copy keeps pools from opening meanwhile.
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        let mut v = Vec::new();
        self.copy_working(&mut v);
        self.claimed.store(false, Ordering::Release);
        Some(v)
    }
}

impl Drop for SimMedium {
    fn drop(&mut self) {
        if let Some(b) = self.working.take() {
            b.release(self.image_len().div_ceil(4096) * 4096);
        }
    }
}

/// The error of a fence whose hook or callback panicked, with the panic's message. The payload
/// is dropped quietly: a payload whose drop panics must not unwind out of the fence.
fn panicked(what: &str, index: u64, p: Box<dyn std::any::Any + Send>) -> std::io::Error {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_string());
    drop_quietly(p);
    std::io::Error::other(format!(
        "simulated medium: the {what} of fence {index} panicked: {msg}"
    ))
}

/// Drops `v` inside the fence without letting a panic in its destructor unwind further (the
/// second panic's payload is leaked rather than dropped, which could panic again).
fn drop_quietly<T>(v: T) {
    if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(v))) {
        std::mem::forget(again);
    }
}
