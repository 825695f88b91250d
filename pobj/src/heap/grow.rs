//! Growth: when the heap cannot satisfy an allocation, the pool gets more chunks.
//!
//! The protocol (docs/allocator.md, "Growth"), under the growth lock:
//!
//! 1. The medium is extended: the new chunks' bytes and the table pages holding their words
//!    are allocated, the file's length is made durable (`fdatasync`), the new part is mapped
//!    directly after the old and the region's length is published.
//! 2. The new chunks' table words are stored as FREE and flushed; **fence 1**.
//! 3. The extent word is stored with the new count and flushed; **fence 2**. The pool has
//!    grown: a crash from here on leaves the grown pool.
//! 4. The heap's chunk count is published and the new chunks join the free lists.
//!
//! A crash before fence 2 completes leaves the old count (the file may be longer, which a pool
//! allows); after it, the new count, with its table words durably FREE and its bytes in the
//! file. No chunk is handed out before step 4, so nothing durable ever points past the count.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Heap;
use crate::error::{Error, Result};
use crate::format::extent::{self, EXTENT_OFFSET};
use crate::format::layout::CHUNK_SIZE;
use crate::media::persist::{Batch, Persister};

/// A medium that can grow in place: a mapped file, or the simulated medium. Growth calls the
/// three steps in order; a failure of any leaves the pool as it was (the file possibly longer).
pub(crate) trait GrowMedium: Send + Sync + std::fmt::Debug {
    /// Makes the medium at least `new_len` bytes long with the byte ranges `alloc` really
    /// allocated. `ENOSPC` or `EDQUOT` when the medium is full.
    fn allocate(&self, alloc: &[(u64, u64)], new_len: u64) -> std::io::Result<()>;
    /// Makes the medium's new length (and allocation) durable.
    fn sync(&self) -> std::io::Result<()>;
    /// Maps bytes up to `new_len` directly after the mapped part and publishes the region's
    /// new length.
    fn map(&self, new_len: u64) -> std::io::Result<()>;
}

/// How one pool grows.
#[derive(Debug)]
pub(crate) struct Growth {
    medium: Arc<dyn GrowMedium>,
    /// The pool file, for errors.
    path: std::path::PathBuf,
    /// Chunks added per growth (at least what the allocation needs).
    step: u64,
    /// The most chunks the pool may have: the table's slots, or fewer if the address range
    /// reserved for the pool is smaller than its maximum size.
    limit: u64,
    /// The header's checksum, which the extent word's check covers.
    header_checksum: u32,
    /// Serialises growths.
    lock: Mutex<()>,
    /// Growths so far in this session.
    grown: AtomicU64,
    /// Injected: extensions fail with `ENOSPC`.
    fail: AtomicBool,
    /// Injected (seeded bug): the extent word is not flushed.
    skip_extent_flush: AtomicBool,
    /// Injected (seeded bug): the new chunks' table words are not made FREE.
    skip_table_words: AtomicBool,
}

impl Growth {
    pub(crate) fn new(
        medium: Arc<dyn GrowMedium>,
        path: &std::path::Path,
        step_bytes: u64,
        limit: u64,
        header_checksum: u32,
    ) -> Self {
        Growth {
            medium,
            path: path.to_path_buf(),
            step: (step_bytes / CHUNK_SIZE).max(1),
            limit,
            header_checksum,
            lock: Mutex::new(()),
            grown: AtomicU64::new(0),
            fail: AtomicBool::new(false),
            skip_extent_flush: AtomicBool::new(false),
            skip_table_words: AtomicBool::new(false),
        }
    }
}

/// The heap's free chunks, as growth sees them.
#[derive(Clone, Copy, Debug)]
struct FreeChunks {
    /// The free run that ends at the pool's last chunk.
    tail: u64,
    /// All free chunks.
    total: u64,
    /// The longest free run.
    largest: u64,
}

/// The fewest chunks a growth must add so that `need` contiguous chunks can be taken with
/// `reserve` chunks left free, given `room` slots left: 0 if the request fits already (chunks
/// were freed since it failed: the caller retries), `None` if no growth can do it (then growing
/// would only waste the medium). A fitting extent elsewhere means only the reserve rule
/// refused; otherwise the request goes where the new chunks join the free run at the end.
fn least_growth(need: u64, reserve: u64, free: FreeChunks, room: u64) -> Option<u64> {
    let contiguous = if free.largest >= need {
        0
    } else {
        need.saturating_sub(free.tail)
    };
    let total = (need + reserve).saturating_sub(free.total);
    let least = contiguous.max(total);
    (least <= room).then_some(least)
}

/// Whether an I/O error means the medium has no space left.
fn no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

impl Heap {
    /// Whether the pool can grow (it was created with a maximum above its size).
    pub(crate) fn can_grow(&self) -> bool {
        self.growth
            .as_ref()
            .is_some_and(|g| self.chunks() < g.limit)
    }

    /// The pool's size now (what its durable chunk count says: a growth in progress has
    /// mapped more) and its maximum, in bytes.
    pub(crate) fn sizes(&self) -> (u64, u64) {
        (self.geo.len_for(self.chunks()), self.max_len())
    }

    /// The largest size the pool can reach: its maximum size if it was created to grow
    /// (even where this session cannot grow it, its address space not being reserved), else
    /// its size.
    pub(crate) fn max_len(&self) -> u64 {
        self.max_len
    }

    /// Growths in this session.
    pub(crate) fn growths(&self) -> u64 {
        self.growth
            .as_ref()
            .map_or(0, |g| g.grown.load(Ordering::Relaxed))
    }

    /// `OutOfSpace` for a request of `requested` bytes, with the pool's numbers.
    pub(crate) fn out_of_space(&self, requested: u64, medium_full: bool) -> Error {
        let (size, max_size) = self.sizes();
        Error::OutOfSpace {
            requested,
            size,
            max_size,
            medium_full,
        }
    }

    /// Makes every extension fail with `ENOSPC`, as a full medium would (fault injection).
    #[cfg(feature = "crash-test")]
    pub(crate) fn fail_growth(&self, on: bool) {
        if let Some(g) = &self.growth {
            g.fail.store(on, Ordering::Relaxed);
        }
    }

    /// Seeds the bugs of a growth that never flushes its extent word, or never makes its new
    /// chunks' table words FREE (crash-harness tests).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn seed_growth_faults(&self, skip_extent_flush: bool, skip_table_words: bool) {
        if let Some(g) = &self.growth {
            g.skip_extent_flush
                .store(skip_extent_flush, Ordering::Relaxed);
            g.skip_table_words
                .store(skip_table_words, Ordering::Relaxed);
        }
    }

    /// Writes `word` into the table words of every chunk slot past the pool's count, durably:
    /// what a reused or longer file may hold there (for the seeded bug of a growth that does
    /// not make its new words FREE).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn scribble_unused_table(&self, p: &Persister, word: u64) -> Result<()> {
        let g = &self.geo;
        let Some(gr) = &self.growth else {
            return Ok(());
        };
        let _g = gr
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.chunks();
        // The whole table lies below the first chunk, so it is all mapped (on a file its later
        // pages may be holes, which these stores fill).
        let end = g.chunk_slots;
        let mut b = Batch::new();
        for c in old..end {
            self.region
                .atomic(g.chunk_header_offset(c))?
                .store(word, Ordering::Release);
        }
        p.flush(&mut b, g.chunk_header_offset(old), (end - old) * 8);
        p.fence(&mut b)
    }

    /// Grows the pool so that `need` contiguous chunks can be taken (for a user allocation,
    /// with the reserve left over), unless another thread grew it since the caller saw `seen`
    /// chunks, in which case the caller just retries. Fails with `OutOfSpace` at once if even
    /// the largest pool could not serve the request, at the maximum size, or when the medium
    /// is full (`requested` bytes are reported), leaving the pool as it was.
    pub(crate) fn grow(
        &self,
        p: &Persister,
        need: u64,
        internal: bool,
        seen: u64,
        requested: u64,
    ) -> Result<()> {
        let Some(gr) = &self.growth else {
            return Err(self.out_of_space(requested, false));
        };
        let _g = gr
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.chunks();
        if old != seen {
            return Ok(());
        }
        let g = &self.geo;
        let room = gr.limit.saturating_sub(old);
        let reserve = if internal { 0 } else { super::RESERVED_CHUNKS };
        let free = {
            let st = self.lock();
            FreeChunks {
                tail: st.free_run_ending_at(old),
                total: st.free_chunks(),
                largest: st.largest_free_run(),
            }
        };
        let Some(least) = least_growth(need, reserve, free, room) else {
            return Err(self.out_of_space(requested, false));
        };
        if least == 0 {
            return Ok(());
        }
        let mut add = gr.step.max(least).min(room);
        let mut new;
        loop {
            new = old + add;
            let alloc = [
                (g.table_end_for(old), g.table_end_for(new)),
                (g.len_for(old), g.len_for(new)),
            ];
            let r = if gr.fail.load(Ordering::Relaxed) {
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                gr.medium.allocate(&alloc, g.len_for(new))
            };
            match r {
                Ok(()) => break,
                // A full medium may still hold what this request needs: try that much once.
                Err(e) if no_space(&e) && add > least => add = least,
                Err(e) if no_space(&e) => return Err(self.out_of_space(requested, true)),
                Err(source) => {
                    return Err(Error::Io {
                        path: gr.path.clone(),
                        op: "extend the pool file",
                        source,
                    })
                }
            }
        }
        // The new length durable before anything points into it. A failure here may be the
        // report of an earlier write-back failure of committed pages (Linux reports it once,
        // to whichever call comes first): it poisons the pool as a failed msync does.
        p.sync_file("fdatasync (pool growth)", || gr.medium.sync())?;
        gr.medium.map(g.len_for(new)).map_err(|source| Error::Io {
            path: gr.path.clone(),
            op: "map the grown pool",
            source,
        })?;
        // Fence 1: the new chunks' words durably FREE (fresh file space reads as zero, but a
        // longer or reused file may hold anything there, and these words become live).
        let mut b = Batch::new();
        if !gr.skip_table_words.load(Ordering::Relaxed) {
            for c in old..new {
                self.region
                    .atomic(g.chunk_header_offset(c))?
                    .store(crate::format::chunk::FREE, Ordering::Release);
            }
            p.flush(&mut b, g.chunk_header_offset(old), add * 8);
        }
        p.fence(&mut b)?;
        // Fence 2: the extent word. From here on a crash leaves the grown pool.
        let count = u32::try_from(new).map_err(|_| Error::Internal {
            what: "a chunk count beyond 32 bits",
        })?;
        self.region
            .atomic(EXTENT_OFFSET)?
            .store(extent::encode(count, gr.header_checksum), Ordering::Release);
        if !gr.skip_extent_flush.load(Ordering::Relaxed) {
            p.flush(&mut b, EXTENT_OFFSET, 8);
        }
        p.fence(&mut b)?;
        // Published under the heap's lock together with the free chunks, so that a reserver
        // that sees the new count also finds the chunks.
        let mut st = self.lock();
        self.chunks.store(new, Ordering::Release);
        st.add_free(old, add);
        drop(st);
        gr.grown.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{least_growth, FreeChunks};

    fn free(tail: u64, total: u64, largest: u64) -> FreeChunks {
        FreeChunks {
            tail,
            total,
            largest,
        }
    }

    #[test]
    fn the_least_growth_serves_the_request_and_no_more() {
        // Nothing free: the request and the reserve.
        assert_eq!(least_growth(10, 2, free(0, 0, 0), 100), Some(12));
        // The free run at the end counts towards the request.
        assert_eq!(least_growth(10, 2, free(6, 6, 6), 100), Some(6));
        // A free extent in the middle fits; only the reserve rule refused: 2 chunks, not 10.
        assert_eq!(least_growth(10, 2, free(0, 10, 10), 100), Some(2));
        assert_eq!(least_growth(10, 2, free(0, 10, 10), 4), Some(2));
        // Internal requests keep no reserve.
        assert_eq!(least_growth(1, 0, free(0, 0, 0), 5), Some(1));
        // Chunks were freed since the request failed: no growth, the caller retries.
        assert_eq!(least_growth(3, 2, free(3, 9, 3), 5), Some(0));
        assert_eq!(least_growth(3, 2, free(3, 9, 3), 0), Some(0));
    }

    #[test]
    fn a_growth_that_cannot_serve_the_request_is_not_made() {
        assert_eq!(least_growth(10, 2, free(0, 0, 0), 11), None);
        assert_eq!(least_growth(10, 2, free(5, 5, 5), 4), None);
        assert_eq!(least_growth(1, 2, free(0, 0, 0), 0), None);
        // Enough contiguous room but not with the reserve.
        assert_eq!(least_growth(4, 2, free(0, 0, 0), 5), None);
    }
}
