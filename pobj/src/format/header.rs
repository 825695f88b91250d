//! The pool header: the first 256 bytes of every pool file (the rest of the first page is zero).
//!
//! Written once at creation, flushed, and never modified afterwards, so it needs no crash
//! protocol: a crash during creation leaves a file whose header fails its checksum (or magic).

use crate::Persistent;

/// `b"POBJPOOL"`.
pub(crate) const MAGIC: [u8; 8] = *b"POBJPOOL";
/// The format version this build writes and reads. Bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the header struct.
pub(crate) const HEADER_SIZE: u32 = 256;
/// Bytes reserved for the header at the start of the file.
pub(crate) const HEADER_AREA: u64 = 4096;
/// Maximum length of a layout name in bytes (UTF-8, no NUL).
pub const MAX_LAYOUT_LEN: usize = 63;

/// The pool header, byte for byte as on media (little-endian).
#[derive(Clone, Copy, Debug, Persistent)]
#[repr(C)]
pub(crate) struct PoolHeader {
    /// `MAGIC`.
    pub magic: [u8; 8],
    /// `FORMAT_VERSION`.
    pub version: u32,
    /// `HEADER_SIZE`: bytes covered by the checksum plus the checksum.
    pub header_size: u32,
    /// Random UUID given at creation.
    pub uuid: [u8; 16],
    /// The pool's size in bytes (the file may be longer, never shorter).
    pub pool_size: u64,
    /// Layout name, UTF-8, zero-padded; at most `MAX_LAYOUT_LEN` bytes.
    pub layout: [u8; 64],
    /// Offset of the root object's payload.
    pub root_offset: u64,
    /// Size of the root type in bytes.
    pub root_size: u64,
    /// Type id of the root type.
    pub root_type_id: u64,
    /// Offset of the first lane.
    pub lane_offset: u64,
    /// Number of lanes.
    pub lane_count: u32,
    /// Bytes per lane.
    pub lane_size: u32,
    /// Offset of the chunk header table.
    pub chunk_table: u64,
    /// Number of chunks.
    pub chunk_count: u64,
    /// Offset of the first chunk.
    pub chunk_base: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Creation time, seconds since the Unix epoch (informational).
    pub created: u64,
    /// Zero; room for later versions.
    pub reserved: [u8; 68],
    /// CRC-32C of bytes 0..252.
    pub checksum: u32,
}

static_assertions::const_assert_eq!(core::mem::size_of::<PoolHeader>(), HEADER_SIZE as usize);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, version), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, uuid), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, pool_size), 32);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, layout), 40);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, root_offset), 104);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, lane_offset), 128);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, chunk_table), 144);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, created), 176);
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, checksum), 252);

impl PoolHeader {
    /// CRC-32C of everything before the checksum field.
    #[must_use]
    pub(crate) fn compute_checksum(&self) -> u32 {
        let bytes = crate::types::persistent::as_bytes(self);
        crc32c::crc32c(&bytes[..252])
    }

    /// The layout name (up to the first zero byte), lossy if not UTF-8.
    #[must_use]
    pub(crate) fn layout_name(&self) -> String {
        let end = self
            .layout
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.layout.len());
        String::from_utf8_lossy(&self.layout[..end]).into_owned()
    }
}
