//! Pools that grow: growth on demand keeps every object and pointer, survives reopening, stops
//! with a typed `OutOfSpace` at the maximum size or on a full medium (leaving the pool usable),
//! works in msync mode on an ordinary file system and under concurrent use; version 1 pools
//! still open; a damaged extent word is refused.

mod common;

use std::os::unix::fs::FileExt;

use pobj::{Error, PBytes, PPtr, PersistMode, Persistent, Pool, PoolOptions, CHUNK_SIZE};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    seq: u64,
    data: PBytes,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    head: PPtr<Node>,
    count: u64,
}

fn small_growing(max: u64) -> PoolOptions {
    PoolOptions::default()
        .initial_size(pobj::MIN_POOL_SIZE)
        .max_size(max)
        .grow_step(1 << 20)
}

/// Appends a node with a buffer of `len` bytes stamped with its number.
fn push(pool: &Pool<Root>, len: u64) -> Result<(), Error> {
    pool.transaction(|tx| {
        let seq = tx.root().count;
        let data = tx.alloc_bytes_zeroed(len)?;
        tx.write_bytes(data, 0, &seq.to_le_bytes())?;
        let next = tx.root().head;
        let node = tx.alloc(Node { seq, data, next })?;
        let r = tx.root_mut()?;
        r.head = node;
        r.count = seq + 1;
        Ok(())
    })
}

/// Walks the list: every node and buffer readable and stamped; returns the count.
fn verify(pool: &Pool<Root>) -> u64 {
    let root = pool.root().unwrap();
    let mut at = root.head;
    for want in (0..root.count).rev() {
        let n = pool.get(at).unwrap_or_else(|e| panic!("node {want}: {e}"));
        assert_eq!(n.seq, want);
        let stamp = pool
            .read_bytes(n.data, |b| u64::from_le_bytes(b[..8].try_into().unwrap()))
            .unwrap();
        assert_eq!(stamp, want);
        at = n.next;
    }
    assert!(at.is_null());
    root.count
}

/// Removes the newest node and frees it and its buffer.
fn pop(pool: &Pool<Root>) -> Result<(), Error> {
    pool.transaction(|tx| {
        let head = tx.root().head;
        let node = *tx.get(head)?;
        tx.free_bytes(node.data)?;
        tx.free(head)?;
        let r = tx.root_mut()?;
        r.head = node.next;
        r.count -= 1;
        Ok(())
    })
}

/// A closed pool file in `dir` with `nodes` nodes of 100,000-byte buffers (it grew to hold
/// them), opened for patching.
fn grown_file(
    dir: &tempfile::TempDir,
    name: &str,
    max: u64,
    nodes: u64,
) -> (std::path::PathBuf, std::fs::File) {
    let path = common::pool_path(dir, name);
    let pool = Pool::<Root>::create(&path, name, small_growing(max)).unwrap();
    for _ in 0..nodes {
        push(&pool, 100_000).unwrap();
    }
    drop(pool);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    (path, file)
}

fn fill_until_full(pool: &Pool<Root>, len: u64) -> Error {
    for _ in 0..1_000_000 {
        if let Err(e) = push(pool, len) {
            return e;
        }
    }
    panic!("the pool never filled up");
}

#[test]
fn a_pool_grows_on_demand_and_keeps_everything_across_reopen() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "grow");
    let pool = Pool::<Root>::create(&path, "grow", small_growing(1 << 30)).unwrap();
    let start = pool.size();
    assert!(start < 4 << 20, "starts small: {start}");
    assert_eq!(pool.max_size(), 1 << 30);
    // Many small objects, then objects larger than the growth step.
    for _ in 0..3000 {
        push(&pool, 1000).unwrap();
    }
    for _ in 0..4 {
        push(&pool, 5 << 20).unwrap();
    }
    let grown = pool.size();
    assert!(grown > start + (20 << 20), "{start} -> {grown}");
    assert!(pool.info().growths() >= 3);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), grown);
    assert_eq!(verify(&pool), 3004);
    assert!(pool.check().is_ok(), "{}", pool.check());
    drop(pool);
    let pool = Pool::<Root>::open(&path, "grow").unwrap();
    assert_eq!(pool.size(), grown);
    assert_eq!(pool.info().format_version(), pobj::FORMAT_VERSION);
    assert!(pool.check().is_ok(), "{}", pool.check());
    assert_eq!(verify(&pool), 3004);
    // And it keeps growing after a reopen.
    push(&pool, 8 << 20).unwrap();
    assert!(pool.size() > grown);
    assert_eq!(verify(&pool), 3005);
}

#[test]
fn the_maximum_size_gives_out_of_space_with_the_numbers_and_the_pool_stays_usable() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "max");
    let pool = Pool::<Root>::create(&path, "max", small_growing(16 << 20)).unwrap();
    let e = fill_until_full(&pool, 100_000);
    let Error::OutOfSpace {
        requested,
        size,
        max_size,
        medium_full,
    } = e
    else {
        panic!("{e}");
    };
    assert_eq!((size, max_size, medium_full), (16 << 20, 16 << 20, false));
    assert!(requested > 0);
    let n = verify(&pool);
    assert!(n > 40, "{n}");
    // Space comes back after frees: drop the newest node and its buffer, then push again.
    pop(&pool).unwrap();
    push(&pool, 100_000).unwrap();
    assert_eq!(verify(&pool), n);
    assert!(pool.check().is_ok());
}

#[test]
fn a_fixed_pool_never_grows() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "fixed");
    let pool = Pool::<Root>::create(&path, "fixed", 8u64 << 20).unwrap();
    assert_eq!((pool.size(), pool.max_size()), (8 << 20, 8 << 20));
    assert_eq!(pool.info().grow_step(), 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 8 << 20);
    let e = fill_until_full(&pool, 50_000);
    assert!(
        matches!(e, Error::OutOfSpace { size, max_size, medium_full: false, .. }
            if size == 8 << 20 && max_size == 8 << 20),
        "{e}"
    );
    assert_eq!(pool.info().growths(), 0);
    verify(&pool);
}

#[test]
fn options_are_checked() {
    let bad = [
        PoolOptions::default().max_size(1 << 20),
        PoolOptions::default().max_size(pobj::MAX_POOL_SIZE + 1),
        PoolOptions::default()
            .initial_size(1 << 30)
            .max_size(64 << 20),
        PoolOptions::default().grow_step(0),
    ];
    let dir = common::shm_dir();
    for (i, o) in bad.into_iter().enumerate() {
        let path = common::pool_path(&dir, &format!("bad{i}"));
        let r = Pool::<Root>::create(&path, "x", o);
        assert!(
            matches!(r, Err(Error::SizeOutOfRange { .. })),
            "{o:?}: {r:?}"
        );
        assert!(!path.exists(), "{o:?} left a file");
    }
    // The defaults: 8 MiB growing to 64 GiB; the table's pages are holes until needed.
    let path = common::pool_path(&dir, "default");
    let pool = Pool::<Root>::create(&path, "x", PoolOptions::default()).unwrap();
    assert_eq!(pool.max_size(), pobj::DEFAULT_MAX_SIZE);
    assert!(pool.size() >= pobj::DEFAULT_INITIAL_SIZE - CHUNK_SIZE);
    assert!(pool.size() <= pobj::DEFAULT_INITIAL_SIZE + (3 << 20));
    assert_eq!(pool.info().grow_step(), pobj::DEFAULT_GROW_STEP);
    drop(pool);
    // A maximum below the default initial size starts at the maximum (the default initial
    // size is only a default), and a step just over an unaligned maximum is clamped to it.
    let path = common::pool_path(&dir, "small-max");
    let pool = Pool::<Root>::create(&path, "x", PoolOptions::default().max_size(4 << 20)).unwrap();
    assert_eq!(pool.max_size(), 4 << 20);
    drop(pool);
    // A maximum below the default step: the default step is at most the maximum.
    let path = common::pool_path(&dir, "below-step");
    let pool = Pool::<Root>::create(&path, "x", PoolOptions::default().max_size(32 << 20)).unwrap();
    assert_eq!(pool.info().grow_step(), 32 << 20);
    push(&pool, 12 << 20).unwrap();
    assert_eq!(pool.size(), 32 << 20);
    drop(pool);
    let path = common::pool_path(&dir, "odd-step");
    let odd = (64 << 20) + 1;
    let pool = Pool::<Root>::create(&path, "x", small_growing(odd).grow_step(odd)).unwrap();
    push(&pool, 10 << 20).unwrap();
    drop(pool);
    let pool = Pool::<Root>::open(&path, "x").unwrap();
    assert_eq!(verify(&pool), 1);
}

/// A request that even the largest pool could not serve fails at once, without growing the
/// pool (growth is permanent: it must not fill the medium for nothing).
#[test]
fn a_request_larger_than_the_maximum_does_not_grow_the_pool() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "huge");
    let pool = Pool::<Root>::create(&path, "huge", small_growing(64 << 20)).unwrap();
    let size = pool.size();
    let e = push(&pool, 100 << 20).unwrap_err();
    assert!(
        matches!(e, Error::OutOfSpace { medium_full: false, max_size, .. } if max_size == 64 << 20),
        "{e}"
    );
    assert_eq!(
        pool.size(),
        size,
        "the pool grew for a request it could not serve"
    );
    assert_eq!(pool.info().growths(), 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    // A request that fits still grows it.
    push(&pool, 40 << 20).unwrap();
    assert!(pool.size() > 40 << 20);
}

#[test]
fn an_injected_full_medium_is_out_of_space_and_nothing_is_lost() {
    let (pool, sim) = Pool::<Root>::create_simulated("enospc", small_growing(64 << 20)).unwrap();
    for _ in 0..10 {
        push(&pool, 100_000).unwrap();
    }
    sim.fail_extensions(true);
    let e = fill_until_full(&pool, 100_000);
    assert!(
        matches!(e, Error::OutOfSpace { medium_full: true, size, max_size, .. }
            if size < max_size),
        "{e}"
    );
    let n = verify(&pool);
    assert!(pool.check().is_ok());
    assert!(!pool.is_poisoned());
    // The medium has room again: growth resumes.
    sim.fail_extensions(false);
    let before = pool.size();
    for _ in 0..20 {
        push(&pool, 100_000).unwrap();
    }
    assert!(pool.size() > before);
    assert_eq!(verify(&pool), n + 20);
    // The same through the pool's own switch, on a file.
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "enospc-file");
    let pool = Pool::<Root>::create(&path, "enospc", small_growing(64 << 20)).unwrap();
    pool.fail_growth(true);
    let e = fill_until_full(&pool, 100_000);
    assert!(
        matches!(
            e,
            Error::OutOfSpace {
                medium_full: true,
                ..
            }
        ),
        "{e}"
    );
    pool.fail_growth(false);
    push(&pool, 100_000).unwrap();
    verify(&pool);
}

/// Unmounts a test's file system when dropped.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A failing `fdatasync` of the grown length may be the report of an earlier write-back
/// failure of committed pages (Linux reports it once): it must poison the pool as a failed
/// msync does, not pass as a growth that merely did not happen.
#[test]
fn a_failed_sync_of_the_grown_length_poisons_the_pool() {
    let (pool, sim) = Pool::<Root>::create_simulated("sync", small_growing(64 << 20)).unwrap();
    push(&pool, 100_000).unwrap();
    sim.fail_syncs(true);
    let e = fill_until_full(&pool, 100_000);
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(pool.is_poisoned());
    sim.fail_syncs(false);
    assert!(push(&pool, 100).is_err(), "a poisoned pool refuses writes");
    // Reopened, everything committed is there.
    drop(pool);
    let image = sim.persisted_image();
    let (pool, _sim) = Pool::<Root>::open_image(&image, "sync").unwrap();
    assert!(verify(&pool) >= 1);
    assert!(pool.check().is_ok());
}

/// A real full medium: a tmpfs of 24 MiB (mounted here if the test may mount; skipped with a
/// message otherwise).
#[test]
fn a_full_tmpfs_is_out_of_space_and_nothing_is_lost() {
    let _g = common::no_spawn();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=24m",
            "pobj-test",
            mnt.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a size-limited tmpfs here (needs root and mount rights)");
        return;
    }
    let _u = Unmount(mnt.clone());
    let path = mnt.join("pool");
    // A step larger than what is left: the growth that does not fit is retried with what the
    // allocation needs, so the pool fills the medium rather than stopping a step short.
    let pool =
        Pool::<Root>::create(&path, "full", small_growing(1 << 30).grow_step(16 << 20)).unwrap();
    let e = fill_until_full(&pool, 200_000);
    let Error::OutOfSpace {
        size, medium_full, ..
    } = e
    else {
        panic!("{e}");
    };
    assert!(medium_full, "{e}");
    assert!(size > 20 << 20 && size <= 24 << 20, "{size}");
    let n = verify(&pool);
    assert!(pool.check().is_ok());
    drop(pool);
    // Reopen on the full medium: everything is there; a free makes room for a new object.
    let pool = Pool::<Root>::open(&path, "full").unwrap();
    assert_eq!(verify(&pool), n);
    pop(&pool).unwrap();
    push(&pool, 200_000).unwrap();
    assert_eq!(verify(&pool), n);
}

/// On an ordinary file system the pool is made durable with msync, and the grown length with
/// fdatasync before anything points into it.
#[test]
fn growth_in_msync_mode_on_an_ordinary_file() {
    let _g = common::no_spawn();
    let dir = common::disk_dir();
    let path = common::pool_path(&dir, "msync");
    let pool = Pool::<Root>::create(&path, "msync", small_growing(256 << 20)).unwrap();
    if pool.persist_mode() != PersistMode::Msync {
        eprintln!(
            "note: {} is not an ordinary file system here ({}); growth still tested",
            dir.path().display(),
            pool.persist_mode()
        );
    }
    for _ in 0..40 {
        push(&pool, 300_000).unwrap();
    }
    let size = pool.size();
    assert!(pool.info().growths() >= 5);
    drop(pool);
    let pool = Pool::<Root>::open(&path, "msync").unwrap();
    assert_eq!(pool.size(), size);
    assert_eq!(verify(&pool), 40);
    assert!(pool.check().is_ok());
}

/// Readers hold references into the old part of the mapping while other threads' shared
/// transactions make the pool grow: the references stay valid (nothing moves).
#[test]
fn growth_while_other_threads_read_and_allocate() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "conc");
    let pool =
        std::sync::Arc::new(Pool::<Root>::create(&path, "conc", small_growing(512 << 20)).unwrap());
    for _ in 0..50 {
        push(&pool, 10_000).unwrap();
    }
    let start = pool.size();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, stop) = (pool.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // A reference into the pool held across other threads' growth.
                    let root = pool.root().unwrap();
                    let mut at = root.head;
                    let mut k = 0;
                    while !at.is_null() && k < 50 {
                        let n = pool.get(at).unwrap();
                        at = n.next;
                        k += 1;
                    }
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..150u64 {
                    // SAFETY: each writer touches only objects it allocated itself and reads
                    // nothing else; no other transaction or reference reaches them.
                    let b = unsafe {
                        pool.transaction_shared(|tx| {
                            let b = tx.alloc_bytes_zeroed(200_000)?;
                            tx.write_bytes(b, 0, &(w * 1000 + i).to_le_bytes())?;
                            Ok::<_, Error>(b)
                        })
                    }
                    .unwrap();
                    kept.push((b, w * 1000 + i));
                }
                kept
            })
        })
        .collect();
    let kept: Vec<_> = writers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(
        pool.size() > start + (50 << 20),
        "{start} -> {}",
        pool.size()
    );
    for (b, stamp) in kept {
        let got = pool
            .read_bytes(b, |d| u64::from_le_bytes(d[..8].try_into().unwrap()))
            .unwrap();
        assert_eq!(got, stamp);
    }
    assert_eq!(verify(&pool), 50);
    assert!(pool.check().is_ok(), "{}", pool.check());
}

/// Header and extent word of a pool file, patched in place (with the header's checksum
/// recomputed).
fn patch(path: &std::path::Path, f: impl FnOnce(&mut [u8])) {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut front = vec![0u8; 264];
    file.read_exact_at(&mut front, 0).unwrap();
    f(&mut front);
    let crc = crc32c::crc32c(&front[..252]);
    front[252..256].copy_from_slice(&crc.to_le_bytes());
    file.write_all_at(&front, 0).unwrap();
}

#[test]
fn a_version_1_pool_opens_at_its_fixed_size() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "v1");
    let pool = Pool::<Root>::create(&path, "v1", 6u64 << 20).unwrap();
    push(&pool, 1000).unwrap();
    drop(pool);
    // A version 1 file is a fixed-size pool without the extent word.
    patch(&path, |b| {
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[256..264].fill(0);
    });
    let pool = Pool::<Root>::open(&path, "v1").unwrap();
    assert_eq!(pool.info().format_version(), 1);
    assert_eq!((pool.size(), pool.max_size()), (6 << 20, 6 << 20));
    assert_eq!(verify(&pool), 1);
    assert!(pool.check().is_ok());
    let e = fill_until_full(&pool, 50_000);
    assert!(
        matches!(
            e,
            Error::OutOfSpace {
                medium_full: false,
                ..
            }
        ),
        "{e}"
    );
    verify(&pool);
}

#[test]
fn a_damaged_extent_word_is_refused() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let (path, file) = grown_file(&dir, "ext", 64 << 20, 30);
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, 256).unwrap();
    let good = u64::from_le_bytes(word);
    let count = good & 0xffff_ffff;
    let check = |w: u64| {
        file.write_all_at(&w.to_le_bytes(), 256).unwrap();
        Pool::<Root>::open(&path, "ext")
    };
    // A flipped bit in the count or the check, and a zero word.
    for w in [good ^ 1, good ^ (1 << 40), 0] {
        let r = check(w);
        assert!(
            matches!(r, Err(Error::Corrupted { offset: 256, .. })),
            "{w:#x}: {r:?}"
        );
    }
    // A file shorter than the count says.
    check(good).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    file.set_len(len - CHUNK_SIZE).unwrap();
    let r = Pool::<Root>::open(&path, "ext");
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    file.set_len(len).unwrap();
    assert_eq!(verify(&Pool::<Root>::open(&path, "ext").unwrap()), 30);
    assert!(count > 4);
}

/// Every chunk count an extent word can claim (re-checksummed, so open believes it): fewer
/// chunks than the objects use, exactly as many, more than the file holds, more than the table
/// has. Each open succeeds or fails with a typed error, and a pool that opens answers reads of
/// objects past its count with errors, never a crash.
#[test]
fn every_extent_count_opens_or_fails_with_a_typed_error() {
    let _g = common::no_spawn();
    let dir = common::shm_dir();
    let (path, file) = grown_file(&dir, "counts", 8 << 20, 12);
    let mut front = [0u8; 264];
    file.read_exact_at(&mut front, 0).unwrap();
    let header_crc = u32::from_le_bytes(front[252..256].try_into().unwrap());
    let good = u64::from_le_bytes(front[256..264].try_into().unwrap());
    let slots = u64::from_le_bytes(front[152..160].try_into().unwrap());
    assert!(slots < 64, "{slots} slots");
    let encode = |n: u32| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[4..].copy_from_slice(&header_crc.to_le_bytes());
        u64::from(n) | (u64::from(crc32c::crc32c(&b)) << 32)
    };
    assert_eq!(
        encode((good & 0xffff_ffff) as u32),
        good,
        "the documented encoding"
    );
    let (mut opened, mut refused) = (0, 0);
    for n in (0..=slots + 2).chain([u64::from(u32::MAX)]) {
        file.write_all_at(&encode(n as u32).to_le_bytes(), 256)
            .unwrap();
        match Pool::<Root>::open(&path, "counts") {
            Ok(pool) => {
                opened += 1;
                let _ = pool.check();
                let root = pool.root().unwrap();
                let mut at = root.head;
                for _ in 0..root.count {
                    match pool.get(at) {
                        Ok(node) => {
                            let _ = pool.read_bytes(node.data, <[u8]>::len);
                            at = node.next;
                        }
                        Err(_) => break,
                    }
                }
            }
            Err(
                Error::Corrupted { .. }
                | Error::Truncated { .. }
                | Error::InvalidPointer { .. }
                | Error::TypeMismatch { .. },
            ) => refused += 1,
            Err(e) => panic!("count {n}: untyped failure {e}"),
        }
    }
    eprintln!(
        "extent counts 0..={}: {opened} opened, {refused} refused",
        slots + 2
    );
    assert!(
        opened > 10 && refused > 2,
        "{opened} opened, {refused} refused"
    );
    file.write_all_at(&good.to_le_bytes(), 256).unwrap();
    assert_eq!(verify(&Pool::<Root>::open(&path, "counts").unwrap()), 12);
}
