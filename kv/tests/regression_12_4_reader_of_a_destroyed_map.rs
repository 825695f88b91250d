//! Regression (issue 12, review): a reader waiting on the locked slow path while a user's
//! transaction destroyed its map found no leaf to route to and retried up to 2^24 times before
//! an internal error. Now every attempt checks whether the map is destroyed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pobj::{Persistent, Pool};
use pobj_kv::{Error, Map, MapHandle};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    m: MapHandle,
}

#[test]
fn a_reader_of_a_map_destroyed_meanwhile_is_told_so_at_once() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r12", 8 << 20).expect("pool");
    let pool = Arc::new(pool);
    let h = pool
        .transaction(|tx| {
            let h = MapHandle::create(tx)?;
            tx.root_mut()?.m = h;
            Ok::<_, Error>(h)
        })
        .expect("map");
    let m = Map::open(&pool, h).expect("open");
    m.put(b"k", b"v").expect("put");
    let reader = std::thread::scope(|s| {
        let h = pool
            .transaction(|tx| {
                m.tx(tx)?.put(b"k", b"w")?;
                let m2 = m.clone();
                let reader = s.spawn(move || {
                    let t = Instant::now();
                    (m2.get(b"k"), t)
                });
                // The reader spends its optimistic attempts on the mid-write leaf, then waits.
                std::thread::sleep(Duration::from_millis(50));
                m.tx(tx)?.destroy()?;
                tx.root_mut()?.m = MapHandle::null();
                Ok::<_, Error>(reader)
            })
            .expect("destroy");
        let done = Instant::now();
        let (r, _) = h.join().expect("reader");
        (r, done.elapsed())
    });
    assert!(matches!(reader.0, Err(Error::Destroyed)), "{:?}", reader.0);
    assert!(
        reader.1 < Duration::from_secs(5),
        "told within seconds, not 2^24 retries"
    );
}
