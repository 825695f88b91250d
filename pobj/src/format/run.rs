//! Runs: a chunk cut into equal blocks of one size class, with a persistent bitmap.
//!
//! The run header sits at the start of its chunk: a 64-byte descriptor and a 1 KiB bitmap (bit
//! set = block allocated). Blocks start at `RUN_DATA`, chosen so that block payloads (after their
//! 16-byte object header) are 64-byte aligned when the block size is a multiple of 64.

use crate::format::layout::CHUNK_SIZE;
use crate::format::object::OBJ_HEADER;
use crate::Persistent;

/// `b"POBJRUN\0"`.
pub(crate) const RUN_MAGIC: u64 = u64::from_le_bytes(*b"POBJRUN\0");
/// Bitmap words in every run header (enough for the smallest class).
pub(crate) const BITMAP_WORDS: usize = 128;
/// Offset of the bitmap in the chunk.
pub(crate) const BITMAP_OFFSET: u64 = 64;
/// Offset of the first block in the chunk.
pub(crate) const RUN_DATA: u64 = 1136;

static_assertions::const_assert_eq!((RUN_DATA + OBJ_HEADER) % 64, 0);
static_assertions::const_assert!(BITMAP_OFFSET + (BITMAP_WORDS as u64) * 8 <= RUN_DATA);

/// The descriptor at the start of a run chunk. Written once, before the chunk header is set to
/// `RUN`, and not changed while the chunk is a run.
#[derive(Clone, Copy, Persistent)]
#[repr(C)]
pub(crate) struct RunDescriptor {
    /// `RUN_MAGIC`.
    pub magic: u64,
    /// Low 32 bits: block size in bytes (a size class); high 32 bits: number of blocks.
    pub geometry: u64,
    /// Zero.
    pub reserved: [u64; 6],
}

static_assertions::const_assert_eq!(core::mem::size_of::<RunDescriptor>(), 64);
static_assertions::const_assert_eq!(core::mem::offset_of!(RunDescriptor, geometry), 8);

/// Number of blocks of `block_size` in one run.
#[must_use]
pub(crate) fn blocks_per_run(block_size: u64) -> u64 {
    ((CHUNK_SIZE - RUN_DATA) / block_size).min(BITMAP_WORDS as u64 * 64)
}

/// Encodes the geometry word.
#[must_use]
pub(crate) fn geometry_word(block_size: u64, nblocks: u64) -> u64 {
    (block_size & 0xffff_ffff) | (nblocks << 32)
}

/// Decodes and validates a geometry word against the class table.
#[must_use]
pub(crate) fn decode_geometry(w: u64) -> Option<(u64, u64)> {
    let bs = w & 0xffff_ffff;
    let n = w >> 32;
    crate::format::class::class_of_block(bs)?;
    (n == blocks_per_run(bs)).then_some((bs, n))
}
