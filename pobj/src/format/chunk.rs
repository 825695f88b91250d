//! Chunk header words: one 8-byte word per chunk in the chunk table.
//!
//! Layout of the little-endian `u64`: bits 0..16 the kind tag, bits 16..48 the extent length in
//! chunks (for `USED`), bits 48..64 zero. A word is written with one aligned 8-byte store, so a
//! power failure leaves either the old or the new word.

/// A free chunk (or a chunk inside a used extent: such words are never read).
pub(crate) const FREE: u64 = 0;
/// Tag of the first chunk of a large object.
pub(crate) const TAG_USED: u64 = 0x5355; // "US"
/// Tag of a chunk holding a run of small blocks.
pub(crate) const TAG_RUN: u64 = 0x5552; // "RU"

/// A decoded chunk header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkHeader {
    /// Free.
    Free,
    /// First chunk of a large object spanning `len` chunks.
    Used {
        /// Chunks in the extent.
        len: u64,
    },
    /// A run of small blocks.
    Run,
}

impl ChunkHeader {
    /// Decodes a word; `None` for a word no version of pobj writes (damage).
    #[must_use]
    pub(crate) fn decode(w: u64) -> Option<ChunkHeader> {
        let tag = w & 0xffff;
        let len = (w >> 16) & 0xffff_ffff;
        let high = w >> 48;
        match (tag, high) {
            (0, 0) if len == 0 => Some(ChunkHeader::Free),
            (TAG_USED, 0) if len > 0 => Some(ChunkHeader::Used { len }),
            (TAG_RUN, 0) if len == 1 => Some(ChunkHeader::Run),
            _ => None,
        }
    }

    /// Encodes to a word.
    #[must_use]
    pub(crate) fn encode(self) -> u64 {
        match self {
            ChunkHeader::Free => FREE,
            ChunkHeader::Used { len } => TAG_USED | ((len & 0xffff_ffff) << 16),
            ChunkHeader::Run => TAG_RUN | (1 << 16),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_reject() {
        for h in [
            ChunkHeader::Free,
            ChunkHeader::Used { len: 1 },
            ChunkHeader::Used { len: 4000 },
            ChunkHeader::Run,
        ] {
            assert_eq!(ChunkHeader::decode(h.encode()), Some(h));
        }
        assert_eq!(ChunkHeader::decode(1), None);
        assert_eq!(ChunkHeader::decode(TAG_USED), None);
        assert_eq!(ChunkHeader::decode(TAG_RUN | (2 << 16)), None);
        assert_eq!(ChunkHeader::decode(u64::MAX), None);
    }
}
