//! Regression (issue 15, review): opening an empty map that records no comparator name with a
//! comparator recorded that name (and version 3) before the open looked for a handle of the map
//! already open in the process. With a bytewise handle alive, the open then failed with a
//! mismatch, but the header now named the other order while the live map kept writing bytewise:
//! the map opened under neither order afterwards. Adoption now happens under the registry of
//! open maps, only when no handle is alive. Fails without the fix (the header changes).

use std::cmp::Ordering;
use std::sync::Arc;

use pobj::{Persistent, Pool};
use pobj_kv::{Comparator, Error, Map, MapHandle};

struct Reverse;
impl Comparator for Reverse {
    fn name(&self) -> &str {
        "reverse"
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    map: MapHandle,
}

#[test]
fn an_open_bytewise_map_is_not_adopted_by_a_second_open() {
    let (pool, _sim) = Pool::<Root>::create_simulated("adopt-open", 16 << 20).expect("pool");
    let pool = Arc::new(pool);
    pool.transaction(|tx| {
        let m = MapHandle::create(tx)?;
        tx.root_mut()?.map = m;
        Ok::<_, Error>(())
    })
    .expect("create");
    let h = pool.root().expect("root").map;
    let plain = Map::open(&pool, h).expect("open bytewise");
    assert!(matches!(
        Map::open_with(&pool, h, Arc::new(Reverse)),
        Err(Error::ComparatorMismatch { .. })
    ));
    // The header still records no name: the live bytewise map and its header agree.
    for i in 0..300u32 {
        plain.put(i.to_be_bytes(), b"v").expect("put");
    }
    drop(plain);
    let again = Map::open(&pool, h).expect("reopen bytewise");
    assert_eq!(again.comparator_name(), pobj_kv::BINARY_COMPARATOR);
    assert_eq!(again.count_all().expect("count"), 300);
    assert!(again.check().is_ok());
    // Not empty now: no comparator can be adopted any more.
    drop(again);
    assert!(matches!(
        Map::open_with(&pool, h, Arc::new(Reverse)),
        Err(Error::ComparatorMismatch { .. })
    ));
}

/// The same race from two threads: one opening bytewise, one with a comparator, each writing
/// through what it opened and dropping it. Whatever wins, the map must reopen under exactly
/// the order its header records, with every key written readable and `check` clean. (Before
/// the decision moved under the registry, a bytewise open could resolve the header, lose the
/// race to an adoption, and then write bytewise under a header naming the other order.)
#[test]
fn racing_opens_never_write_under_another_order() {
    for round in 0..40u32 {
        let (pool, _sim) = Pool::<Root>::create_simulated("adopt-race", 16 << 20).expect("pool");
        let pool = Arc::new(pool);
        pool.transaction(|tx| {
            let m = MapHandle::create(tx)?;
            tx.root_mut()?.map = m;
            Ok::<_, Error>(())
        })
        .expect("create");
        let h = pool.root().expect("root").map;
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = [false, true]
            .into_iter()
            .map(|ordered| {
                let (pool, barrier) = (Arc::clone(&pool), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut wrote = 0u32;
                    for i in 0..20u32 {
                        let m = if ordered {
                            Map::open_with(&pool, h, Arc::new(Reverse))
                        } else {
                            Map::open(&pool, h)
                        };
                        match m {
                            Ok(m) => {
                                let k = [u8::from(ordered), (round % 256) as u8, i as u8];
                                m.put(k, b"v").expect("put");
                                wrote += 1;
                            }
                            Err(Error::ComparatorMismatch { .. }) => {}
                            Err(e) => panic!("open: {e}"),
                        }
                    }
                    wrote
                })
            })
            .collect();
        let wrote: Vec<u32> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let plain = Map::open(&pool, h);
        let reversed = Map::open_with(&pool, h, Arc::new(Reverse));
        let m = match (plain, reversed) {
            (Ok(m), Err(_)) | (Err(_), Ok(m)) => m,
            (Ok(_), Ok(_)) => panic!("opened under both orders"),
            (Err(a), Err(b)) => panic!("opens under neither order: {a} / {b}"),
        };
        assert!(m.check().is_ok(), "round {round}: {}", m.check());
        assert_eq!(
            m.count_all().expect("count"),
            u64::from(wrote[0] + wrote[1])
        );
    }
}
