//! Maps in a pool of the user's own root type, changed with the user's objects in one
//! transaction (issue 12): commit, abort by `Err` and by panic, splits and destroys inside a
//! transaction, isolation from readers on other threads, standalone writers alongside, wrong
//! transactions and damaged handles.

use std::sync::Arc;

use pobj::{Persistent, Pool};
use pobj_kv::{Error, Map, MapHandle};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    a: MapHandle,
    b: MapHandle,
    orders: u64,
}

type Shop = (Arc<Pool<Root>>, Map<Root>, Map<Root>);

fn shop() -> Shop {
    let (pool, _sim) = Pool::<Root>::create_simulated("shop", 32 << 20).expect("pool");
    let pool = Arc::new(pool);
    pool.transaction(|tx| {
        let (a, b) = (MapHandle::create(tx)?, MapHandle::create(tx)?);
        let r = tx.root_mut()?;
        r.a = a;
        r.b = b;
        Ok::<_, Error>(())
    })
    .expect("create the maps");
    let root = pool.root().expect("root");
    let a = Map::open(&pool, root.a).expect("open a");
    let b = Map::open(&pool, root.b).expect("open b");
    (pool, a, b)
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

#[test]
fn a_transaction_commits_two_maps_and_the_users_object_together() {
    let (pool, a, b) = shop();
    pool.transaction(|tx| {
        for i in 0..200 {
            // 200 keys split the first leaf of each map several times, in this transaction.
            a.tx(tx)?.put(key(i), b"in a")?;
            b.tx(tx)?.put(key(i), vec![1u8; 300])?;
        }
        assert_eq!(
            a.tx(tx)?.get(key(7))?,
            Some(b"in a".to_vec()),
            "reads its own writes"
        );
        assert_eq!(a.tx(tx)?.count_all()?, 200);
        assert_eq!(b.tx(tx)?.count_range(key(10)..key(20))?, 10);
        tx.root_mut()?.orders += 1;
        Ok::<_, Error>(())
    })
    .expect("commit");
    assert_eq!(pool.root().expect("root").orders, 1);
    assert_eq!(a.count_all().expect("count"), 200);
    assert_eq!(b.get(key(199)).expect("get"), Some(vec![1u8; 300]));
    assert_eq!(a.range(key(5)..key(8)).count(), 3);
    assert!(a.check().is_ok(), "{}", a.check());
    assert!(b.check().is_ok(), "{}", b.check());
}

#[test]
fn an_err_or_a_panic_rolls_back_both_maps_and_the_object() {
    let (pool, a, b) = shop();
    a.put(b"x", b"before").expect("put");
    let before = pool.stats().heap;
    let r: Result<(), Error> = pool.transaction(|tx| {
        for i in 0..200 {
            a.tx(tx)?.put(key(i), b"doomed")?;
            b.tx(tx)?.put(key(i), vec![2u8; 300])?;
        }
        a.tx(tx)?.put(b"x", b"after")?;
        a.tx(tx)?.remove(b"x")?;
        tx.root_mut()?.orders = 99;
        Err(Error::Internal {
            what: "the user's own error",
        })
    });
    assert!(matches!(r, Err(Error::Internal { .. })));
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = pool.transaction(|tx| {
            b.tx(tx)?.put(b"y", b"doomed")?;
            panic!("the user's closure panics");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        });
    }));
    assert!(p.is_err());
    assert_eq!(pool.root().expect("root").orders, 0);
    assert_eq!(a.get(b"x").expect("get"), Some(b"before".to_vec()));
    assert_eq!(a.count_all().expect("count"), 1);
    assert_eq!(b.count_all().expect("count"), 0);
    assert_eq!(b.get(b"y").expect("get"), None);
    let after = pool.stats().heap;
    assert_eq!(
        (after.objects, after.allocated_bytes),
        (before.objects, before.allocated_bytes)
    );
    assert!(a.check().is_ok(), "{}", a.check());
    assert!(b.check().is_ok(), "{}", b.check());
    // Both maps work after the rollbacks.
    a.put(key(1), b"v").expect("standalone put");
    b.put(key(1), b"v").expect("standalone put");
}

#[test]
fn readers_on_other_threads_never_see_an_uncommitted_change() {
    for commit in [true, false] {
        let (pool, a, _b) = shop();
        a.put(b"k", b"old").expect("put");
        let seen = std::thread::scope(|s| {
            let r: Result<std::thread::ScopedJoinHandle<'_, _>, Error> = pool.transaction(|tx| {
                a.tx(tx)?.put(b"k", b"new")?;
                let a2 = a.clone();
                let h = s.spawn(move || a2.get(b"k").expect("get"));
                std::thread::sleep(std::time::Duration::from_millis(50));
                if commit {
                    Ok(h)
                } else {
                    drop(h);
                    Err(Error::Internal { what: "abort" })
                }
            });
            r.ok().map(|h| h.join().expect("reader"))
        });
        if commit {
            assert_eq!(
                seen,
                Some(Some(b"new".to_vec())),
                "after the commit, the new value"
            );
        }
        let want: &[u8] = if commit { b"new" } else { b"old" };
        assert_eq!(a.get(b"k").expect("get"), Some(want.to_vec()));
    }
}

#[test]
fn standalone_writers_run_alongside_user_transactions() {
    let (pool, a, b) = shop();
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            for i in 0..2000 {
                a.put(key(i), b"standalone").expect("standalone put");
                if i % 3 == 0 {
                    a.remove(key(i)).expect("standalone remove");
                }
            }
        });
        for i in 0..300 {
            pool.transaction(|tx| {
                a.tx(tx)?.put(format!("tx{i:05}"), b"user")?;
                b.tx(tx)?.put(format!("tx{i:05}"), b"user")?;
                tx.root_mut()?.orders += 1;
                Ok::<_, Error>(())
            })
            .expect("user transaction");
        }
        w.join().expect("writer");
    });
    let standalone = (0..2000).filter(|i| i % 3 != 0).count() as u64;
    assert_eq!(a.count_all().expect("count"), standalone + 300);
    assert_eq!(b.count_all().expect("count"), 300);
    assert_eq!(pool.root().expect("root").orders, 300);
    assert!(a.check().is_ok(), "{}", a.check());
}

#[test]
fn a_map_destroyed_in_a_transaction_frees_its_space() {
    let (pool, a, b) = shop();
    let empty = pool.stats().heap;
    for i in 0..300 {
        b.put(key(i), vec![3u8; 200]).expect("put");
    }
    // An aborted destroy changes nothing.
    let r: Result<(), Error> = pool.transaction(|tx| {
        b.tx(tx)?.destroy()?;
        Err(Error::Internal { what: "abort" })
    });
    assert!(r.is_err());
    assert_eq!(b.count_all().expect("count"), 300);
    pool.transaction(|tx| {
        b.tx(tx)?.destroy()?;
        tx.root_mut()?.b = MapHandle::null();
        Ok::<_, Error>(())
    })
    .expect("destroy");
    assert!(matches!(b.get(key(1)), Err(Error::Destroyed)));
    assert!(matches!(b.put(key(1), b"v"), Err(Error::Destroyed)));
    let after = pool.stats().heap;
    // The map's header and first leaf are gone too.
    assert!(after.objects < empty.objects, "{after:?} vs {empty:?}");
    assert!(pool.check().is_ok(), "{}", pool.check());
    a.put(b"still", b"here").expect("the other map works");
}

#[test]
fn wrong_transactions_and_damaged_handles_are_typed_errors() {
    let (pool, a, _b) = shop();
    let (other, _sim) = Pool::<Root>::create_simulated("other", 8 << 20).expect("pool");
    let r = other.transaction(|tx| a.tx(tx).map(|_| ()));
    assert!(matches!(r, Err(Error::WrongTransaction)), "{r:?}");
    // A shared transaction is refused too.
    // SAFETY: the closure touches nothing.
    let r = unsafe { pool.transaction_shared(|tx| a.tx(tx).map(|_| ())) };
    assert!(matches!(r, Err(Error::WrongTransaction)), "{r:?}");
    // A handle to an object that is no map header.
    let bogus = pool
        .transaction(|tx| tx.alloc(0u64).map(pobj::PPtr::offset))
        .expect("alloc");
    let h = pool
        .transaction(|tx| {
            let h = MapHandle::create(tx)?;
            Ok::<_, Error>(h)
        })
        .expect("a third map");
    let forged: MapHandle = pobj::from_bytes(&bogus.to_le_bytes()).expect("a handle's bytes");
    assert!(matches!(
        Map::open(&pool, forged),
        Err(Error::Pool(pobj::Error::TypeMismatch { .. }))
    ));
    let outside: MapHandle = pobj::from_bytes(&(1u64 << 40).to_le_bytes()).expect("bytes");
    assert!(matches!(Map::open(&pool, outside), Err(Error::Pool(_))));
    // A damaged header: the other maps still open.
    pool.transaction(|tx| {
        tx.update_at(h.header(), 0, 0xdead_u64)?;
        Ok::<_, Error>(())
    })
    .expect("damage");
    assert!(matches!(Map::open(&pool, h), Err(Error::Corrupted { .. })));
    let root = pool.root().expect("root");
    Map::open(&pool, root.a).expect("the first map still opens");
    Map::open(&pool, root.b).expect("the second map still opens");
}
