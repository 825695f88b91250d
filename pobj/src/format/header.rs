//! The pool header: the first 256 bytes of every pool file (the rest of the first page is zero).
//!
//! Written once at creation, flushed, and never modified afterwards, so it needs no crash
//! protocol: a crash during creation leaves a file whose header fails its checksum (or magic).
//! What does change, the pool's current size, is one self-checking word after the header in
//! the same page ([`crate::format::extent`]).

use crate::Persistent;

/// `b"POBJPOOL"`.
pub(crate) const MAGIC: [u8; 8] = *b"POBJPOOL";
/// The format version this build writes. Bumped on any incompatible change. Version 2 added
/// growth: the chunk table is sized for the maximum size and the current size is the extent
/// word. Version 1 pools (fixed size, no extent word) are still read.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
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
    /// The pool's maximum size in bytes, which the chunk table is sized for. In version 1, the
    /// pool's (fixed) size. The file may be longer than the pool's current size, never shorter.
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
    /// Chunk table slots: the chunks of a pool of the maximum size. (The current number of
    /// chunks is the extent word's; in version 1 this number.)
    pub chunk_count: u64,
    /// Offset of the first chunk.
    pub chunk_base: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Creation time, seconds since the Unix epoch (informational).
    pub created: u64,
    /// Bytes added per growth, a multiple of `chunk_size` (version 2; zero in version 1).
    pub grow_step: u64,
    /// Zero; room for later versions.
    pub reserved: [u8; 60],
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
static_assertions::const_assert_eq!(core::mem::offset_of!(PoolHeader, grow_step), 184);
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
