//! The `Persistent` trait: what may live in a pool.

use crate::types::typeid::{primitive, TypeHasher};

/// A type whose values may be stored in a pool and read back from any bytes.
///
/// # Safety
///
/// Implementors guarantee that the type
/// - has a fixed layout (`#[repr(C)]`, `#[repr(transparent)]` or a primitive),
/// - has no padding bytes (so every byte of a value is initialised),
/// - is valid for every bit pattern (a damaged file or a torn write can never produce an invalid
///   value),
/// - holds no references, raw pointers, heap pointers or interior mutability (nothing that points
///   into DRAM or that the compiler assumes about aliasing),
/// - has `TYPE_ID`/`NAME_HASH` that depend only on the type's name and layout.
///
/// Use `#[derive(Persistent)]`, which checks all of this at compile time, rather than
/// implementing it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a pool: it does not implement `Persistent`",
    label = "not `Persistent`",
    note = "pool objects must be `#[repr(C)]` plain data with no padding and every bit pattern \
            valid: integers, f32/f64, arrays, `PPtr<T>`, `PBytes` and `#[derive(Persistent)]` \
            structs of them; not bool, char, enums, Option, references, pointers, Box, Vec or \
            String"
)]
pub unsafe trait Persistent: Copy + Send + Sync + 'static {
    /// Hash of the type's name (and its type parameters' names). Used by `PPtr<T>`'s type id so
    /// that self-referential types (`struct Node { next: PPtr<Node> }`) have a finite id.
    const NAME_HASH: u64;
    /// The stable type id stored with every object of this type.
    const TYPE_ID: u64;
    /// Compile-time layout proof; evaluating it fails to compile when the type (or any type it
    /// contains) has padding. Every pobj entry point that turns a `T` into bytes or bytes into a
    /// `T` evaluates it (`layout_proof`), so a generic struct whose padding appears only
    /// for some type arguments cannot reach the pool with them.
    #[doc(hidden)]
    const __LAYOUT_CHECK: () = ();
}

/// Forces the layout proof of `T` (a post-monomorphization error for a padded instantiation).
///
/// Called at the top of every function that views a `T` as bytes, writes one into the pool or
/// reads one from it: `as_bytes`, `from_bytes`, `zeroed`, the `Region` accessors and the type
/// check of pointer resolution. A type whose `TYPE_ID` is never evaluated (a field type given to
/// `Tx::update_at`, a value given to `as_bytes`) is still checked here.
#[inline]
pub(crate) const fn layout_proof<T: Persistent>() {
    let () = T::__LAYOUT_CHECK;
}

macro_rules! primitive_persistent {
    ($($t:ty),*) => {$(
        // SAFETY: primitive integers and floats have no padding, are valid for every bit
        // pattern, and hold no pointers.
        unsafe impl Persistent for $t {
            const NAME_HASH: u64 = primitive(stringify!($t));
            const TYPE_ID: u64 = primitive(stringify!($t));
        }
    )*};
}

primitive_persistent!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

// SAFETY: an array of `Persistent` elements has no padding (array stride equals element size,
// and the element has none) and is valid for every bit pattern if the element is.
unsafe impl<T: Persistent, const N: usize> Persistent for [T; N] {
    const NAME_HASH: u64 = TypeHasher::new()
        .str("array")
        .u64(T::NAME_HASH)
        .u64(N as u64)
        .finish();
    const TYPE_ID: u64 = TypeHasher::new()
        .str("array")
        .u64(T::TYPE_ID)
        .u64(N as u64)
        .finish();
    // An array has no padding of its own; its element may.
    #[doc(hidden)]
    const __LAYOUT_CHECK: () = T::__LAYOUT_CHECK;
}

/// A value of `T` with every byte zero (valid, since every bit pattern is).
#[must_use]
pub fn zeroed<T: Persistent>() -> T {
    layout_proof::<T>();
    // SAFETY: `T: Persistent` is valid for every bit pattern, including all zeros.
    unsafe { core::mem::zeroed() }
}

/// The bytes of a value. Sound because a `Persistent` type has no padding (proved at compile
/// time for this very `T`, see [`Persistent`]).
#[must_use]
pub fn as_bytes<T: Persistent>(v: &T) -> &[u8] {
    layout_proof::<T>();
    // SAFETY: `v` is a valid reference to `size_of::<T>()` bytes, all initialised since `T` has
    // no padding; `u8` has alignment 1; the returned slice borrows `v`.
    unsafe {
        core::slice::from_raw_parts(
            std::ptr::from_ref::<T>(v).cast::<u8>(),
            core::mem::size_of::<T>(),
        )
    }
}

/// A value read from bytes of the right length (any alignment).
///
/// Returns `None` when the length is wrong.
#[must_use]
pub fn from_bytes<T: Persistent>(b: &[u8]) -> Option<T> {
    layout_proof::<T>();
    if b.len() != core::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `b` holds exactly `size_of::<T>()` initialised bytes, `read_unaligned` has no
    // alignment requirement, and every bit pattern is a valid `T`.
    Some(unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

#[doc(hidden)]
pub(crate) mod private {
    pub use crate::types::typeid::TypeHasher;

    /// Used by `#[derive(Persistent)]` to name the offending field in its error.
    pub const fn assert_field_is_persistent<T: super::Persistent>() {}
}
