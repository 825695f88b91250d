#![allow(dead_code)]
//! Helpers shared by the pobj integration tests.

use std::path::PathBuf;

/// A temporary directory on tmpfs (cache-line flush mode) where it exists.
pub(crate) fn shm_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("pobj-test")
            .tempdir_in(shm)
            .expect("tempdir in /dev/shm")
    } else {
        tempfile::tempdir().expect("tempdir")
    }
}

/// A temporary directory on an ordinary file system (msync mode).
pub(crate) fn disk_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pobj-test")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir")
}

pub(crate) fn pool_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Serialises tests that spawn processes against tests that open pools in the same binary: a
/// child inherits every open file (and its `flock`) between `fork` and `exec`, so a pool file
/// closed by one test can still look locked to the next for that moment.
static SPAWNING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a test that opens pools (many at once).
pub(crate) fn no_spawn() -> std::sync::RwLockReadGuard<'static, ()> {
    SPAWNING
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by a test that spawns processes (alone).
pub(crate) fn spawning() -> std::sync::RwLockWriteGuard<'static, ()> {
    SPAWNING
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The little-endian `u64` at `off` of a pool image.
pub(crate) fn u64_at(img: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(img[o..o + 8].try_into().expect("8 bytes"))
}

/// Stores a little-endian `u64` at `off` of a pool image.
pub(crate) fn put_u64(img: &mut [u8], off: u64, v: u64) {
    let o = off as usize;
    img[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Header fields (docs/format.md §2) of a pool image.
pub(crate) struct ImageGeometry {
    pub root_offset: u64,
    pub lane_offset: u64,
    pub lane_count: u64,
    pub lane_size: u64,
    pub chunk_table: u64,
    pub chunk_count: u64,
    pub chunk_base: u64,
    pub chunk_size: u64,
}

pub(crate) fn geometry(img: &[u8]) -> ImageGeometry {
    let u32_at = |o: usize| u64::from(u32::from_le_bytes(img[o..o + 4].try_into().expect("4")));
    ImageGeometry {
        root_offset: u64_at(img, 104),
        lane_offset: u64_at(img, 128),
        lane_count: u32_at(136),
        lane_size: u32_at(140),
        chunk_table: u64_at(img, 144),
        chunk_count: u64_at(img, 152),
        chunk_base: u64_at(img, 160),
        chunk_size: u64_at(img, 168),
    }
}

/// Runs `f` on a thread and panics with `what` if it has not finished within a minute (it hung,
/// or it panicked: a panic drops the sender without sending).
pub(crate) fn within_a_minute(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_secs(60)).is_ok(),
        "{what} hung (or panicked)"
    );
}

/// A value whose drop panics (unless the thread is already unwinding): a panic payload or a
/// capture that tests the library's drops of foreign values.
pub(crate) struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "a Bomb was dropped");
    }
}
