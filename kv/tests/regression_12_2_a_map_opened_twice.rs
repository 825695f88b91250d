//! Regression (issue 12, review): `Map::open` of a header that was already open built a second
//! DRAM index over the same leaves. Its fingerprints and routes went stale as soon as the first
//! handle wrote, so a put through the second stored a key the leaf already held (the next open
//! then refused the map: "key repeated in a leaf"), and two unlinks through the two indexes could
//! free one leaf twice. Now a second open shares the first's state; and a copied header, whose
//! list reaches another map's leaves, fails to open (each leaf records its map's header).

use std::sync::Arc;

use pobj::{Persistent, Pool};
use pobj_kv::{Error, Map, MapHandle};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    m: MapHandle,
    copy: MapHandle,
}

fn pool() -> (Arc<Pool<Root>>, MapHandle, Arc<pobj::crash::SimMedium>) {
    // Small and growing (this test also runs under Miri, whose cost follows the work done).
    let grows = pobj::PoolOptions::default()
        .initial_size(pobj::MIN_POOL_SIZE)
        .max_size(8 << 20)
        .grow_step(pobj::CHUNK_SIZE);
    let (pool, sim) = Pool::<Root>::create_simulated("r12", grows).expect("pool");
    let h = pool
        .transaction(|tx| {
            let h = MapHandle::create(tx)?;
            tx.root_mut()?.m = h;
            Ok::<_, Error>(h)
        })
        .expect("map");
    (Arc::new(pool), h, sim)
}

#[test]
fn a_second_open_shares_the_first_ones_state() {
    let (pool, h, sim) = pool();
    let m1 = Map::open(&pool, h).expect("open");
    let m2 = Map::open(&pool, h).expect("open again");
    // Keys whose fingerprints are not 0 (a fresh index holds 0 for every slot).
    for i in 0..60u32 {
        m1.put(format!("key{i}"), b"one")
            .expect("put through the first");
        m2.put(format!("key{i}"), b"two")
            .expect("put through the second");
    }
    assert_eq!(m1.count_all().expect("count"), 60);
    assert_eq!(m1.get(b"key7").expect("get"), Some(b"two".to_vec()));
    assert!(m2.check().is_ok(), "{}", m2.check());
    drop((m1, m2, pool));
    let pool = Arc::new(Pool::<Root>::open_medium(sim, "r12").expect("reopen"));
    let m = Map::open(&pool, h).expect("the map opens after the reopen");
    assert_eq!(m.count_all().expect("count"), 60);
}

#[test]
fn a_copied_header_does_not_open_over_another_maps_leaves() {
    let (pool, h, _sim) = pool();
    let m = Map::open(&pool, h).expect("open");
    m.put(b"k", b"v").expect("put");
    let copy = pool
        .transaction(|tx| {
            let header = *tx.get(h.header())?;
            let c = tx.alloc(header)?;
            Ok::<_, Error>(MapHandle::from_offset(c.offset()))
        })
        .expect("copy the header");
    let r = Map::open(&pool, copy);
    assert!(matches!(r, Err(Error::Corrupted { .. })), "{r:?}");
    assert_eq!(m.get(b"k").expect("get"), Some(b"v".to_vec()));
}
