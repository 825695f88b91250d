//! The machinery under `PVec<T>` and `PString`: the on-media header, its checks, and the
//! operations on a header and its element buffer, for elements described only by their type
//! id, size and alignment (`Elem`).
//!
//! # Which slots are logged, and why the others need not be
//!
//! A header records, besides `len` and `cap`, a **watermark**: every slot of the current buffer
//! at or past it holds no element of any committed state. In every committed state
//! `len <= watermark <= cap`. The watermark of a buffer never decreases while that buffer is
//! current: a push raises it to the new length, a pop, a truncate or a clear lowers `len` only.
//! Only a regrowth sets it back, to `len`, and only together with a buffer that the same
//! transaction allocated.
//!
//! A transaction that starts from the committed state S0 (`len0 <= wm0`) writes
//! - slots at or past the current watermark **unlogged** (`write_bytes_unlogged`). They are at
//!   or past `wm0`, or in a buffer this transaction allocated, so they hold no element of S0. If
//!   the transaction aborts, or a crash interrupts it, the header comes back from the undo log
//!   with `len0` and `wm0` (the header is always written logged), so whatever those slots hold
//!   again lies past the length: nobody's bytes. A buffer this transaction allocated goes back
//!   to the allocator. If the transaction commits, pobj flushes the unlogged ranges before the
//!   fence that precedes the retire of the log, so the new elements are durable before the new
//!   length can be.
//! - slots below the watermark but at or past `len` **logged** (`write_bytes`): a pop earlier in
//!   the same transaction may have left an element of S0 there (pop, then push), and an abort
//!   must bring it back. (A pop in an earlier, committed transaction leaves the watermark high
//!   too, so the next pushes into those slots are logged although nothing needs them: the price
//!   of not knowing, from the pool alone, which transaction lowered the length.)
//! - slots below `len` (a `set`) **logged**.

use crate::collections::PoolRead;
use crate::error::{Error, Result};
use crate::heap::MAX_ALLOC;
use crate::tx::Tx;
use crate::types::ptr::{PBytes, PPtr};
use crate::Persistent;

/// `magic` of every collection header: the bytes `PVEC` (little-endian).
pub const VEC_MAGIC: u32 = u32::from_le_bytes(*b"PVEC");
/// `version` of the header layout this build writes and reads.
pub const VEC_VERSION: u32 = 1;
/// The largest element alignment a collection accepts: the allocator's largest.
pub const MAX_ELEM_ALIGN: usize = 64;

/// The header of a `PVec` or `PString` in the pool: a separately allocated object that the
/// handle points to, so the handle never changes. Every field is checked on every access (see
/// `docs/collections.md`).
#[derive(crate::Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct VecHeader {
    /// [`VEC_MAGIC`]: tells a collection header from other objects of this type id.
    pub magic: u32,
    /// [`VEC_VERSION`]: the layout of this header, for a future format change.
    pub version: u32,
    /// The type id of the elements (`T::TYPE_ID`, or the string id for a `PString`), so that
    /// a handle of another element type is refused.
    pub elem_type_id: u64,
    /// `size_of` the element, in bytes (never 0).
    pub elem_size: u32,
    /// `align_of` the element; the buffer is allocated with this alignment (at most 64).
    pub elem_align: u32,
    /// What the operations change.
    pub state: VecState,
}

/// The changing part of a [`VecHeader`]: one contiguous 32-byte range, logged as one piece.
#[derive(crate::Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct VecState {
    /// Elements in the collection (for a `PString`, bytes of UTF-8).
    pub len: u64,
    /// Slots at or past this index hold no element of any committed state and are written
    /// without logging (`len <= watermark <= cap`; see the module documentation).
    pub watermark: u64,
    /// Slots in the buffer: its length is exactly `cap * elem_size` bytes.
    pub cap: u64,
    /// The element buffer, a byte buffer of `cap * elem_size` bytes (null when `cap` is 0).
    pub buf: PBytes,
}

static_assertions::const_assert_eq!(core::mem::size_of::<VecHeader>(), 56);
static_assertions::const_assert_eq!(core::mem::align_of::<VecHeader>(), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, magic), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, version), 4);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, elem_type_id), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, elem_size), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, elem_align), 20);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecHeader, state), STATE);
static_assertions::const_assert_eq!(core::mem::size_of::<VecState>(), 32);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecState, len), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecState, watermark), 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecState, cap), 16);
static_assertions::const_assert_eq!(core::mem::offset_of!(VecState, buf), 24);

/// Offset of `state` (and of `state.len`) in the header.
const STATE: usize = 24;
/// Offset of `state.watermark` in the header.
const WATERMARK: usize = STATE + 8;
/// Offset of `state.buf` in the header.
const BUF: usize = STATE + 24;
/// Regrowth copies the old elements through a DRAM buffer of at most this many bytes.
const COPY_CHUNK: usize = 64 << 10;

/// What a collection's elements are: recorded in its header and checked on every access.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elem {
    pub(crate) type_id: u64,
    pub(crate) size: usize,
    pub(crate) align: usize,
}

impl Elem {
    /// The descriptor of `T`. Evaluated in a `const` (see `PVec`), so that a zero-sized `T`
    /// (which has no bytes to store) or one above 4 GiB (more than one allocation may hold)
    /// does not compile.
    pub(crate) const fn of<T: Persistent>() -> Elem {
        assert!(
            core::mem::size_of::<T>() > 0,
            "a PVec element type must not be zero-sized"
        );
        assert!(
            core::mem::size_of::<T>() <= u32::MAX as usize,
            "a PVec element type must be smaller than 4 GiB"
        );
        Elem {
            type_id: T::TYPE_ID,
            size: core::mem::size_of::<T>(),
            align: core::mem::align_of::<T>(),
        }
    }

    fn check_align(self) -> Result<()> {
        if self.align > MAX_ELEM_ALIGN {
            return Err(Error::BadAlignment { align: self.align });
        }
        Ok(())
    }
}

/// A header checked against its element type and its buffer: every figure here may be
/// trusted (`len <= watermark <= cap`, and `bytes` holds exactly `cap` elements).
#[derive(Debug)]
pub(crate) struct Checked<'b> {
    pub(crate) len: usize,
    pub(crate) watermark: usize,
    pub(crate) cap: usize,
    pub(crate) buf: PBytes,
    pub(crate) bytes: &'b [u8],
}

impl Checked<'_> {
    /// The bytes of elements `from..to` (`to <= cap`, checked by the caller against `len`).
    pub(crate) fn elems(&self, elem: Elem, from: usize, to: usize) -> Result<&[u8]> {
        self.bytes
            .get(from * elem.size..to * elem.size)
            .ok_or(Error::Internal {
                what: "element range outside a checked buffer",
            })
    }

    fn state(&self) -> St {
        St {
            len: self.len,
            watermark: self.watermark,
            cap: self.cap,
            buf: self.buf,
        }
    }
}

/// A checked state, owned (so that the transaction can be borrowed mutably afterwards).
#[derive(Clone, Copy, Debug)]
struct St {
    len: usize,
    watermark: usize,
    cap: usize,
    buf: PBytes,
}

impl St {
    fn media(self) -> VecState {
        VecState {
            len: self.len as u64,
            watermark: self.watermark as u64,
            cap: self.cap as u64,
            buf: self.buf,
        }
    }
}

fn corrupted(what: &'static str, offset: u64) -> Error {
    Error::Corrupted { what, offset }
}

/// Checks the header at `off` (already resolved as a live `VecHeader`) and its buffer's
/// contents (`None` when `h.state.buf` is null) against `elem`. Nothing in `h` is trusted
/// before it is checked here; sizes are bounded by the buffer's real length.
pub(crate) fn check<'b>(
    off: u64,
    h: &VecHeader,
    elem: Elem,
    bytes: Option<&'b [u8]>,
) -> Result<Checked<'b>> {
    elem.check_align()?;
    if h.magic != VEC_MAGIC {
        return Err(corrupted("collection header (magic)", off));
    }
    if h.version != VEC_VERSION {
        return Err(corrupted(
            "collection header (unsupported version)",
            off + 4,
        ));
    }
    if h.elem_type_id != elem.type_id {
        return Err(Error::TypeMismatch {
            offset: off,
            expected: elem.type_id,
            found: h.elem_type_id,
        });
    }
    if h.elem_size as usize != elem.size || h.elem_align as usize != elem.align {
        return Err(corrupted("collection header (element size)", off + 16));
    }
    let s = h.state;
    if s.len > s.watermark {
        return Err(corrupted(
            "collection header (length past watermark)",
            off + 24,
        ));
    }
    if s.watermark > s.cap {
        return Err(corrupted(
            "collection header (watermark past capacity)",
            off + WATERMARK as u64,
        ));
    }
    let bytes = match (bytes, s.cap) {
        (None, 0) => &[][..],
        (Some(b), cap) if cap > 0 => b,
        _ => return Err(corrupted("collection header (buffer)", off + BUF as u64)),
    };
    let boff = s.buf.offset();
    if s.cap.checked_mul(elem.size as u64) != Some(bytes.len() as u64) {
        return Err(corrupted("collection buffer (length)", boff));
    }
    if !boff.is_multiple_of(elem.align as u64) {
        return Err(corrupted("collection buffer (alignment)", boff));
    }
    // The buffer's length bounds `cap`, so the conversions are exact and `cap * size` fits.
    Ok(Checked {
        len: s.len as usize,
        watermark: s.watermark as usize,
        cap: s.cap as usize,
        buf: s.buf,
        bytes,
    })
}

/// Calls `f` with the checked header `hdr` and its buffer, read from `src`: a pool's committed
/// state (one read lock for both) or a transaction's view.
pub(crate) fn read<S: PoolRead + ?Sized, U>(
    src: &S,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    f: impl FnOnce(&Checked<'_>) -> Result<U>,
) -> Result<U> {
    if hdr.is_null() {
        return Err(Error::InvalidPointer {
            offset: 0,
            reason: "null collection handle",
        });
    }
    src.read_header(hdr, |h, bytes| {
        let c = check(hdr.offset(), h, elem, bytes)?;
        f(&c)
    })
}

/// The checked header in a transaction's view, borrowed from it.
pub(crate) fn in_tx<'t, R: Persistent>(
    tx: &'t Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
) -> Result<Checked<'t>> {
    if hdr.is_null() {
        return Err(Error::InvalidPointer {
            offset: 0,
            reason: "null collection handle",
        });
    }
    let h = tx.get(hdr)?;
    let bytes = if h.state.buf.is_null() {
        None
    } else {
        Some(tx.bytes(h.state.buf)?)
    };
    check(hdr.offset(), h, elem, bytes)
}

fn state<R: Persistent>(tx: &Tx<'_, R>, hdr: PPtr<VecHeader>, elem: Elem) -> Result<St> {
    Ok(in_tx(tx, hdr, elem)?.state())
}

/// The byte length of `n` elements, or `TooLarge`.
fn byte_len(elem: Elem, n: usize) -> Result<u64> {
    (n as u64)
        .checked_mul(elem.size as u64)
        .ok_or(Error::TooLarge {
            requested: u64::MAX,
            max: MAX_ALLOC,
        })
}

/// Allocates a header (and a buffer of `cap` slots if `cap > 0`) for elements `elem`.
pub(crate) fn create<R: Persistent>(
    tx: &mut Tx<'_, R>,
    elem: Elem,
    cap: usize,
) -> Result<PPtr<VecHeader>> {
    elem.check_align()?;
    let buf = if cap == 0 {
        PBytes::null()
    } else {
        tx.alloc_bytes_zeroed_aligned(byte_len(elem, cap)?, elem.align as u64)?
    };
    tx.alloc(VecHeader {
        magic: VEC_MAGIC,
        version: VEC_VERSION,
        elem_type_id: elem.type_id,
        elem_size: elem.size as u32,
        elem_align: elem.align as u32,
        state: VecState {
            len: 0,
            watermark: 0,
            cap: cap as u64,
            buf,
        },
    })
}

/// The capacity after a regrowth to hold at least `required` elements: doubling (amortised
/// O(1) pushes), at least a small first buffer, at most what one allocation may hold unless
/// `required` itself is more (then the allocator refuses it with `TooLarge`).
fn grown_capacity(cap: usize, required: usize, elem: Elem) -> usize {
    let first = match elem.size {
        1 => 8,
        2..=1024 => 4,
        _ => 1,
    };
    let most = (MAX_ALLOC / elem.size as u64) as usize;
    let want = required.max(cap.saturating_mul(2)).max(first);
    if want > most && required <= most {
        most
    } else {
        want
    }
}

/// Moves the elements to a new buffer of at least `required` slots, frees the old one (at
/// commit: an abort keeps it) and records both in the header. The free comes before the
/// header's logged write, so that its log entry is made durable by that write's fence rather
/// than costing one more at commit.
fn grow<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    st: St,
    required: usize,
) -> Result<St> {
    let cap = grown_capacity(st.cap, required, elem);
    let buf = tx.alloc_bytes_zeroed_aligned(byte_len(elem, cap)?, elem.align as u64)?;
    let total = st.len * elem.size;
    let mut chunk = Vec::with_capacity(total.min(COPY_CHUNK));
    let mut at = 0;
    while at < total {
        let n = (total - at).min(COPY_CHUNK);
        chunk.clear();
        chunk.extend_from_slice(tx.bytes(st.buf)?.get(at..at + n).ok_or(Error::Internal {
            what: "regrowth copy outside the checked buffer",
        })?);
        // The new buffer was allocated by this transaction: nobody's bytes until it commits.
        tx.write_bytes_unlogged(buf, at as u64, &chunk)?;
        at += n;
    }
    if !st.buf.is_null() {
        tx.free_bytes(st.buf)?;
    }
    // The new buffer holds no element of any committed state: its watermark is the length.
    let next = St {
        len: st.len,
        watermark: st.len,
        cap,
        buf,
    };
    tx.update_at(hdr, STATE, next.media())?;
    Ok(next)
}

/// Makes room for `additional` more elements (regrowing if needed).
pub(crate) fn reserve<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    additional: usize,
) -> Result<()> {
    let st = state(tx, hdr, elem)?;
    let required = st.len.checked_add(additional).ok_or(Error::TooLarge {
        requested: u64::MAX,
        max: MAX_ALLOC,
    })?;
    if required > st.cap {
        grow(tx, hdr, elem, st, required)?;
    }
    Ok(())
}

/// Appends the elements whose bytes are `data` (whole elements).
pub(crate) fn extend<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    data: &[u8],
) -> Result<()> {
    if !data.len().is_multiple_of(elem.size) {
        return Err(Error::Internal {
            what: "appended bytes are not whole elements",
        });
    }
    let mut st = state(tx, hdr, elem)?;
    let n = data.len() / elem.size;
    if n == 0 {
        return Ok(());
    }
    let len = st.len.checked_add(n).ok_or(Error::TooLarge {
        requested: u64::MAX,
        max: MAX_ALLOC,
    })?;
    if len > st.cap {
        st = grow(tx, hdr, elem, st, len)?;
    }
    // Slots `st.len..split` are below the watermark: logged. Slots `split..len` are at or past
    // it: unlogged (the module documentation argues why that is crash-safe).
    let split = st.watermark.clamp(st.len, len);
    let (logged, fresh) = data.split_at((split - st.len) * elem.size);
    if !logged.is_empty() {
        tx.write_bytes(st.buf, (st.len * elem.size) as u64, logged)?;
    }
    if !fresh.is_empty() {
        tx.write_bytes_unlogged(st.buf, (split * elem.size) as u64, fresh)?;
    }
    let watermark = st.watermark.max(len);
    tx.update_at(hdr, STATE, [len as u64, watermark as u64])
}

/// Shortens the collection to `len` elements (nothing if it is not longer). Only the length
/// changes: the watermark stays, so the slots given up are logged if written again.
pub(crate) fn truncate<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    len: usize,
) -> Result<()> {
    let st = state(tx, hdr, elem)?;
    if len >= st.len {
        return Ok(());
    }
    tx.update_at(hdr, STATE, len as u64)
}

/// Overwrites element `index` (below the length) with the element whose bytes are `data`.
pub(crate) fn overwrite<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
    index: usize,
    data: &[u8],
) -> Result<()> {
    let st = state(tx, hdr, elem)?;
    if index >= st.len {
        return Err(Error::IndexOutOfRange {
            offset: hdr.offset(),
            index: index as u64,
            len: st.len as u64,
        });
    }
    if data.len() != elem.size {
        return Err(Error::Internal {
            what: "an overwrite is not one element",
        });
    }
    // The slot holds an element of the committed state (or one this transaction wrote, which
    // pobj then does not log again): logged.
    tx.write_bytes(st.buf, (index * elem.size) as u64, data)
}

/// Frees the buffer and the header (at commit).
pub(crate) fn free<R: Persistent>(
    tx: &mut Tx<'_, R>,
    hdr: PPtr<VecHeader>,
    elem: Elem,
) -> Result<()> {
    let st = state(tx, hdr, elem)?;
    if !st.buf.is_null() {
        tx.free_bytes(st.buf)?;
    }
    tx.free(hdr)
}

/// The error for `index` at or past `len` of the collection at `hdr`.
pub(crate) fn out_of_range(hdr: PPtr<VecHeader>, index: usize, len: usize) -> Error {
    Error::IndexOutOfRange {
        offset: hdr.offset(),
        index: index as u64,
        len: len as u64,
    }
}
