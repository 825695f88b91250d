//! The `hostile_pool` fuzz target as library code: structure-aware damage to valid pool images,
//! then an oracle that opens the result and holds the libraries to what `docs/format.md` §12.4
//! and `docs/kv.md` promise about untrusted bytes.
//!
//! Byte-level damage (`fuzzing::open_damaged`) mostly breaks a checksum or a tag, so open
//! refuses it at once. This target instead parses each base image by the documented formats
//! and changes *meaningful* fields to other plausible values — chunk words, run descriptors and
//! bitmaps, object headers, undo-log links and entries (with their checksums recomputed, so
//! that they still validate), leaf links and slots — so that damage reaches recovery, the heap
//! rebuild, pointer resolution, the allocator and the store's rebuild.
//!
//! A case is a base image and 1..=4 mutations ([`Case`]). Every index in a mutation is taken
//! modulo what the parsed image holds, so every input is a valid case. [`check_case`] runs it
//! on a worker thread (a hang is a failure) and returns what happened, or an error naming the
//! case when a library panicked, hung, handed out overlapping blocks, disagreed between
//! `check`/listing/resolution, or changed bytes it did not own.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use pobj::crash::SimMedium;
use pobj::{Error, ObjectInfo, PBytes, PPtr, Persistent, Pool, TypeHasher, CHUNK_SIZE};
use pobj_kv::KvRoot;

mod apply;
mod bases;
mod format;
mod mutation;
mod oracle;
mod store;

pub use apply::*;
pub use bases::*;
pub use format::*;
pub use mutation::*;
pub use oracle::*;
use store::store_oracle;

/// The root of the hostile pobj pool: a list of typed nodes and byte buffers of many sizes.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct HostileRoot {
    /// The node list.
    pub nodes: PPtr<HostileNode>,
    /// Small buffers (16, 100, 1000 and 5000 bytes; some freed, then null).
    pub bufs: [PBytes; 24],
    /// A one-chunk large buffer (70 000 bytes).
    pub big: PBytes,
    /// A three-chunk large buffer (600 000 bytes).
    pub huge: PBytes,
    /// Nodes in the list.
    pub len: u64,
}

/// A typed node of the hostile pool.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct HostileNode {
    /// Payload.
    pub value: u64,
    /// A 16-byte buffer.
    pub data: PBytes,
    /// The next node.
    pub next: PPtr<HostileNode>,
}

/// Layout name of the hostile pobj pool.
pub const LAYOUT: &str = "pobj-hostile";
/// Pool size of every base image: 14 chunks, so a case costs about a millisecond or two.
pub const POOL_SIZE: u64 = 4 << 20;
/// Mutations per case, at most.
pub const MAX_MUTATIONS: usize = 4;
/// How long a case may run before it counts as a hang.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Allocations in the first round of pool operations.
const ALLOC_ROUND: usize = 12;
/// Allocations after the frees.
const SECOND_ROUND: usize = 6;
/// Write transactions into our own objects.
const WRITES: usize = 8;
/// Pool operations per pool oracle run, at most: allocations, frees, writes, one aborted mixed
/// transaction.
pub const MAX_POOL_OPERATIONS: u64 = (ALLOC_ROUND * 2 + SECOND_ROUND + WRITES + 1) as u64;
/// Keys in the key-value base image (before a few removes).
const KV_KEYS: usize = 200;
/// New keys put by the store oracle.
const KV_PUTS: usize = 24;
/// Removes by the store oracle.
const KV_REMOVES: usize = 16;
/// Store operations per case, at most: gets of the base keys, puts, removes, gets of the new
/// keys, one scan, one count.
pub const MAX_STORE_OPERATIONS: u64 = (KV_KEYS + KV_PUTS + KV_REMOVES + KV_PUTS + 2) as u64;
/// Operations of one case, at most (a store case runs the pool oracle and the store oracle).
pub const MAX_OPERATIONS: u64 = MAX_POOL_OPERATIONS + MAX_STORE_OPERATIONS;
