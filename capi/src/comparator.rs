//! `pmemkv_comparator`: a C comparison function and its name, as the store's key order.

use std::cmp::Ordering;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use crate::ffi::string;
use crate::status::{guard_ptr, guard_void, Failure};

/// pmemkv's comparison function: negative, zero or positive as `key1` sorts before, with or
/// after `key2`.
pub(crate) type CompareFn =
    unsafe extern "C-unwind" fn(*const c_char, usize, *const c_char, usize, *mut c_void) -> c_int;

/// The comparator the store calls.
pub(crate) struct CComparator {
    f: CompareFn,
    arg: *mut c_void,
    name: String,
}

// SAFETY: pmemkv's contract for a comparator: its function may be called from any thread, at
// any time until the store that uses it is closed, with its `arg` (which the library never
// dereferences).
unsafe impl Send for CComparator {}
// SAFETY: as for `Send`: the library only passes `arg` back to `f`.
unsafe impl Sync for CComparator {}

impl pobj_kv::Comparator for CComparator {
    fn name(&self) -> &str {
        &self.name
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        // SAFETY: `f` is the caller's comparison function (its contract: callable with two
        // byte ranges and `arg`); the ranges are live slices for the call.
        let r = unsafe {
            (self.f)(
                a.as_ptr().cast(),
                a.len(),
                b.as_ptr().cast(),
                b.len(),
                self.arg,
            )
        };
        r.cmp(&0)
    }
}

/// `b"PKVCMPR1"`: marks a live comparator handle. Checked before use, it turns some misuses (a
/// config item "comparator" put with `pmemkv_config_put_object` holding something else of at
/// least this size) into INVALID_ARGUMENT; it cannot make a wrong or freed pointer safe, which
/// the C contract excludes.
const MAGIC: u64 = u64::from_le_bytes(*b"PKVCMPR1");

/// A comparator handle.
#[allow(non_camel_case_types)]
pub struct pmemkv_comparator {
    magic: u64,
    pub(crate) inner: Arc<CComparator>,
}

impl pmemkv_comparator {
    /// The comparator behind a config's "comparator" object.
    ///
    /// # Safety
    ///
    /// `p` is a live `pmemkv_comparator` (what `pmemkv_config_put_comparator` stores).
    pub(crate) unsafe fn from_object(p: *mut c_void) -> Result<Arc<CComparator>, Failure> {
        // SAFETY: the caller's contract.
        let c = unsafe { p.cast::<pmemkv_comparator>().as_ref() }
            .ok_or_else(|| Failure::invalid("comparator is NULL"))?;
        if c.magic != MAGIC {
            return Err(Failure::invalid(
                "config item \"comparator\" is not a pmemkv_comparator",
            ));
        }
        Ok(Arc::clone(&c.inner))
    }
}

/// A new comparator of the given name; NULL if `fn` or `name` is NULL.
///
/// # Safety
///
/// `name` is NULL or a C string; `fn_` is callable from any thread with `arg` until every store
/// using the comparator is closed.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_comparator_new(
    fn_: Option<CompareFn>,
    name: *const c_char,
    arg: *mut c_void,
) -> *mut pmemkv_comparator {
    guard_ptr("pmemkv_comparator_new", || {
        let f = fn_.ok_or_else(|| Failure::invalid("comparison function is NULL"))?;
        // SAFETY: the caller's contract.
        let name = unsafe { string(name, "name") }?.to_owned();
        if name.is_empty() || name.len() > pobj_kv::MAX_COMPARATOR_NAME {
            return Err(Failure::invalid(
                "comparator name must have 1 to 4096 bytes",
            ));
        }
        Ok(Box::into_raw(Box::new(pmemkv_comparator {
            magic: MAGIC,
            inner: Arc::new(CComparator { f, arg, name }),
        })))
    })
}

/// Deletes a comparator (not one given to a config: the config owns that one).
///
/// # Safety
///
/// `comparator` is NULL or from `pmemkv_comparator_new`, not yet deleted nor put in a config.
#[no_mangle]
pub unsafe extern "C" fn pmemkv_comparator_delete(comparator: *mut pmemkv_comparator) {
    if comparator.is_null() {
        return;
    }
    guard_void("pmemkv_comparator_delete", || {
        // SAFETY: the caller's contract: ours, live, deleted once. A store still using the
        // comparator keeps its own reference (`Arc`).
        let mut c = unsafe { Box::from_raw(comparator) };
        c.magic = 0;
        drop(c);
    });
}

/// The deleter a config runs for its "comparator" item.
///
/// # Safety
///
/// `p` is a comparator the config owns.
pub(crate) unsafe extern "C-unwind" fn delete_object(p: *mut c_void) {
    // SAFETY: the caller's contract.
    unsafe { pmemkv_comparator_delete(p.cast()) };
}
