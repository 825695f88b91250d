//! The synchronization facade: loom's atomics under `--cfg loom`, std's otherwise, so that the
//! concurrency protocols can be model-checked.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
