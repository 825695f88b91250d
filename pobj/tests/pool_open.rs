//! Pool creation, reopening, and every error `open` and `create` can return on real files.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Root {
    a: u64,
    b: [u32; 4],
    next: PPtr<Root>,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct OtherRoot {
    x: u64,
}

const SIZE: u64 = 8 << 20;

fn write_at(path: &std::path::Path, off: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, off).unwrap();
}

/// Flips every bit of the byte at `off`: a change whatever the byte held (a fixed value written
/// over a random UUID byte is no change one time in 256).
fn flip_at(path: &std::path::Path, off: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[!b[0]], off).unwrap();
}

#[test]
fn create_gives_zeroed_root_and_reopen_keeps_it() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "p");
    {
        let pool = Pool::<Root>::create(&path, "layout-a", SIZE).unwrap();
        assert_eq!(pool.root().unwrap(), Root::default());
        assert_eq!(pool.size(), SIZE);
        assert_eq!(pool.layout(), "layout-a");
        pool.transaction(|tx| {
            let r = tx.root_mut()?;
            r.a = 42;
            r.b = [1, 2, 3, 4];
            Ok::<_, Error>(())
        })
        .unwrap();
        assert!(pool.check().is_ok(), "{:?}", pool.check());
    }
    let pool = Pool::<Root>::open(&path, "layout-a").unwrap();
    assert_eq!(pool.root().unwrap().a, 42);
    assert_eq!(pool.root().unwrap().b, [1, 2, 3, 4]);
    let uuid = pool.uuid();
    drop(pool);
    let pool = Pool::<Root>::open_or_create(&path, "layout-a", SIZE).unwrap();
    assert_eq!(
        pool.uuid(),
        uuid,
        "open_or_create must open the existing pool"
    );
    assert_eq!(pool.root().unwrap().a, 42);
}

#[test]
fn create_refuses_existing_file_and_bad_arguments() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "p");
    std::fs::write(&path, b"hello").unwrap();
    assert!(matches!(
        Pool::<Root>::create(&path, "l", SIZE),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"hello",
        "create must not touch an existing file"
    );
    let p2 = common::pool_path(&dir, "q");
    assert!(matches!(
        Pool::<Root>::create(&p2, "l", pobj::MIN_POOL_SIZE - 1),
        Err(Error::SizeOutOfRange { .. })
    ));
    assert!(matches!(
        Pool::<Root>::create(&p2, "l", pobj::MAX_POOL_SIZE + 1),
        Err(Error::SizeOutOfRange { .. })
    ));
    let long = "x".repeat(pobj::MAX_LAYOUT_LEN + 1);
    assert!(matches!(
        Pool::<Root>::create(&p2, &long, SIZE),
        Err(Error::InvalidLayout { .. })
    ));
    assert!(matches!(
        Pool::<Root>::create(&p2, "a\0b", SIZE),
        Err(Error::InvalidLayout { .. })
    ));
    assert!(!p2.exists(), "a refused create leaves no file");
    let ok = "y".repeat(pobj::MAX_LAYOUT_LEN);
    let pool = Pool::<Root>::create(&p2, &ok, pobj::MIN_POOL_SIZE).unwrap();
    assert_eq!(pool.layout(), ok);
}

#[test]
fn open_refuses_non_pools() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let empty = common::pool_path(&dir, "empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Pool::<Root>::open(&empty, "l"),
        Err(Error::NotAPool { .. })
    ));
    let text = common::pool_path(&dir, "text");
    std::fs::write(&text, vec![b'z'; 10000]).unwrap();
    assert!(matches!(
        Pool::<Root>::open(&text, "l"),
        Err(Error::NotAPool { .. })
    ));
    let missing = common::pool_path(&dir, "missing");
    assert!(matches!(
        Pool::<Root>::open(&missing, "l"),
        Err(Error::Io { .. })
    ));
}

fn fresh(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let path = common::pool_path(dir, name);
    Pool::<Root>::create(&path, "layout-a", SIZE).unwrap();
    path
}

#[test]
fn open_detects_each_header_fault() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();

    // Unsupported version (the version is checked before the checksum).
    let p = fresh(&dir, "version");
    write_at(&p, 8, &99u32.to_le_bytes());
    match Pool::<Root>::open(&p, "layout-a") {
        Err(Error::UnsupportedVersion {
            found: 99,
            supported,
            ..
        }) => assert_eq!(supported, pobj::FORMAT_VERSION),
        other => panic!("{other:?}"),
    }

    // Damaged header: one flipped byte in the UUID. (Regression: this wrote 0xAA, which left
    // the header intact whenever the random UUID held 0xAA there, and the test failed.)
    let p = fresh(&dir, "damaged");
    flip_at(&p, 20);
    assert!(matches!(
        Pool::<Root>::open(&p, "layout-a"),
        Err(Error::DamagedHeader { .. })
    ));

    // Truncated: the file is shorter than the pool.
    let p = fresh(&dir, "trunc");
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(SIZE - 4096)
        .unwrap();
    match Pool::<Root>::open(&p, "layout-a") {
        Err(Error::Truncated {
            expected, actual, ..
        }) => {
            assert_eq!(expected, SIZE);
            assert_eq!(actual, SIZE - 4096);
        }
        other => panic!("{other:?}"),
    }
    // Truncated inside the header.
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(100)
        .unwrap();
    assert!(matches!(
        Pool::<Root>::open(&p, "layout-a"),
        Err(Error::Truncated { .. })
    ));

    // Layout mismatch names both layouts.
    let p = fresh(&dir, "layout");
    match Pool::<Root>::open(&p, "layout-b") {
        Err(e @ Error::LayoutMismatch { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("layout-a") && msg.contains("layout-b"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Root type mismatch.
    assert!(matches!(
        Pool::<OtherRoot>::open(&p, "layout-a"),
        Err(Error::RootTypeMismatch { .. })
    ));

    // Size out of range with a valid checksum: rewrite the size and the checksum.
    let p = fresh(&dir, "size");
    let mut hdr = std::fs::read(&p).unwrap()[..256].to_vec();
    hdr[32..40].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let crc = crc32c_of(&hdr[..252]);
    hdr[252..256].copy_from_slice(&crc.to_le_bytes());
    write_at(&p, 0, &hdr);
    assert!(matches!(
        Pool::<Root>::open(&p, "layout-a"),
        Err(Error::SizeOutOfRange { .. })
    ));

    // Still fine after all that: an untouched pool opens.
    let p = fresh(&dir, "good");
    Pool::<Root>::open(&p, "layout-a").unwrap();
}

// CRC-32C (Castagnoli), bitwise: kept independent of the library's own implementation.
fn crc32c_of(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn header_checksum_is_crc32c_of_the_first_252_bytes() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let p = fresh(&dir, "crc");
    let hdr = std::fs::read(&p).unwrap();
    assert_eq!(&hdr[..8], b"POBJPOOL");
    let stored = u32::from_le_bytes(hdr[252..256].try_into().unwrap());
    assert_eq!(stored, crc32c_of(&hdr[..252]));
}

#[test]
fn lock_excludes_a_second_handle_until_drop() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let p = fresh(&dir, "lock");
    let first = Pool::<Root>::open(&p, "layout-a").unwrap();
    assert!(matches!(
        Pool::<Root>::open(&p, "layout-a"),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        Pool::<Root>::open_or_create(&p, "layout-a", SIZE),
        Err(Error::Locked { .. })
    ));
    drop(first);
    let second = Pool::<Root>::open(&p, "layout-a").unwrap();
    drop(second);
}

#[test]
fn lock_excludes_another_process() {
    let _spawn = common::spawning();
    let dir = common::shm_dir();
    let p = fresh(&dir, "lockproc");
    let _held = Pool::<Root>::open(&p, "layout-a").unwrap();
    // flock(1) from util-linux tries a non-blocking exclusive lock, as another process would.
    let out = std::process::Command::new("flock")
        .arg("-n")
        .arg("-x")
        .arg(&p)
        .arg("true")
        .status();
    match out {
        Ok(st) => assert!(
            !st.success(),
            "another process must not get the lock while the pool is open"
        ),
        Err(_) => eprintln!("flock(1) not installed; skipping the cross-process half"),
    }
}

#[test]
fn pointers_are_checked() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let p = fresh(&dir, "ptrs");
    let pool = Pool::<Root>::open(&p, "layout-a").unwrap();
    let a = pool
        .transaction(|tx| {
            let a = tx.alloc(Root {
                a: 7,
                ..Root::default()
            })?;
            tx.root_mut()?.next = a;
            Ok::<_, Error>(a)
        })
        .unwrap();
    assert_eq!(pool.get(a).unwrap().a, 7);
    assert!(matches!(
        pool.get(PPtr::<Root>::null()),
        Err(Error::InvalidPointer { .. })
    ));
    // Into the middle of the object, past the end of the pool, into the header, misaligned.
    for off in [
        a.offset() + 16,
        a.offset() + 8,
        SIZE + 64,
        64,
        4096 + 8,
        a.offset() + 1,
        u64::MAX - 7,
    ] {
        let r = pool.get(PPtr::<Root>::from_offset(off));
        assert!(
            matches!(r, Err(Error::InvalidPointer { .. })),
            "{off:#x}: {r:?}"
        );
    }
    // Wrong type.
    assert!(matches!(
        pool.get(PPtr::<OtherRoot>::from_offset(a.offset())),
        Err(Error::TypeMismatch { .. })
    ));
    // Freed.
    pool.transaction(|tx| {
        tx.free(a)?;
        tx.root_mut()?.next = PPtr::null();
        Ok::<_, Error>(())
    })
    .unwrap();
    match pool.get(a) {
        Err(Error::InvalidPointer { reason, .. }) => assert!(reason.contains("freed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(pool.check().is_ok());
}

#[test]
fn open_any_skips_only_the_layout_and_root_type_checks() {
    let _spawn = common::no_spawn();
    let dir = common::shm_dir();
    let path = fresh(&dir, "any");
    let obj = {
        let pool = Pool::<Root>::open(&path, "layout-a").unwrap();
        pool.transaction(|tx| tx.alloc(OtherRoot { x: 42 }))
            .unwrap()
    };
    let any = Pool::open_any(&path).unwrap();
    assert_eq!(any.layout(), "layout-a");
    assert_eq!(
        any.get(obj).unwrap().x,
        42,
        "objects are reached by offset, type-checked"
    );
    assert!(matches!(
        any.get(PPtr::<Root>::from_offset(obj.offset())),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(any.check().is_ok(), "{}", any.check());
    drop(any);
    // A damaged header is refused all the same.
    flip_at(&path, 20);
    assert!(Pool::open_any(&path).is_err());
}
