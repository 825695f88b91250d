//! The typed error of every fallible pobj-kv call.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pool layer failed (I/O, a damaged pool file, a lock held by another process, ...).
    #[error(transparent)]
    Pool(pobj::Error),
    /// The pool is full and cannot grow (it is at its maximum size, or the medium is full);
    /// nothing was changed, and removals make room again.
    #[error(
        "out of space: the pool is full at {size} bytes (maximum {max_size}){}",
        if *medium_full { "; the medium is full" } else { "" }
    )]
    OutOfSpace {
        /// The pool's size.
        size: u64,
        /// The largest size it may grow to.
        max_size: u64,
        /// Whether growth failed because the medium had no space left.
        medium_full: bool,
    },
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
    /// The map was written in a format version this build does not read (version 1 stores,
    /// written before maps could live in any pool, hold their leaves as ordinary objects).
    #[error(
        "map at {offset:#x} has format version {found}; this build reads versions 2 to {supported}"
    )]
    UnsupportedVersion {
        /// The version in the map's header.
        found: u64,
        /// The newest version this build reads (2: bytewise order; 3: a comparator's).
        supported: u64,
        /// The header's offset.
        offset: u64,
    },
    /// The map was destroyed (`MapTx::destroy`) or its transaction state was lost: every
    /// operation on this handle refuses.
    #[error("the map was destroyed")]
    Destroyed,
    /// A map operation with a transaction that is not exclusive, or of another pool.
    #[error("map operation with a transaction of another pool, or a shared one")]
    WrongTransaction,
    /// The map's keys are ordered by another comparator than the one it was opened with (its
    /// header records the comparator's name when the map is created).
    #[error("comparator mismatch: the map's keys are ordered by \"{expected}\", not \"{found}\"")]
    ComparatorMismatch {
        /// The name recorded in the map.
        expected: String,
        /// The name of the comparator given at open.
        found: String,
    },
    /// A comparator's name is empty or longer than [`crate::MAX_COMPARATOR_NAME`] bytes.
    #[error("comparator name of {len} bytes (1 to 4096 allowed)")]
    InvalidComparatorName {
        /// Its length.
        len: usize,
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
            pobj::Error::OutOfSpace {
                size,
                max_size,
                medium_full,
                ..
            } => Error::OutOfSpace {
                size,
                max_size,
                medium_full,
            },
            e => Error::Pool(e),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
