//! What [`Pool::check`](crate::Pool::check) can find wrong, one typed value per inconsistency,
//! with the chunk, lane or offset it concerns.

use std::fmt;

/// One inconsistency found by [`Pool::check`](crate::Pool::check).
///
/// The variants name the structure (header, lane, chunk table, run, object) and carry the
/// facts a recovery tool needs to find it; `Display` prints one line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckProblem {
    /// `check` was called inside a transaction on this pool in this thread; nothing was checked.
    InsideTransaction,
    /// The pool header's magic or checksum is wrong.
    Header,
    /// A lane holds undo entries although no transaction runs.
    LaneOutstanding {
        /// The lane's index.
        lane: u32,
        /// Entries found.
        entries: usize,
    },
    /// A lane's log cannot be read.
    LaneUnreadable {
        /// The lane's index.
        lane: u32,
        /// Why, as the error the log walk returned.
        error: String,
    },
    /// A chunk header word cannot be read (the walk stops there).
    ChunkUnreadable {
        /// The chunk's index.
        chunk: u64,
        /// Why.
        error: String,
    },
    /// A chunk header word is not a valid header.
    InvalidChunkHeader {
        /// The chunk's index.
        chunk: u64,
        /// Offset of the word.
        offset: u64,
        /// The word found.
        word: u64,
    },
    /// A chunk is free on media but in none of the allocator's free lists (a leak).
    FreeChunkNotListed {
        /// The chunk's index.
        chunk: u64,
    },
    /// A used extent runs past the end of the heap (the walk stops there).
    ExtentPastHeap {
        /// The extent's first chunk.
        chunk: u64,
        /// Its length in chunks.
        len: u64,
    },
    /// A header word inside a used extent is not `FREE`.
    InnerWordNotFree {
        /// The chunk whose word is wrong.
        chunk: u64,
        /// The extent's first chunk.
        extent: u64,
    },
    /// A chunk inside a used extent is also in the free lists (it could be handed out twice).
    UsedChunkListedFree {
        /// The chunk's index.
        chunk: u64,
    },
    /// An object's recorded size exceeds its block or extent.
    ObjectTooLarge {
        /// Payload offset of the object.
        offset: u64,
        /// The size recorded in its header.
        size: u64,
        /// The block's capacity.
        capacity: u64,
    },
    /// An object header cannot be read.
    ObjectUnreadable {
        /// The chunk holding the object.
        chunk: u64,
        /// Why.
        error: String,
    },
    /// The run descriptor in a chunk is out of bounds or invalid.
    InvalidRun {
        /// The run's chunk.
        chunk: u64,
    },
    /// A run on media that the allocator does not know.
    RunNotKnown {
        /// The run's chunk.
        chunk: u64,
    },
    /// Bits set in a run's bitmap past its last block.
    BitsPastLastBlock {
        /// The run's chunk.
        chunk: u64,
        /// Index of the bitmap word.
        word: u64,
    },
    /// A run's bitmap word on media differs from the allocator's volatile copy.
    BitmapDiffers {
        /// The run's chunk.
        chunk: u64,
        /// Index of the bitmap word.
        word: u64,
    },
    /// Objects and bytes counted on media differ from the allocator's totals.
    CountsDisagree {
        /// Objects on media.
        media_objects: u64,
        /// Bytes on media.
        media_bytes: u64,
        /// Objects in the allocator's totals.
        volatile_objects: u64,
        /// Bytes in the allocator's totals.
        volatile_bytes: u64,
    },
    /// The root object does not resolve, or not to the pool's root type.
    Root {
        /// Why.
        error: String,
    },
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckProblem::InsideTransaction => write!(f, "check called inside a transaction"),
            CheckProblem::Header => write!(f, "pool header: magic or checksum wrong"),
            CheckProblem::LaneOutstanding { lane, entries } => write!(
                f,
                "lane {lane}: {entries} undo entries outstanding with no transaction running"
            ),
            CheckProblem::LaneUnreadable { lane, error } => write!(f, "lane {lane}: {error}"),
            CheckProblem::ChunkUnreadable { chunk, error } => write!(f, "chunk {chunk}: {error}"),
            CheckProblem::InvalidChunkHeader {
                chunk,
                offset,
                word,
            } => write!(
                f,
                "chunk {chunk}: invalid header word {word:#018x} at {offset:#x}"
            ),
            CheckProblem::FreeChunkNotListed { chunk } => write!(
                f,
                "chunk {chunk}: free on media but not in the free lists (leak)"
            ),
            CheckProblem::ExtentPastHeap { chunk, len } => write!(
                f,
                "chunk {chunk}: extent of {len} chunks runs past the heap"
            ),
            CheckProblem::InnerWordNotFree { chunk, extent } => write!(
                f,
                "chunk {chunk}: header word inside the extent of chunk {extent} is not FREE"
            ),
            CheckProblem::UsedChunkListedFree { chunk } => write!(
                f,
                "chunk {chunk}: inside a used extent but listed free (double hand-out)"
            ),
            CheckProblem::ObjectTooLarge {
                offset,
                size,
                capacity,
            } => write!(
                f,
                "object at {offset:#x}: size {size} larger than its block ({capacity} bytes)"
            ),
            CheckProblem::ObjectUnreadable { chunk, error } => {
                write!(f, "object at chunk {chunk}: {error}")
            }
            CheckProblem::InvalidRun { chunk } => {
                write!(
                    f,
                    "run at chunk {chunk}: invalid or out-of-bounds descriptor"
                )
            }
            CheckProblem::RunNotKnown { chunk } => {
                write!(f, "run at chunk {chunk}: not known to the allocator")
            }
            CheckProblem::BitsPastLastBlock { chunk, word } => write!(
                f,
                "run at chunk {chunk}: bitmap word {word} has bits set past the last block"
            ),
            CheckProblem::BitmapDiffers { chunk, word } => write!(
                f,
                "run at chunk {chunk}: bitmap word {word} differs from the allocator's"
            ),
            CheckProblem::CountsDisagree {
                media_objects,
                media_bytes,
                volatile_objects,
                volatile_bytes,
            } => write!(
                f,
                "object counts disagree: media has {media_objects} objects / {media_bytes} bytes, \
                 volatile state {volatile_objects} / {volatile_bytes}"
            ),
            CheckProblem::Root { error } => write!(f, "root object: {error}"),
        }
    }
}
