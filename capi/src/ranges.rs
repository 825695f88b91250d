//! The count and get families: the keys above, below or between bounds, in the store's order.

use std::ffi::{c_char, c_int, c_void};

use crate::data::{count, scan, GetKvCallback, Span};
use crate::db::pmemkv_db;
use crate::ffi::bytes;
use crate::status::{guard, Failure};

/// The key argument, or the INVALID_ARGUMENT a NULL one with a length gives.
///
/// # Safety
///
/// `k` is readable for `kb` bytes during the call.
unsafe fn key<'a>(func: &str, k: *const c_char, kb: usize) -> Result<&'a [u8], c_int> {
    // SAFETY: the caller's contract.
    unsafe { bytes(k, kb, "key") }.map_err(|f: Failure| guard(func, || Err(f)))
}

/// `*cnt` gets the number of keys.
///
/// # Safety
///
/// `db` NULL or live; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_all(db: *mut pmemkv_db, cnt: *mut usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { count("pmemkv_count_all", db, Span::All, cnt) }
}

/// Calls `c` for every entry in order until it returns non-zero (STOPPED_BY_CB).
///
/// # Safety
///
/// `db` NULL or live; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_all(
    db: *mut pmemkv_db,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { scan("pmemkv_get_all", db, Span::All, c, arg) }
}

/// `*cnt` gets the number of the keys above `k`.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_above(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    cnt: *mut usize,
) -> c_int {
    let func = "pmemkv_count_above";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { count(func, db, Span::Above(k), cnt) },
        Err(s) => s,
    }
}

/// Calls `c` for the keys above `k`, in order, until it returns non-zero (STOPPED_BY_CB).
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_above(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let func = "pmemkv_get_above";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { scan(func, db, Span::Above(k), c, arg) },
        Err(s) => s,
    }
}

/// `*cnt` gets the number of the keys at or above `k`.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_equal_above(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    cnt: *mut usize,
) -> c_int {
    let func = "pmemkv_count_equal_above";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { count(func, db, Span::EqualAbove(k), cnt) },
        Err(s) => s,
    }
}

/// Calls `c` for the keys at or above `k`, in order, until it returns non-zero (STOPPED_BY_CB).
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_equal_above(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let func = "pmemkv_get_equal_above";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { scan(func, db, Span::EqualAbove(k), c, arg) },
        Err(s) => s,
    }
}

/// `*cnt` gets the number of the keys at or below `k`.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_equal_below(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    cnt: *mut usize,
) -> c_int {
    let func = "pmemkv_count_equal_below";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { count(func, db, Span::EqualBelow(k), cnt) },
        Err(s) => s,
    }
}

/// Calls `c` for the keys at or below `k`, in order, until it returns non-zero (STOPPED_BY_CB).
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_equal_below(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let func = "pmemkv_get_equal_below";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { scan(func, db, Span::EqualBelow(k), c, arg) },
        Err(s) => s,
    }
}

/// `*cnt` gets the number of the keys below `k`.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_below(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    cnt: *mut usize,
) -> c_int {
    let func = "pmemkv_count_below";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { count(func, db, Span::Below(k), cnt) },
        Err(s) => s,
    }
}

/// Calls `c` for the keys below `k`, in order, until it returns non-zero (STOPPED_BY_CB).
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_below(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let func = "pmemkv_get_below";
    // SAFETY: the caller's contract.
    match unsafe { key(func, k, kb) } {
        // SAFETY: the caller's contract.
        Ok(k) => unsafe { scan(func, db, Span::Below(k), c, arg) },
        Err(s) => s,
    }
}

/// `*cnt` gets the number of keys strictly between `k1` and `k2` (0 unless `k1` < `k2`).
///
/// # Safety
///
/// `db` NULL or live; `k1`, `k2` readable for `kb1`, `kb2` bytes; `cnt` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_count_between(
    db: *mut pmemkv_db,
    k1: *const c_char,
    kb1: usize,
    k2: *const c_char,
    kb2: usize,
    cnt: *mut usize,
) -> c_int {
    let func = "pmemkv_count_between";
    // SAFETY: the caller's contract.
    let k1 = unsafe { key(func, k1, kb1) };
    // SAFETY: the caller's contract.
    let k2 = unsafe { key(func, k2, kb2) };
    match (k1, k2) {
        // SAFETY: the caller's contract.
        (Ok(a), Ok(b)) => unsafe { count(func, db, Span::Between(a, b), cnt) },
        (Err(s), _) | (_, Err(s)) => s,
    }
}

/// Calls `c` for the keys strictly between `k1` and `k2`, in order, until it returns non-zero
/// (STOPPED_BY_CB); none unless `k1` < `k2`.
///
/// # Safety
///
/// `db` NULL or live; `k1`, `k2` readable for `kb1`, `kb2` bytes; `c` NULL or callable with
/// `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_between(
    db: *mut pmemkv_db,
    k1: *const c_char,
    kb1: usize,
    k2: *const c_char,
    kb2: usize,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let func = "pmemkv_get_between";
    // SAFETY: the caller's contract.
    let k1 = unsafe { key(func, k1, kb1) };
    // SAFETY: the caller's contract.
    let k2 = unsafe { key(func, k2, kb2) };
    match (k1, k2) {
        // SAFETY: the caller's contract.
        (Ok(a), Ok(b)) => unsafe { scan(func, db, Span::Between(a, b), c, arg) },
        (Err(s), _) | (_, Err(s)) => s,
    }
}
