//! pmemkv's behaviours, on a pool in /dev/shm.

use pobj_kv::{Db, Error, WriteBatch};

fn dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("pkv-test")
            .tempdir_in(shm)
            .unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn db(d: &tempfile::TempDir, size: u64) -> Db {
    Db::create(d.path().join("kv.pool"), size).unwrap()
}

fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter().collect::<Result<_, _>>().unwrap()
}

#[test]
fn empty_key_and_empty_value() {
    let d = dir();
    let db = db(&d, 16 << 20);
    db.put(b"", b"empty key").unwrap();
    db.put(b"k", b"").unwrap();
    assert_eq!(db.get(b"").unwrap(), Some(b"empty key".to_vec()));
    assert_eq!(db.get(b"k").unwrap(), Some(Vec::new()));
    db.put(b"", b"").unwrap();
    assert_eq!(db.get(b"").unwrap(), Some(Vec::new()));
    assert_eq!(db.count_all().unwrap(), 2);
    assert!(db.exists(b"").unwrap());
    assert!(db.remove(b"").unwrap());
    assert!(!db.exists(b"").unwrap());
    assert!(!db.remove(b"").unwrap());
    assert_eq!(db.count_all().unwrap(), 1);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn every_byte_as_key_and_inside_keys() {
    let d = dir();
    let db = db(&d, 32 << 20);
    for b in 0..=255u8 {
        db.put([b], [b, b]).unwrap();
        db.put([b'a', b, b'z'], [0, b, 0]).unwrap();
    }
    assert_eq!(db.count_all().unwrap(), 512);
    for b in 0..=255u8 {
        assert_eq!(db.get([b]).unwrap(), Some(vec![b, b]));
        assert_eq!(db.get([b'a', b, b'z']).unwrap(), Some(vec![0, b, 0]));
    }
    let keys: Vec<Vec<u8>> = all(&db).into_iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "iteration is in unsigned bytewise order");
    assert_eq!(keys[0], vec![0u8]);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn values_with_zero_bytes_keep_their_length() {
    let d = dir();
    let db = db(&d, 16 << 20);
    for len in [1usize, 2, 7, 100, 119, 120, 121, 5000] {
        let v = vec![0u8; len];
        db.put(format!("z{len}"), &v).unwrap();
        assert_eq!(
            db.get(format!("z{len}")).unwrap().map(|v| v.len()),
            Some(len)
        );
    }
}

#[test]
fn overwrites_keep_one_entry() {
    let d = dir();
    let db = db(&d, 16 << 20);
    db.put(b"key", b"value").unwrap();
    db.put(b"key", b"value").unwrap();
    assert_eq!(db.count_all().unwrap(), 1);
    db.put(b"key", vec![7u8; 1000]).unwrap(); // longer: goes out of line
    assert_eq!(db.get(b"key").unwrap(), Some(vec![7u8; 1000]));
    db.put(b"key", b"v").unwrap(); // shorter: back inline, the buffer is freed
    assert_eq!(db.get(b"key").unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.count_all().unwrap(), 1);
    assert_eq!(all(&db).len(), 1);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn counts_match_pmemkv() {
    let d = dir();
    let db = db(&d, 16 << 20);
    for k in ["A", "AB", "AC", "B", "BB", "BC", "BD"] {
        db.put(k, "x").unwrap();
    }
    assert_eq!(db.count_all().unwrap(), 7);
    assert_eq!(db.count_above("A").unwrap(), 6);
    assert_eq!(db.count_equal_above("B").unwrap(), 4);
    assert_eq!(db.count_below("BC").unwrap(), 5);
    assert_eq!(db.count_equal_below("BA").unwrap(), 4);
    assert_eq!(db.count_between("A", "BD").unwrap(), 5);
    assert_eq!(db.count_between("BD", "A").unwrap(), 0);
    assert_eq!(db.count_between("B", "B").unwrap(), 0);
    let mut got = Vec::new();
    db.get_between("A", "BD", |k, _| {
        got.push(k.to_vec());
        true
    })
    .unwrap();
    assert_eq!(
        got,
        ["AB", "AC", "B", "BB", "BC"].map(|s| s.as_bytes().to_vec())
    );
    let mut first_two = Vec::new();
    db.get_all(|k, _| {
        first_two.push(k.to_vec());
        first_two.len() < 2
    })
    .unwrap();
    assert_eq!(first_two.len(), 2, "the callback stops the scan");
    let r: Vec<_> = db.range("AC".."BC").map(|e| e.unwrap().0).collect();
    assert_eq!(r, ["AC", "B", "BB"].map(|s| s.as_bytes().to_vec()));
    let r: Vec<_> = db.range("B"..="BC").map(|e| e.unwrap().0).collect();
    assert_eq!(r, ["B", "BB", "BC"].map(|s| s.as_bytes().to_vec()));
}

fn key(i: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&i.to_be_bytes());
    k[4..8].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_le_bytes());
    k
}

#[test]
fn four_hundred_thousand_keys_ascending_then_descending() {
    const N: u32 = 400_000;
    let d = dir();
    let db = db(&d, 512 << 20);
    for i in 0..N {
        db.put(key(i), i.to_le_bytes()).unwrap();
    }
    assert_eq!(db.count_all().unwrap(), u64::from(N));
    for i in (0..N).rev() {
        db.put(key(i), (i + 1).to_le_bytes()).unwrap();
    }
    assert_eq!(db.count_all().unwrap(), u64::from(N));
    for i in (0..N).step_by(997) {
        assert_eq!(
            db.get(key(i)).unwrap(),
            Some((i + 1).to_le_bytes().to_vec())
        );
    }
    let mut prev: Option<Vec<u8>> = None;
    let mut n = 0;
    for e in db.iter() {
        let (k, _) = e.unwrap();
        if let Some(p) = &prev {
            assert!(*p < k);
        }
        prev = Some(k);
        n += 1;
    }
    assert_eq!(n, N);
    // Descending removal empties leaves, which are unlinked.
    for i in (0..N).rev() {
        assert!(db.remove(key(i)).unwrap());
    }
    assert_eq!(db.count_all().unwrap(), 0);
    assert_eq!(db.stats().leaves, 1);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn reopen_fifty_times() {
    let d = dir();
    let path = d.path().join("kv.pool");
    Db::create(&path, 16 << 20).unwrap();
    for round in 0..50u32 {
        let db = Db::open(&path).unwrap();
        assert_eq!(db.count_all().unwrap(), u64::from(round) * 10);
        for k in 0..10 {
            db.put(format!("{round:03}-{k}"), format!("{round}"))
                .unwrap();
        }
        assert_eq!(
            db.get(format!("{round:03}-5")).unwrap(),
            Some(format!("{round}").into_bytes())
        );
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.count_all().unwrap(), 500);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn child_process_writes_parent_reads() {
    if let Ok(path) = std::env::var("PKV_TEST_CHILD") {
        let db = Db::open(&path).unwrap();
        for i in 0..1000 {
            db.put(format!("child-{i}"), format!("{i}")).unwrap();
        }
        return;
    }
    let d = dir();
    let path = d.path().join("kv.pool");
    Db::create(&path, 16 << 20).unwrap();
    let st = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_writes_parent_reads",
            "--test-threads=1",
        ])
        .env("PKV_TEST_CHILD", &path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let db = Db::open(&path).unwrap();
    assert_eq!(db.count_all().unwrap(), 1000);
    assert_eq!(db.get("child-999").unwrap(), Some(b"999".to_vec()));
}

#[test]
fn largest_keys_and_values() {
    let d = dir();
    let db = db(&d, 128 << 20);
    let big_key = vec![0xAB; pobj_kv::MAX_KEY_LEN];
    let big_val: Vec<u8> = (0..pobj_kv::MAX_VALUE_LEN)
        .map(|i| (i % 251) as u8)
        .collect();
    db.put(&big_key, b"v").unwrap();
    db.put(b"k", &big_val).unwrap();
    db.put(&big_key[..100], &big_val[..70_000]).unwrap();
    assert_eq!(db.get(&big_key).unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&big_val[..]));
    assert!(matches!(
        db.put(vec![0; pobj_kv::MAX_KEY_LEN + 1], b""),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(
        db.put(b"x", vec![0; pobj_kv::MAX_VALUE_LEN + 1]),
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(matches!(
        db.get(vec![0; pobj_kv::MAX_KEY_LEN + 1]),
        Err(Error::KeyTooLarge { .. })
    ));
    let n = db.get_with(b"k", <[u8]>::len).unwrap();
    assert_eq!(n, Some(pobj_kv::MAX_VALUE_LEN));
    assert!(db.remove(&big_key).unwrap());
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn fill_until_out_of_space_then_recover() {
    let d = dir();
    let db = db(&d, 8 << 20);
    let mut n = 0u32;
    loop {
        match db.put(key(n), vec![n as u8; 100]) {
            Ok(()) => n += 1,
            Err(Error::OutOfSpace { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(n > 1000, "only {n} keys fit");
    // A large value does not fit either, and changes nothing.
    assert!(matches!(
        db.put(b"big", vec![1u8; 1 << 20]),
        Err(Error::OutOfSpace { .. })
    ));
    assert_eq!(db.count_all().unwrap(), u64::from(n));
    for i in 0..n {
        assert_eq!(
            db.get(key(i)).unwrap(),
            Some(vec![i as u8; 100]),
            "key {i} after OutOfSpace"
        );
    }
    assert!(db.check().is_ok(), "{:?}", db.check());
    for i in 0..n {
        assert!(db.remove(key(i)).unwrap());
    }
    assert_eq!(db.count_all().unwrap(), 0);
    for i in 0..n {
        db.put(key(i), vec![i as u8; 100]).unwrap();
    }
    assert_eq!(db.count_all().unwrap(), u64::from(n));
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn batches_are_atomic() {
    let d = dir();
    let db = db(&d, 32 << 20);
    db.put(b"keep", b"1").unwrap();
    let mut b = WriteBatch::new();
    for i in 0..200u32 {
        b.put(key(i), vec![1u8; 50]);
    }
    b.remove(b"keep");
    db.write(&b).unwrap();
    assert_eq!(db.count_all().unwrap(), 200);
    assert!(!db.exists(b"keep").unwrap());
    // A batch that cannot fit fails whole.
    let mut big = WriteBatch::new();
    big.put(b"first", b"x");
    for i in 0..100u32 {
        big.put(format!("huge-{i}"), vec![0u8; 1 << 20]);
    }
    assert!(matches!(db.write(&big), Err(Error::OutOfSpace { .. })));
    assert!(!db.exists(b"first").unwrap());
    assert_eq!(db.count_all().unwrap(), 200);
    assert!(db.check().is_ok(), "{:?}", db.check());
}

#[test]
fn put_without_split_issues_few_fences_and_bytes() {
    let d = dir();
    let db = db(&d, 64 << 20);
    db.put(key(1), [0u8; 100]).unwrap();
    let s = db.pool_info().persist_stats();
    db.put(key(2), [1u8; 100]).unwrap();
    let p = db.pool_info().persist_stats().since(&s);
    assert!(p.fences <= 3, "{p:?}");
    assert_eq!(p.fences, 2, "{p:?}");
    // Slot (2 lines) + bitmap line.
    assert_eq!(p.bytes_flushed, 192, "{p:?}");
    eprintln!(
        "put 16+100 bytes: {} fences, {} bytes flushed, write amplification {:.2}",
        p.fences,
        p.bytes_flushed,
        p.bytes_flushed as f64 / 116.0
    );
    let s = db.pool_info().persist_stats();
    assert!(db.remove(key(2)).unwrap());
    let p = db.pool_info().persist_stats().since(&s);
    assert_eq!(p.fences, 1, "{p:?}");
}
