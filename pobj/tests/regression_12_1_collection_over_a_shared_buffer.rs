//! Regression (issue 12, found by the collections' author after the merge with shared
//! objects): `Pool::read_with_bytes`, the collections' one-lock read of a header and its
//! buffer, lent a `&[u8]` into whatever buffer the header named. A damaged `PVec` header naming
//! a shared buffer (a KV map's out-of-line entry, which other threads read and write without the
//! pool's lock) so gave safe code a reference into a shared object. It now refuses, as every
//! lending read does; and the unlogged slot writes of a push refuse a shared buffer too.

use pobj::{Error, PVec, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default)]
#[repr(C)]
struct Root {
    v: PVec<u64>,
}

/// The offset of `VecState::buf` in a `VecHeader`.
const BUF_AT: usize = 24 + 24;

#[test]
fn a_collection_header_naming_a_shared_buffer_is_refused() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r12", 4 << 20).expect("create");
    let v = pool
        .transaction(|tx| {
            let v = PVec::<u64>::with_capacity(tx, 8)?;
            v.push(tx, 1)?;
            tx.root_mut()?.v = v;
            // A shared buffer of exactly the length the header expects (8 slots of 8 bytes).
            let shared = tx.alloc_bytes_zeroed_shared(64)?;
            tx.update_at(v.header(), BUF_AT, shared)?;
            Ok::<_, Error>(v)
        })
        .expect("damage the header");
    let shared = |r: &Result<u64, Error>| matches!(r, Err(Error::SharedObject { .. }));
    let r = v.get(&pool, 0);
    assert!(shared(&r), "{r:?}");
    let r = pool.transaction(|tx| {
        v.push(tx, 2)?;
        Ok::<_, Error>(0)
    });
    assert!(r.is_err(), "a push into a shared buffer: {r:?}");
}
