#![allow(dead_code)]
//! Helpers shared by the pobj integration tests.

use std::path::PathBuf;

/// A temporary directory on tmpfs (cache-line flush mode) where it exists.
pub fn shm_dir() -> tempfile::TempDir {
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
pub fn disk_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pobj-test")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir")
}

pub fn pool_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
