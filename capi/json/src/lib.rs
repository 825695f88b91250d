//! `libpmemkv_json_config`'s C interface: fills a pmemkv config from a JSON object, through
//! libpmemkv's own config functions (this library links against `libpmemkv.so.1`).
//!
//! Strings become string items, integers int64 items, booleans int64 items of 0 or 1, nested
//! objects sub-configs (object items deleted with `pmemkv_config_delete`). Anything else — a
//! number with a fraction or exponent, an integer outside int64, an array, null, text that is
//! not one JSON object — is `PMEMKV_STATUS_CONFIG_PARSING_ERROR`, and
//! `pmemkv_config_from_json_errormsg` says why.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::Value;

/// Opaque: libpmemkv's config.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct pmemkv_config {
    _opaque: [u8; 0],
}

type Deleter = unsafe extern "C-unwind" fn(*mut c_void);

extern "C" {
    fn pmemkv_config_new() -> *mut pmemkv_config;
    fn pmemkv_config_delete(config: *mut pmemkv_config);
    fn pmemkv_config_put_int64(config: *mut pmemkv_config, key: *const c_char, v: i64) -> c_int;
    fn pmemkv_config_put_string(
        config: *mut pmemkv_config,
        key: *const c_char,
        v: *const c_char,
    ) -> c_int;
    fn pmemkv_config_put_object(
        config: *mut pmemkv_config,
        key: *const c_char,
        v: *mut c_void,
        deleter: Option<Deleter>,
    ) -> c_int;
    fn pmemkv_errormsg() -> *const c_char;
}

const OK: c_int = 0;
const UNKNOWN_ERROR: c_int = 1;
const INVALID_ARGUMENT: c_int = 4;
const CONFIG_PARSING_ERROR: c_int = 5;

thread_local! {
    static MESSAGE: RefCell<CString> = RefCell::new(CString::default());
}

fn set_message(s: &str) {
    let s = s.split('\0').next().unwrap_or_default();
    let c = CString::new(s).unwrap_or_default();
    let _ = MESSAGE.try_with(|m| *m.borrow_mut() = c);
}

/// A failure: status and message.
type Failure = (c_int, String);

fn parsing(msg: String) -> Failure {
    (CONFIG_PARSING_ERROR, msg)
}

/// libpmemkv's message after a failed config call.
fn libpmemkv_message() -> String {
    // SAFETY: `pmemkv_errormsg` returns a valid C string (never NULL) for this thread.
    let p = unsafe { pmemkv_errormsg() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated, valid until this thread's next failing call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A config put that failed (a duplicate key, for one) is a parsing error of the JSON, as in
/// pmemkv, with libpmemkv's message.
fn status(s: c_int) -> Result<(), Failure> {
    if s == OK {
        Ok(())
    } else {
        Err((CONFIG_PARSING_ERROR, libpmemkv_message()))
    }
}

/// Puts every member of `obj` into `config`.
///
/// # Safety
///
/// `config` is a live libpmemkv config.
unsafe fn fill(
    config: *mut pmemkv_config,
    obj: &serde_json::Map<String, Value>,
    depth: u32,
) -> Result<(), Failure> {
    if depth > 64 {
        return Err(parsing("objects nested deeper than 64 levels".to_owned()));
    }
    for (name, v) in obj {
        let key = CString::new(name.as_str())
            .map_err(|_| parsing(format!("key {name:?} contains a NUL byte")))?;
        match v {
            Value::String(s) => {
                let c = CString::new(s.as_str())
                    .map_err(|_| parsing(format!("value of {name:?} contains a NUL byte")))?;
                // SAFETY: a live config and two C strings.
                status(unsafe { pmemkv_config_put_string(config, key.as_ptr(), c.as_ptr()) })?;
            }
            Value::Bool(b) => {
                // SAFETY: a live config and a C string.
                status(unsafe { pmemkv_config_put_int64(config, key.as_ptr(), i64::from(*b)) })?;
            }
            Value::Number(n) => {
                let i = n.as_i64().ok_or_else(|| {
                    parsing(format!(
                        "Unsupported number for key {name:?}: {n} (only integers within int64)"
                    ))
                })?;
                // SAFETY: a live config and a C string.
                status(unsafe { pmemkv_config_put_int64(config, key.as_ptr(), i) })?;
            }
            Value::Object(o) => {
                // SAFETY: libpmemkv's constructor.
                let sub = unsafe { pmemkv_config_new() };
                if sub.is_null() {
                    return Err((UNKNOWN_ERROR, "cannot allocate a config".to_owned()));
                }
                // SAFETY: `sub` is live; on failure it is deleted here, never used again.
                if let Err(e) = unsafe { fill(sub, o, depth + 1) } {
                    // SAFETY: `sub` is ours and not yet handed over.
                    unsafe { pmemkv_config_delete(sub) };
                    return Err(e);
                }
                let deleter: Deleter = delete_config;
                // SAFETY: a live config, a C string, and `sub` with its deleter.
                let s = unsafe {
                    pmemkv_config_put_object(config, key.as_ptr(), sub.cast(), Some(deleter))
                };
                if s != OK {
                    // SAFETY: not taken by the config: still ours.
                    unsafe { pmemkv_config_delete(sub) };
                    return Err((CONFIG_PARSING_ERROR, libpmemkv_message()));
                }
            }
            Value::Array(_) => {
                return Err(parsing(format!(
                    "Unsupported data type for key {name:?}: array"
                )))
            }
            Value::Null => {
                return Err(parsing(format!(
                    "Unsupported data type for key {name:?}: null"
                )))
            }
        }
    }
    Ok(())
}

/// The deleter of a nested config.
///
/// # Safety
///
/// `p` is a config made by `fill`.
unsafe extern "C-unwind" fn delete_config(p: *mut c_void) {
    // SAFETY: the caller's contract.
    unsafe { pmemkv_config_delete(p.cast()) };
}

/// Puts the members of the JSON object `jsonconfig` into `config`.
///
/// # Safety
///
/// `config` is NULL or a live libpmemkv config; `jsonconfig` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_config_from_json(
    config: *mut pmemkv_config,
    jsonconfig: *const c_char,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        if config.is_null() || jsonconfig.is_null() {
            return Err((INVALID_ARGUMENT, "config or jsonconfig is NULL".to_owned()));
        }
        // SAFETY: non-NULL and NUL-terminated (the caller's contract).
        let text = unsafe { CStr::from_ptr(jsonconfig) };
        let v: Value = serde_json::from_slice(text.to_bytes())
            .map_err(|e| parsing(format!("Config parsing failed: {e}")))?;
        let Value::Object(obj) = v else {
            return Err(parsing(
                "Config parsing failed: not a JSON object".to_owned(),
            ));
        };
        // SAFETY: a live config (the caller's contract).
        unsafe { fill(config, &obj, 0) }
    }))
    .unwrap_or_else(|_| Err((UNKNOWN_ERROR, "internal error (panic)".to_owned())));
    match r {
        Ok(()) => OK,
        Err((s, m)) => {
            set_message(&format!("[pmemkv_config_from_json] {m}"));
            s
        }
    }
}

/// The calling thread's last message of `pmemkv_config_from_json` ("" when none).
#[no_mangle]
pub extern "C" fn pmemkv_config_from_json_errormsg() -> *const c_char {
    MESSAGE
        .try_with(|m| m.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}
