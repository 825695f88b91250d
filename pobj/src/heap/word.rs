//! The allocator's persistent words and the only code that stores them: the word that says
//! whether a block is allocated (a bit of its run's bitmap for a run block, its first chunk's
//! header for a large block), and the chunk header words of runs.

use std::sync::atomic::Ordering;

use super::Block;
use crate::error::Result;
use crate::format::chunk::ChunkHeader;
use crate::format::layout::Geometry;
use crate::format::run::BITMAP_OFFSET;
use crate::media::region::Region;

/// Where a block's allocation state lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllocWord {
    /// A run block: the bit `mask` of the bitmap word at `offset`.
    Bit {
        /// Offset of the bitmap word.
        offset: u64,
        /// The block's bit.
        mask: u64,
    },
    /// A large block: the header word at `offset` of an extent of `len` chunks.
    Header {
        /// Offset of the first chunk's header word.
        offset: u64,
        /// Chunks in the extent.
        len: u64,
    },
}

impl Block {
    /// The word that records whether this block is allocated.
    pub(crate) fn alloc_word(&self, g: &Geometry) -> AllocWord {
        match *self {
            Block::Small { chunk, index, .. } => AllocWord::Bit {
                offset: g.chunk_offset(chunk) + BITMAP_OFFSET + (index / 64) * 8,
                mask: 1u64 << (index % 64),
            },
            Block::Large { chunk, len } => AllocWord::Header {
                offset: g.chunk_header_offset(chunk),
                len,
            },
        }
    }
}

impl AllocWord {
    /// Offset of the word (to flush or log it).
    pub(crate) fn offset(self) -> u64 {
        match self {
            AllocWord::Bit { offset, .. } | AllocWord::Header { offset, .. } => offset,
        }
    }

    /// The header word of an allocated large block (`None` for a run block, whose word is
    /// shared with other blocks).
    pub(crate) fn allocated_header(self) -> Option<u64> {
        match self {
            AllocWord::Bit { .. } => None,
            AllocWord::Header { len, .. } => Some(ChunkHeader::Used { len }.encode()),
        }
    }

    /// Whether the block is allocated according to `word`, the word's current value.
    pub(crate) fn is_allocated_in(self, word: u64) -> bool {
        match self {
            AllocWord::Bit { mask, .. } => word & mask != 0,
            AllocWord::Header { len, .. } => word == ChunkHeader::Used { len }.encode(),
        }
    }

    /// Marks the block allocated in the pool's memory (not flushed); returns the word's offset.
    pub(crate) fn mark_allocated(self, region: &Region) -> Result<u64> {
        match self {
            AllocWord::Bit { offset, mask } => {
                region.atomic(offset)?.fetch_or(mask, Ordering::AcqRel);
            }
            AllocWord::Header { offset, len } => {
                store_header(region, offset, ChunkHeader::Used { len })?;
            }
        }
        Ok(self.offset())
    }

    /// Marks the block free in the pool's memory (not flushed); returns the word's offset.
    pub(crate) fn mark_free(self, region: &Region) -> Result<u64> {
        self.mark_free_checked(region).map(|(off, _)| off)
    }

    /// `mark_free`, also telling whether the block was allocated just before (atomically: of
    /// two frees of one block racing in two shared transactions, exactly one sees it
    /// allocated, and only that one hands the block back).
    pub(crate) fn mark_free_checked(self, region: &Region) -> Result<(u64, bool)> {
        let was = match self {
            AllocWord::Bit { offset, mask } => {
                region.atomic(offset)?.fetch_and(!mask, Ordering::AcqRel) & mask != 0
            }
            AllocWord::Header { offset, .. } => {
                let old = region
                    .atomic(offset)?
                    .swap(ChunkHeader::Free.encode(), Ordering::AcqRel);
                matches!(ChunkHeader::decode(old), Some(ChunkHeader::Used { .. }))
            }
        };
        Ok((self.offset(), was))
    }
}

/// Stores chunk `chunk`'s header word (not flushed); returns its offset. For the chunk states
/// that are not one block's allocation: a run's chunk (`Run`, or `Free` when it empties).
pub(crate) fn store_chunk_header(
    region: &Region,
    g: &Geometry,
    chunk: u64,
    header: ChunkHeader,
) -> Result<u64> {
    let offset = g.chunk_header_offset(chunk);
    store_header(region, offset, header)?;
    Ok(offset)
}

fn store_header(region: &Region, offset: u64, header: ChunkHeader) -> Result<()> {
    region
        .atomic(offset)?
        .store(header.encode(), Ordering::Release);
    Ok(())
}
