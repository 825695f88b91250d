//! The grace period of shared objects' blocks. A shared object (`format/object.rs`,
//! `SHARED_FLAG`) is read by other threads without the pool's lock; a reader may still be
//! reading its block when the transaction that freed it commits. The block is therefore handed
//! back to the free lists only after every thread that was pinned ([`ReadPin`]) at the free has
//! unpinned (crossbeam-epoch's deferred functions), so that it cannot be reused — say for an
//! object that a `&mut` writes — while a racy reader reads it.
//!
//! Only the volatile free lists wait: the free itself is durable at commit, so a crash in the
//! grace period loses nothing (the next open finds the block free). Accounting (objects and
//! bytes allocated) follows the free at once; `free_bytes` counts quarantined bytes as free.
//!
//! Under Miri and under `--cfg loom` (the KV store's models, whose threads share one OS thread
//! and so crossbeam-epoch's thread-local participant) the block is handed back at once; under
//! Miri because crossbeam-epoch's internals are outside what
//! Miri's aliasing models accept (crossbeam-rs/crossbeam#545), and the Miri subset is
//! single-reader.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Block, Heap};

/// Blocks of freed shared objects whose grace period is over, waiting for the next
/// reservation to take them back.
/// pobj's own epoch collector: other libraries' pins do not hold back the reuse of pobj's
/// blocks, and flushing runs only pobj's deferred functions (never another crate's
/// destructors inside a commit).
#[cfg(not(any(miri, loom)))]
fn collector() -> &'static crossbeam_epoch::Collector {
    static COLLECTOR: std::sync::OnceLock<crossbeam_epoch::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(crossbeam_epoch::Collector::new)
}

#[cfg(not(any(miri, loom)))]
std::thread_local! {
    static HANDLE: crossbeam_epoch::LocalHandle = collector().register();
}

/// Pins this thread in pobj's collector (from a thread-local's destructor, through a handle
/// of its own).
#[cfg(not(any(miri, loom)))]
fn pin() -> crossbeam_epoch::Guard {
    HANDLE
        .try_with(crossbeam_epoch::LocalHandle::pin)
        .unwrap_or_else(|_| collector().register().pin())
}

#[derive(Debug, Default)]
pub(crate) struct Quarantine {
    ready: Arc<Ready>,
    /// Every reservation first lets the grace period run out as far as pins allow
    /// ([`Heap::settle_quarantine`]), so that reuse does not depend on the collector's history
    /// (the crash fuzzer's determinism; crash-test pools only).
    #[cfg(feature = "crash-test")]
    settle: AtomicBool,
}

#[derive(Debug, Default)]
struct Ready {
    blocks: Mutex<Vec<Block>>,
    /// Every block in quarantine (waiting or ready), for `Pool::check`.
    held: Mutex<std::collections::HashSet<Block>>,
    /// Whether `blocks` may be non-empty (checked without the lock on every reservation).
    any: AtomicBool,
    /// Footprint of the blocks still in their grace period or ready.
    bytes: AtomicU64,
}

impl Ready {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Block>> {
        lock(&self.blocks)
    }
}

/// A mutex whose data a panic cannot leave inconsistent (pushes and removals of plain blocks).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by a reader of shared objects for as long as it may read one (from finding its pointer
/// to the last read): blocks freed meanwhile are not reused until it is dropped. Cheap to
/// take (a thread-local pin in pobj's own epoch collector) and nestable. Hold it briefly: while
/// any thread holds one, no shared block freed since in any pool of the process is reused (an
/// allocation that then finds its pool full waits a bounded time, then reports `OutOfSpace`).
/// See [`Pool::read_words`](crate::Pool::read_words).
#[must_use = "a pin protects reads only while it is held"]
pub struct ReadPin {
    #[cfg(not(any(miri, loom)))]
    _guard: crossbeam_epoch::Guard,
}

impl std::fmt::Debug for ReadPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPin").finish_non_exhaustive()
    }
}

impl ReadPin {
    /// Pins this thread.
    pub fn new() -> ReadPin {
        ReadPin {
            #[cfg(not(any(miri, loom)))]
            _guard: pin(),
        }
    }
}

impl Default for ReadPin {
    fn default() -> Self {
        ReadPin::new()
    }
}

impl Heap {
    /// Takes back the block of a freed (or never published) shared object once every reader
    /// pinned now has unpinned. Its accounting changes at once.
    pub(crate) fn release_shared(&self, b: Block) {
        {
            let mut st = self.lock();
            st.alloc_objects = st.alloc_objects.saturating_sub(1);
            st.alloc_bytes = st.alloc_bytes.saturating_sub(b.footprint());
        }
        let ready = Arc::clone(&self.quarantine.ready);
        ready.bytes.fetch_add(b.footprint(), Ordering::AcqRel);
        lock(&ready.held).insert(b);
        #[cfg(any(miri, loom))]
        {
            ready.lock().push(b);
            ready.any.store(true, Ordering::Release);
        }
        #[cfg(not(any(miri, loom)))]
        {
            let guard = pin();
            guard.defer(move || {
                ready.lock().push(b);
                ready.any.store(true, Ordering::Release);
            });
            // A settling pool seals the bag at once: when the block becomes ready must not
            // depend on how full this thread's bag was (other pools' frees fill it too).
            #[cfg(feature = "crash-test")]
            if self.quarantine.settle.load(Ordering::Relaxed) {
                guard.flush();
            }
            // (No flush here: the thread's bag of deferred functions is sealed when it fills
            // or when a reservation waits for quarantined blocks, `wait_quarantine`.)
        }
    }

    /// Hands the ready blocks back to the free lists; whether there were any.
    pub(super) fn drain_quarantine(&self) -> bool {
        let ready = &self.quarantine.ready;
        if !ready.any.load(Ordering::Acquire) {
            return false;
        }
        let blocks = {
            let mut v = ready.lock();
            ready.any.store(false, Ordering::Release);
            std::mem::take(&mut *v)
        };
        if blocks.is_empty() {
            return false;
        }
        let mut held = lock(&ready.held);
        let mut st = self.lock();
        for b in blocks {
            ready.bytes.fetch_sub(b.footprint(), Ordering::AcqRel);
            held.remove(&b);
            Self::hand_back(&mut st, b);
        }
        true
    }

    /// Makes every later reservation settle the quarantine first (crash-test pools).
    #[cfg(feature = "crash-test")]
    pub(crate) fn settle_before_reservations(&self) {
        self.quarantine.settle.store(true, Ordering::Relaxed);
    }

    /// Hands back what is ready, after first letting the grace period run out as far as the
    /// threads' pins allow, when the pool was asked to (`settle_before_reservations`).
    /// Blocks a thread may still read stay in quarantine, so this is as safe as
    /// `drain_quarantine`; with no other thread pinned, the blocks handed back depend only on
    /// this thread's frees and pins, not on when the collector last ran.
    pub(super) fn settle_quarantine(&self) {
        #[cfg(all(feature = "crash-test", not(any(miri, loom))))]
        if self.quarantine.settle.load(Ordering::Relaxed) && self.in_quarantine() {
            // Each flush seals this thread's bag and advances the epoch by at most one step;
            // a block becomes ready two steps after its free. Eight steps empty the queue
            // (crossbeam collects up to eight bags per call).
            for _ in 0..8 {
                pin().flush();
            }
        }
        self.drain_quarantine();
    }

    /// Whether blocks are in their grace period or ready.
    pub(super) fn in_quarantine(&self) -> bool {
        self.quarantine.ready.bytes.load(Ordering::Acquire) > 0
    }

    /// Bytes in quarantine (counted as free by the statistics).
    pub(super) fn quarantined_bytes(&self) -> u64 {
        self.quarantine.ready.bytes.load(Ordering::Acquire)
    }

    /// The volatile state as it will be once every quarantined block is handed back: what
    /// `Pool::check` compares the medium with (a quarantined block is free on the medium).
    pub(super) fn state_after_quarantine(&self) -> super::State {
        let held = lock(&self.quarantine.ready.held);
        let mut st = self.lock().clone();
        for &b in held.iter() {
            Self::hand_back(&mut st, b);
        }
        st
    }

    /// Lets the grace period advance (other threads' pins permitting), then takes back what is
    /// ready.
    pub(super) fn wait_quarantine(&self) {
        #[cfg(not(any(miri, loom)))]
        for _ in 0..4 {
            pin().flush();
        }
        if !self.drain_quarantine() {
            std::thread::yield_now();
        }
    }
}
