//! `pmemkv_tx`: puts and removes buffered until commit, which applies them as one atomic,
//! durable batch (`pobj_kv::WriteBatch`).

use std::ffi::{c_char, c_int};

use pobj_kv::WriteBatch;

use crate::db::pmemkv_db;
use crate::ffi::{bytes, handle, handle_mut, put_out};
use crate::status::{guard, guard_void, Failure, OK};

/// A transaction of one store: its pending changes, invisible until commit.
#[allow(non_camel_case_types)]
pub struct pmemkv_tx {
    db: *const pmemkv_db,
    batch: WriteBatch,
}

/// Starts a transaction of `db` in `*tx`.
///
/// # Safety
///
/// `db` NULL or live (and outliving the transaction); `tx` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_begin(db: *mut pmemkv_db, tx: *mut *mut pmemkv_tx) -> c_int {
    guard("pmemkv_tx_begin", || {
        // SAFETY: the caller's contract.
        unsafe { handle(db, "db") }?;
        if tx.is_null() {
            return Err(Failure::invalid("tx pointer is NULL"));
        }
        let t = Box::into_raw(Box::new(pmemkv_tx {
            db,
            batch: WriteBatch::new(),
        }));
        // SAFETY: checked non-NULL; writable by the contract.
        unsafe { put_out(tx, t, "tx pointer") }?;
        Ok(OK)
    })
}

/// Adds a put to the transaction.
///
/// # Safety
///
/// `tx` NULL or live; `k`, `v` readable for `kb`, `vb` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_put(
    tx: *mut pmemkv_tx,
    k: *const c_char,
    kb: usize,
    v: *const c_char,
    vb: usize,
) -> c_int {
    guard("pmemkv_tx_put", || {
        // SAFETY: the caller's contract.
        let t = unsafe { handle_mut(tx, "tx") }?;
        // SAFETY: the caller's contract.
        let key = unsafe { bytes(k, kb, "key") }?;
        // SAFETY: the caller's contract.
        let value = unsafe { bytes(v, vb, "value") }?;
        if key.len() > pobj_kv::MAX_KEY_LEN || value.len() > pobj_kv::MAX_VALUE_LEN {
            return Err(Failure::invalid("key or value too large"));
        }
        t.batch.put(key, value);
        Ok(OK)
    })
}

/// Adds a remove to the transaction (of a key present or not at commit).
///
/// # Safety
///
/// `tx` NULL or live; `k` readable for `kb` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_remove(
    tx: *mut pmemkv_tx,
    k: *const c_char,
    kb: usize,
) -> c_int {
    guard("pmemkv_tx_remove", || {
        // SAFETY: the caller's contract.
        let t = unsafe { handle_mut(tx, "tx") }?;
        // SAFETY: the caller's contract.
        let key = unsafe { bytes(k, kb, "key") }?;
        if key.len() > pobj_kv::MAX_KEY_LEN {
            return Err(Failure::invalid("key too large"));
        }
        t.batch.remove(key);
        Ok(OK)
    })
}

/// Applies every pending change at once, atomically and durably; the transaction is then empty
/// and may be used again. On failure nothing was applied and the changes stay pending.
///
/// # Safety
///
/// `tx` NULL or live, its store still open.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_commit(tx: *mut pmemkv_tx) -> c_int {
    guard("pmemkv_tx_commit", || {
        // SAFETY: the caller's contract.
        let t = unsafe { handle_mut(tx, "tx") }?;
        // SAFETY: the caller's contract: the store outlives its transactions.
        let db = unsafe { handle(t.db, "db") }?;
        if let Some(s) = db.store() {
            s.write(&t.batch).map_err(Failure::from)?;
        }
        t.batch = WriteBatch::new();
        Ok(OK)
    })
}

/// Discards the pending changes; the transaction may be used again.
///
/// # Safety
///
/// `tx` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_abort(tx: *mut pmemkv_tx) {
    guard_void("pmemkv_tx_abort", || {
        // SAFETY: the caller's contract.
        if let Ok(t) = unsafe { handle_mut(tx, "tx") } {
            t.batch = WriteBatch::new();
        }
    });
}

/// Discards the pending changes and deletes the transaction.
///
/// # Safety
///
/// `tx` NULL or from `pmemkv_tx_begin`, not yet ended.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_tx_end(tx: *mut pmemkv_tx) {
    if tx.is_null() {
        return;
    }
    guard_void("pmemkv_tx_end", || {
        // SAFETY: the caller's contract: ours, live, ended once.
        drop(unsafe { Box::from_raw(tx) });
    });
}
