//! The persistence layer: every flush and fence in pobj goes through here.
//!
//! A pool whose mapping is memory (a file on tmpfs, or a DAX mapping with `MAP_SYNC`) is made
//! durable with cache-line write-backs (`clwb`, else `clflushopt`, else `clflush`, detected at run
//! time) followed by `sfence`. Any other file is made durable with `msync` of the touched pages.
//! `POBJ_PERSIST` overrides the choice. Flushes and fences are separate calls so that many
//! flushes share one fence; in msync mode a flush only records the page span and the fence
//! issues one `msync` over it. See `docs/persistence.md`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::media::region::Region;

pub(crate) use crate::format::layout::{CACHE_LINE, PAGE};

/// How data is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistMode {
    /// `clwb` per cache line, then `sfence`.
    Clwb,
    /// `clflushopt` per cache line, then `sfence`.
    ClflushOpt,
    /// `clflush` per cache line (ordered by itself), then `sfence`.
    Clflush,
    /// `msync(MS_SYNC)` of the touched pages at each fence.
    Msync,
    /// The simulated medium of the crash simulator (`pobj::crash`, feature `crash-test`):
    /// cache-line flushes and fences recorded in a second, persisted image.
    #[cfg(feature = "crash-test")]
    Simulated,
    /// Nothing at all: for measurements only. **Not durable**: a power failure or kernel crash
    /// can lose or tear anything; a process crash keeps every store (the mapping is shared).
    None,
}

impl PersistMode {
    /// The name used by `POBJ_PERSIST`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PersistMode::Clwb => "clwb",
            PersistMode::ClflushOpt => "clflushopt",
            PersistMode::Clflush => "clflush",
            PersistMode::Msync => "msync",
            PersistMode::None => "none",
            #[cfg(feature = "crash-test")]
            PersistMode::Simulated => "simulated",
        }
    }

    /// Whether the mode flushes cache lines (rather than pages).
    #[must_use]
    pub fn is_cache_line(self) -> bool {
        match self {
            PersistMode::Clwb | PersistMode::ClflushOpt | PersistMode::Clflush => true,
            #[cfg(feature = "crash-test")]
            PersistMode::Simulated => true,
            PersistMode::Msync | PersistMode::None => false,
        }
    }
}

impl core::fmt::Display for PersistMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the CPU offers, detected once with `cpuid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFlush {
    /// `clwb` available.
    pub clwb: bool,
    /// `clflushopt` available.
    pub clflushopt: bool,
    /// `clflush` available.
    pub clflush: bool,
}

/// Detects the cache-flush instructions of this CPU.
#[must_use]
pub fn cpu_flush() -> CpuFlush {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{__cpuid, __cpuid_count};
        // `cpuid` is always available on x86_64 and has no side effects.
        let max_leaf = __cpuid(0).eax;
        let leaf1 = __cpuid(1);
        let clflush = leaf1.edx & (1 << 19) != 0;
        let (clflushopt, clwb) = if max_leaf >= 7 {
            let l7 = __cpuid_count(7, 0);
            (l7.ebx & (1 << 23) != 0, l7.ebx & (1 << 24) != 0)
        } else {
            (false, false)
        };
        CpuFlush {
            clwb,
            clflushopt,
            clflush,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        CpuFlush {
            clwb: false,
            clflushopt: false,
            clflush: false,
        }
    }
}

/// The best cache-line mode this CPU has, if any.
#[must_use]
pub fn best_cache_line_mode() -> Option<PersistMode> {
    let c = cpu_flush();
    if c.clwb {
        Some(PersistMode::Clwb)
    } else if c.clflushopt {
        Some(PersistMode::ClflushOpt)
    } else if c.clflush {
        Some(PersistMode::Clflush)
    } else {
        None
    }
}

/// Resolves the mode: `POBJ_PERSIST` if set (and not `auto`), else cache-line flushes when the
/// mapping is memory, else msync.
pub(crate) fn choose_mode(mapping_is_memory: bool) -> Result<PersistMode> {
    let env = std::env::var("POBJ_PERSIST").ok();
    let best = best_cache_line_mode();
    let bad = |v: &str, reason| Error::BadPersistMode {
        value: v.to_string(),
        reason,
    };
    match env.as_deref().map(str::trim) {
        None | Some("" | "auto") => Ok(match (mapping_is_memory, best) {
            (true, Some(m)) => m,
            _ => PersistMode::Msync,
        }),
        Some("clwb") => cpu_flush()
            .clwb
            .then_some(PersistMode::Clwb)
            .ok_or_else(|| bad("clwb", "this CPU has no clwb")),
        Some("clflushopt") => cpu_flush()
            .clflushopt
            .then_some(PersistMode::ClflushOpt)
            .ok_or_else(|| bad("clflushopt", "this CPU has no clflushopt")),
        Some("clflush") => cpu_flush()
            .clflush
            .then_some(PersistMode::Clflush)
            .ok_or_else(|| bad("clflush", "this CPU has no clflush")),
        Some("msync") => Ok(PersistMode::Msync),
        Some("none") => Ok(PersistMode::None),
        Some(v) => Err(bad(
            v,
            "expected one of auto, clwb, clflushopt, clflush, msync, none",
        )),
    }
}

/// Persistence counters. Deterministic for a given sequence of operations, so tests assert them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub flush_calls: AtomicU64,
    pub lines_flushed: AtomicU64,
    pub bytes_flushed: AtomicU64,
    pub fences: AtomicU64,
    pub msync_calls: AtomicU64,
}

/// A snapshot of the persistence counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PersistStats {
    /// Calls to flush a range.
    pub flush_calls: u64,
    /// Cache lines (or, in msync mode, pages) those ranges covered.
    pub lines_flushed: u64,
    /// Bytes those lines or pages hold (lines × 64, or pages × 4096).
    pub bytes_flushed: u64,
    /// Fences (sfence, or msync at a fence).
    pub fences: u64,
    /// `msync` system calls.
    pub msync_calls: u64,
}

impl PersistStats {
    /// The counters accumulated since `earlier`.
    #[must_use]
    pub fn since(&self, earlier: &PersistStats) -> PersistStats {
        PersistStats {
            flush_calls: self.flush_calls - earlier.flush_calls,
            lines_flushed: self.lines_flushed - earlier.lines_flushed,
            bytes_flushed: self.bytes_flushed - earlier.bytes_flushed,
            fences: self.fences - earlier.fences,
            msync_calls: self.msync_calls - earlier.msync_calls,
        }
    }
}

/// Flushes recorded but not yet fenced, for msync mode (one per thread of work: a transaction,
/// recovery, creation).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    lo: u64,
    hi: u64,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Batch {
            lo: u64::MAX,
            hi: 0,
        }
    }
}

/// Flushes and fences for one pool mapping.
#[derive(Debug)]
pub(crate) struct Persister {
    mode: PersistMode,
    region: Region,
    counters: Counters,
    poisoned: AtomicBool,
    /// Held shared by each `msync` until its failure (if any) is recorded in `poisoned`, and
    /// exclusively by [`Persister::commit_in_doubt`], which so sees every failure of an msync
    /// that ran beside the commit's own.
    msync_gate: std::sync::RwLock<()>,
    #[cfg(feature = "crash-test")]
    sim: Option<std::sync::Arc<crate::media::sim::SimMedium>>,
    path: std::path::PathBuf,
}

impl Persister {
    pub(crate) fn new(mode: PersistMode, region: Region) -> Self {
        Persister {
            mode,
            region,
            counters: Counters::default(),
            poisoned: AtomicBool::new(false),
            msync_gate: std::sync::RwLock::new(()),
            #[cfg(feature = "crash-test")]
            sim: None,
            path: std::path::PathBuf::new(),
        }
    }

    #[cfg(feature = "crash-test")]
    pub(crate) fn simulated(
        region: Region,
        sim: std::sync::Arc<crate::media::sim::SimMedium>,
    ) -> Self {
        Persister {
            mode: PersistMode::Simulated,
            region,
            counters: Counters::default(),
            poisoned: AtomicBool::new(false),
            msync_gate: std::sync::RwLock::new(()),
            sim: Some(sim),
            path: std::path::PathBuf::from("<simulated>"),
        }
    }

    /// Names the file in I/O errors.
    pub(crate) fn with_path(mut self, path: &std::path::Path) -> Self {
        self.path = path.to_path_buf();
        self
    }

    pub(crate) fn mode(&self) -> PersistMode {
        self.mode
    }

    pub(crate) fn stats(&self) -> PersistStats {
        let c = &self.counters;
        PersistStats {
            flush_calls: c.flush_calls.load(Ordering::Relaxed),
            lines_flushed: c.lines_flushed.load(Ordering::Relaxed),
            bytes_flushed: c.bytes_flushed.load(Ordering::Relaxed),
            fences: c.fences.load(Ordering::Relaxed),
            msync_calls: c.msync_calls.load(Ordering::Relaxed),
        }
    }

    /// Marks the pool as refusing writes until reopened (after a failure that leaves the
    /// persistent state unknown, such as a failed rollback).
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }

    /// Whether an earlier msync failed (the pool then refuses writes until reopened).
    pub(crate) fn poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Whether a commit that just made itself durable must report its durability in doubt: in
    /// msync mode, whether any msync has failed so far (waiting for those running now to
    /// record their outcome). Linux reports a file's write-back error to one `msync` caller
    /// only, so a failure seen by another thread may have been about this commit's pages. In
    /// the other modes a fence's failure concerns its own thread's lines only: `false`.
    pub(crate) fn commit_in_doubt(&self) -> bool {
        if self.mode != PersistMode::Msync {
            return false;
        }
        let _gate = self
            .msync_gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Runs a file sync (`fdatasync` of a growth) as a fence would run its msync: a failure
    /// poisons the pool, and `commit_in_doubt` sees it (the sync may have been the call that
    /// received the report of an earlier write-back failure of committed pages).
    pub(crate) fn sync_file(
        &self,
        op: &'static str,
        f: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<()> {
        let _gate = self
            .msync_gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f().map_err(|source| {
            self.poisoned.store(true, Ordering::Relaxed);
            Error::Io {
                path: self.path.clone(),
                op,
                source,
            }
        })
    }

    /// Writes back the cache lines (or records the pages) of `off..off+len`.
    #[inline]
    pub(crate) fn flush(&self, batch: &mut Batch, off: u64, len: u64) {
        if len == 0 || self.region.check(off, len, "flush").is_err() {
            // Callers flush only ranges they wrote, which are in bounds; an out-of-bounds range
            // would be a bug caught by the pair assertions elsewhere. Nothing to flush.
            debug_assert!(len == 0, "flush out of bounds: {off:#x}+{len}");
            return;
        }
        let c = &self.counters;
        c.flush_calls.fetch_add(1, Ordering::Relaxed);
        match self.mode {
            PersistMode::Msync | PersistMode::None => {
                let lo = off / PAGE * PAGE;
                let hi = (off + len).div_ceil(PAGE) * PAGE;
                c.lines_flushed
                    .fetch_add((hi - lo) / PAGE, Ordering::Relaxed);
                c.bytes_flushed.fetch_add(hi - lo, Ordering::Relaxed);
                batch.lo = batch.lo.min(lo);
                batch.hi = batch.hi.max(hi);
            }
            #[cfg(feature = "crash-test")]
            PersistMode::Simulated => {
                let lines = (off + len).div_ceil(CACHE_LINE) - off / CACHE_LINE;
                c.lines_flushed.fetch_add(lines, Ordering::Relaxed);
                c.bytes_flushed
                    .fetch_add(lines * CACHE_LINE, Ordering::Relaxed);
                if let Some(sim) = &self.sim {
                    sim.flush(off, len);
                }
            }
            mode => {
                let start = self.region.addr(off) & !(CACHE_LINE as usize - 1);
                let end = self.region.addr(off + len);
                let lines = (end - start).div_ceil(CACHE_LINE as usize) as u64;
                c.lines_flushed.fetch_add(lines, Ordering::Relaxed);
                c.bytes_flushed
                    .fetch_add(lines * CACHE_LINE, Ordering::Relaxed);
                let mut a = start;
                while a < end {
                    flush_line(mode, a);
                    a += CACHE_LINE as usize;
                }
            }
        }
    }

    /// [`Persister::flush`] of bytes of a pool being created, which no other thread can reach.
    ///
    /// # Safety
    /// No other thread accesses the pool, and no reference into the range is live.
    pub(crate) unsafe fn flush_fresh(&self, batch: &mut Batch, off: u64, len: u64) {
        #[cfg(feature = "crash-test")]
        if let (Some(sim), PersistMode::Simulated, true) = (&self.sim, self.mode, len > 0) {
            if self.region.check(off, len, "flush").is_err() {
                debug_assert!(false, "flush out of bounds: {off:#x}+{len}");
                return;
            }
            let c = &self.counters;
            c.flush_calls.fetch_add(1, Ordering::Relaxed);
            let lines = (off + len).div_ceil(CACHE_LINE) - off / CACHE_LINE;
            c.lines_flushed.fetch_add(lines, Ordering::Relaxed);
            c.bytes_flushed
                .fetch_add(lines * CACHE_LINE, Ordering::Relaxed);
            // SAFETY: forwarded contract (exclusive access during creation).
            unsafe { sim.flush_fresh(off, len) };
            return;
        }
        self.flush(batch, off, len);
    }

    /// Makes every earlier flush of this batch durable before any later store.
    #[inline]
    pub(crate) fn fence(&self, batch: &mut Batch) -> Result<()> {
        self.counters.fences.fetch_add(1, Ordering::Relaxed);
        match self.mode {
            PersistMode::None => {
                *batch = Batch::new();
                Ok(())
            }
            #[cfg(feature = "crash-test")]
            PersistMode::Simulated => match &self.sim {
                Some(sim) => sim.fence().map_err(|source| {
                    self.poisoned.store(true, Ordering::Relaxed);
                    Error::Io {
                        path: self.path.clone(),
                        op: "fence (simulated medium)",
                        source,
                    }
                }),
                None => Ok(()),
            },
            PersistMode::Msync => {
                if batch.lo >= batch.hi {
                    return Ok(());
                }
                let (lo, hi) = (batch.lo, batch.hi);
                *batch = Batch::new();
                self.counters.msync_calls.fetch_add(1, Ordering::Relaxed);
                let _gate = self
                    .msync_gate
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // SAFETY: `lo..hi` is page-aligned and inside the mapping (flush checked bounds;
                // the mapping length is a multiple of the page size), and msync does not touch
                // memory contents as seen by this process.
                let rc = unsafe {
                    libc::msync(
                        self.region.addr(lo) as *mut libc::c_void,
                        (hi - lo) as usize,
                        libc::MS_SYNC,
                    )
                };
                if rc != 0 {
                    self.poisoned.store(true, Ordering::Relaxed);
                    return Err(Error::Io {
                        path: self.path.clone(),
                        op: "msync",
                        source: std::io::Error::last_os_error(),
                    });
                }
                Ok(())
            }
            _ => {
                sfence();
                Ok(())
            }
        }
    }
}

#[inline]
fn flush_line(mode: PersistMode, addr: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        // `addr` is inside the live mapping (checked by `flush`); the mode was chosen only after
        // `cpuid` reported the instruction; these instructions write back a line and change no
        // memory contents, registers or flags.
        match mode {
            PersistMode::Clwb => {
                // SAFETY: as above, for `clwb`.
                unsafe {
                    core::arch::asm!("clwb [{0}]", in(reg) addr, options(nostack, preserves_flags));
                }
            }
            PersistMode::ClflushOpt => {
                // SAFETY: as above, for `clflushopt`.
                unsafe {
                    core::arch::asm!(
                        "clflushopt [{0}]", in(reg) addr, options(nostack, preserves_flags)
                    );
                }
            }
            _ => {
                // SAFETY: as above; `clflush` is available on every x86_64 CPU.
                unsafe {
                    core::arch::asm!("clflush [{0}]", in(reg) addr, options(nostack, preserves_flags));
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (mode, addr);
    }
}

#[inline]
fn sfence() {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `sfence` only orders stores; it is available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_mm_sfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    core::sync::atomic::fence(Ordering::SeqCst);
}
