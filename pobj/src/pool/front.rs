//! What the front of a pool file says: the header, checked field by field, and the extent
//! word after it (the pool's current size), checked against the file's length.

use std::path::Path;

use super::Pool;
use crate::error::{Error, Result};
use crate::format::extent::{self, EXTENT_OFFSET};
use crate::format::header::{
    PoolHeader, FORMAT_VERSION, HEADER_AREA, HEADER_SIZE, MAGIC, OLDEST_FORMAT_VERSION,
};
use crate::format::layout::{Geometry, CHUNK_SIZE, MAX_POOL_SIZE, MIN_POOL_SIZE};
use crate::Persistent;

/// Bytes read from the front of a pool file at open: the header and the extent word.
pub(crate) const FRONT: usize = (EXTENT_OFFSET + 8) as usize;

/// A validated header and what follows from it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Front {
    /// The header.
    pub(super) h: PoolHeader,
    /// Its geometry (for the maximum size).
    pub(super) geo: Geometry,
    /// Chunks in use now.
    pub(super) chunks: u64,
    /// Bytes to map now.
    pub(super) len: u64,
    /// Bytes the pool may grow to (the address range to reserve).
    pub(super) room: u64,
    /// Growth step in bytes; 0 if the pool cannot grow.
    pub(super) step: u64,
}

impl<R: Persistent> Pool<R> {
    /// Checks a pool header (and extent word) read from a file (or image) of `len` bytes:
    /// magic, version, checksum, sizes, layout name, root type, geometry and extent, in that
    /// order.
    pub(super) fn validate_header(path: &Path, hb: &[u8], len: u64, layout: &str) -> Result<Front> {
        let n = hb.len();
        if n < 8 || hb[..8] != MAGIC {
            return Err(Error::NotAPool {
                path: path.to_path_buf(),
            });
        }
        if n < HEADER_SIZE as usize || len < HEADER_AREA {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: HEADER_AREA,
                actual: len,
            });
        }
        let h: PoolHeader = crate::types::persistent::from_bytes(&hb[..HEADER_SIZE as usize])
            .ok_or(Error::NotAPool {
                path: path.to_path_buf(),
            })?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&h.version) {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: h.version,
                supported: FORMAT_VERSION,
            });
        }
        let computed = h.compute_checksum();
        if computed != h.checksum {
            return Err(Error::DamagedHeader {
                path: path.to_path_buf(),
                found: h.checksum,
                computed,
            });
        }
        if h.header_size != HEADER_SIZE {
            return Err(Error::Corrupted {
                what: "header size",
                offset: 12,
            });
        }
        if !(MIN_POOL_SIZE..=MAX_POOL_SIZE).contains(&h.pool_size) {
            return Err(Error::SizeOutOfRange {
                size: h.pool_size,
                min: MIN_POOL_SIZE,
                max: MAX_POOL_SIZE,
            });
        }
        let found = h.layout_name();
        let any = crate::types::any_root::is_any_root::<R>();
        if !any && found.as_bytes() != layout.as_bytes() {
            return Err(Error::LayoutMismatch {
                path: path.to_path_buf(),
                expected: layout.to_string(),
                found,
            });
        }
        let want_size = core::mem::size_of::<R>() as u64;
        if !any && (h.root_type_id != R::TYPE_ID || h.root_size != want_size) {
            return Err(Error::RootTypeMismatch {
                path: path.to_path_buf(),
                expected: R::TYPE_ID,
                found: h.root_type_id,
                expected_size: want_size,
                found_size: h.root_size,
            });
        }
        let geo = Geometry::for_size(h.pool_size)?;
        let stored = Geometry {
            max_size: h.pool_size,
            lane_offset: h.lane_offset,
            lane_count: h.lane_count,
            lane_size: h.lane_size,
            chunk_table: h.chunk_table,
            chunk_slots: h.chunk_count,
            chunk_base: h.chunk_base,
        };
        if stored != geo || h.chunk_size != CHUNK_SIZE {
            return Err(Error::Corrupted {
                what: "header geometry",
                offset: 128,
            });
        }
        Self::front(path, h, geo, hb, len)
    }

    /// What the validated header `h` (of geometry `geo`) and the extent word after it say
    /// about the pool's current size, checked against the file's length `len`.
    fn front(path: &Path, h: PoolHeader, geo: Geometry, hb: &[u8], len: u64) -> Result<Front> {
        let front = if h.version == 1 {
            // Version 1: a fixed size, every chunk of the table in use, no extent word.
            Front {
                h,
                geo,
                chunks: geo.chunk_slots,
                len: h.pool_size,
                room: h.pool_size,
                step: 0,
            }
        } else {
            let word = hb
                .get(EXTENT_OFFSET as usize..FRONT)
                .map(|w| {
                    let mut v = [0u8; 8];
                    v.copy_from_slice(w);
                    u64::from_le_bytes(v)
                })
                .ok_or(Error::Truncated {
                    path: path.to_path_buf(),
                    expected: FRONT as u64,
                    actual: len,
                })?;
            let chunks = extent::decode(word, h.checksum)
                .filter(|&c| (1..=geo.chunk_slots).contains(&c))
                .ok_or(Error::Corrupted {
                    what: "extent word (the pool's current size)",
                    offset: EXTENT_OFFSET,
                })?;
            let step = h.grow_step;
            if !step.is_multiple_of(CHUNK_SIZE) || step > h.pool_size {
                return Err(Error::Corrupted {
                    what: "header growth step",
                    offset: 184,
                });
            }
            Front {
                h,
                geo,
                chunks,
                len: geo.len_for(chunks),
                room: h.pool_size,
                step,
            }
        };
        if len < front.len {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: front.len,
                actual: len,
            });
        }
        Ok(front)
    }
}
