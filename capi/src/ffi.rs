//! Reading C arguments: byte ranges, strings, handles and out-pointers, each checked for NULL.

use std::ffi::{c_char, CStr};

use crate::status::Failure;

/// The `n` bytes at `p` (`p` may be NULL when `n` is 0).
///
/// # Safety
///
/// Unless `n` is 0, `p` points to `n` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(
    p: *const c_char,
    n: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::invalid(format!(
            "{what} is NULL with a length of {n}"
        )));
    }
    // SAFETY: non-NULL, and the caller guarantees `n` readable bytes for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) })
}

/// The NUL-terminated string at `p`, as UTF-8.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that stays unchanged for `'a`.
pub(crate) unsafe fn string<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// The handle behind `p`.
///
/// # Safety
///
/// `p` is NULL or a live handle of type `T` made by this library and not yet deleted, not
/// used mutably elsewhere for `'a`.
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract: NULL or a live handle.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// The handle behind `p`, mutably.
///
/// # Safety
///
/// As for [`handle`], and no other reference to it exists for `'a` (pmemkv's handles are not
/// shared between threads while one of them changes).
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract: NULL or a live handle, used by this call only.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Writes `v` to the out-pointer `p`.
///
/// # Safety
///
/// `p` is NULL or valid for a write of a `T`.
pub(crate) unsafe fn put_out<T>(p: *mut T, v: T, what: &str) -> Result<(), Failure> {
    if p.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and writable (the caller's contract).
    unsafe { p.write(v) };
    Ok(())
}
