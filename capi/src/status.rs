//! Status codes, the thread-local error message, and the guard every entry point runs in: no
//! panic crosses into C, and each failure becomes a status and a "[function] message".

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Success.
pub const OK: c_int = 0;
/// Any failure without a more specific code.
pub const UNKNOWN_ERROR: c_int = 1;
/// The key (or config item, or position) does not exist.
pub const NOT_FOUND: c_int = 2;
/// The engine does not support the call.
pub const NOT_SUPPORTED: c_int = 3;
/// An argument is invalid (a NULL handle, a bad range, a missing config item).
pub const INVALID_ARGUMENT: c_int = 4;
/// A JSON config could not be parsed.
pub const CONFIG_PARSING_ERROR: c_int = 5;
/// A config item has another type than asked for.
pub const CONFIG_TYPE_ERROR: c_int = 6;
/// A callback returned non-zero.
pub const STOPPED_BY_CB: c_int = 7;
/// The pool (or a caller's buffer) is too small.
pub const OUT_OF_MEMORY: c_int = 8;
/// No engine has this name.
pub const WRONG_ENGINE_NAME: c_int = 9;
/// Called inside a transaction of the same store where that is not allowed.
pub const TRANSACTION_SCOPE_ERROR: c_int = 10;
/// Defragmentation failed (never returned: `pmemkv_defrag` is not supported).
pub const DEFRAG_ERROR: c_int = 11;
/// The store was created with a comparator of another name.
pub const COMPARATOR_MISMATCH: c_int = 12;

thread_local! {
    static MESSAGE: RefCell<CString> = RefCell::new(CString::default());
}

/// A failure: its status and what to say about it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: c_int,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: c_int, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(INVALID_ARGUMENT, message)
    }
}

impl From<pobj_kv::Error> for Failure {
    fn from(e: pobj_kv::Error) -> Failure {
        use pobj_kv::Error as E;
        let status = match &e {
            // A full pool; a transaction too large for its lane's log; an object too large
            // for the pool: pmemkv reports all as out of memory.
            E::OutOfSpace { .. }
            | E::Pool(
                pobj::Error::LogFull { .. }
                | pobj::Error::LogTooLarge { .. }
                | pobj::Error::TooLarge { .. },
            ) => OUT_OF_MEMORY,
            E::KeyTooLarge { .. } | E::ValueTooLarge { .. } | E::InvalidComparatorName { .. } => {
                INVALID_ARGUMENT
            }
            E::ComparatorMismatch { expected, .. } => {
                return Failure::new(
                    COMPARATOR_MISMATCH,
                    format!("Comparator with name: \"{expected}\" expected"),
                )
            }
            E::Pool(pobj::Error::NestedTransaction) => TRANSACTION_SCOPE_ERROR,
            _ => UNKNOWN_ERROR,
        };
        Failure::new(status, e.to_string())
    }
}

/// The outcome of an entry point's body: a status to return (OK, NOT_FOUND, STOPPED_BY_CB, ...)
/// or a failure to report.
pub(crate) type Outcome = Result<c_int, Failure>;

fn set_message(s: &str) {
    // A message with an interior NUL is cut there (C reads up to it anyway).
    let s = s.split('\0').next().unwrap_or_default();
    let c = CString::new(s).unwrap_or_default();
    // Not during the thread's teardown (its locals gone): the message is then dropped.
    let _ = MESSAGE.try_with(|m| *m.borrow_mut() = c);
}

/// Runs `body` for the entry point `func`: a panic becomes UNKNOWN_ERROR; a failure sets the
/// thread's message to "[func] message"; NOT_FOUND and STOPPED_BY_CB clear it. A C++ exception
/// thrown by a callback (the callback types are `extern "C-unwind"`) is not caught: it aborts
/// the process, as Rust does for any foreign exception that reaches `catch_unwind`.
pub(crate) fn guard(func: &str, body: impl FnOnce() -> Outcome) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(Failure::new(
            UNKNOWN_ERROR,
            format!("internal error (panic): {what}"),
        ))
    });
    match r {
        Ok(s) => {
            if s == NOT_FOUND || s == STOPPED_BY_CB {
                set_message("");
            }
            s
        }
        Err(f) => {
            set_message(&format!("[{func}] {}", f.message));
            f.status
        }
    }
}

/// Runs `body` for an entry point that returns nothing (deletes, aborts): a panic is caught and
/// reported in the thread's message.
pub(crate) fn guard_void(func: &str, body: impl FnOnce()) {
    guard(func, || {
        body();
        Ok(OK)
    });
}

/// Runs `body` for an entry point that returns a pointer (NULL on failure or panic).
pub(crate) fn guard_ptr<T>(func: &str, body: impl FnOnce() -> Result<*mut T, Failure>) -> *mut T {
    let mut out = std::ptr::null_mut();
    guard(func, || {
        out = body()?;
        Ok(OK)
    });
    out
}

/// The calling thread's last error message: "" when none. Valid until the thread's next call
/// that fails.
#[no_mangle]
pub extern "C" fn pmemkv_errormsg() -> *const c_char {
    MESSAGE
        .try_with(|m| m.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> String {
        // SAFETY: a C string owned by this thread, valid until its next failing call.
        unsafe { std::ffi::CStr::from_ptr(pmemkv_errormsg()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_unknown_error_with_a_message() {
        let s = guard("pmemkv_test", || panic!("boom"));
        assert_eq!(s, UNKNOWN_ERROR);
        assert_eq!(message(), "[pmemkv_test] internal error (panic): boom");
        // NOT_FOUND clears the message; OK leaves it.
        assert_eq!(guard("pmemkv_test", || Ok(NOT_FOUND)), NOT_FOUND);
        assert_eq!(message(), "");
        guard("pmemkv_test", || Err(Failure::invalid("bad")));
        assert_eq!(guard("pmemkv_test", || Ok(OK)), OK);
        assert_eq!(message(), "[pmemkv_test] bad");
    }
}
