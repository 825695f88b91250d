//! Size classes: block sizes (object header included) served from runs.

/// Block sizes in bytes, including the 16-byte object header. Steps of at most 25% above 128
/// bytes bound internal fragmentation.
pub const CLASSES: [u64; 43] = [
    32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336,
    16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
];

/// Largest payload served from a run; larger objects take whole chunks.
pub const MAX_SMALL_PAYLOAD: u64 = CLASSES[CLASSES.len() - 1] - crate::format::object::OBJ_HEADER;

/// The class for a payload of `size` bytes with the given alignment (8 or 16 is natural; 64
/// restricts to block sizes that are multiples of 64).
#[must_use]
pub(crate) fn class_for(size: u64, align: u64) -> Option<usize> {
    let need = size.checked_add(crate::format::object::OBJ_HEADER)?;
    CLASSES
        .iter()
        .position(|&bs| bs >= need && (align <= 16 || bs % 64 == 0))
}

/// The class index of a block size, if it is one.
#[must_use]
pub(crate) fn class_of_block(bs: u64) -> Option<usize> {
    CLASSES.iter().position(|&c| c == bs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_sorted_and_16_aligned() {
        assert!(CLASSES.windows(2).all(|w| w[0] < w[1]));
        assert!(CLASSES.iter().all(|c| c % 16 == 0));
        assert_eq!(class_for(0, 8), Some(0));
        assert_eq!(class_for(16, 8), Some(0));
        assert_eq!(class_for(17, 8), Some(1));
        assert_eq!(CLASSES[class_for(17, 64).expect("a class")], 64);
        assert_eq!(class_for(MAX_SMALL_PAYLOAD + 1, 8), None);
    }
}
