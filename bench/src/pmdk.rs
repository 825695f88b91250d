//! A small FFI module for PMDK's libpmemobj (Debian's libpmemobj-dev, 1.12): the function API
//! (no macros: `pmemobj_tx_begin(pop, NULL, TX_PARAM_NONE)` then `pmemobj_tx_process` until the
//! stage is `TX_STAGE_NONE`, then `pmemobj_tx_end`, as `TX_BEGIN`/`TX_END` expand to, without
//! the `setjmp`), and PMDK's example B-tree (`tree_map/btree_map.c`) when the build script
//! compiled it.
//!
//! Declarations follow /usr/include/libpmemobj/{pool_base,base,tx_base,atomic_base}.h.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

/// `PMEMobjpool` (opaque).
#[repr(C)]
pub struct PmemObjPool {
    _private: [u8; 0],
}

/// `PMEMoid`: a persistent pointer (pool id, offset).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmemOid {
    pub pool_uuid_lo: u64,
    pub off: u64,
}

impl PmemOid {
    /// `OID_IS_NULL`.
    pub fn is_null(self) -> bool {
        self.off == 0
    }
}

/// `pmemobj_constr`.
pub type Constructor =
    unsafe extern "C" fn(pop: *mut PmemObjPool, ptr: *mut c_void, arg: *mut c_void) -> c_int;

/// The constructor of `btree_map_insert_new` (returns nothing).
pub type VoidConstructor =
    unsafe extern "C" fn(pop: *mut PmemObjPool, ptr: *mut c_void, arg: *mut c_void);

/// `enum pobj_tx_stage`: `TX_STAGE_NONE`.
pub const TX_STAGE_NONE: c_int = 0;
/// `enum pobj_tx_stage`: `TX_STAGE_WORK`.
pub const TX_STAGE_WORK: c_int = 1;
/// `enum pobj_tx_param`: `TX_PARAM_NONE`.
pub const TX_PARAM_NONE: c_int = 0;

#[link(name = "pmemobj")]
extern "C" {
    pub fn pmemobj_create(
        path: *const c_char,
        layout: *const c_char,
        poolsize: usize,
        mode: u32,
    ) -> *mut PmemObjPool;
    pub fn pmemobj_open(path: *const c_char, layout: *const c_char) -> *mut PmemObjPool;
    pub fn pmemobj_close(pop: *mut PmemObjPool);
    pub fn pmemobj_root(pop: *mut PmemObjPool, size: usize) -> PmemOid;
    pub fn pmemobj_direct(oid: PmemOid) -> *mut c_void;
    pub fn pmemobj_persist(pop: *mut PmemObjPool, addr: *const c_void, len: usize);
    pub fn pmemobj_errormsg() -> *const c_char;

    /// Variadic: the parameters end with `TX_PARAM_NONE`.
    pub fn pmemobj_tx_begin(pop: *mut PmemObjPool, env: *mut c_void, ...) -> c_int;
    pub fn pmemobj_tx_stage() -> c_int;
    pub fn pmemobj_tx_commit();
    pub fn pmemobj_tx_process();
    pub fn pmemobj_tx_end() -> c_int;
    pub fn pmemobj_tx_abort(errnum: c_int);
    pub fn pmemobj_tx_add_range(oid: PmemOid, off: u64, size: usize) -> c_int;
    pub fn pmemobj_tx_alloc(size: usize, type_num: u64) -> PmemOid;
    pub fn pmemobj_tx_free(oid: PmemOid) -> c_int;

    pub fn pmemobj_alloc(
        pop: *mut PmemObjPool,
        oidp: *mut PmemOid,
        size: usize,
        type_num: u64,
        constructor: Option<Constructor>,
        arg: *mut c_void,
    ) -> c_int;
    pub fn pmemobj_free(oidp: *mut PmemOid);
}

/// PMDK's last error message.
pub fn last_error() -> String {
    // SAFETY: pmemobj_errormsg returns a pointer to a NUL-terminated thread-local string (or
    // NULL), valid until the next libpmemobj call on this thread; it is copied at once.
    unsafe {
        let p = pmemobj_errormsg();
        if p.is_null() {
            "unknown PMDK error".into()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: path contains a NUL byte", path.display()))
}

/// An open libpmemobj pool, closed on drop.
pub struct Pool {
    pop: *mut PmemObjPool,
}

// SAFETY: a PMEMobjpool may be used from any thread (libpmemobj is thread-safe for pool
// handles; transactions are per thread). Users serialize access to unsynchronized data
// structures themselves (the B-tree peer holds a mutex).
unsafe impl Send for Pool {}
// SAFETY: as above; `&Pool` only hands out the raw handle.
unsafe impl Sync for Pool {}

impl Pool {
    /// Creates a pool file of `size` bytes (removing an old one first).
    pub fn create(path: &Path, layout: &str, size: u64) -> Result<Pool, String> {
        let _ = std::fs::remove_file(path);
        let p = c_path(path)?;
        let l = CString::new(layout).map_err(|_| "layout contains a NUL byte".to_string())?;
        let size = usize::try_from(size).map_err(|e| e.to_string())?;
        // SAFETY: both strings are NUL-terminated and live across the call.
        let pop = unsafe { pmemobj_create(p.as_ptr(), l.as_ptr(), size, 0o600) };
        if pop.is_null() {
            return Err(format!(
                "pmemobj_create {}: {}",
                path.display(),
                last_error()
            ));
        }
        Ok(Pool { pop })
    }

    /// Opens a pool file (running PMDK's recovery).
    pub fn open(path: &Path, layout: &str) -> Result<Pool, String> {
        let p = c_path(path)?;
        let l = CString::new(layout).map_err(|_| "layout contains a NUL byte".to_string())?;
        // SAFETY: both strings are NUL-terminated and live across the call.
        let pop = unsafe { pmemobj_open(p.as_ptr(), l.as_ptr()) };
        if pop.is_null() {
            return Err(format!("pmemobj_open {}: {}", path.display(), last_error()));
        }
        Ok(Pool { pop })
    }

    /// The raw handle.
    pub fn raw(&self) -> *mut PmemObjPool {
        self.pop
    }

    /// The root object of `size` bytes (allocated zeroed on first use).
    pub fn root(&self, size: usize) -> Result<PmemOid, String> {
        // SAFETY: `self.pop` is an open pool.
        let oid = unsafe { pmemobj_root(self.pop, size) };
        if oid.is_null() {
            Err(format!("pmemobj_root: {}", last_error()))
        } else {
            Ok(oid)
        }
    }

    /// Runs `body` in a transaction (the function API). `body` returns false to abort.
    pub fn transaction(&self, body: impl FnOnce() -> bool) -> Result<(), String> {
        // SAFETY: `self.pop` is an open pool; a NULL jmp_buf makes failures return error codes
        // instead of longjmp-ing over Rust frames; TX_PARAM_NONE ends the parameter list.
        let rc = unsafe { pmemobj_tx_begin(self.pop, std::ptr::null_mut(), TX_PARAM_NONE) };
        if rc != 0 {
            // SAFETY: tx_end must follow every tx_begin, also a failed one.
            unsafe { pmemobj_tx_end() };
            return Err(format!("pmemobj_tx_begin: {}", last_error()));
        }
        if body() {
            // SAFETY: inside the transaction begun above; commits it unless the body's calls
            // already aborted it (commit then does nothing but report the stage).
            unsafe {
                if pmemobj_tx_stage() == TX_STAGE_WORK {
                    pmemobj_tx_commit();
                }
            }
        } else {
            // SAFETY: inside the transaction begun above.
            unsafe {
                if pmemobj_tx_stage() == TX_STAGE_WORK {
                    pmemobj_tx_abort(libc_ecanceled());
                }
            }
        }
        // SAFETY: drives the transaction begun above through its stages, as TX_END does.
        let rc = unsafe {
            while pmemobj_tx_stage() != TX_STAGE_NONE {
                pmemobj_tx_process();
            }
            pmemobj_tx_end()
        };
        if rc != 0 {
            Err(format!("transaction aborted: {}", last_error()))
        } else {
            Ok(())
        }
    }
}

/// ECANCELED on Linux.
fn libc_ecanceled() -> c_int {
    125
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: `self.pop` is open and closed exactly once, here.
        unsafe { pmemobj_close(self.pop) };
    }
}

/// PMDK's example B-tree (`btree_map.c`): `TOID(struct btree_map)`, a union of a `PMEMoid`
/// and typed pointers, passed by value.
#[cfg(pmdk_btree)]
pub mod btree {
    use super::{PmemObjPool, PmemOid, VoidConstructor};
    use std::ffi::{c_int, c_uint, c_void};

    /// `TOID(struct btree_map)`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub union BtreeMapToid {
        pub oid: PmemOid,
        pub ptr: *mut c_void,
    }

    extern "C" {
        pub fn btree_map_create(
            pop: *mut PmemObjPool,
            map: *mut BtreeMapToid,
            arg: *mut c_void,
        ) -> c_int;
        pub fn btree_map_insert_new(
            pop: *mut PmemObjPool,
            map: BtreeMapToid,
            key: u64,
            size: usize,
            type_num: c_uint,
            constructor: Option<VoidConstructor>,
            arg: *mut c_void,
        ) -> c_int;
        pub fn btree_map_remove_free(pop: *mut PmemObjPool, map: BtreeMapToid, key: u64) -> c_int;
        pub fn btree_map_get(pop: *mut PmemObjPool, map: BtreeMapToid, key: u64) -> PmemOid;
        pub fn btree_map_lookup(pop: *mut PmemObjPool, map: BtreeMapToid, key: u64) -> c_int;
    }
}
