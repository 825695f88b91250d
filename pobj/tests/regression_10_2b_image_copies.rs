//! Regression (soundness issue, defect 2b): `SimMedium::working_image` and
//! `CrashPoint::working` built a plain `&[u8]` over the pool's memory while other threads (or a
//! live `&mut` from `get_mut` in the same thread) were writing it. The working image is now
//! copied only with atomic 8-byte loads and only where no reference into it can be live: inside
//! a fence (`CrashPoint::copy_working`), or while no pool holds the medium.

use std::sync::{Arc, Mutex};

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug, PartialEq)]
#[repr(C)]
struct Root {
    x: u64,
    y: u64,
}

#[test]
fn the_working_image_is_never_read_under_a_live_reference() {
    let (pool, sim) = Pool::<Root>::create_simulated("r2b", 2 << 20).unwrap();
    // With a `&mut Root` live in this thread, the medium refuses to read the image.
    pool.transaction(|tx| {
        let r = tx.root_mut()?;
        r.x = 1;
        assert!(sim.working_image().is_none());
        r.y = 2;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert!(sim.working_image().is_none(), "the pool is still open");
    // At a crash point the hook gets a copy of the working image.
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s2 = Arc::clone(&seen);
    sim.set_hook(Some(Box::new(move |cp| {
        let w = cp.working();
        assert_eq!(w.len(), cp.working_len());
        assert_eq!(w.len(), cp.persisted.len());
        s2.lock().unwrap().push(cp.index);
    })));
    pool.transaction(|tx| {
        tx.root_mut()?.x = 3;
        Ok::<_, Error>(())
    })
    .unwrap();
    sim.set_hook(None);
    assert!(!seen.lock().unwrap().is_empty());
    let root_off = pool.root_ptr().offset() as usize;
    drop(pool);
    // With no pool open, both images can be copied; they agree once everything is fenced.
    let working = sim.working_image().expect("no pool holds the medium");
    assert_eq!(working, sim.persisted_image());
    assert_eq!(
        u64::from_le_bytes(working[root_off..root_off + 8].try_into().unwrap()),
        3
    );
}
