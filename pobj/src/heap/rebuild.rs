//! The heap rebuilt at open from the chunk table, run descriptors and bitmaps, each checked
//! (docs/format.md §4–§5): the free lists and run states of this session.

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
    /// # Safety
    /// Exclusive access to the pool (open).
    pub(crate) unsafe fn rebuild(region: Region, g: Geometry, p: &Persister) -> Result<Heap> {
        let mut st = State {
            avail: vec![Vec::new(); CLASSES.len()],
            ..State::default()
        };
        let mut batch = Batch::new();
        let mut reclaimed = false;
        let mut i = 0;
        while i < g.chunk_count {
            let hoff = g.chunk_header_offset(i);
            let w = region
                .atomic(hoff)?
                .load(core::sync::atomic::Ordering::Acquire);
            let h = ChunkHeader::decode(w).ok_or(Error::Corrupted {
                what: "chunk header",
                offset: hoff,
            })?;
            match h {
                ChunkHeader::Free => {
                    st.add_free(i, 1);
                    i += 1;
                }
                ChunkHeader::Used { len } => {
                    if len > g.chunk_count - i {
                        return Err(Error::Corrupted {
                            what: "large object extent",
                            offset: hoff,
                        });
                    }
                    // The words of the chunks inside the extent are never written while it is
                    // live and pointer resolution reads them: they must say FREE, or a forged
                    // word could make an object (or a run) resolve inside this one.
                    for c in i + 1..i + len {
                        let inner = g.chunk_header_offset(c);
                        let w = region
                            .atomic(inner)?
                            .load(core::sync::atomic::Ordering::Acquire);
                        if w != ChunkHeader::Free.encode() {
                            return Err(Error::Corrupted {
                                what: "chunk header inside a large object extent",
                                offset: inner,
                            });
                        }
                    }
                    let block = Block::Large { chunk: i, len };
                    // SAFETY: exclusive access during open.
                    let oh: ObjHeader = unsafe { region.read(block.header_offset(&g))? };
                    if oh.size > block.capacity() {
                        return Err(Error::Corrupted {
                            what: "large object header",
                            offset: block.header_offset(&g),
                        });
                    }
                    if oh.type_id == LOG_EXT_TYPE_ID {
                        let word = block.alloc_word(&g).mark_free(&region)?;
                        p.flush(&mut batch, word, 8);
                        reclaimed = true;
                        st.add_free(i, len);
                    } else {
                        st.alloc_objects += 1;
                        st.alloc_bytes += block.footprint();
                    }
                    i += len;
                }
                ChunkHeader::Run => {
                    let coff = g.chunk_offset(i);
                    // SAFETY: exclusive access during open.
                    let d: RunDescriptor = unsafe { region.read(coff)? };
                    let (bs, n) = match (d.magic == RUN_MAGIC)
                        .then(|| run::decode_geometry(d.geometry))
                        .flatten()
                    {
                        Some(x) => x,
                        None => {
                            return Err(Error::Corrupted {
                                what: "run descriptor",
                                offset: coff,
                            })
                        }
                    };
                    let mut bits = vec![0u64; n.div_ceil(64) as usize];
                    let mut used = 0;
                    for (wi, word) in bits.iter_mut().enumerate() {
                        let woff = coff + BITMAP_OFFSET + wi as u64 * 8;
                        let mut v = region
                            .atomic(woff)?
                            .load(core::sync::atomic::Ordering::Acquire);
                        let valid = if (wi as u64 + 1) * 64 <= n {
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
                        used += v.count_ones() as u64;
                        while v != 0 {
                            let b = v.trailing_zeros() as u64;
                            v &= v - 1;
                            let blk = Block::Small {
                                chunk: i,
                                index: wi as u64 * 64 + b,
                                bs,
                            };
                            // SAFETY: exclusive access during open.
                            let oh: ObjHeader = unsafe { region.read(blk.header_offset(&g))? };
                            if oh.size > blk.capacity() {
                                return Err(Error::Corrupted {
                                    what: "object header",
                                    offset: blk.header_offset(&g),
                                });
                            }
                        }
                    }
                    if used == 0 {
                        store_chunk_header(&region, &g, i, ChunkHeader::Free)?;
                        p.flush(&mut batch, hoff, 8);
                        reclaimed = true;
                        st.add_free(i, 1);
                    } else {
                        let class = class_of_block(bs).ok_or(Error::Corrupted {
                            what: "run class",
                            offset: coff,
                        })?;
                        st.alloc_objects += used;
                        st.alloc_bytes += used * bs;
                        if used < n {
                            st.avail[class].push(i);
                        }
                        st.runs.insert(
                            i,
                            RunState {
                                bs,
                                nblocks: n,
                                bits,
                                free: n - used,
                                hint: 0,
                            },
                        );
                    }
                    i += 1;
                }
            }
        }
        if reclaimed {
            p.fence(&mut batch)?;
        }
        Ok(Heap {
            geo: g,
            region,
            state: Mutex::new(st),
        })
    }
}
