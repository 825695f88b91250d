//! Stable type ids: a `const fn` FNV-1a (64-bit) over names and nested ids.
//!
//! `std::any::TypeId` and `DefaultHasher` may change between compilers and builds; a pool outlives
//! both, so type ids are computed with a fixed, documented hash (see `docs/format.md`).

/// A `const` FNV-1a hasher. Each piece is prefixed with a tag and its length, so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
#[derive(Clone, Copy, Debug)]
pub struct TypeHasher(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl TypeHasher {
    /// A fresh hasher.
    #[must_use]
    pub const fn new() -> Self {
        TypeHasher(FNV_OFFSET)
    }

    const fn byte(self, b: u8) -> Self {
        TypeHasher((self.0 ^ b as u64).wrapping_mul(FNV_PRIME))
    }

    const fn raw_u64(mut self, v: u64) -> Self {
        let bytes = v.to_le_bytes();
        let mut i = 0;
        while i < 8 {
            self = self.byte(bytes[i]);
            i += 1;
        }
        self
    }

    /// Adds a string (tag `s`, length, bytes).
    #[must_use]
    pub const fn str(self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut h = self.byte(b's').raw_u64(bytes.len() as u64);
        let mut i = 0;
        while i < bytes.len() {
            h = h.byte(bytes[i]);
            i += 1;
        }
        h
    }

    /// Adds a 64-bit value (tag `u`, value little-endian).
    #[must_use]
    pub const fn u64(self, v: u64) -> Self {
        self.byte(b'u').raw_u64(v)
    }

    /// The hash.
    #[must_use]
    pub const fn finish(self) -> u64 {
        self.0
    }
}

impl Default for TypeHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The type id of a primitive named `name`.
#[must_use]
pub(crate) const fn primitive(name: &str) -> u64 {
    TypeHasher::new().str("prim").str(name).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_stable() {
        // Pinned: changing the hash changes every type id on media.
        assert_eq!(TypeHasher::new().finish(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(primitive("u64"), primitive("u64"));
        assert_ne!(primitive("u64"), primitive("i64"));
        assert_ne!(
            TypeHasher::new().str("ab").str("c").finish(),
            TypeHasher::new().str("a").str("bc").finish()
        );
        assert_eq!(
            primitive("u64"),
            0x4d73_a50a_15bd_3f7d,
            "{:#x}",
            primitive("u64")
        );
    }
}
