//! A pool made the way `pkv create` makes one (`Db::create`, no comparator recorded) opens
//! through the C interface with just its path, and its first open adopts the configured
//! comparator while it is empty; afterwards the Rust API must name that comparator too. Also:
//! NULL arguments to `pmemkv_open`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

use pobj_capi as c;

unsafe extern "C-unwind" fn reverse(
    a: *const c_char,
    al: usize,
    b: *const c_char,
    bl: usize,
    _arg: *mut c_void,
) -> c_int {
    // SAFETY: the library passes two live byte ranges of the given lengths.
    let a = unsafe { std::slice::from_raw_parts(a.cast::<u8>(), al) };
    // SAFETY: as above.
    let b = unsafe { std::slice::from_raw_parts(b.cast::<u8>(), bl) };
    match b.cmp(a) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// `pmemkv_open("cmap", {"path": path, "comparator"?})`: the status and the db.
fn open(path: &Path, comparator: Option<&CStr>) -> (c_int, *mut c::pmemkv_db) {
    let p = CString::new(path.to_str().expect("utf-8")).expect("path");
    let cfg = c::pmemkv_config_new();
    // SAFETY: a live config and a C string.
    assert_eq!(unsafe { c::pmemkv_config_put_path(cfg, p.as_ptr()) }, c::OK);
    if let Some(name) = comparator {
        // SAFETY: a comparison function callable from any thread, a C string.
        let cmp =
            unsafe { c::pmemkv_comparator_new(Some(reverse), name.as_ptr(), std::ptr::null_mut()) };
        assert!(!cmp.is_null());
        // SAFETY: a live config and a comparator it takes over.
        assert_eq!(unsafe { c::pmemkv_config_put_comparator(cfg, cmp) }, c::OK);
    }
    let mut db = std::ptr::null_mut();
    // SAFETY: a C string, the config (consumed), an out-pointer to a local.
    let s = unsafe { c::pmemkv_open(c"cmap".as_ptr(), cfg, &raw mut db) };
    (s, db)
}

fn message() -> String {
    // SAFETY: never NULL, valid until this thread's next failing call.
    unsafe { CStr::from_ptr(c::pmemkv_errormsg()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_pkv_pool_opens_by_path_and_adopts_the_first_comparator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pkv.pool");
    drop(pobj_kv::Db::create(&path, pobj::PoolOptions::default()).expect("pkv create"));

    // Just the path: the default order, nothing recorded.
    let (s, db) = open(&path, None);
    assert_eq!(s, c::OK, "{}", message());
    // SAFETY: the db opened above.
    unsafe { c::pmemkv_close(db) };

    // The first open with a comparator adopts it (the store is empty).
    let (s, db) = open(&path, Some(c"reverse"));
    assert_eq!(s, c::OK, "{}", message());
    for k in [b"a", b"b", b"c"] {
        // SAFETY: the db, live byte ranges.
        let s = unsafe { c::pmemkv_put(db, k.as_ptr().cast(), 1, k.as_ptr().cast(), 1) };
        assert_eq!(s, c::OK);
    }
    // SAFETY: the db opened above.
    unsafe { c::pmemkv_close(db) };

    // From now on every open names it: C without it, and the Rust API without it, refuse.
    let (s, db) = open(&path, None);
    assert_eq!(s, c::COMPARATOR_MISMATCH);
    assert!(db.is_null());
    assert!(
        message().contains("[pmemkv_open] Comparator with name: \"reverse\" expected"),
        "{}",
        message()
    );
    assert!(matches!(
        pobj_kv::Db::open(&path),
        Err(pobj_kv::Error::ComparatorMismatch { .. })
    ));
    let (s, db) = open(&path, Some(c"reverse"));
    assert_eq!(s, c::OK, "{}", message());
    let mut first = [0u8; 1];
    let mut it = std::ptr::null_mut();
    // SAFETY: the db and an out-pointer.
    assert_eq!(unsafe { c::pmemkv_iterator_new(db, &raw mut it) }, c::OK);
    // SAFETY: a live iterator.
    assert_eq!(unsafe { c::pmemkv_iterator_seek_to_first(it) }, c::OK);
    let (mut k, mut kb) = (std::ptr::null(), 0usize);
    // SAFETY: a positioned iterator and out-pointers.
    let s = unsafe { c::pmemkv_iterator_key(it, &raw mut k, &raw mut kb) };
    assert_eq!(s, c::OK);
    // SAFETY: `k` holds `kb` bytes until the iterator moves.
    first.copy_from_slice(unsafe { std::slice::from_raw_parts(k.cast::<u8>(), kb) });
    assert_eq!(&first, b"c", "the reversed order's first key");
    // SAFETY: the iterator and the db, each deleted once.
    unsafe {
        c::pmemkv_iterator_delete(it);
    }
    // SAFETY: the db opened above.
    unsafe { c::pmemkv_close(db) };
}

#[test]
fn a_null_engine_a_null_config_and_a_null_db_pointer_are_refused() {
    let cfg = c::pmemkv_config_new();
    // SAFETY: NULL db pointer; the config is consumed regardless.
    let s = unsafe { c::pmemkv_open(c"cmap".as_ptr(), cfg, std::ptr::null_mut()) };
    assert_eq!(s, c::INVALID_ARGUMENT);
    assert!(message().starts_with("[pmemkv_open]"));
    let mut db = std::ptr::null_mut();
    // SAFETY: NULL engine and NULL config are allowed (refused).
    let s = unsafe { c::pmemkv_open(std::ptr::null(), std::ptr::null_mut(), &raw mut db) };
    assert_eq!(s, c::INVALID_ARGUMENT);
    assert!(db.is_null());
}
