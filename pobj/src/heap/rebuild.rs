//! The heap rebuilt at open from the chunk table, run descriptors and bitmaps, each checked
//! (docs/format.md §4–§5): the free lists and run states of this session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::word::store_chunk_header;
use super::{Block, Heap, RunState, State, LOG_EXT_TYPE_ID};
use crate::error::{Error, Result};
use crate::format::chunk::ChunkHeader;
use crate::format::class::{class_of_block, CLASSES};
use crate::format::layout::Geometry;
use crate::format::object::ObjHeader;
use crate::format::run::{self, RunDescriptor, BITMAP_OFFSET, RUN_MAGIC};
use crate::media::persist::{Batch, Persister};
use crate::media::region::Region;

impl Heap {
    /// Rebuilds the volatile state from the chunk table and run bitmaps. Also frees leftover
    /// undo-log extensions and empty runs (recovery has run, so nothing refers to them).
    ///
    /// `chunks` is the pool's current number of chunks (at most the table's slots).
    ///
    /// # Safety
    /// Exclusive access to the pool (open).
    pub(crate) unsafe fn rebuild(
        region: Region,
        g: Geometry,
        chunks: u64,
        p: &Persister,
    ) -> Result<Heap> {
        if chunks > g.chunk_slots || g.len_for(chunks) > region.len() {
            return Err(Error::Corrupted {
                what: "chunk count (past the table or the mapping)",
                offset: crate::format::extent::EXTENT_OFFSET,
            });
        }
        let mut r = Rebuild {
            region,
            g,
            chunks,
            p,
            st: State {
                avail: vec![Vec::new(); CLASSES.len()],
                ..State::default()
            },
            batch: Batch::new(),
            reclaimed: false,
        };
        let mut i = 0;
        while i < chunks {
            let hoff = g.chunk_header_offset(i);
            let w = region.atomic(hoff)?.load(Ordering::Acquire);
            let h = ChunkHeader::decode(w).ok_or(Error::Corrupted {
                what: "chunk header",
                offset: hoff,
            })?;
            i += match h {
                ChunkHeader::Free => {
                    r.st.add_free(i, 1);
                    1
                }
                // SAFETY: exclusive access (this function's contract).
                ChunkHeader::Used { len } => unsafe { r.extent(i, len)? },
                // SAFETY: as above.
                ChunkHeader::Run => unsafe { r.run(i)? },
            };
        }
        if r.reclaimed {
            p.fence(&mut r.batch)?;
        }
        Ok(Heap {
            geo: g,
            region,
            chunks: AtomicU64::new(chunks),
            growth: None,
            max_len: region.len(),
            state: Mutex::new(r.st),
            quarantine: super::quarantine::Quarantine::default(),
        })
    }
}

/// The rebuild's state while it walks the chunk table.
struct Rebuild<'p> {
    region: Region,
    g: Geometry,
    /// Chunks in use now.
    chunks: u64,
    p: &'p Persister,
    st: State,
    batch: Batch,
    /// Whether a leftover was freed (its word flushed; one fence at the end).
    reclaimed: bool,
}

impl Rebuild<'_> {
    /// Takes in the used extent `chunk..chunk+len`, or frees it if it is a leftover log
    /// extension; returns its length.
    ///
    /// # Safety
    /// Exclusive access to the pool.
    unsafe fn extent(&mut self, chunk: u64, len: u64) -> Result<u64> {
        let (g, region) = (&self.g, &self.region);
        let hoff = g.chunk_header_offset(chunk);
        if len > self.chunks - chunk {
            return Err(Error::Corrupted {
                what: "large object extent",
                offset: hoff,
            });
        }
        // The words of the chunks inside the extent are never written while it is live and
        // pointer resolution reads them: they must say FREE, or a forged word could make an
        // object (or a run) resolve inside this one.
        for c in chunk + 1..chunk + len {
            let inner = g.chunk_header_offset(c);
            if region.atomic(inner)?.load(Ordering::Acquire) != ChunkHeader::Free.encode() {
                return Err(Error::Corrupted {
                    what: "chunk header inside a large object extent",
                    offset: inner,
                });
            }
        }
        let block = Block::Large { chunk, len };
        // SAFETY: exclusive access (this function's contract).
        let oh: ObjHeader = unsafe { region.read(block.header_offset(g))? };
        if oh.len() > block.capacity() {
            return Err(Error::Corrupted {
                what: "large object header",
                offset: block.header_offset(g),
            });
        }
        if oh.type_id == LOG_EXT_TYPE_ID {
            let word = block.alloc_word(g).mark_free(region)?;
            self.p.flush(&mut self.batch, word, 8);
            self.reclaimed = true;
            self.st.add_free(chunk, len);
        } else {
            self.st.alloc_objects += 1;
            self.st.alloc_bytes += block.footprint();
        }
        Ok(len)
    }

    /// Takes in the run in `chunk`, or frees it if it is empty; returns 1 (its length).
    ///
    /// # Safety
    /// Exclusive access to the pool.
    unsafe fn run(&mut self, chunk: u64) -> Result<u64> {
        let coff = self.g.chunk_offset(chunk);
        // SAFETY: exclusive access (this function's contract).
        let d: RunDescriptor = unsafe { self.region.read(coff)? };
        let Some((bs, n)) = (d.magic == RUN_MAGIC)
            .then(|| run::decode_geometry(d.geometry))
            .flatten()
        else {
            return Err(Error::Corrupted {
                what: "run descriptor",
                offset: coff,
            });
        };
        // SAFETY: as above.
        let (bits, used) = unsafe { self.run_bitmap(chunk, bs, n)? };
        if used == 0 {
            let hoff = store_chunk_header(&self.region, &self.g, chunk, ChunkHeader::Free)?;
            self.p.flush(&mut self.batch, hoff, 8);
            self.reclaimed = true;
            self.st.add_free(chunk, 1);
            return Ok(1);
        }
        let class = class_of_block(bs).ok_or(Error::Corrupted {
            what: "run class",
            offset: coff,
        })?;
        self.st.alloc_objects += used;
        self.st.alloc_bytes += used * bs;
        if used < n {
            self.st.avail[class].push(chunk);
        }
        self.st.runs.insert(
            chunk,
            RunState {
                bs,
                nblocks: n,
                bits,
                free: n - used,
                hint: 0,
            },
        );
        Ok(1)
    }

    /// Reads and checks the bitmap of the run in `chunk` (`n` blocks of `bs` bytes) and the
    /// header of every allocated block; returns the words and the number of allocated blocks.
    ///
    /// # Safety
    /// Exclusive access to the pool.
    unsafe fn run_bitmap(&self, chunk: u64, bs: u64, n: u64) -> Result<(Vec<u64>, u64)> {
        let (g, region) = (&self.g, &self.region);
        let coff = g.chunk_offset(chunk);
        let mut bits = vec![0u64; n.div_ceil(64) as usize];
        let mut used = 0;
        for (wi, word) in (0u64..).zip(bits.iter_mut()) {
            let woff = coff + BITMAP_OFFSET + wi * 8;
            let mut v = region.atomic(woff)?.load(Ordering::Acquire);
            let valid = if (wi + 1) * 64 <= n {
                u64::MAX
            } else {
                (1u64 << (n % 64)) - 1
            };
            if v & !valid != 0 {
                return Err(Error::Corrupted {
                    what: "run bitmap (bits past the last block)",
                    offset: woff,
                });
            }
            *word = v;
            used += u64::from(v.count_ones());
            while v != 0 {
                let b = u64::from(v.trailing_zeros());
                v &= v - 1;
                let blk = Block::Small {
                    chunk,
                    index: wi * 64 + b,
                    bs,
                };
                // SAFETY: exclusive access (this function's contract).
                let oh: ObjHeader = unsafe { region.read(blk.header_offset(g))? };
                if oh.len() > blk.capacity() {
                    return Err(Error::Corrupted {
                        what: "object header",
                        offset: blk.header_offset(g),
                    });
                }
            }
        }
        Ok((bits, used))
    }
}
