//! Regression (found by review of the soundness fixes; the store's side of
//! `pobj/tests/regression_10_13_hook_panics.rs`): a fence hook that panicked during a split
//! unwound out of the store with its DRAM state not updated and the store not marked failed, so
//! keys whose puts had returned `Ok` read as absent. Now the hook's panic is a failed fence (a
//! typed error), and a store whose pool is poisoned refuses every operation until reopened.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pobj_kv::Db;

fn key(i: u32) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

/// A store whose only leaf is full: the next new key splits it.
fn full_leaf() -> (Db, std::sync::Arc<pobj::crash::SimMedium>) {
    let (db, sim) = Db::create_simulated(4 << 20).unwrap();
    for i in 0..39 {
        db.put(key(i), b"v").unwrap();
    }
    (db, sim)
}

#[test]
fn a_hook_panic_at_any_fence_of_a_split_hides_no_committed_key() {
    let (db, sim) = full_leaf();
    let f0 = sim.fences();
    db.put(key(1000), b"v").unwrap();
    let n = sim.fences() - f0;
    drop(db);
    for at in 0..n {
        let (db, sim) = full_leaf();
        let target = sim.fences() + at;
        sim.set_hook(Some(Box::new(move |cp| {
            assert!(cp.index != target, "the hook panics at fence {target}");
        })));
        let r = catch_unwind(AssertUnwindSafe(|| db.put(key(1000), b"v")));
        sim.set_hook(None);
        let r = r.unwrap_or_else(|_| panic!("fence {at}: the hook's panic unwound"));
        assert!(r.is_err(), "fence {at}: the failed fence is reported");
        for i in 0..39 {
            assert!(
                !matches!(db.get(key(i)), Ok(None)),
                "fence {at}: committed key {i} reads as absent"
            );
        }
        drop(db);
        // Reopened, every committed key is there.
        let again = Db::open_medium(sim).unwrap();
        for i in 0..39 {
            assert_eq!(
                again.get(key(i)).unwrap(),
                Some(b"v".to_vec()),
                "fence {at}"
            );
        }
        assert!(again.check().is_ok());
    }
}
