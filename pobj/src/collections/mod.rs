//! Persistent collections: [`PVec<T>`](PVec), a growable array of `Persistent` elements, and
//! [`PString`], a growable UTF-8 string, living in any pool and changed only inside a
//! transaction.
//!
//! Each is an 8-byte `Persistent` handle (a typed pointer to a separately allocated header
//! that records the length, the capacity, the element buffer and the element type), so it
//! fits in a field of the root or of any `#[derive(Persistent)]` struct and never changes
//! after creation: operations take the handle by value, plus the transaction to change it or
//! a [`PoolRead`] source to read it.
//!
//! ```
//! use pobj::{Persistent, Pool, PVec, PString};
//!
//! #[derive(Persistent, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Order { id: u64, qty: u32, price: u32 }
//!
//! #[derive(Persistent, Clone, Copy, Default)]
//! #[repr(C)]
//! struct Root { orders: PVec<Order>, name: PString }
//!
//! # fn main() -> Result<(), pobj::Error> {
//! # let (pool, _medium) = Pool::<Root>::create_simulated("shop", 8 << 20)?;
//! pool.transaction(|tx| {
//!     let orders = PVec::<Order>::new(tx)?;
//!     orders.push(tx, Order { id: 1, qty: 2, price: 30 })?;
//!     let name = PString::from_str(tx, "corner shop")?;
//!     let root = tx.root_mut()?;
//!     root.orders = orders;
//!     root.name = name;
//!     Ok::<_, pobj::Error>(())
//! })?;
//! let root = pool.root()?;
//! assert_eq!(root.orders.len(&pool)?, 1);
//! assert_eq!(root.orders.get(&pool, 0)?.qty, 2);
//! assert_eq!(root.name.to_string(&pool)?, "corner shop");
//! # Ok(()) }
//! ```
//!
//! The on-media layout, the rules and the errors are in `docs/collections.md`.

pub(crate) mod raw;
mod string;
mod vec;

pub use raw::{VecHeader, VecState, MAX_ELEM_ALIGN, VEC_MAGIC, VEC_VERSION};
pub use string::{PString, STRING_ELEM_TYPE_ID};
pub use vec::{Iter, PVec};

use crate::error::Result;
use crate::tx::Tx;
use crate::types::ptr::PPtr;
use crate::{Persistent, Pool};

/// Where a collection can be read from: a [`Pool`] (its committed state, read under the pool's
/// read lock, so never a transaction's half-done changes) or a [`Tx`] (that transaction's own
/// view, its uncommitted changes included). Sealed: implemented for these two only.
pub trait PoolRead: sealed::Sealed {}

impl<R: Persistent> PoolRead for Pool<R> {}
impl<R: Persistent> PoolRead for Tx<'_, R> {}

mod sealed {
    use super::{PPtr, Persistent, Pool, Result, Tx, VecHeader};

    /// The one read a collection needs: its header and its buffer, from one state.
    pub trait Sealed {
        /// Calls `f` with the header at `hdr` (resolved as a live `VecHeader`) and the contents
        /// of the buffer it names (`None` if null), both from the same state.
        fn read_header<U>(
            &self,
            hdr: PPtr<VecHeader>,
            f: impl FnOnce(&VecHeader, Option<&[u8]>) -> Result<U>,
        ) -> Result<U>;
    }

    impl<R: Persistent> Sealed for Pool<R> {
        fn read_header<U>(
            &self,
            hdr: PPtr<VecHeader>,
            f: impl FnOnce(&VecHeader, Option<&[u8]>) -> Result<U>,
        ) -> Result<U> {
            self.read_with_bytes(hdr, |h| h.state.buf, f)
        }
    }

    impl<R: Persistent> Sealed for Tx<'_, R> {
        fn read_header<U>(
            &self,
            hdr: PPtr<VecHeader>,
            f: impl FnOnce(&VecHeader, Option<&[u8]>) -> Result<U>,
        ) -> Result<U> {
            let h = self.get(hdr)?;
            let bytes = if h.state.buf.is_null() {
                None
            } else {
                Some(self.bytes(h.state.buf)?)
            };
            f(h, bytes)
        }
    }
}
