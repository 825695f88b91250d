//! `PVec<T>`: a growable array of `Persistent` elements in a pool.

use core::fmt;

use super::raw::{self, Checked, Elem, VecHeader};
use super::PoolRead;
use crate::error::{Error, Result};
use crate::tx::Tx;
use crate::types::persistent::{as_bytes, from_bytes};
use crate::types::ptr::PPtr;
use crate::Persistent;

/// Elements an iterator copies out per read (per read lock, from a pool): at most this many
/// bytes' worth, and at least one element.
const ITER_CHUNK_BYTES: usize = 64 << 10;

/// A growable array of `T` in a pool, like `Vec<T>`.
///
/// The value is a **handle**: 8 bytes, `Copy` and `Persistent`, so it can be stored in the
/// root or in any `#[derive(Persistent)]` struct. It points to a header allocated by
/// [`PVec::new`] and never changes afterwards; the operations take it by value, with the
/// transaction that changes the vector (`push`, `set`, `pop`, ...) or a [`PoolRead`] source
/// that reads it (`get`, `len`, `iter`, ...: a `&Pool` for the committed state, a `&Tx` for
/// the transaction's own view). Elements are copied in and out by value.
///
/// Every access checks the header (its type, its magic and version, that its element type is
/// `T`, that `len <= cap` and that the buffer holds exactly `cap` elements): a damaged or
/// mistyped handle is a typed error, never a panic. The buffer doubles when it is full.
///
/// A zero-sized `T`, or one of 4 GiB or more, does not compile; one aligned to more than
/// [`MAX_ELEM_ALIGN`](super::MAX_ELEM_ALIGN) bytes is refused with
/// [`Error::BadAlignment`].
#[derive(crate::Persistent)]
#[repr(C)]
pub struct PVec<T> {
    hdr: PPtr<VecHeader>,
    /// Names the element type without taking any bytes, so that the derive (and the handle's
    /// type id) see `T`: `PVec<u64>` and `PVec<Order>` are different types in a pool too. A
    /// pointer array, not `[T; 0]`, so that the handle stays 8-aligned whatever `T` is.
    _elem: [PPtr<T>; 0],
}

static_assertions::assert_eq_size!(PVec<u8>, u64);
static_assertions::assert_eq_size!(PVec<[u64; 16]>, u64);

impl<T> Clone for PVec<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for PVec<T> {}
impl<T> PartialEq for PVec<T> {
    fn eq(&self, o: &Self) -> bool {
        self.hdr == o.hdr
    }
}
impl<T> Eq for PVec<T> {}
impl<T> Default for PVec<T> {
    /// The null handle (see [`PVec::null`]).
    fn default() -> Self {
        Self::from_header(PPtr::null())
    }
}
impl<T> fmt::Debug for PVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hdr.is_null() {
            write!(f, "PVec(null)")
        } else {
            write!(f, "PVec({:#x})", self.hdr.offset())
        }
    }
}

impl<T> PVec<T> {
    /// The null handle: no vector. Every operation on it returns [`Error::InvalidPointer`];
    /// what a zeroed or `Default` field holds until a vector is created.
    #[must_use]
    pub const fn null() -> Self {
        Self::from_header(PPtr::null())
    }

    /// Whether this is the null handle.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.hdr.is_null()
    }

    /// The pointer to the vector's header (for tools and tests that inspect the layout).
    #[must_use]
    pub const fn header(self) -> PPtr<VecHeader> {
        self.hdr
    }

    /// A handle from a header pointer. Safe: every access checks the header.
    #[must_use]
    pub const fn from_header(hdr: PPtr<VecHeader>) -> Self {
        PVec { hdr, _elem: [] }
    }
}

/// The element descriptor of `T`, evaluated at compile time (refusing zero-sized `T`).
const fn elem<T: Persistent>() -> Elem {
    const { Elem::of::<T>() }
}

/// Element `i` (below `c.len`, checked by the caller) of a checked header.
fn decode<T: Persistent>(c: &Checked<'_>, i: usize) -> Result<T> {
    from_bytes(c.elems(elem::<T>(), i, i + 1)?).ok_or(Error::Internal {
        what: "an element's bytes are not one element",
    })
}

/// Elements `from..to` (at most `c.len`, checked by the caller) of a checked header.
fn decode_range<T: Persistent>(c: &Checked<'_>, from: usize, to: usize) -> Result<Vec<T>> {
    let e = elem::<T>();
    c.elems(e, from, to)?
        .chunks_exact(e.size)
        .map(|b| {
            from_bytes(b).ok_or(Error::Internal {
                what: "an element's bytes are not one element",
            })
        })
        .collect()
}

impl<T: Persistent> PVec<T> {
    /// Creates an empty vector in the transaction's pool (the header only; the buffer comes
    /// with the first push). Undone if the transaction aborts.
    pub fn new<R: Persistent>(tx: &mut Tx<'_, R>) -> Result<Self> {
        Self::with_capacity(tx, 0)
    }

    /// Creates an empty vector with room for `capacity` elements.
    pub fn with_capacity<R: Persistent>(tx: &mut Tx<'_, R>, capacity: usize) -> Result<Self> {
        Ok(Self::from_header(raw::create(tx, elem::<T>(), capacity)?))
    }

    /// Creates a vector holding a copy of `items`.
    pub fn from_slice<R: Persistent>(tx: &mut Tx<'_, R>, items: &[T]) -> Result<Self> {
        let v = Self::with_capacity(tx, items.len())?;
        v.extend_from_slice(tx, items)?;
        Ok(v)
    }

    /// The number of elements.
    pub fn len<S: PoolRead + ?Sized>(self, src: &S) -> Result<usize> {
        raw::read(src, self.hdr, elem::<T>(), |c| Ok(c.len))
    }

    /// Whether the vector has no elements.
    pub fn is_empty<S: PoolRead + ?Sized>(self, src: &S) -> Result<bool> {
        Ok(self.len(src)? == 0)
    }

    /// The number of elements the buffer holds before it must grow.
    pub fn capacity<S: PoolRead + ?Sized>(self, src: &S) -> Result<usize> {
        raw::read(src, self.hdr, elem::<T>(), |c| Ok(c.cap))
    }

    /// A copy of element `index`; [`Error::IndexOutOfRange`] at or past the length.
    pub fn get<S: PoolRead + ?Sized>(self, src: &S, index: usize) -> Result<T> {
        raw::read(src, self.hdr, elem::<T>(), |c| {
            if index >= c.len {
                return Err(raw::out_of_range(self.hdr, index, c.len));
            }
            decode(c, index)
        })
    }

    /// A copy of the last element, or `None` if the vector is empty.
    pub fn last<S: PoolRead + ?Sized>(self, src: &S) -> Result<Option<T>> {
        raw::read(src, self.hdr, elem::<T>(), |c| match c.len {
            0 => Ok(None),
            n => decode(c, n - 1).map(Some),
        })
    }

    /// A copy of every element, read at once (from a pool: one committed state, under one
    /// read lock).
    pub fn to_vec<S: PoolRead + ?Sized>(self, src: &S) -> Result<Vec<T>> {
        raw::read(src, self.hdr, elem::<T>(), |c| decode_range(c, 0, c.len))
    }

    /// An iterator over copies of the elements, read in chunks of up to 64 KiB.
    ///
    /// From a `&Tx` every chunk comes from the transaction's view, which cannot change while
    /// the iterator borrows it. From a `&Pool` each chunk is read under its own read lock from
    /// the state committed at that moment: another thread's transaction may commit between
    /// chunks, so a long iteration may see elements of several committed states (never a
    /// half-done transaction). It yields the indexes `0..n` in order, where `n` is the length
    /// when `iter` was called, and stops early if the vector became shorter; an error (the
    /// vector freed meanwhile, say) is yielded once and ends the iteration. For one consistent
    /// copy use [`PVec::to_vec`].
    pub fn iter<S: PoolRead + ?Sized>(self, src: &S) -> Result<Iter<'_, T, S>> {
        let end = self.len(src)?;
        Ok(Iter {
            vec: self,
            src,
            next: 0,
            end,
            chunk: Vec::new().into_iter(),
            done: false,
        })
    }

    /// Appends `value`, growing the buffer (to twice its capacity) when it is full.
    pub fn push<R: Persistent>(self, tx: &mut Tx<'_, R>, value: T) -> Result<()> {
        raw::extend(tx, self.hdr, elem::<T>(), as_bytes(&value))
    }

    /// Appends copies of `items` (growing the buffer at most once).
    pub fn extend_from_slice<R: Persistent>(self, tx: &mut Tx<'_, R>, items: &[T]) -> Result<()> {
        let mut data = Vec::with_capacity(core::mem::size_of_val(items));
        for it in items {
            data.extend_from_slice(as_bytes(it));
        }
        raw::extend(tx, self.hdr, elem::<T>(), &data)
    }

    /// Removes the last element and returns it, or `None` if the vector is empty.
    pub fn pop<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<Option<T>> {
        let last = raw::read(&*tx, self.hdr, elem::<T>(), |c| match c.len {
            0 => Ok(None),
            n => Ok(Some((n - 1, decode::<T>(c, n - 1)?))),
        })?;
        let Some((i, v)) = last else {
            return Ok(None);
        };
        raw::truncate(tx, self.hdr, elem::<T>(), i)?;
        Ok(Some(v))
    }

    /// Replaces element `index` with `value`; [`Error::IndexOutOfRange`] at or past the
    /// length.
    pub fn set<R: Persistent>(self, tx: &mut Tx<'_, R>, index: usize, value: T) -> Result<()> {
        raw::overwrite(tx, self.hdr, elem::<T>(), index, as_bytes(&value))
    }

    /// Shortens the vector to `len` elements; nothing if it is not longer. The capacity stays.
    pub fn truncate<R: Persistent>(self, tx: &mut Tx<'_, R>, len: usize) -> Result<()> {
        raw::truncate(tx, self.hdr, elem::<T>(), len)
    }

    /// Removes every element. The capacity stays.
    pub fn clear<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<()> {
        self.truncate(tx, 0)
    }

    /// Makes room for at least `additional` more elements (regrowing now, as `push` would).
    pub fn reserve<R: Persistent>(self, tx: &mut Tx<'_, R>, additional: usize) -> Result<()> {
        raw::reserve(tx, self.hdr, elem::<T>(), additional)
    }

    /// Frees the vector's header and buffer when the transaction commits. The handle (and any
    /// copy of it) must not be used afterwards: it then names freed or reused space, which
    /// gives an error or, if the space was reused for another vector of `T`, that vector.
    pub fn free<R: Persistent>(self, tx: &mut Tx<'_, R>) -> Result<()> {
        raw::free(tx, self.hdr, elem::<T>())
    }
}

/// An iterator over copies of a [`PVec`]'s elements (from [`PVec::iter`]).
pub struct Iter<'s, T, S: ?Sized> {
    vec: PVec<T>,
    src: &'s S,
    next: usize,
    end: usize,
    chunk: std::vec::IntoIter<T>,
    done: bool,
}

impl<T, S: ?Sized> fmt::Debug for Iter<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("vec", &self.vec)
            .field("next", &self.next)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<T: Persistent, S: PoolRead + ?Sized> Iterator for Iter<'_, T, S> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(v) = self.chunk.next() {
            return Some(Ok(v));
        }
        if self.done || self.next >= self.end {
            return None;
        }
        let per = (ITER_CHUNK_BYTES / core::mem::size_of::<T>()).max(1);
        let (from, end) = (self.next, self.end);
        let r = raw::read(self.src, self.vec.hdr, elem::<T>(), |c| {
            let to = end.min(c.len).min(from.saturating_add(per));
            if from >= to {
                return Ok(Vec::new());
            }
            decode_range(c, from, to)
        });
        match r {
            Ok(items) if items.is_empty() => {
                self.done = true;
                None
            }
            Ok(items) => {
                self.next += items.len();
                self.chunk = items.into_iter();
                self.chunk.next().map(Ok)
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.chunk.len();
        let rest = if self.done {
            0
        } else {
            self.end.saturating_sub(self.next)
        };
        // A shorter vector or an error (yielded in place of a chunk) may end it sooner.
        (buffered, Some(buffered + rest))
    }
}
