//! What a store under test and a benchmark run report when they fail.

use std::fmt;

use crate::Workload;

/// An error returned by a store under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    unsupported: bool,
    message: String,
}

impl StoreError {
    /// A failed operation.
    pub fn new(message: impl fmt::Display) -> Self {
        StoreError {
            unsupported: false,
            message: message.to_string(),
        }
    }

    /// An operation the store does not offer (the workload is skipped for it).
    pub fn unsupported(what: impl fmt::Display) -> Self {
        StoreError {
            unsupported: true,
            message: what.to_string(),
        }
    }

    /// Whether the store does not offer the operation.
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unsupported {
            write!(f, "unsupported: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for StoreError {}

impl From<pobj_kv::Error> for StoreError {
    fn from(e: pobj_kv::Error) -> Self {
        StoreError::new(e)
    }
}

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration cannot be run.
    #[error("{0}")]
    Config(String),
    /// A workload name that is not known.
    #[error("unknown workload {0:?}; known: {known}", known = Workload::names())]
    UnknownWorkload(String),
    /// The store failed.
    #[error("{store}: {workload}: {error}")]
    Store {
        /// The store's name.
        store: String,
        /// The workload (or phase) running.
        workload: String,
        /// The store's error.
        error: StoreError,
    },
    /// The store returned a wrong result.
    #[error("{store}: {workload}: wrong result: {detail}")]
    Verify {
        /// The store's name.
        store: String,
        /// The workload running.
        workload: String,
        /// What was wrong.
        detail: String,
    },
    /// A benchmark thread panicked (inside the store's code).
    #[error("{store}: {workload}: a benchmark thread panicked")]
    Panicked {
        /// The store's name.
        store: String,
        /// The workload running.
        workload: String,
    },
}
