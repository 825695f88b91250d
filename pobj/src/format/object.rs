//! Object headers: 16 bytes before every object's payload.

use crate::Persistent;

/// Bytes of the object header.
pub(crate) const OBJ_HEADER: u64 = 16;

/// Precedes every allocated object. Written when the block is allocated (while nothing else can
/// reach it) and flushed with the object at commit.
#[derive(Clone, Copy, Persistent)]
#[repr(C)]
pub(crate) struct ObjHeader {
    /// Payload size in bytes as asked for (for byte buffers, their exact length); bit 63
    /// ([`SHARED_FLAG`]) marks a shared object (see [`ObjHeader::is_shared`]).
    pub size: u64,
    /// The type id of the object (`Persistent::TYPE_ID`, or the byte-buffer id).
    pub type_id: u64,
}

static_assertions::const_assert_eq!(core::mem::size_of::<ObjHeader>() as u64, OBJ_HEADER);

/// Bit 63 of [`ObjHeader::size`]: the object is *shared* — read by other threads without the
/// pool's lock (racy, atomic word loads, as the KV map's optimistic readers do). The safe API
/// never lends a reference (`&T`, `&mut T`, `&[u8]`) into a shared object; it is read by copies
/// made of atomic loads and written only by pobj's atomic stores, and its block is reused only
/// after every reader pinned when it was freed has finished (`heap/quarantine.rs`). Pools
/// written before this flag existed have it clear everywhere (sizes are far below 2^63).
pub(crate) const SHARED_FLAG: u64 = 1 << 63;

impl ObjHeader {
    /// The payload size in bytes, without the shared flag.
    pub(crate) fn len(&self) -> u64 {
        self.size & !SHARED_FLAG
    }

    /// Whether the object is shared (see [`SHARED_FLAG`]).
    pub(crate) fn is_shared(&self) -> bool {
        self.size & SHARED_FLAG != 0
    }
}
