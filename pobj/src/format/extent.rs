//! The extent word: how many chunks a pool of format version 2 has now.
//!
//! One aligned 8-byte word at [`EXTENT_OFFSET`], in the header's page but outside the
//! checksummed header, so that growth changes it with one atomic store: a power failure leaves
//! the old or the new count, never a mix. Bits 0..32 hold the chunk count; bits 32..64 a
//! CRC-32C of the count's four little-endian bytes followed by the header's checksum, so that a
//! damaged word (or one copied from another pool) is refused rather than believed.

/// Offset of the extent word in the pool file.
pub(crate) const EXTENT_OFFSET: u64 = 256;

/// The word that records `chunks` for the pool whose header checksum is `header_checksum`.
#[must_use]
pub(crate) fn encode(chunks: u32, header_checksum: u32) -> u64 {
    u64::from(chunks) | (u64::from(check(chunks, header_checksum)) << 32)
}

/// The chunk count a word records, or `None` if its check does not match.
#[must_use]
pub(crate) fn decode(word: u64, header_checksum: u32) -> Option<u64> {
    let chunks = (word & 0xffff_ffff) as u32;
    ((word >> 32) as u32 == check(chunks, header_checksum)).then_some(u64::from(chunks))
}

fn check(chunks: u32, header_checksum: u32) -> u32 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&chunks.to_le_bytes());
    b[4..].copy_from_slice(&header_checksum.to_le_bytes());
    crc32c::crc32c(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_reject() {
        for (n, h) in [(1, 0), (4, 0xdead_beef), (u32::MAX, 7)] {
            assert_eq!(decode(encode(n, h), h), Some(u64::from(n)));
            assert_eq!(decode(encode(n, h), h ^ 1), None, "another pool's word");
            assert_eq!(decode(encode(n, h) ^ 1, h), None, "a damaged count");
        }
        assert_eq!(decode(0, 0), None, "a zero word is not a count");
    }

    #[test]
    fn the_example_in_the_format_document() {
        assert_eq!(encode(22, 0x1234_5678), 0x414F_9529_0000_0016);
    }
}
