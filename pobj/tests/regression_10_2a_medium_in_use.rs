//! Regression (soundness issue, defect 2a): `Pool::open_medium` accepted a simulated medium
//! that a live pool was using, giving two pools with separate locks and heaps over one image
//! (both heaps handed out the same block; two live `&mut Root` had one address). A pool now
//! claims its medium for as long as it is open, as a file pool holds its file's lock.

use std::sync::Arc;

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug, PartialEq)]
#[repr(C)]
struct Root {
    x: u64,
}

#[test]
fn a_medium_in_use_cannot_be_opened_again() {
    let (pool, sim) = Pool::<Root>::create_simulated("r2a", 2 << 20).unwrap();
    match Pool::<Root>::open_medium(Arc::clone(&sim), "r2a") {
        Err(Error::Locked { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a second pool opened over a medium in use"),
    }
    // Also through the pool's own medium handle.
    let medium = pool.medium().expect("a simulated pool has a medium");
    assert!(matches!(
        Pool::<Root>::open_medium(medium, "r2a"),
        Err(Error::Locked { .. })
    ));
    pool.transaction(|tx| {
        tx.root_mut()?.x = 7;
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(pool);
    // Once the pool is closed the medium opens again, with what was committed.
    let again = Pool::<Root>::open_medium(sim, "r2a").unwrap();
    assert_eq!(again.root().unwrap().x, 7);
}
