//! `PString`: behaviour (`push_str`, `push`, `pop`, truncate at character boundaries, reads as `&str`
//! and `String`, reopen of a file pool), aborts, free, bytes that are not UTF-8, damaged
//! headers, a vector of strings, and fence counts.

mod common;

use pobj::collections::STRING_ELEM_TYPE_ID;
use pobj::{Error, PString, PVec, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    name: PString,
    tags: PVec<PString>,
}

fn sim_pool() -> Pool<Root> {
    Pool::<Root>::create_simulated("pstring", 8 << 20)
        .unwrap()
        .0
}

/// A pool whose root's `name` is a string holding `s`.
fn pool_with(s: &str) -> (Pool<Root>, PString) {
    let pool = sim_pool();
    let p = pool
        .transaction(|tx| {
            let p = PString::from_str(tx, s)?;
            tx.root_mut()?.name = p;
            Ok::<_, Error>(p)
        })
        .unwrap();
    (pool, p)
}

fn space(pool: &Pool<Root>) -> (u64, u64, u64) {
    let h = pool.stats().heap;
    (h.objects, h.allocated_bytes, h.free_bytes)
}

#[test]
fn appended_text_survives_reopen_of_a_file_pool() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "pstring.pool");
    let mut expected = String::new();
    {
        let pool = Pool::<Root>::create(&path, "pstring", 8 << 20).unwrap();
        let p = pool
            .transaction(|tx| {
                let p = PString::new(tx)?;
                tx.root_mut()?.name = p;
                Ok::<_, Error>(p)
            })
            .unwrap();
        assert!(p.is_empty(&pool).unwrap());
        for (i, piece) in ["grüß ", "dich, ", "κόσμε ", "🎉"]
            .iter()
            .cycle()
            .take(50)
            .enumerate()
        {
            pool.transaction(|tx| {
                p.push_str(tx, piece)?;
                p.push(tx, if i % 2 == 0 { '·' } else { '\n' })
            })
            .unwrap();
            expected.push_str(piece);
            expected.push(if i % 2 == 0 { '·' } else { '\n' });
        }
        assert_eq!(p.len(&pool).unwrap(), expected.len());
        assert!(p.capacity(&pool).unwrap() >= expected.len());
        assert_eq!(p.to_string(&pool).unwrap(), expected);
    }
    let pool = Pool::<Root>::open(&path, "pstring").unwrap();
    let p = pool.root().unwrap().name;
    assert_eq!(p.to_string(&pool).unwrap(), expected);
    assert_eq!(
        p.with_str(&pool, |s| s.chars().count()).unwrap(),
        expected.chars().count()
    );
    assert!(pool.check().is_ok(), "{}", pool.check());
}

#[test]
fn truncate_and_pop_keep_to_character_boundaries() {
    let (pool, p) = pool_with("héllo wörld 🎉");
    // 'é' is bytes 1..3: byte 2 is inside it.
    let r = pool.transaction(|tx| p.truncate(tx, 2));
    assert!(
        matches!(r, Err(Error::NotCharBoundary { index: 2, offset }) if offset == p.header().offset()),
        "{r:?}"
    );
    assert_eq!(p.to_string(&pool).unwrap(), "héllo wörld 🎉");
    // Inside the 4-byte '🎉' (bytes 14..18), at each of its three inner bytes.
    for i in 15..18 {
        assert!(matches!(
            pool.transaction(|tx| p.truncate(tx, i)),
            Err(Error::NotCharBoundary { .. })
        ));
    }
    pool.transaction(|tx| {
        p.truncate(tx, 100)?; // longer than the string: nothing
        assert_eq!(p.pop(tx)?, Some('🎉'));
        assert_eq!(p.pop(tx)?, Some(' '));
        assert_eq!(p.pop(tx)?, Some('d'));
        p.truncate(tx, 8)?; // "héllo w" and 'ö' starts at byte 8
        assert_eq!(p.as_str(tx)?, "héllo w");
        p.push(tx, 'ø')?;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(p.to_string(&pool).unwrap(), "héllo wø");
    let cap = p.capacity(&pool).unwrap();
    pool.transaction(|tx| p.clear(tx)).unwrap();
    assert_eq!(p.to_string(&pool).unwrap(), "");
    assert_eq!(p.capacity(&pool).unwrap(), cap);
    assert_eq!(pool.transaction(|tx| p.pop(tx)).unwrap(), None);
}

#[test]
fn a_transaction_reads_its_own_text_and_the_pool_the_committed_text() {
    let (pool, p) = pool_with("abc");
    pool.transaction(|tx| {
        p.push_str(tx, "def")?;
        p.reserve(tx, 100)?;
        assert!(p.capacity(tx)? >= 106);
        assert_eq!(p.as_str(tx)?, "abcdef");
        assert_eq!(p.to_string(tx)?, "abcdef");
        assert!(matches!(p.to_string(&pool), Err(Error::NestedTransaction)));
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(p.to_string(&pool).unwrap(), "abcdef");
}

#[test]
fn abort_by_err_or_panic_leaves_the_string_and_the_heap_as_before() {
    for panic in [false, true] {
        let (pool, p) = pool_with("before");
        let heap = space(&pool);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.transaction(|tx| {
                p.truncate(tx, 3)?;
                p.push_str(tx, &"x".repeat(1000))?; // regrows
                let q = PString::from_str(tx, "new")?;
                tx.root_mut()?.name = q;
                assert!(!panic, "injected panic");
                Err::<(), _>(Error::TxAborted)
            })
        }));
        assert_eq!(r.is_err(), panic);
        assert_eq!(pool.root().unwrap().name, p);
        assert_eq!(p.to_string(&pool).unwrap(), "before");
        assert_eq!(space(&pool), heap);
        assert!(pool.check().is_ok(), "{}", pool.check());
    }
}

#[test]
fn bytes_that_are_not_utf8_are_corrupted_never_trusted() {
    let (pool, p) = pool_with("añb");
    let buf = pool.get(p.header()).unwrap().state.buf;
    // A stray continuation byte where 'b' was.
    pool.transaction(|tx| tx.write_bytes(buf, 3, &[0x80]))
        .unwrap();
    let bad = |r: Result<(), Error>| {
        matches!(r, Err(Error::Corrupted { what: "string bytes (not UTF-8)", offset })
            if offset == buf.offset() + 3)
    };
    assert!(bad(p.to_string(&pool).map(|_| ())));
    assert!(bad(p.with_str(&pool, |_| ())));
    assert!(bad(pool.transaction(|tx| p.as_str(tx).map(|_| ()))));
    assert!(bad(pool.transaction(|tx| p.pop(tx).map(|_| ()))));
    // Only the length is read; the bytes are checked when they are handed out.
    assert_eq!(p.len(&pool).unwrap(), 4);
    // A length that cuts 'ñ' (bytes 1..3) in half.
    pool.transaction(|tx| tx.write_bytes(buf, 3, b"b")).unwrap();
    pool.transaction(|tx| tx.get_mut(p.header()).map(|h| h.state.len = 2))
        .unwrap();
    let r = p.to_string(&pool);
    assert!(
        matches!(r, Err(Error::Corrupted { what: "string bytes (not UTF-8)", offset }) if offset == buf.offset() + 1),
        "{r:?}"
    );
    assert!(matches!(
        pool.transaction(|tx| p.pop(tx)),
        Err(Error::Corrupted { .. })
    ));
    pool.transaction(|tx| tx.get_mut(p.header()).map(|h| h.state.len = 4))
        .unwrap();
    assert_eq!(p.to_string(&pool).unwrap(), "añb");
}

#[test]
fn damaged_or_mistyped_string_handles_are_typed_errors() {
    let (pool, p) = pool_with("text");
    // The header records the string element id, not u8's: a byte vector handle is refused
    // (it could store bytes that are not UTF-8), and so is a string handle to a byte vector.
    assert_eq!(
        pool.get(p.header()).unwrap().elem_type_id,
        STRING_ELEM_TYPE_ID
    );
    let bytes = PVec::<u8>::from_header(p.header());
    assert!(matches!(
        bytes.len(&pool),
        Err(Error::TypeMismatch { expected, found, .. })
            if expected == u8::TYPE_ID && found == STRING_ELEM_TYPE_ID
    ));
    assert!(matches!(
        pool.transaction(|tx| bytes.push(tx, 0xFF)),
        Err(Error::TypeMismatch { .. })
    ));
    let v = pool
        .transaction(|tx| PVec::<u8>::from_slice(tx, b"abc"))
        .unwrap();
    assert!(matches!(
        PString::from_header(v.header()).to_string(&pool),
        Err(Error::TypeMismatch { .. })
    ));
    // A header that is not one, and the null handle.
    pool.transaction(|tx| tx.get_mut(p.header()).map(|h| h.magic = 0))
        .unwrap();
    assert!(matches!(
        p.to_string(&pool),
        Err(Error::Corrupted {
            what: "collection header (magic)",
            ..
        })
    ));
    assert!(matches!(
        pool.transaction(|tx| p.push_str(tx, "more")),
        Err(Error::Corrupted { .. })
    ));
    assert!(PString::default().is_null());
    assert!(matches!(
        PString::null().len(&pool),
        Err(Error::InvalidPointer { offset: 0, .. })
    ));
}

#[test]
fn a_vector_of_strings_and_its_free() {
    let pool = sim_pool();
    let heap = space(&pool);
    let words = ["alpha", "βeta", "", "gamma gamma gamma gamma gamma"];
    pool.transaction(|tx| {
        let tags = PVec::<PString>::new(tx)?;
        for w in words {
            let s = PString::from_str(tx, w)?;
            tags.push(tx, s)?;
        }
        tx.root_mut()?.tags = tags;
        Ok::<_, Error>(())
    })
    .unwrap();
    let tags = pool.root().unwrap().tags;
    let got: Vec<String> = tags
        .iter(&pool)
        .unwrap()
        .map(|s| s.and_then(|s| s.to_string(&pool)).unwrap())
        .collect();
    assert_eq!(got, words);
    // Free every string, then the vector: the heap is as before.
    pool.transaction(|tx| {
        while let Some(s) = tags.pop(tx)? {
            s.free(tx)?;
        }
        tags.free(tx)?;
        tx.root_mut()?.tags = PVec::null();
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(space(&pool), heap);
    assert!(pool.check().is_ok(), "{}", pool.check());
}

#[test]
fn fence_counts_of_push_str_and_truncate() {
    let (pool, p) = pool_with("0123456789");
    // Sizes of the first regrowth (capacity 10 to 20) allocated once beforehand, so that
    // no run is formatted during the measurements (see pvec.rs).
    pool.transaction(|tx| PString::with_capacity(tx, 20)?.free(tx))
        .unwrap();
    let fences = |f: &dyn Fn(&mut pobj::Tx<'_, Root>) -> Result<(), Error>| {
        let s = pool.persist_stats();
        pool.transaction(f).unwrap();
        pool.persist_stats().since(&s).fences
    };
    // Regrowth (10 to 20 bytes): allocation and free entries ride on the header's one
    // snapshot fence; commit and retire: 3. The same as a push into spare capacity (the bytes
    // past the watermark are unlogged, the length and watermark logged): 3.
    let regrow = fences(&|tx| p.push_str(tx, "abc"));
    assert_eq!(p.capacity(&pool).unwrap(), 20);
    let push = fences(&|tx| p.push_str(tx, "def"));
    // A truncate logs the length: 3. A push into the bytes it gave up logs them too: 4.
    let truncate = fences(&|tx| p.truncate(tx, 12));
    let push_back = fences(&|tx| p.push_str(tx, "xyz"));
    println!("fences: regrow {regrow}, push_str {push}, truncate {truncate}, push_str into truncated bytes {push_back}");
    assert_eq!((regrow, push, truncate, push_back), (3, 3, 3, 4));
    assert_eq!(p.to_string(&pool).unwrap(), "0123456789abxyz");
}
