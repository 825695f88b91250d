//! `PString`: a growable UTF-8 string in a pool, on the machinery of `PVec<u8>`.

use super::raw::{self, Checked, Elem, VecHeader};
use super::PoolRead;
use crate::error::{Error, Result};
use crate::tx::Tx;
use crate::types::ptr::PPtr;
use crate::types::typeid::TypeHasher;
use crate::Persistent;

/// The element type id recorded in a `PString`'s header: not `u8`'s, so that a `PVec<u8>`
/// handle (which could store bytes that are not UTF-8) and a `PString` handle to the same
/// header refuse each other.
pub const STRING_ELEM_TYPE_ID: u64 = TypeHasher::new().str("pobj::PString").str("utf-8").finish();

/// The elements of a string: bytes of UTF-8.
const STR: Elem = Elem {
    type_id: STRING_ELEM_TYPE_ID,
    size: 1,
    align: 1,
};

/// A growable UTF-8 string in a pool, like `String`.
///
/// Like [`PVec`](super::PVec), the value is an 8-byte `Persistent` handle to a header that
/// never moves; it is changed inside a transaction and read from a [`PoolRead`] source. Its
/// bytes come from the pool, so they are never trusted: every `&str` or `String` handed out
/// has passed `std::str::from_utf8`, and bytes that are not UTF-8 are
/// [`Error::Corrupted`]. Lengths and positions are in bytes, as for `String`; cutting inside a
/// character is [`Error::NotCharBoundary`].
#[derive(crate::Persistent, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[repr(transparent)]
pub struct PString {
    hdr: PPtr<VecHeader>,
}

static_assertions::assert_eq_size!(PString, u64);

/// Checks that `bytes` (the whole string, or a piece of it starting at a character boundary
/// at byte `at` of the buffer `c.buf`) are UTF-8.
fn utf8<'b>(c: &Checked<'_>, at: usize, bytes: &'b [u8]) -> Result<&'b str> {
    std::str::from_utf8(bytes).map_err(|e| Error::Corrupted {
        what: "string bytes (not UTF-8)",
        offset: c.buf.offset() + (at + e.valid_up_to()) as u64,
    })
}

/// The string's checked bytes as `&str`.
fn whole<'b>(c: &'b Checked<'_>) -> Result<&'b str> {
    utf8(c, 0, c.elems(STR, 0, c.len)?)
}

/// Whether byte `b` starts a UTF-8 character (it is not a continuation byte `10xxxxxx`).
fn starts_char(b: u8) -> bool {
    b & 0xC0 != 0x80
}

impl PString {
    /// The null handle: no string; every operation on it returns [`Error::InvalidPointer`].
    #[must_use]
    pub const fn null() -> Self {
        PString { hdr: PPtr::null() }
    }

    /// Whether this is the null handle.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.hdr.is_null()
    }

    /// The pointer to the string's header (for tools and tests that inspect the layout).
    #[must_use]
    pub const fn header(self) -> PPtr<VecHeader> {
        self.hdr
    }

    /// A handle from a header pointer. Safe: every access checks the header and the bytes.
    #[must_use]
    pub const fn from_header(hdr: PPtr<VecHeader>) -> Self {
        PString { hdr }
    }

    /// Creates an empty string (the header only). Undone if the transaction aborts.
    pub fn new<R: Persistent>(tx: &mut Tx<'_, R>) -> Result<Self> {
        Self::with_capacity(tx, 0)
    }

    /// Creates an empty string with room for `capacity` bytes.
    pub fn with_capacity<R: Persistent>(tx: &mut Tx<'_, R>, capacity: usize) -> Result<Self> {
        Ok(Self::from_header(raw::create(tx, STR, capacity)?))
    }

    /// Creates a string holding a copy of `s`.
    pub fn from_str<R: Persistent>(tx: &mut Tx<'_, R>, s: &str) -> Result<Self> {
        let p = Self::with_capacity(tx, s.len())?;
        p.push_str(tx, s)?;
        Ok(p)
    }

    /// The length in bytes.
    pub fn len<S: PoolRead + ?Sized>(self, src: &S) -> Result<usize> {
        raw::read(src, self.hdr, STR, |c| Ok(c.len))
    }

    /// Whether the string is empty.
    pub fn is_empty<S: PoolRead + ?Sized>(self, src: &S) -> Result<bool> {
        Ok(self.len(src)? == 0)
    }

    /// The number of bytes the buffer holds before it must grow.
    pub fn capacity<S: PoolRead + ?Sized>(self, src: &S) -> Result<usize> {
        raw::read(src, self.hdr, STR, |c| Ok(c.cap))
    }

    /// A copy of the string (from a pool: one committed state), checked to be UTF-8.
    pub fn to_string<S: PoolRead + ?Sized>(self, src: &S) -> Result<String> {
        self.with_str(src, str::to_owned)
    }

    /// Calls `f` with the string, checked to be UTF-8, without copying it. From a pool, `f`
    /// runs under the pool's read lock: a call back into the pool from `f` is refused
    /// ([`Error::NestedTransaction`]) and writers wait until `f` returns.
    pub fn with_str<S: PoolRead + ?Sized, U>(
        self,
        src: &S,
        f: impl FnOnce(&str) -> U,
    ) -> Result<U> {
        raw::read(src, self.hdr, STR, |c| Ok(f(whole(c)?)))
    }

    /// The string in a transaction's view, checked to be UTF-8, borrowed from the transaction.
    pub fn as_str<'t, R: Persistent>(self, tx: &'t Tx<'_, R>) -> Result<&'t str> {
        let c = raw::in_tx(tx, self.hdr, STR)?;
        let bytes = c.bytes.get(..c.len).ok_or(Error::Internal {
            what: "string length outside a checked buffer",
        })?;
        utf8(&c, 0, bytes)
    }

    /// Appends `s`, growing the buffer (to twice its capacity, or more) when it is full.
    pub fn push_str<R: Persistent>(self, tx: &mut Tx<'_, R>, s: &str) -> Result<()> {
        raw::extend(tx, self.hdr, STR, s.as_bytes())
    }

    /// Appends one character.
    pub fn push<R: Persistent>(self, tx: &mut Tx<'_, R>, ch: char) -> Result<()> {
        self.push_str(tx, ch.encode_utf8(&mut [0; 4]))
    }

    /// Removes the last character and returns it, or `None` if the string is empty.
    pub fn pop<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<Option<char>> {
        let last = raw::read(&*tx, self.hdr, STR, |c| {
            if c.len == 0 {
                return Ok(None);
            }
            // The last character starts at most 3 bytes before the last byte.
            let tail_from = c.len.saturating_sub(4);
            let tail = c.elems(STR, tail_from, c.len)?;
            let start = tail.iter().rposition(|&b| starts_char(b)).unwrap_or(0);
            let s = utf8(c, tail_from + start, &tail[start..])?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) => Ok(Some((tail_from + start, ch))),
                _ => Err(Error::Corrupted {
                    what: "string bytes (not UTF-8)",
                    offset: c.buf.offset() + (tail_from + start) as u64,
                }),
            }
        })?;
        let Some((at, ch)) = last else {
            return Ok(None);
        };
        raw::truncate(tx, self.hdr, STR, at)?;
        Ok(Some(ch))
    }

    /// Shortens the string to `len` bytes; nothing if it is not longer.
    /// [`Error::NotCharBoundary`] if byte `len` is inside a character.
    pub fn truncate<R: Persistent>(self, tx: &mut Tx<'_, R>, len: usize) -> Result<()> {
        let cut = raw::read(&*tx, self.hdr, STR, |c| {
            if len >= c.len {
                return Ok(false);
            }
            match c.elems(STR, len, len + 1)? {
                [b] if starts_char(*b) => Ok(true),
                _ => Err(Error::NotCharBoundary {
                    offset: self.hdr.offset(),
                    index: len as u64,
                }),
            }
        })?;
        if cut {
            raw::truncate(tx, self.hdr, STR, len)?;
        }
        Ok(())
    }

    /// Empties the string. The capacity stays.
    pub fn clear<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<()> {
        self.truncate(tx, 0)
    }

    /// Makes room for at least `additional` more bytes (regrowing now, as `push_str` would).
    pub fn reserve<R: Persistent>(self, tx: &mut Tx<'_, R>, additional: usize) -> Result<()> {
        raw::reserve(tx, self.hdr, STR, additional)
    }

    /// Frees the string's header and buffer when the transaction commits. The handle must not
    /// be used afterwards.
    pub fn free<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<()> {
        raw::free(tx, self.hdr, STR)
    }
}
