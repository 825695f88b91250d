//! Typed persistent pointers: pool-relative offsets that resolve only through a pool handle.

use core::fmt;
use core::marker::PhantomData;

use crate::types::persistent::Persistent;
use crate::types::typeid::TypeHasher;

/// A pointer to a `T` in a pool: the byte offset of the object from the pool's start, or 0 for
/// null. It is plain data (8 bytes, `Persistent`), so it can be stored in other objects; it is
/// dereferenced only through a pool or transaction, which check bounds, alignment, that the
/// target is an allocated object, and that its recorded type id is `T`'s.
#[repr(transparent)]
pub struct PPtr<T> {
    off: u64,
    _t: PhantomData<fn() -> T>,
}

static_assertions::assert_eq_size!(PPtr<u64>, u64);

impl<T> PPtr<T> {
    /// The null pointer.
    #[must_use]
    pub const fn null() -> Self {
        PPtr {
            off: 0,
            _t: PhantomData,
        }
    }
    /// Whether this is null.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.off == 0
    }
    /// The pool-relative offset (0 for null).
    #[must_use]
    pub const fn offset(self) -> u64 {
        self.off
    }
    /// A pointer from a raw offset. Resolving it checks everything, so this is safe.
    #[must_use]
    pub const fn from_offset(off: u64) -> Self {
        PPtr {
            off,
            _t: PhantomData,
        }
    }
}

impl<T> Clone for PPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for PPtr<T> {}
impl<T> PartialEq for PPtr<T> {
    fn eq(&self, o: &Self) -> bool {
        self.off == o.off
    }
}
impl<T> Eq for PPtr<T> {}
impl<T> core::hash::Hash for PPtr<T> {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        self.off.hash(h);
    }
}
impl<T> Default for PPtr<T> {
    fn default() -> Self {
        Self::null()
    }
}
impl<T> fmt::Debug for PPtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_null() {
            write!(f, "PPtr(null)")
        } else {
            write!(f, "PPtr({:#x})", self.off)
        }
    }
}

// SAFETY: `PPtr<T>` is `repr(transparent)` over a `u64` (PhantomData is a ZST with alignment 1),
// so it has no padding and every bit pattern is valid; it holds an offset, not an address.
// `PhantomData<fn() -> T>` is Send + Sync + Copy for every T.
unsafe impl<T: Persistent> Persistent for PPtr<T> {
    const NAME_HASH: u64 = TypeHasher::new().str("PPtr").u64(T::NAME_HASH).finish();
    const TYPE_ID: u64 = Self::NAME_HASH;
}

/// A pointer to a variable-length byte buffer in a pool (its length is recorded in the object's
/// header). Allocated with `Tx::alloc_bytes`; the KV store keeps keys and values in these.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PBytes {
    off: u64,
}

static_assertions::assert_eq_size!(PBytes, u64);

impl PBytes {
    /// The null buffer pointer.
    #[must_use]
    pub const fn null() -> Self {
        PBytes { off: 0 }
    }
    /// Whether this is null.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.off == 0
    }
    /// The pool-relative offset (0 for null).
    #[must_use]
    pub const fn offset(self) -> u64 {
        self.off
    }
    /// A buffer pointer from a raw offset; resolving it checks everything.
    #[must_use]
    pub const fn from_offset(off: u64) -> Self {
        PBytes { off }
    }
}

impl fmt::Debug for PBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_null() {
            write!(f, "PBytes(null)")
        } else {
            write!(f, "PBytes({:#x})", self.off)
        }
    }
}

/// The type id recorded in the header of byte-buffer objects.
pub(crate) const BYTES_TYPE_ID: u64 = TypeHasher::new().str("pobj::bytes").finish();

// SAFETY: `repr(transparent)` over `u64`: no padding, every bit pattern valid, no address.
unsafe impl Persistent for PBytes {
    const NAME_HASH: u64 = TypeHasher::new().str("PBytes").finish();
    const TYPE_ID: u64 = Self::NAME_HASH;
}
