//! Per-leaf version numbers (a sequence lock) for optimistic readers.
//!
//! A writer (holding the leaf's mutex) makes the version odd before changing the leaf and even
//! again after. A reader takes the version (retrying while it is odd), reads the leaf with
//! atomic loads, and accepts what it read only if the version is unchanged afterwards. Readers
//! take no lock and never block writers; a reader overlapping a write to the same leaf retries.

use crate::sync::{fence, AtomicU64, Ordering};

/// The version of one leaf.
#[derive(Debug, Default)]
pub(crate) struct Version(AtomicU64);

impl Version {
    pub(crate) fn new() -> Self {
        Version(AtomicU64::new(0))
    }

    /// Starts a write (the caller holds the leaf's writer mutex).
    pub(crate) fn write_begin(&self) {
        let v = self.0.load(Ordering::Relaxed);
        debug_assert!(v.is_multiple_of(2), "nested write_begin");
        self.0.store(v.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd version before the writer's data stores.
        fence(Ordering::Release);
    }

    /// Ends a write: data stores happen before the version becomes even again.
    pub(crate) fn write_end(&self) {
        let v = self.0.load(Ordering::Relaxed);
        debug_assert!(!v.is_multiple_of(2), "write_end without write_begin");
        self.0.store(v.wrapping_add(1), Ordering::Release);
    }

    /// Starts a read: the version if no write is in progress.
    pub(crate) fn read_begin(&self) -> Option<u64> {
        let v = self.0.load(Ordering::Acquire);
        v.is_multiple_of(2).then_some(v)
    }

    /// Whether the data read since `read_begin` returned `v` is consistent.
    pub(crate) fn read_validate(&self, v: u64) -> bool {
        // Orders the reader's data loads before the version's second load.
        fence(Ordering::Acquire);
        self.0.load(Ordering::Relaxed) == v
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! `RUSTFLAGS="--cfg loom" cargo test -p pobj-kv --release --lib loom_models`
    use super::*;
    use loom::sync::Arc;

    /// One writer publishes a new slot (two data words) and flips the bitmap word inside a
    /// write; one reader makes an optimistic attempt and, if it validates, must see the old
    /// state or the new one, never a mix. `fenced` false leaves out the writer's release fence.
    fn leaf_model(fenced: bool) {
        let name = if fenced {
            "leaf_protocol"
        } else {
            "leaf_protocol_without_fence"
        };
        crate::loom_models::run(name, None, false, move || {
            let version = Arc::new(Version::new());
            let slot = Arc::new([AtomicU64::new(1), AtomicU64::new(1)]);
            let bitmap = Arc::new(AtomicU64::new(0b01));
            let (v2, s2, b2) = (Arc::clone(&version), Arc::clone(&slot), Arc::clone(&bitmap));
            let writer = loom::thread::spawn(move || {
                if fenced {
                    v2.write_begin();
                } else {
                    let v = v2.0.load(Ordering::Relaxed);
                    v2.0.store(v + 1, Ordering::Relaxed);
                }
                s2[0].store(2, Ordering::Relaxed);
                s2[1].store(2, Ordering::Relaxed);
                b2.store(0b11, Ordering::Relaxed);
                v2.write_end();
            });
            if let Some(v) = version.read_begin() {
                let b = bitmap.load(Ordering::Relaxed);
                let w0 = slot[0].load(Ordering::Relaxed);
                let w1 = slot[1].load(Ordering::Relaxed);
                if version.read_validate(v) {
                    assert!(
                        (b == 0b01 && w0 == 1 && w1 == 1) || (b == 0b11 && w0 == 2 && w1 == 2),
                        "validated a torn read: bitmap {b:#b}, slot ({w0}, {w1})"
                    );
                }
            }
            writer.join().expect("writer");
        });
    }

    /// The leaf read/write protocol holds.
    #[test]
    fn leaf_read_write_protocol() {
        leaf_model(true);
    }

    /// The model can fail: without the writer's release fence a reader can validate a torn
    /// read (so the fence in `write_begin` is necessary, and loom finds why).
    #[test]
    #[should_panic(expected = "validated a torn read")]
    fn leaf_protocol_without_the_writer_fence_fails() {
        leaf_model(false);
    }

    /// A split racing a lookup: the writer moves the key from the old leaf to a new one
    /// (clearing its bit in the old leaf), publishes the new leaf in the index, and marks the old
    /// state dead, all inside a write of the old leaf. A reader that routed to the old leaf and
    /// validated its read either saw the key there (before the split) or notices that the leaf
    /// is dead and must re-route; it never concludes that the key is absent.
    #[test]
    fn split_racing_a_lookup() {
        use crate::sync::AtomicBool;
        crate::loom_models::run("split_protocol", None, false, || {
            let version = Arc::new(Version::new());
            let dead = Arc::new(AtomicBool::new(false));
            let old_bits = Arc::new(AtomicU64::new(1)); // the key is in the old leaf
            let new_published = Arc::new(AtomicBool::new(false));
            let (v2, d2, o2, n2) = (
                Arc::clone(&version),
                Arc::clone(&dead),
                Arc::clone(&old_bits),
                Arc::clone(&new_published),
            );
            let writer = loom::thread::spawn(move || {
                v2.write_begin();
                o2.store(0, Ordering::Relaxed); // moved to the new leaf
                n2.store(true, Ordering::Release); // new leaf in the index
                d2.store(true, Ordering::Release); // old state retired
                v2.write_end();
            });
            // Reader routed to the old leaf (the index did not have the new one yet).
            if let Some(v) = version.read_begin() {
                let found = old_bits.load(Ordering::Relaxed) == 1;
                if version.read_validate(v) && !dead.load(Ordering::Acquire) {
                    assert!(found, "a validated read of a live leaf lost the key");
                }
            }
            writer.join().expect("writer");
        });
    }
}
