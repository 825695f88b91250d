//! The synchronization facade: every primitive through which the store's threads synchronise —
//! atomics, fences, the leaf and writer locks (and, in `reentry.rs`, the per-thread re-entry
//! marker) — is loom's under `--cfg loom` and std's otherwise, so that the loom models (`loom_models.rs`) check the
//! store's real code (`db.rs`, `inner.rs`, `version.rs`), not a copy of it.
//!
//! Under loom the atomics are thin wrappers over loom's that can be switched, per model, to
//! sequentially consistent ordering (`strengthen`): the models of the real code run on a real
//! pool whose own loads and stores loom cannot see, so loom must not pick for the store's
//! atomics values that no execution consistent with the pool's (real, in-order) accesses could
//! produce. The protocol models in `version.rs` keep the orderings as written, with loom atomics
//! for the data too, and check that the fences are the ones needed.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock};
#[cfg(all(not(loom), miri))]
pub(crate) use std::sync::{RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;
#[cfg(loom)]
pub(crate) use std::sync::atomic::Ordering;
#[cfg(loom)]
pub(crate) use strong::{fence, mutated, AtomicBool, AtomicU64, AtomicU8};
#[cfg(all(loom, test))]
pub(crate) use strong::{mutate, strengthen};

#[cfg(loom)]
mod strong {
    use std::cell::Cell;
    use std::sync::atomic::Ordering;

    std::thread_local! {
        // A loom model's threads all run on the OS thread of the test that runs it, so this
        // std thread-local holds for exactly one model.
        static SEQ_CST: Cell<bool> = const { Cell::new(false) };
    }

    std::thread_local! {
        static MUTATION: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Breaks one step of the store's protocol, by name, for the loom models run by this
    /// thread: the negative models show that the models catch the broken protocol.
    #[cfg(test)]
    pub(crate) fn mutate(m: Option<&'static str>) {
        MUTATION.with(|c| c.set(m));
    }

    /// Whether the step `m` is to be broken (only ever under loom).
    pub(crate) fn mutated(m: &str) -> bool {
        MUTATION.with(|c| c.get() == Some(m))
    }

    /// Makes every atomic access and fence of the store sequentially consistent for the loom
    /// models run by this thread (see the module documentation).
    #[cfg(test)]
    pub(crate) fn strengthen(on: bool) {
        SEQ_CST.with(|c| c.set(on));
    }

    fn ord(o: Ordering) -> Ordering {
        if SEQ_CST.with(Cell::get) {
            Ordering::SeqCst
        } else {
            o
        }
    }

    pub(crate) fn fence(o: Ordering) {
        loom::sync::atomic::fence(ord(o));
    }

    macro_rules! atomic {
        ($name:ident, $t:ty) => {
            #[derive(Debug)]
            pub(crate) struct $name(loom::sync::atomic::$name);

            impl $name {
                pub(crate) fn new(v: $t) -> Self {
                    let a = loom::sync::atomic::$name::new(v);
                    if SEQ_CST.with(Cell::get) {
                        // loom records the initial value as a release store; one sequentially
                        // consistent store makes later SeqCst loads see only the newest value.
                        a.store(v, Ordering::SeqCst);
                    }
                    $name(a)
                }
                pub(crate) fn load(&self, o: Ordering) -> $t {
                    self.0.load(ord(o))
                }
                pub(crate) fn store(&self, v: $t, o: Ordering) {
                    self.0.store(v, ord(o))
                }
            }
        };
    }

    atomic!(AtomicBool, bool);
    atomic!(AtomicU8, u8);
    atomic!(AtomicU64, u64);

    impl AtomicU64 {
        pub(crate) fn fetch_add(&self, v: u64, o: Ordering) -> u64 {
            self.0.fetch_add(v, ord(o))
        }
        pub(crate) fn fetch_sub(&self, v: u64, o: Ordering) -> u64 {
            self.0.fetch_sub(v, ord(o))
        }
    }

    impl Default for AtomicU64 {
        fn default() -> Self {
            AtomicU64::new(0)
        }
    }
}
