//! Key numbers as key bytes, and the values written for them.

/// Writes key number `id` big-endian into `buf` (zero-padded on the left, or its low bytes when
/// `buf` is shorter than 8 bytes).
pub fn encode_key(id: u64, buf: &mut [u8]) {
    let be = id.to_be_bytes();
    if buf.len() >= 8 {
        let pad = buf.len() - 8;
        buf[..pad].fill(0);
        buf[pad..].copy_from_slice(&be);
    } else {
        let n = buf.len();
        buf.copy_from_slice(&be[8 - n..]);
    }
}

/// The key of the i-th stored key (`2i`).
pub(crate) fn present(i: u64, buf: &mut [u8]) {
    encode_key(i.wrapping_mul(2), buf);
}

/// A key between the i-th and the next stored key (`2i + 1`).
pub(crate) fn absent(i: u64, buf: &mut [u8]) {
    encode_key(i.wrapping_mul(2).wrapping_add(1), buf);
}

/// Writes a value for key `i`: a pattern from `salt`, with the key number in front.
pub(crate) fn fill_value(i: u64, salt: u8, buf: &mut [u8]) {
    buf.fill(salt);
    let le = i.to_le_bytes();
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&le[..n]);
}

/// The successor of `key` in bytewise order (`key` followed by a zero byte).
pub(crate) fn successor(key: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    out.push(0);
}
