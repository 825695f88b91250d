//! Reads and writes of a `pmemkv_db`: put, get, exists, remove, counts and ordered scans.
//!
//! Callbacks into C run with no lock of the store held (values are copied out and validated
//! first), so a callback may call back into the library, `pmemkv_get` or `pmemkv_put` included.

use std::ffi::{c_char, c_int, c_void};

use pobj_kv::Db;

use crate::db::pmemkv_db;
use crate::ffi::{bytes, handle, put_out};
use crate::status::{
    guard, Failure, Outcome, NOT_FOUND, NOT_SUPPORTED, OK, OUT_OF_MEMORY, STOPPED_BY_CB,
};

/// pmemkv's key-value callback: non-zero stops the scan.
pub type GetKvCallback =
    unsafe extern "C-unwind" fn(*const c_char, usize, *const c_char, usize, *mut c_void) -> c_int;
/// pmemkv's value callback.
pub type GetVCallback = unsafe extern "C-unwind" fn(*const c_char, usize, *mut c_void);

/// Runs `body` with the store of `db` (`None`: blackhole).
///
/// # Safety
///
/// `db` is NULL or a live handle from `pmemkv_open`.
unsafe fn with_db(
    func: &str,
    db: *mut pmemkv_db,
    body: impl FnOnce(Option<&Db>) -> Outcome,
) -> c_int {
    guard(func, || {
        // SAFETY: the caller's contract.
        let h = unsafe { handle(db, "db") }?;
        body(h.store())
    })
}

fn kv<T>(r: pobj_kv::Result<T>) -> Result<T, Failure> {
    r.map_err(Failure::from)
}

/// The key argument.
///
/// # Safety
///
/// `k` holds `kb` readable bytes for `'a` (or `kb` is 0).
unsafe fn key_arg<'a>(k: *const c_char, kb: usize) -> Result<&'a [u8], Failure> {
    // SAFETY: the caller's contract.
    unsafe { bytes(k, kb, "key") }
}

/// Puts `v` under `k`: atomic and durable when it returns.
///
/// # Safety
///
/// `db` NULL or live; `k`, `v` readable for `kb`, `vb` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_put(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    v: *const c_char,
    vb: usize,
) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        // SAFETY: the caller's contract: `k` holds `kb` bytes.
        let key = unsafe { key_arg(k, kb) }?;
        // SAFETY: the caller's contract.
        let value = unsafe { bytes(v, vb, "value") }?;
        if let Some(s) = s {
            kv(s.put(key, value))?;
        }
        Ok(OK)
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_put", db, body) }
}

/// Calls `c(value, arg)` with `k`'s value (valid during the call); NOT_FOUND if absent.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `c` NULL or callable with `arg`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    c: Option<GetVCallback>,
    arg: *mut c_void,
) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        // SAFETY: the caller's contract: `k` holds `kb` bytes.
        let key = unsafe { key_arg(k, kb) }?;
        let c = c.ok_or_else(|| Failure::invalid("callback is NULL"))?;
        let Some(v) = kv(s.map_or(Ok(None), |s| s.get(key)))? else {
            return Ok(NOT_FOUND);
        };
        // SAFETY: the caller's callback, with a live copy of the value for the call.
        unsafe { c(v.as_ptr().cast(), v.len(), arg) };
        Ok(OK)
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_get", db, body) }
}

/// Copies `k`'s value into `buffer` (zero-filled first); `*value_size` gets the value's
/// length. OUT_OF_MEMORY if the buffer is too small, NOT_FOUND if absent.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes; `buffer` writable for `buffer_size` bytes;
/// `value_size` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_get_copy(
    db: *mut pmemkv_db,
    k: *const c_char,
    kb: usize,
    buffer: *mut c_char,
    buffer_size: usize,
    value_size: *mut usize,
) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        // SAFETY: the caller's contract: `k` holds `kb` bytes.
        let key = unsafe { key_arg(k, kb) }?;
        if buffer.is_null() && buffer_size > 0 {
            return Err(Failure::invalid("buffer is NULL with a size"));
        }
        if buffer_size > 0 {
            // SAFETY: non-NULL and writable for `buffer_size` bytes (the contract).
            unsafe { buffer.write_bytes(0, buffer_size) };
        }
        let Some(v) = kv(s.map_or(Ok(None), |s| s.get(key)))? else {
            return Ok(NOT_FOUND);
        };
        if !value_size.is_null() {
            // SAFETY: non-NULL and writable (the contract).
            unsafe { value_size.write(v.len()) };
        }
        if v.len() > buffer_size {
            return Err(Failure::new(
                OUT_OF_MEMORY,
                format!(
                    "value of {} bytes does not fit the buffer of {buffer_size}",
                    v.len()
                ),
            ));
        }
        if !v.is_empty() {
            // SAFETY: `buffer` holds at least `v.len()` writable bytes (checked), and a
            // fresh copy does not overlap it.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), buffer.cast::<u8>(), v.len()) };
        }
        Ok(OK)
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_get_copy", db, body) }
}

/// OK if `k` is present, NOT_FOUND if not.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_exists(db: *mut pmemkv_db, k: *const c_char, kb: usize) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        // SAFETY: the caller's contract: `k` holds `kb` bytes.
        let key = unsafe { key_arg(k, kb) }?;
        let found = kv(s.map_or(Ok(false), |s| s.exists(key)))?;
        Ok(if found { OK } else { NOT_FOUND })
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_exists", db, body) }
}

/// Removes `k`: OK, or NOT_FOUND if it was absent.
///
/// # Safety
///
/// `db` NULL or live; `k` readable for `kb` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_remove(db: *mut pmemkv_db, k: *const c_char, kb: usize) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        // SAFETY: the caller's contract: `k` holds `kb` bytes.
        let key = unsafe { key_arg(k, kb) }?;
        match s {
            None => Ok(OK),
            Some(s) => Ok(if kv(s.remove(key))? { OK } else { NOT_FOUND }),
        }
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_remove", db, body) }
}

/// Not supported (the allocator has no compaction); arguments outside 0..=100 percent, or
/// summing above 100, are INVALID_ARGUMENT.
///
/// # Safety
///
/// `db` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_defrag(
    db: *mut pmemkv_db,
    start_percent: f64,
    amount_percent: f64,
) -> c_int {
    let body = |_: Option<&Db>| -> Outcome {
        let ok = |p: f64| (0.0..=100.0).contains(&p);
        if !ok(start_percent) || !ok(amount_percent) || start_percent + amount_percent > 100.0 {
            return Err(Failure::invalid(format!(
                "start_percent {start_percent} and amount_percent {amount_percent} must be in 0..=100 and sum to at most 100"
            )));
        }
        Err(Failure::new(
            NOT_SUPPORTED,
            "defragmentation is not supported",
        ))
    };
    // SAFETY: the caller's contract.
    unsafe { with_db("pmemkv_defrag", db, body) }
}

/// A range of keys as the count and get families name them.
#[derive(Clone, Copy)]
pub(crate) enum Span<'a> {
    All,
    Above(&'a [u8]),
    EqualAbove(&'a [u8]),
    EqualBelow(&'a [u8]),
    Below(&'a [u8]),
    Between(&'a [u8], &'a [u8]),
}

impl Span<'_> {
    fn count(self, s: &Db) -> pobj_kv::Result<u64> {
        match self {
            Span::All => s.count_all(),
            Span::Above(k) => s.count_above(k),
            Span::EqualAbove(k) => s.count_equal_above(k),
            Span::EqualBelow(k) => s.count_equal_below(k),
            Span::Below(k) => s.count_below(k),
            Span::Between(a, b) => s.count_between(a, b),
        }
    }

    fn scan(self, s: &Db, f: impl FnMut(&[u8], &[u8]) -> bool) -> pobj_kv::Result<()> {
        match self {
            Span::All => s.get_all(f),
            Span::Above(k) => s.get_above(k, f),
            Span::EqualAbove(k) => s.get_equal_above(k, f),
            Span::EqualBelow(k) => s.get_equal_below(k, f),
            Span::Below(k) => s.get_below(k, f),
            Span::Between(a, b) => s.get_between(a, b, f),
        }
    }
}

/// A count: `*cnt` gets the number of keys in `span`.
///
/// # Safety
///
/// `db` NULL or live; `cnt` NULL or writable.
pub(crate) unsafe fn count(
    func: &str,
    db: *mut pmemkv_db,
    span: Span<'_>,
    cnt: *mut usize,
) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        if cnt.is_null() {
            return Err(Failure::invalid("cnt is NULL"));
        }
        let n = kv(s.map_or(Ok(0), |s| span.count(s)))?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        // SAFETY: non-NULL and writable (the contract).
        unsafe { put_out(cnt, n, "cnt") }?;
        Ok(OK)
    };
    // SAFETY: the caller's contract.
    unsafe { with_db(func, db, body) }
}

/// A scan: `c(key, value, arg)` for each entry of `span` in order, until it returns non-zero
/// (STOPPED_BY_CB). Entries are read one leaf at a time and the callback runs with no lock held.
///
/// # Safety
///
/// `db` NULL or live; `c` NULL or callable with `arg`.
pub(crate) unsafe fn scan(
    func: &str,
    db: *mut pmemkv_db,
    span: Span<'_>,
    c: Option<GetKvCallback>,
    arg: *mut c_void,
) -> c_int {
    let body = |s: Option<&Db>| -> Outcome {
        let c = c.ok_or_else(|| Failure::invalid("callback is NULL"))?;
        // pmemkv's blackhole answers every scan with NOT_FOUND.
        let Some(s) = s else { return Ok(NOT_FOUND) };
        let mut stopped = false;
        kv(span.scan(s, |k, v| {
            // SAFETY: the caller's callback, with live copies of the entry for the call.
            let r = unsafe { c(k.as_ptr().cast(), k.len(), v.as_ptr().cast(), v.len(), arg) };
            stopped = r != 0;
            !stopped
        }))?;
        Ok(if stopped { STOPPED_BY_CB } else { OK })
    };
    // SAFETY: the caller's contract.
    unsafe { with_db(func, db, body) }
}
