//! pobj-kv: a persistent key-value store in the design of pmemkv's tree engine — a B+ tree whose
//! leaves live in a pobj pool and whose inner nodes live in DRAM, rebuilt at open.
//!
//! Every operation is atomic and durable when it returns. Keys and values are arbitrary bytes
//! (empty ones and zero bytes included), ordered bytewise; keys up to [`MAX_KEY_LEN`] bytes and
//! values up to [`MAX_VALUE_LEN`].
//!
//! ```
//! # fn main() -> Result<(), pobj_kv::Error> {
//! # let dir = std::env::temp_dir().join(format!("pkv-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("db.pool");
//! let db = pobj_kv::Db::open_or_create(&path, 64 << 20)?;
//! db.put(b"apple", b"red")?;
//! db.put(b"banana", b"yellow")?;
//! assert_eq!(db.get(b"apple")?, Some(b"red".to_vec()));
//! assert_eq!(db.count_above(b"apple")?, 1);
//! let keys: Vec<Vec<u8>> = db.range(b"a".as_slice()..).map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, vec![b"apple".to_vec(), b"banana".to_vec()]);
//! # drop(db); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![deny(clippy::unwrap_used)]
#![warn(clippy::too_many_lines)]

mod chain;
mod db;
mod error;
mod find;
mod inner;
mod iter;
mod leaf;
#[cfg(all(test, loom))]
mod loom_models;
mod map;
mod optimistic;
mod order;
mod rebuild;
mod reentry;
mod slot;
mod sync;
mod version;

pub use db::{Db, Options, DEFAULT_SIZE, LAYOUT};
pub use error::{Error, Result};
pub use iter::Iter;
pub use leaf::KvRoot;
pub use map::{CheckProblem, CheckReport, Cursor, Map, MapHandle, MapTx, Stats, WriteBatch};
pub use order::{Bytewise, Comparator, BINARY_COMPARATOR, MAX_COMPARATOR_NAME};

/// Longest key, in bytes (64 KiB).
pub const MAX_KEY_LEN: usize = 64 << 10;
/// Longest value, in bytes (16 MiB).
pub const MAX_VALUE_LEN: usize = 16 << 20;
