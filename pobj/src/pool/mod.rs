//! `Pool<R>`: one file mapped into memory, with a root object of type `R`.

mod check;
mod front;
mod info;
mod inside;
mod open;
mod options;
mod read;
#[cfg(feature = "crash-test")]
mod simulated;
mod transact;

use std::marker::PhantomData;

pub use check::CheckReport;
pub use info::{PoolInfo, Stats};
pub use options::PoolOptions;
pub use read::RacyRef;
pub use transact::SharedSection;

use crate::tx::pool_core::PoolCore;

/// A pool whose root object has type `R`. See the crate documentation for an example.
///
/// `Pool` is `Send + Sync`: share it between threads with `&Pool` or `Arc<Pool>`. Safe
/// transactions run one at a time (each holds the pool's write lock for its duration) and reads
/// with `root`/`get` take the read lock; [`Pool::transaction_shared`] runs transactions
/// concurrently in separate lanes for callers that do their own locking.
#[derive(Debug)]
pub struct Pool<R> {
    sh: Box<PoolCore>,
    _root: PhantomData<fn() -> R>,
}
