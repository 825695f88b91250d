//! The typed error of every fallible pobj-kv call.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pool layer failed (I/O, a damaged pool file, a lock held by another process, ...).
    #[error(transparent)]
    Pool(pobj::Error),
    /// The pool is full; nothing was changed, and removals make room again.
    #[error("out of space: the pool is full")]
    OutOfSpace,
    /// A key is longer than [`crate::MAX_KEY_LEN`].
    #[error("key of {len} bytes exceeds the maximum of {max}")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A value is longer than [`crate::MAX_VALUE_LEN`].
    #[error("value of {len} bytes exceeds the maximum of {max}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// An invariant of the store's own code does not hold (a bug, not damage in the pool).
    #[error("internal error: {what}")]
    Internal {
        /// Which invariant.
        what: &'static str,
    },
    /// The pool's contents are not a valid store (wrong root, damaged leaf).
    #[error("corrupted store: {what} at {offset:#x}")]
    Corrupted {
        /// What is wrong.
        what: &'static str,
        /// Where in the pool.
        offset: u64,
    },
}

impl From<pobj::Error> for Error {
    fn from(e: pobj::Error) -> Self {
        match e {
            pobj::Error::OutOfSpace { .. } => Error::OutOfSpace,
            e => Error::Pool(e),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
