//! Slots: one key-value entry in a leaf, 128 bytes (two cache lines).
//!
//! `meta` packs the key length (bits 0..20), the value length (bits 20..45), the key's
//! fingerprint (bits 48..56) and flags (bit 56: the entry is out of line). An entry whose key and
//! value fit in the 120 data bytes is inline (key, then value); otherwise the data bytes hold a
//! `PBytes` pointer (little-endian offset) to a buffer with the key followed by the value.

use pobj::{PBytes, Persistent};

/// Bytes of inline data in a slot.
pub(crate) const INLINE: usize = 120;

const KLEN_BITS: u64 = 20;
const VLEN_SHIFT: u64 = 20;
const VLEN_BITS: u64 = 25;
const FP_SHIFT: u64 = 48;
const OUT_OF_LINE: u64 = 1 << 56;

/// One entry, as on media.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub(crate) struct Slot {
    /// Key length, value length, fingerprint and flags (see the module docs).
    pub(crate) meta: u64,
    /// Inline key and value, or the out-of-line buffer's offset.
    pub(crate) data: [u8; INLINE],
}

static_assertions::const_assert_eq!(core::mem::size_of::<Slot>(), 128);

/// The decoded `meta` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Key length.
    pub(crate) klen: usize,
    /// Value length.
    pub(crate) vlen: usize,
    /// Fingerprint of the key.
    pub(crate) fp: u8,
    /// Whether key and value live in a separate buffer.
    pub(crate) out_of_line: bool,
}

impl Meta {
    /// Encodes.
    #[must_use]
    pub(crate) fn encode(self) -> u64 {
        (self.klen as u64 & ((1 << KLEN_BITS) - 1))
            | ((self.vlen as u64 & ((1 << VLEN_BITS) - 1)) << VLEN_SHIFT)
            | (u64::from(self.fp) << FP_SHIFT)
            | if self.out_of_line { OUT_OF_LINE } else { 0 }
    }

    /// Decodes; `None` if reserved bits are set or the lengths cannot be valid.
    #[must_use]
    pub(crate) fn decode(w: u64) -> Option<Meta> {
        let reserved = !(((1u64 << 45) - 1) | (0xff << FP_SHIFT) | OUT_OF_LINE);
        if w & reserved != 0 {
            return None;
        }
        let m = Meta {
            klen: (w & ((1 << KLEN_BITS) - 1)) as usize,
            vlen: ((w >> VLEN_SHIFT) & ((1 << VLEN_BITS) - 1)) as usize,
            fp: (w >> FP_SHIFT) as u8,
            out_of_line: w & OUT_OF_LINE != 0,
        };
        if m.klen > crate::MAX_KEY_LEN || m.vlen > crate::MAX_VALUE_LEN {
            return None;
        }
        if !m.out_of_line && m.klen + m.vlen > INLINE {
            return None;
        }
        Some(m)
    }
}

/// Whether an entry is stored inline.
#[must_use]
pub(crate) fn fits_inline(klen: usize, vlen: usize) -> bool {
    klen + vlen <= INLINE
}

/// The fingerprint of a key: one byte of its CRC-32C.
#[must_use]
pub(crate) fn fingerprint(key: &[u8]) -> u8 {
    let c = crc32c::crc32c(key);
    (c ^ (c >> 8) ^ (c >> 16) ^ (c >> 24)) as u8
}

/// An inline slot.
#[must_use]
pub(crate) fn inline(key: &[u8], value: &[u8]) -> Slot {
    let mut data = [0u8; INLINE];
    data[..key.len()].copy_from_slice(key);
    data[key.len()..key.len() + value.len()].copy_from_slice(value);
    Slot {
        meta: Meta {
            klen: key.len(),
            vlen: value.len(),
            fp: fingerprint(key),
            out_of_line: false,
        }
        .encode(),
        data,
    }
}

/// An out-of-line slot pointing at `buf` (which holds key then value).
#[must_use]
pub(crate) fn out_of_line(key: &[u8], vlen: usize, buf: PBytes) -> Slot {
    let mut data = [0u8; INLINE];
    data[..8].copy_from_slice(&buf.offset().to_le_bytes());
    Slot {
        meta: Meta {
            klen: key.len(),
            vlen,
            fp: fingerprint(key),
            out_of_line: true,
        }
        .encode(),
        data,
    }
}

impl Slot {
    /// The decoded meta word.
    #[must_use]
    pub(crate) fn meta(&self) -> Option<Meta> {
        Meta::decode(self.meta)
    }

    /// The out-of-line buffer, if any.
    #[must_use]
    pub(crate) fn buffer(&self) -> Option<PBytes> {
        let m = self.meta()?;
        if !m.out_of_line {
            return None;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.data[..8]);
        Some(PBytes::from_offset(u64::from_le_bytes(b)))
    }

    /// The inline key (None when out of line or damaged).
    #[must_use]
    pub(crate) fn inline_key(&self) -> Option<&[u8]> {
        let m = self.meta()?;
        (!m.out_of_line).then(|| &self.data[..m.klen])
    }

    /// The inline value.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn inline_value(&self) -> Option<&[u8]> {
        let m = self.meta()?;
        (!m.out_of_line).then(|| &self.data[m.klen..m.klen + m.vlen])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_roundtrip() {
        for m in [
            Meta {
                klen: 0,
                vlen: 0,
                fp: 0,
                out_of_line: false,
            },
            Meta {
                klen: 16,
                vlen: 100,
                fp: 200,
                out_of_line: false,
            },
            Meta {
                klen: crate::MAX_KEY_LEN,
                vlen: crate::MAX_VALUE_LEN,
                fp: 255,
                out_of_line: true,
            },
        ] {
            assert_eq!(Meta::decode(m.encode()), Some(m));
        }
        assert_eq!(Meta::decode(1 << 63), None);
        assert_eq!(
            Meta::decode(
                Meta {
                    klen: 100,
                    vlen: 100,
                    fp: 1,
                    out_of_line: false
                }
                .encode()
            ),
            None
        );
    }

    #[test]
    fn inline_slot_holds_key_and_value() {
        let s = inline(b"key", b"value");
        assert_eq!(s.inline_key(), Some(&b"key"[..]));
        assert_eq!(s.inline_value(), Some(&b"value"[..]));
        assert_eq!(s.meta().map(|m| m.fp), Some(fingerprint(b"key")));
    }
}
