//! Object headers: 16 bytes before every object's payload.

use crate::Persistent;

/// Bytes of the object header.
pub(crate) const OBJ_HEADER: u64 = 16;

/// Precedes every allocated object. Written when the block is allocated (while nothing else can
/// reach it) and flushed with the object at commit.
#[derive(Clone, Copy, Persistent)]
#[repr(C)]
pub(crate) struct ObjHeader {
    /// Payload size in bytes as asked for (for byte buffers, their exact length).
    pub size: u64,
    /// The type id of the object (`Persistent::TYPE_ID`, or the byte-buffer id).
    pub type_id: u64,
}

static_assertions::const_assert_eq!(core::mem::size_of::<ObjHeader>() as u64, OBJ_HEADER);
