//! `pmemkv_config`: typed items by name (data, objects, integers, strings), as pmemkv's config.

use std::ffi::{c_char, c_int, c_void, CString};

use crate::ffi::{bytes, handle, handle_mut, put_out, string};
use crate::status::{
    guard, guard_ptr, guard_void, Failure, CONFIG_TYPE_ERROR, NOT_FOUND, OK, UNKNOWN_ERROR,
};

/// A deleter of a config object.
pub(crate) type Deleter = unsafe extern "C-unwind" fn(*mut c_void);
/// A getter of a config object (`put_object_cb`).
pub(crate) type Getter = unsafe extern "C-unwind" fn(*mut c_void) -> *mut c_void;

/// One item.
pub(crate) enum Item {
    Data(Vec<u8>),
    Object {
        ptr: *mut c_void,
        getter: Option<Getter>,
        deleter: Option<Deleter>,
    },
    Uint(u64),
    Int(i64),
    Str(CString),
}

impl Item {
    fn kind(&self) -> &'static str {
        match self {
            Item::Data(_) => "data",
            Item::Object { .. } => "object",
            Item::Uint(_) => "uint64",
            Item::Int(_) => "int64",
            Item::Str(_) => "string",
        }
    }
}

/// A config: items by name, in the order they were put. Objects' deleters run when it is
/// deleted (or consumed by `pmemkv_open`).
#[allow(non_camel_case_types)]
#[derive(Default)]
pub struct pmemkv_config {
    items: Vec<(String, Item)>,
}

impl Drop for pmemkv_config {
    fn drop(&mut self) {
        for (_, item) in self.items.drain(..) {
            if let Item::Object {
                ptr,
                deleter: Some(d),
                ..
            } = item
            {
                // SAFETY: the deleter and its object were given together by the caller, who
                // handed both to the config; each item's deleter runs once, here.
                unsafe { d(ptr) };
            }
        }
    }
}

fn type_error(key: &str, item: &Item, want: &str) -> Failure {
    Failure::new(
        CONFIG_TYPE_ERROR,
        format!("Item with key: {key} is {}, not {want}", item.kind()),
    )
}

impl pmemkv_config {
    pub(crate) fn get(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, i)| i)
    }

    fn put(&mut self, key: &str, item: Item) -> Result<(), (Failure, Item)> {
        if self.get(key).is_some() {
            let f = Failure::new(
                UNKNOWN_ERROR,
                format!("Item with key: {key} already exists"),
            );
            return Err((f, item));
        }
        self.items.push((key.to_owned(), item));
        Ok(())
    }

    /// A uint64 item (an int64 in range converts); `None` if absent.
    pub(crate) fn uint(&self, key: &str) -> Result<Option<u64>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Item::Uint(v)) => Ok(Some(*v)),
            Some(i @ Item::Int(v)) => u64::try_from(*v)
                .map(Some)
                .map_err(|_| type_error(key, i, "uint64 (negative)")),
            Some(i) => Err(type_error(key, i, "uint64")),
        }
    }

    /// An int64 item (a uint64 in range converts).
    fn int(&self, key: &str) -> Result<Option<i64>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Item::Int(v)) => Ok(Some(*v)),
            Some(i @ Item::Uint(v)) => i64::try_from(*v)
                .map(Some)
                .map_err(|_| type_error(key, i, "int64 (out of range)")),
            Some(i) => Err(type_error(key, i, "int64")),
        }
    }

    /// A string item as a path: its bytes, whatever their encoding (Linux paths are bytes).
    pub(crate) fn path(&self, key: &str) -> Result<Option<std::path::PathBuf>, Failure> {
        use std::os::unix::ffi::OsStrExt;
        match self.get(key) {
            None => Ok(None),
            Some(Item::Str(s)) => Ok(Some(std::ffi::OsStr::from_bytes(s.to_bytes()).into())),
            Some(i) => Err(type_error(key, i, "string")),
        }
    }

    /// An object item's pointer (through its getter, if any).
    pub(crate) fn object(&self, key: &str) -> Result<Option<*mut c_void>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Item::Object { ptr, getter, .. }) => Ok(Some(match getter {
                // SAFETY: the getter and its object were given together by the caller.
                Some(g) => unsafe { g(*ptr) },
                None => *ptr,
            })),
            Some(i) => Err(type_error(key, i, "object")),
        }
    }

    /// A flag: a non-zero integer (pmemkv stores them as uint64; JSON booleans are int64).
    pub(crate) fn flag(&self, key: &str) -> Result<bool, Failure> {
        match self.get(key) {
            None => Ok(false),
            Some(Item::Int(v)) => Ok(*v != 0),
            Some(Item::Uint(v)) => Ok(*v != 0),
            Some(i) => Err(type_error(key, i, "a flag (integer)")),
        }
    }
}

/// Puts `item` under the C string `key`; a duplicate or a failure drops the item without
/// running its deleter (the caller keeps ownership, as with pmemkv).
///
/// # Safety
///
/// `config` is NULL or a live config; `key` NULL or a NUL-terminated string.
pub(crate) unsafe fn put_item(
    func: &str,
    config: *mut pmemkv_config,
    key: *const c_char,
    item: Item,
) -> c_int {
    guard(func, || {
        // SAFETY: the caller's contract.
        let cfg = unsafe { handle_mut(config, "config") }?;
        // SAFETY: the caller's contract.
        let key = unsafe { string(key, "key") }?;
        // On a failure the object stays the caller's: its deleter is not run.
        cfg.put(key, item).map_err(|(f, _)| f)?;
        Ok(OK)
    })
}

/// Runs a get: the item's value written to `out`, NOT_FOUND if absent.
///
/// # Safety
///
/// `config` is NULL or a live config; `key` NULL or a NUL-terminated string; `out` NULL or
/// writable.
unsafe fn get_item<T>(
    func: &str,
    config: *mut pmemkv_config,
    key: *const c_char,
    out: *mut T,
    read: impl FnOnce(&pmemkv_config, &str) -> Result<Option<T>, Failure>,
) -> c_int {
    guard(func, || {
        // SAFETY: the caller's contract.
        let cfg = unsafe { handle(config, "config") }?;
        // SAFETY: the caller's contract.
        let key = unsafe { string(key, "key") }?;
        if out.is_null() {
            return Err(Failure::invalid("output pointer is NULL"));
        }
        let Some(v) = read(cfg, key)? else {
            return Ok(NOT_FOUND);
        };
        // SAFETY: the caller's contract: writable.
        unsafe { put_out(out, v, "output pointer") }?;
        Ok(OK)
    })
}

/// A new, empty config (NULL only if allocation fails).
#[no_mangle]
pub extern "C" fn pmemkv_config_new() -> *mut pmemkv_config {
    guard_ptr("pmemkv_config_new", || {
        Ok(Box::into_raw(Box::<pmemkv_config>::default()))
    })
}

/// Deletes a config, running its objects' deleters.
///
/// # Safety
///
/// `config` is NULL or a config from `pmemkv_config_new` not yet deleted nor given to
/// `pmemkv_open`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_delete(config: *mut pmemkv_config) {
    if config.is_null() {
        return;
    }
    guard_void("pmemkv_config_delete", || {
        // SAFETY: the caller's contract: ours, live, deleted once.
        drop(unsafe { Box::from_raw(config) });
    });
}

/// Puts a copy of `value_size` bytes.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value` readable for `value_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_data(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *const c_void,
    value_size: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    let data = match unsafe { bytes(value.cast(), value_size, "value") } {
        Ok(d) => d.to_vec(),
        Err(f) => return guard("pmemkv_config_put_data", || Err(f)),
    };
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_data", config, key, Item::Data(data)) }
}

/// Puts an object pointer, with the deleter (may be NULL) the config runs when deleted.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `deleter` NULL or callable with `value`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_object(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut c_void,
    deleter: Option<Deleter>,
) -> c_int {
    let item = Item::Object {
        ptr: value,
        getter: None,
        deleter,
    };
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_object", config, key, item) }
}

/// Puts an object whose pointer `get_object` returns through `getter`.
///
/// # Safety
///
/// As for `pmemkv_config_put_object`; `getter` NULL or callable with `value`.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_object_cb(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut c_void,
    getter: Option<Getter>,
    deleter: Option<Deleter>,
) -> c_int {
    let item = Item::Object {
        ptr: value,
        getter,
        deleter,
    };
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_object_cb", config, key, item) }
}

/// Puts an unsigned integer.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_uint64(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: u64,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_uint64", config, key, Item::Uint(value)) }
}

/// Puts a signed integer.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_int64(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: i64,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_int64", config, key, Item::Int(value)) }
}

/// Puts a copy of a string.
///
/// # Safety
///
/// `config` NULL or live; `key` and `value` NULL or C strings.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_put_string(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *const c_char,
) -> c_int {
    if value.is_null() {
        return guard("pmemkv_config_put_string", || {
            Err(Failure::invalid("value is NULL"))
        });
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let v = unsafe { std::ffi::CStr::from_ptr(value) }.to_owned();
    // SAFETY: the caller's contract.
    unsafe { put_item("pmemkv_config_put_string", config, key, Item::Str(v)) }
}

/// Gets a data item: a pointer to the config's copy and its size.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value`, `value_size` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_get_data(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut *const c_void,
    value_size: *mut usize,
) -> c_int {
    if value_size.is_null() {
        return guard("pmemkv_config_get_data", || {
            Err(Failure::invalid("value_size is NULL"))
        });
    }
    let read = |c: &pmemkv_config, k: &str| match c.get(k) {
        None => Ok(None),
        Some(Item::Data(d)) => {
            // SAFETY: checked non-NULL above; writable by the caller's contract.
            unsafe { value_size.write(d.len()) };
            Ok(Some(d.as_ptr().cast::<c_void>()))
        }
        Some(i) => Err(type_error(k, i, "data")),
    };
    // SAFETY: the caller's contract.
    unsafe { get_item("pmemkv_config_get_data", config, key, value, read) }
}

/// Gets an object item's pointer (through its getter, if any).
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_get_object(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        get_item("pmemkv_config_get_object", config, key, value, |c, k| {
            c.object(k)
        })
    }
}

/// Gets an unsigned integer (an int64 in range converts).
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_get_uint64(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut u64,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        get_item("pmemkv_config_get_uint64", config, key, value, |c, k| {
            c.uint(k)
        })
    }
}

/// Gets a signed integer (a uint64 in range converts).
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_get_int64(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut i64,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        get_item("pmemkv_config_get_int64", config, key, value, |c, k| {
            c.int(k)
        })
    }
}

/// Gets a string item: a pointer to the config's copy.
///
/// # Safety
///
/// `config` NULL or live; `key` NULL or a C string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_get_string(
    config: *mut pmemkv_config,
    key: *const c_char,
    value: *mut *const c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        get_item(
            "pmemkv_config_get_string",
            config,
            key,
            value,
            |c, k| match c.get(k) {
                None => Ok(None),
                Some(Item::Str(s)) => Ok(Some(s.as_ptr())),
                Some(i) => Err(type_error(k, i, "string")),
            },
        )
    }
}
