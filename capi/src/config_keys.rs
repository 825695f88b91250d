//! pmemkv's helpers that put the items `pmemkv_open` reads, under their fixed names.

use std::ffi::{c_char, c_int, c_void};

use crate::comparator::{delete_object, pmemkv_comparator};
use crate::config::{pmemkv_config, put_item, Item};
use crate::status::{guard, Failure};

/// Puts `item` under the fixed name `key`.
///
/// # Safety
///
/// `config` is NULL or a live config.
unsafe fn put_named(
    func: &str,
    config: *mut pmemkv_config,
    key: &std::ffi::CStr,
    item: Item,
) -> c_int {
    // SAFETY: `key` is a C string; `config` is NULL (refused by `put_item`) or live (the
    // caller's contract).
    unsafe { put_item(func, config, key.as_ptr(), item) }
}

/// Puts "size" (uint64): the capacity of a pool to create, in bytes.
///
/// # Safety
///
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_size(config: *mut pmemkv_config, value: u64) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { put_named("pmemkv_config_put_size", config, c"size", Item::Uint(value)) }
}

/// Puts "path" (string): the pool file (a directory for the volatile engines).
///
/// # Safety
///
/// `config` is NULL or a live config; `value` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_path(
    config: *mut pmemkv_config,
    value: *const c_char,
) -> c_int {
    if value.is_null() {
        return guard("pmemkv_config_put_path", || {
            Err(Failure::invalid("path is NULL"))
        });
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let v = unsafe { std::ffi::CStr::from_ptr(value) }.to_owned();
    // SAFETY: the caller's contract.
    unsafe { put_named("pmemkv_config_put_path", config, c"path", Item::Str(v)) }
}

/// Deprecated name of `pmemkv_config_put_create_or_error_if_exists`; puts "force_create", which
/// `pmemkv_open` reads the same way.
///
/// # Safety
///
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_force_create(
    config: *mut pmemkv_config,
    value: bool,
) -> c_int {
    let item = Item::Uint(u64::from(value));
    // SAFETY: the caller's contract.
    unsafe {
        put_named(
            "pmemkv_config_put_force_create",
            config,
            c"force_create",
            item,
        )
    }
}

/// Puts "create_or_error_if_exists" (0 or 1): create the pool, failing if it exists.
///
/// # Safety
///
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_create_or_error_if_exists(
    config: *mut pmemkv_config,
    value: bool,
) -> c_int {
    let item = Item::Uint(u64::from(value));
    let func = "pmemkv_config_put_create_or_error_if_exists";
    // SAFETY: the caller's contract.
    unsafe { put_named(func, config, c"create_or_error_if_exists", item) }
}

/// Puts "create_if_missing" (0 or 1): open the pool, or create it if the file is missing.
///
/// # Safety
///
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_create_if_missing(
    config: *mut pmemkv_config,
    value: bool,
) -> c_int {
    let item = Item::Uint(u64::from(value));
    // SAFETY: the caller's contract.
    unsafe {
        put_named(
            "pmemkv_config_put_create_if_missing",
            config,
            c"create_if_missing",
            item,
        )
    }
}

/// Puts "comparator": the config owns the comparator from now on (and deletes it).
///
/// # Safety
///
/// `config` is NULL or a live config; `comparator` NULL or a live comparator not owned by
/// another config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_comparator(
    config: *mut pmemkv_config,
    comparator: *mut pmemkv_comparator,
) -> c_int {
    if comparator.is_null() {
        return guard("pmemkv_config_put_comparator", || {
            Err(Failure::invalid("comparator is NULL"))
        });
    }
    let item = Item::Object {
        ptr: comparator.cast::<c_void>(),
        getter: None,
        deleter: Some(delete_object),
    };
    // SAFETY: the caller's contract.
    unsafe { put_named("pmemkv_config_put_comparator", config, c"comparator", item) }
}

/// Puts "oid": a PMDK object id, which this library cannot open (`pmemkv_open` returns
/// NOT_SUPPORTED); the config does not own it.
///
/// # Safety
///
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_oid(
    config: *mut pmemkv_config,
    oid: *mut c_void,
) -> c_int {
    let item = Item::Object {
        ptr: oid,
        getter: None,
        deleter: None,
    };
    // SAFETY: the caller's contract.
    unsafe { put_named("pmemkv_config_put_oid", config, c"oid", item) }
}
