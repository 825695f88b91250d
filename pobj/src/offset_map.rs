//! Hash maps keyed by pool offsets (already well spread: no hashing needed).

/// A hasher for pool offsets (unique `u64`s chosen by the allocator, not by users).
#[derive(Default, Clone, Copy)]
pub(crate) struct OffsetHash(u64);

impl std::hash::Hasher for OffsetHash {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
}

pub(crate) type BuildOffset = std::hash::BuildHasherDefault<OffsetHash>;
