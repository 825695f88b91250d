//! pobj: a transactional persistent-object store in the manner of libpmemobj.
//!
//! A [`Pool`] is one file mapped into memory with a root object. [`Pool::transaction`] runs a
//! closure whose changes are all-or-nothing across process crashes and power failures, with undo
//! logging in per-thread lanes; [`PPtr`] is a typed pool-relative pointer; objects are
//! allocated from a crash-consistent heap; `#[derive(Persistent)]` proves at compile time that a
//! type may live in a pool.
//!
//! ```
//! use pobj::{Persistent, PPtr, Pool};
//!
//! #[derive(Persistent, Clone, Copy)]
//! #[repr(C)]
//! struct Account { balance: u64, next: PPtr<Account> }
//!
//! #[derive(Persistent, Clone, Copy, Default)]
//! #[repr(C)]
//! struct Root { head: PPtr<Account>, count: u64 }
//!
//! # fn main() -> Result<(), pobj::Error> {
//! # let dir = std::env::temp_dir().join(format!("pobj-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("bank.pool");
//! # let _ = std::fs::remove_file(&path);
//! let pool = Pool::<Root>::open_or_create(&path, "bank", 8 << 20)?;
//! pool.transaction(|tx| {
//!     let head = tx.root().head;
//!     let acct = tx.alloc(Account { balance: 100, next: head })?;
//!     let root = tx.root_mut()?; // snapshots the root
//!     root.head = acct;
//!     root.count += 1;
//!     Ok::<_, pobj::Error>(())
//! })?;
//! assert_eq!(pool.root()?.count, 1);
//! # drop(pool); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used)]
#![warn(clippy::too_many_lines)]

extern crate self as pobj;

pub mod collections;
#[cfg(feature = "crash-test")]
pub mod crash;
mod error;
mod format;
mod heap;
mod lane;
mod media;
mod offset_map;
mod pool;
mod problem;
mod tx;
mod types;

pub use collections::{PString, PVec, PoolRead};
pub use error::{Error, Result};
pub use format::header::{FORMAT_VERSION, MAX_LAYOUT_LEN, OLDEST_FORMAT_VERSION};
pub use format::layout::{
    CHUNK_SIZE, DEFAULT_GROW_STEP, DEFAULT_INITIAL_SIZE, DEFAULT_MAX_SIZE, LANE_COUNT,
    MAX_POOL_SIZE, MIN_POOL_SIZE,
};
pub use heap::{HeapStats, ObjectInfo, ReadPin};
pub use media::persist::{best_cache_line_mode, cpu_flush, CpuFlush, PersistMode, PersistStats};
pub use pobj_derive::Persistent;
pub use pool::{CheckReport, Pool, PoolInfo, PoolOptions, RacyRef, SharedSection, Stats};
pub use problem::CheckProblem;
#[cfg(feature = "fault-injection")]
pub use tx::pool_core::Fault;
pub use tx::state::{TxEnd, TxState};
pub use tx::Tx;
pub use types::any_root::AnyRoot;
pub use types::persistent::{as_bytes, from_bytes, zeroed, Persistent};
pub use types::ptr::{PBytes, PPtr};
pub use types::typeid::TypeHasher;

/// Limits of the allocator.
pub mod limits {
    pub use crate::format::class::{CLASSES, MAX_SMALL_PAYLOAD};
    pub use crate::heap::MAX_ALLOC;
    /// Bytes of the header before every object.
    pub const OBJECT_HEADER: u64 = crate::format::object::OBJ_HEADER;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::types::persistent::private::*;
}
