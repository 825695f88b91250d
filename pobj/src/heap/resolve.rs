//! Resolving an offset to the live object that holds it (docs/format.md §9), and listing
//! every live object.

use super::{Block, Heap, ObjectInfo, LARGE_PAYLOAD, LOG_EXT_TYPE_ID};
use crate::error::{Error, Result};
use crate::format::chunk::ChunkHeader;
use crate::format::layout::CHUNK_SIZE;
use crate::format::object::{ObjHeader, OBJ_HEADER};
use crate::format::run::{self, BITMAP_OFFSET, RUN_DATA, RUN_MAGIC};

impl Heap {
    /// Resolves the payload offset `off` to its block and header, checking that it is the start
    /// of a live object. Reads only persistent metadata (atomically), so it takes no lock.
    pub(crate) fn resolve(&self, off: u64) -> Result<(Block, ObjHeader)> {
        let bad = |reason| Error::InvalidPointer {
            offset: off,
            reason,
        };
        let g = &self.geo;
        let count = self.chunks();
        if off == 0 {
            return Err(bad("null pointer"));
        }
        if !off.is_multiple_of(16) {
            return Err(bad("not the start of an object (misaligned)"));
        }
        let rel = off
            .checked_sub(g.chunk_base)
            .ok_or_else(|| bad("outside the heap"))?;
        let chunk = rel / CHUNK_SIZE;
        if chunk >= count {
            return Err(bad("outside the heap"));
        }
        let in_chunk = rel % CHUNK_SIZE;
        let w = self.load(g.chunk_header_offset(chunk))?;
        let block = match ChunkHeader::decode(w) {
            Some(ChunkHeader::Used { len }) => {
                if len > count - chunk {
                    return Err(Error::Corrupted {
                        what: "large object extent",
                        offset: g.chunk_header_offset(chunk),
                    });
                }
                if in_chunk != LARGE_PAYLOAD {
                    return Err(bad("not the start of an object"));
                }
                Block::Large { chunk, len }
            }
            Some(ChunkHeader::Run) => self.block_in_run(off, chunk, in_chunk)?,
            Some(ChunkHeader::Free) => return Err(bad("object is not allocated (freed)")),
            None => {
                return Err(Error::Corrupted {
                    what: "chunk header",
                    offset: g.chunk_header_offset(chunk),
                })
            }
        };
        let hoff = block.header_offset(g);
        let size = self.load(hoff)?;
        let type_id = self.load(hoff + 8)?;
        if size & !crate::format::object::SHARED_FLAG > block.capacity() {
            return Err(Error::Corrupted {
                what: "object header (size larger than block)",
                offset: hoff,
            });
        }
        Ok((block, ObjHeader { size, type_id }))
    }

    /// The allocated block of the run in `chunk` whose payload starts `in_chunk` bytes into
    /// the chunk (the payload offset `off`, for errors).
    fn block_in_run(&self, off: u64, chunk: u64, in_chunk: u64) -> Result<Block> {
        let bad = |reason| Error::InvalidPointer {
            offset: off,
            reason,
        };
        let coff = self.geo.chunk_offset(chunk);
        let descriptor = Error::Corrupted {
            what: "run descriptor",
            offset: coff,
        };
        if self.load(coff)? != RUN_MAGIC {
            return Err(descriptor);
        }
        let (bs, n) = run::decode_geometry(self.load(coff + 8)?).ok_or(descriptor)?;
        let r = in_chunk
            .checked_sub(RUN_DATA + OBJ_HEADER)
            .ok_or_else(|| bad("not the start of an object"))?;
        if r % bs != 0 || r / bs >= n {
            return Err(bad("not the start of an object"));
        }
        let block = Block::Small {
            chunk,
            index: r / bs,
            bs,
        };
        let word = block.alloc_word(&self.geo);
        if !word.is_allocated_in(self.load(word.offset())?) {
            return Err(bad("object is not allocated (freed)"));
        }
        Ok(block)
    }

    /// An atomic load of the metadata word at `off`.
    fn load(&self, off: u64) -> Result<u64> {
        Ok(self
            .region
            .atomic(off)?
            .load(core::sync::atomic::Ordering::Acquire))
    }

    /// Every live object, in offset order, from the chunk table and the run bitmaps (atomic
    /// loads, bounded by the chunk count and each run's block count). Objects whose allocation
    /// or free is in flight in a concurrent transaction may or may not be listed.
    pub(crate) fn objects(&self) -> Result<Vec<ObjectInfo>> {
        use core::sync::atomic::Ordering::Acquire;
        let g = &self.geo;
        let count = self.chunks();
        let mut out = Vec::new();
        let header = |blk: Block| -> Result<ObjectInfo> {
            let hoff = blk.header_offset(g);
            Ok(ObjectInfo {
                offset: blk.payload_offset(g),
                size: self.region.atomic(hoff)?.load(Acquire) & !crate::format::object::SHARED_FLAG,
                type_id: self.region.atomic(hoff + 8)?.load(Acquire),
                capacity: blk.capacity(),
            })
        };
        let mut i = 0;
        while i < count {
            let hoff = g.chunk_header_offset(i);
            let w = self.region.atomic(hoff)?.load(Acquire);
            match ChunkHeader::decode(w) {
                Some(ChunkHeader::Free) => i += 1,
                Some(ChunkHeader::Used { len }) if len <= count - i => {
                    let blk = Block::Large { chunk: i, len };
                    let o = header(blk)?;
                    if o.type_id != LOG_EXT_TYPE_ID {
                        out.push(o);
                    }
                    i += len;
                }
                Some(ChunkHeader::Run) => {
                    let coff = g.chunk_offset(i);
                    let magic = self.region.atomic(coff)?.load(Acquire);
                    let geo = self.region.atomic(coff + 8)?.load(Acquire);
                    let Some((bs, n)) = (magic == RUN_MAGIC)
                        .then(|| run::decode_geometry(geo))
                        .flatten()
                    else {
                        return Err(Error::Corrupted {
                            what: "run descriptor",
                            offset: coff,
                        });
                    };
                    for wi in 0..n.div_ceil(64) {
                        let mut v = self
                            .region
                            .atomic(coff + BITMAP_OFFSET + wi * 8)?
                            .load(Acquire);
                        while v != 0 {
                            let b = u64::from(v.trailing_zeros());
                            v &= v - 1;
                            let index = wi * 64 + b;
                            if index < n {
                                out.push(header(Block::Small {
                                    chunk: i,
                                    index,
                                    bs,
                                })?);
                            }
                        }
                    }
                    i += 1;
                }
                _ => {
                    return Err(Error::Corrupted {
                        what: "chunk header",
                        offset: hoff,
                    })
                }
            }
        }
        Ok(out)
    }
}
