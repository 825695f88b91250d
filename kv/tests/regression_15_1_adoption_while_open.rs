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
