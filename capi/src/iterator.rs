//! `pmemkv_iterator` and `pmemkv_write_iterator`: a `pobj_kv::Cursor` with pmemkv's seeks and
//! moves; a write iterator also keeps edited copies of value ranges, applied at commit in one
//! atomic, durable update of the entry (`Map::update`).

use std::ffi::{c_char, c_int};

use pobj_kv::{Cursor, KvRoot};

use crate::db::pmemkv_db;
use crate::ffi::{bytes, handle, handle_mut, put_out};
use crate::status::{guard, guard_void, Failure, Outcome, INVALID_ARGUMENT, NOT_FOUND, OK};

/// An iterator: a position in the store (none for blackhole) and, for a write iterator, the
/// ranges edited since the last seek, commit or abort.
#[allow(non_camel_case_types)]
pub struct pmemkv_iterator {
    cursor: Option<Cursor<KvRoot>>,
    /// (start in the value, edited bytes). Boxed: the pointers handed out stay valid while
    /// more ranges are added.
    pending: Vec<(usize, Box<[u8]>)>,
}

/// A write iterator: pmemkv's public struct around the iterator its seeks and moves take.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct pmemkv_write_iterator {
    /// The iterator (`pmemkv_iterator_seek(w->iter, ...)` and the like move it).
    pub iter: *mut pmemkv_iterator,
}

fn new_iter(db: &pmemkv_db) -> pmemkv_iterator {
    pmemkv_iterator {
        cursor: db.store().map(|s| s.cursor()),
        pending: Vec::new(),
    }
}

/// A read iterator of `db` in `*it` (unpositioned: seek it first).
///
/// # Safety
///
/// `db` NULL or live (outliving the iterator); `it` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_new(
    db: *mut pmemkv_db,
    it: *mut *mut pmemkv_iterator,
) -> c_int {
    guard("pmemkv_iterator_new", || {
        // SAFETY: the caller's contract.
        let d = unsafe { handle(db, "db") }?;
        if it.is_null() {
            return Err(Failure::invalid("iterator pointer is NULL"));
        }
        let i = Box::into_raw(Box::new(new_iter(d)));
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(it, i, "iterator pointer") }?;
        Ok(OK)
    })
}

/// A write iterator of `db` in `*it`.
///
/// # Safety
///
/// `db` NULL or live (outliving the iterator); `it` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_write_iterator_new(
    db: *mut pmemkv_db,
    it: *mut *mut pmemkv_write_iterator,
) -> c_int {
    guard("pmemkv_write_iterator_new", || {
        // SAFETY: the caller's contract.
        let d = unsafe { handle(db, "db") }?;
        if it.is_null() {
            return Err(Failure::invalid("iterator pointer is NULL"));
        }
        let inner = Box::into_raw(Box::new(new_iter(d)));
        let w = Box::into_raw(Box::new(pmemkv_write_iterator { iter: inner }));
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(it, w, "iterator pointer") }?;
        Ok(OK)
    })
}

/// Deletes a read iterator.
///
/// # Safety
///
/// `it` NULL or from `pmemkv_iterator_new`, not yet deleted.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_delete(it: *mut pmemkv_iterator) {
    if it.is_null() {
        return;
    }
    guard_void("pmemkv_iterator_delete", || {
        // SAFETY: the caller's contract: ours, live, deleted once.
        drop(unsafe { Box::from_raw(it) });
    });
}

/// Deletes a write iterator (its pending ranges are discarded).
///
/// # Safety
///
/// `it` NULL or from `pmemkv_write_iterator_new`, not yet deleted.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_write_iterator_delete(it: *mut pmemkv_write_iterator) {
    if it.is_null() {
        return;
    }
    guard_void("pmemkv_write_iterator_delete", || {
        // SAFETY: the caller's contract: ours, live, deleted once, with its inner iterator.
        let w = unsafe { Box::from_raw(it) };
        if !w.iter.is_null() {
            // SAFETY: made with the write iterator, owned by it.
            drop(unsafe { Box::from_raw(w.iter) });
        }
    });
}

fn found(b: bool) -> c_int {
    if b {
        OK
    } else {
        NOT_FOUND
    }
}

/// Runs a move of `it`'s cursor (pending writes discarded first: every seek aborts them).
///
/// # Safety
///
/// `it` NULL or live.
unsafe fn moved(
    func: &str,
    it: *mut pmemkv_iterator,
    discard: bool,
    f: impl FnOnce(&mut Cursor<KvRoot>) -> pobj_kv::Result<bool>,
) -> c_int {
    guard(func, || {
        // SAFETY: the caller's contract.
        let i = unsafe { handle_mut(it, "iterator") }?;
        if discard {
            i.pending.clear();
        }
        let Some(c) = i.cursor.as_mut() else {
            return Ok(NOT_FOUND);
        };
        Ok(found(f(c).map_err(Failure::from)?))
    })
}

macro_rules! seek_fn {
    ($name:ident, $method:ident, $doc:literal) => {
        #[doc = $doc]
        ///
        /// # Safety
        ///
        /// `it` NULL or live; `k` readable for `kb` bytes.
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            it: *mut pmemkv_iterator,
            k: *const c_char,
            kb: usize,
        ) -> c_int {
            // SAFETY: the caller's contract.
            let key = match unsafe { bytes(k, kb, "key") } {
                Ok(key) => key,
                Err(f) => return guard(stringify!($name), || Err(f)),
            };
            // SAFETY: the caller's contract.
            unsafe { moved(stringify!($name), it, true, |c| c.$method(key)) }
        }
    };
}

seek_fn!(
    pmemkv_iterator_seek,
    seek,
    "Positions at `k`; NOT_FOUND if absent."
);
seek_fn!(
    pmemkv_iterator_seek_lower,
    seek_lower,
    "Positions at the greatest key below `k`."
);
seek_fn!(
    pmemkv_iterator_seek_lower_eq,
    seek_lower_eq,
    "Positions at the greatest key at or below `k`."
);
seek_fn!(
    pmemkv_iterator_seek_higher,
    seek_higher,
    "Positions at the least key above `k`."
);
seek_fn!(
    pmemkv_iterator_seek_higher_eq,
    seek_higher_eq,
    "Positions at the least key at or above `k`."
);

/// Positions at the first key; NOT_FOUND if the store is empty.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_seek_to_first(it: *mut pmemkv_iterator) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        moved(
            "pmemkv_iterator_seek_to_first",
            it,
            true,
            Cursor::seek_to_first,
        )
    }
}

/// Positions at the last key; NOT_FOUND if the store is empty.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_seek_to_last(it: *mut pmemkv_iterator) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        moved(
            "pmemkv_iterator_seek_to_last",
            it,
            true,
            Cursor::seek_to_last,
        )
    }
}

/// OK if a key follows the current one, NOT_FOUND otherwise; the iterator does not move.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_is_next(it: *mut pmemkv_iterator) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { moved("pmemkv_iterator_is_next", it, false, |c| c.has_next()) }
}

/// Moves to the next key; NOT_FOUND (unpositioned) at the end.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_next(it: *mut pmemkv_iterator) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { moved("pmemkv_iterator_next", it, true, Cursor::next) }
}

/// Moves to the previous key; NOT_FOUND (unpositioned) at the beginning.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_prev(it: *mut pmemkv_iterator) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { moved("pmemkv_iterator_prev", it, true, Cursor::prev) }
}

/// The positioned cursor of `it`, or the status to return.
fn positioned(i: &pmemkv_iterator) -> Result<&Cursor<KvRoot>, c_int> {
    match &i.cursor {
        Some(c) if c.key().is_some() => Ok(c),
        _ => Err(NOT_FOUND),
    }
}

/// `[pos, pos + n)` of a value of `len` bytes, clamped to its end; `pos` past the end is an
/// error.
fn clamp(pos: usize, n: usize, len: usize) -> Result<(usize, usize), Failure> {
    if pos > len {
        return Err(Failure::new(
            INVALID_ARGUMENT,
            format!("position {pos} is past the value's end ({len} bytes)"),
        ));
    }
    Ok((pos, pos + n.min(len - pos)))
}

/// The current key (valid until the iterator moves).
///
/// # Safety
///
/// `it` NULL or live; `k`, `kb` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_key(
    it: *mut pmemkv_iterator,
    k: *mut *const c_char,
    kb: *mut usize,
) -> c_int {
    guard("pmemkv_iterator_key", || {
        // SAFETY: the caller's contract.
        let i = unsafe { handle(it, "iterator") }?;
        if k.is_null() || kb.is_null() {
            return Err(Failure::invalid("output pointer is NULL"));
        }
        let c = match positioned(i) {
            Ok(c) => c,
            Err(s) => return Ok(s),
        };
        let key = c.key().unwrap_or_default();
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(k, key.as_ptr().cast::<c_char>(), "k") }?;
        // SAFETY: as above.
        unsafe { put_out(kb, key.len(), "kb") }?;
        Ok(OK)
    })
}

/// Bytes `[pos, pos + n)` of the current value, `n` clamped to its end (valid until the
/// iterator moves or commits; the key stays valid across a commit).
///
/// # Safety
///
/// `it` NULL or live; `data`, `rb` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_iterator_read_range(
    it: *mut pmemkv_iterator,
    pos: usize,
    n: usize,
    data: *mut *const c_char,
    rb: *mut usize,
) -> c_int {
    guard("pmemkv_iterator_read_range", || {
        // SAFETY: the caller's contract.
        let i = unsafe { handle(it, "iterator") }?;
        if data.is_null() || rb.is_null() {
            return Err(Failure::invalid("output pointer is NULL"));
        }
        let c = match positioned(i) {
            Ok(c) => c,
            Err(s) => return Ok(s),
        };
        let v = c.value().unwrap_or_default();
        let (a, b) = clamp(pos, n, v.len())?;
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(data, v[a..b].as_ptr().cast::<c_char>(), "data") }?;
        // SAFETY: as above.
        unsafe { put_out(rb, b - a, "rb") }?;
        Ok(OK)
    })
}

/// The inner iterator of a write iterator.
///
/// # Safety
///
/// `it` NULL or live.
unsafe fn inner<'a>(it: *mut pmemkv_write_iterator) -> Result<&'a mut pmemkv_iterator, Failure> {
    // SAFETY: the caller's contract.
    let w = unsafe { handle(it, "write iterator") }?;
    // SAFETY: the inner iterator lives as long as the write iterator.
    unsafe { handle_mut(w.iter, "write iterator's iter") }
}

/// An editable copy of bytes `[pos, pos + n)` of the current value (clamped), applied at
/// commit; until then readers see the old value.
///
/// # Safety
///
/// `it` NULL or live; `data`, `wb` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_write_iterator_write_range(
    it: *mut pmemkv_write_iterator,
    pos: usize,
    n: usize,
    data: *mut *mut c_char,
    wb: *mut usize,
) -> c_int {
    guard("pmemkv_write_iterator_write_range", || {
        // SAFETY: the caller's contract.
        let i = unsafe { inner(it) }?;
        if data.is_null() || wb.is_null() {
            return Err(Failure::invalid("output pointer is NULL"));
        }
        let c = match positioned(i) {
            Ok(c) => c,
            Err(s) => return Ok(s),
        };
        let v = c.value().unwrap_or_default();
        let (a, b) = clamp(pos, n, v.len())?;
        let copy: Box<[u8]> = v[a..b].into();
        i.pending.push((a, copy));
        // Taken after the move into `pending`: the boxed bytes stay where they are until the
        // commit, the abort or the next seek drops them.
        let p = i
            .pending
            .last_mut()
            .map_or(std::ptr::null_mut(), |e| e.1.as_mut_ptr().cast::<c_char>());
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(data, p, "data") }?;
        // SAFETY: as above.
        unsafe { put_out(wb, b - a, "wb") }?;
        Ok(OK)
    })
}

/// Applies the edited ranges to the current entry in one atomic, durable update; NOT_FOUND if
/// the entry was removed meanwhile.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_write_iterator_commit(it: *mut pmemkv_write_iterator) -> c_int {
    guard("pmemkv_write_iterator_commit", || -> Outcome {
        // SAFETY: the caller's contract.
        let i = unsafe { inner(it) }?;
        let pending = std::mem::take(&mut i.pending);
        let Some(c) = i.cursor.as_mut() else {
            return Ok(OK);
        };
        if c.key().is_none() {
            return Ok(if pending.is_empty() { OK } else { NOT_FOUND });
        }
        if pending.is_empty() {
            return Ok(OK);
        }
        // The cursor keeps its key buffer (pointers from `pmemkv_iterator_key` stay valid) and
        // takes the new value.
        let applied = c
            .update(|old| {
                let mut v = old.to_vec();
                for (pos, bytes) in &pending {
                    // The value may have shrunk since the range was taken: clamp again.
                    let end = (pos + bytes.len()).min(v.len());
                    if *pos < end {
                        v[*pos..end].copy_from_slice(&bytes[..end - pos]);
                    }
                }
                v
            })
            .map_err(Failure::from)?;
        Ok(found(applied))
    })
}

/// Discards the edited ranges.
///
/// # Safety
///
/// `it` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_write_iterator_abort(it: *mut pmemkv_write_iterator) {
    guard_void("pmemkv_write_iterator_abort", || {
        // SAFETY: the caller's contract.
        if let Ok(i) = unsafe { inner(it) } {
            i.pending.clear();
        }
    });
}
