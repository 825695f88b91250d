//! Pool geometry: where the header, lanes, chunk table and chunks go for a given size.

use crate::error::{Error, Result};
use crate::format::header::HEADER_AREA;

/// Smallest pool: header, lanes, chunk table and a few chunks.
pub const MIN_POOL_SIZE: u64 = 2 << 20;
/// Largest pool (1 TiB).
pub const MAX_POOL_SIZE: u64 = 1 << 40;
/// Number of lanes (transactions that can run at once).
pub const LANE_COUNT: u32 = 32;
/// Bytes per lane: a 64-byte lane header and the first log buffer.
pub(crate) const LANE_SIZE: u32 = 8192;
/// Bytes per chunk, the unit of the heap.
pub const CHUNK_SIZE: u64 = 256 << 10;
/// Alignment of the chunk table and of the first chunk, and the unit of `msync`.
pub(crate) const PAGE: u64 = 4096;
/// Cache line size assumed for flushes (and the simulator's unit of write-back).
pub(crate) const CACHE_LINE: u64 = 64;

/// Default initial size of a pool that grows.
pub const DEFAULT_INITIAL_SIZE: u64 = 8 << 20;
/// Default maximum size of a pool that grows (its chunk table is sized for it; the table's
/// pages beyond the current size are holes in the file until growth reaches them).
pub const DEFAULT_MAX_SIZE: u64 = 64 << 30;
/// Default growth step.
pub const DEFAULT_GROW_STEP: u64 = 64 << 20;
/// Chunks a pool has at least (the root's run and the undo-log reserve among them).
pub(crate) const MIN_CHUNKS: u64 = 4;

/// Computed offsets of a pool's areas, for its maximum size. The number of chunks in use now
/// is not here: it changes as the pool grows (`Heap::chunks`, the extent word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// The maximum size (in format version 1, the fixed size).
    pub max_size: u64,
    /// First lane.
    pub lane_offset: u64,
    /// Lane count.
    pub lane_count: u32,
    /// Lane size.
    pub lane_size: u32,
    /// Chunk header table.
    pub chunk_table: u64,
    /// Chunk table slots: the chunks of a pool of `max_size`.
    pub chunk_slots: u64,
    /// First chunk.
    pub chunk_base: u64,
}

impl Geometry {
    /// The geometry of a pool whose maximum size is `size` bytes.
    pub(crate) fn for_size(size: u64) -> Result<Geometry> {
        if !(MIN_POOL_SIZE..=MAX_POOL_SIZE).contains(&size) {
            return Err(Error::SizeOutOfRange {
                size,
                min: MIN_POOL_SIZE,
                max: MAX_POOL_SIZE,
            });
        }
        // Pools are whole pages (so that every aligned word of the mapping is the file's).
        let size = size / PAGE * PAGE;
        if !(MIN_POOL_SIZE..=MAX_POOL_SIZE).contains(&size) {
            return Err(Error::SizeOutOfRange {
                size,
                min: MIN_POOL_SIZE,
                max: MAX_POOL_SIZE,
            });
        }
        let lane_offset = HEADER_AREA;
        let chunk_table = lane_offset + u64::from(LANE_COUNT) * u64::from(LANE_SIZE);
        let rest = size - chunk_table;
        // Each chunk costs its bytes plus 8 bytes of table; the table is page-rounded.
        let mut chunk_count = rest / (CHUNK_SIZE + 8);
        loop {
            let table = (chunk_count * 8).div_ceil(PAGE) * PAGE;
            if chunk_table + table + chunk_count * CHUNK_SIZE <= size || chunk_count == 0 {
                break;
            }
            chunk_count -= 1;
        }
        let chunk_base = chunk_table + (chunk_count * 8).div_ceil(PAGE) * PAGE;
        Ok(Geometry {
            max_size: size,
            lane_offset,
            lane_count: LANE_COUNT,
            lane_size: LANE_SIZE,
            chunk_table,
            chunk_slots: chunk_count,
            chunk_base,
        })
    }

    /// The chunks a new pool of `initial` bytes starts with: as many as fit, at least
    /// [`MIN_CHUNKS`], at most the table's slots.
    #[must_use]
    pub(crate) fn chunks_for(&self, initial: u64) -> u64 {
        (initial.saturating_sub(self.chunk_base) / CHUNK_SIZE)
            .max(MIN_CHUNKS)
            .min(self.chunk_slots)
    }

    /// The bytes a pool with `chunks` chunks maps: everything up to the end of its last chunk,
    /// or, with every slot in use, the whole maximum size (so that a pool of fixed size is as
    /// long as asked for, and a grown one as long as its maximum).
    #[must_use]
    pub(crate) fn len_for(&self, chunks: u64) -> u64 {
        if chunks >= self.chunk_slots {
            self.max_size
        } else {
            self.chunk_offset(chunks)
        }
    }

    /// The chunks of a pool whose mapping is `len` bytes long (the inverse of `len_for`).
    #[must_use]
    pub(crate) fn chunks_in(&self, len: u64) -> u64 {
        if len >= self.max_size {
            self.chunk_slots
        } else {
            (len.saturating_sub(self.chunk_base) / CHUNK_SIZE).min(self.chunk_slots)
        }
    }

    /// The end of the chunk table's pages that hold the words of chunks `0..chunks`.
    #[must_use]
    pub(crate) fn table_end_for(&self, chunks: u64) -> u64 {
        (self.chunk_table + (chunks * 8).div_ceil(PAGE) * PAGE).min(self.chunk_base)
    }

    /// Offset of chunk `i`.
    #[must_use]
    pub(crate) fn chunk_offset(&self, i: u64) -> u64 {
        self.chunk_base + i * CHUNK_SIZE
    }

    /// Offset of chunk `i`'s header word in the table.
    #[must_use]
    pub(crate) fn chunk_header_offset(&self, i: u64) -> u64 {
        self.chunk_table + i * 8
    }

    /// Offset of lane `i`.
    #[must_use]
    pub(crate) fn lane(&self, i: u32) -> u64 {
        self.lane_offset + u64::from(i) * u64::from(self.lane_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_fits() {
        for size in [
            MIN_POOL_SIZE,
            3 << 20,
            64 << 20,
            (1 << 30) + 12345,
            MAX_POOL_SIZE,
        ] {
            let g = Geometry::for_size(size).expect("valid size");
            assert!(g.chunk_slots >= MIN_CHUNKS, "{size}");
            assert!(g.chunk_base + g.chunk_slots * CHUNK_SIZE <= size);
            assert!(g.chunk_table + g.chunk_slots * 8 <= g.chunk_base);
            assert_eq!(g.chunks_for(0), MIN_CHUNKS);
            assert_eq!(g.chunks_for(u64::MAX), g.chunk_slots);
            assert_eq!(g.len_for(g.chunk_slots), g.max_size);
            assert!(g.len_for(g.chunk_slots - 1) < g.max_size);
            assert_eq!(g.table_end_for(g.chunk_slots), g.chunk_base);
            for c in [MIN_CHUNKS, g.chunk_slots - 1, g.chunk_slots] {
                assert_eq!(g.chunks_in(g.len_for(c)), c);
            }
            assert_eq!(g.chunk_base % PAGE, 0);
        }
        assert!(Geometry::for_size(MIN_POOL_SIZE - 1).is_err());
        assert!(Geometry::for_size(MAX_POOL_SIZE + 1).is_err());
    }
}
