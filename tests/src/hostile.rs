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
use pobj_kv::leaf::{KvRoot, Leaf};

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

// ---- the documented format (docs/format.md) --------------------------------------------------

const BYTES_TYPE_ID: u64 = TypeHasher::new().str("pobj::bytes").finish();
const LOG_EXT_TYPE_ID: u64 = TypeHasher::new().str("pobj::log_ext").finish();
const RUN_MAGIC: u64 = u64::from_le_bytes(*b"POBJRUN\0");
const RUN_DATA: u64 = 1136;
const BITMAP_OFFSET: u64 = 64;
const LARGE_PAYLOAD: u64 = 64;
const OBJ_HEADER: u64 = 16;
const LANE_LOG: u64 = 64;
const TAG_USED: u64 = 0x5355;
const WORD_RUN: u64 = 0x1_5552;
const KIND_SNAPSHOT: u32 = 1;
const KIND_FREE_BITS: u32 = 3;
const KIND_NEXT: u32 = 4;
const MAX_PIECE: u64 = 32768;
const EXT_CAPACITY: u64 = CHUNK_SIZE - LARGE_PAYLOAD;
const SLOTS: u64 = pobj_kv::leaf::SLOTS as u64;
const SLOT_BYTES: u64 = 128;
const SLOTS_AT: u64 = 64;
const KV_MAGIC: u64 = u64::from_le_bytes(*b"PKVSTORE");

fn rd(img: &[u8], off: u64) -> Option<u64> {
    let o = usize::try_from(off).ok()?;
    let b = img.get(o..o.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn rd32(img: &[u8], off: u64) -> Option<u32> {
    let o = usize::try_from(off).ok()?;
    let b = img.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn span(img: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let o = usize::try_from(off).ok()?;
    img.get(o..o.checked_add(usize::try_from(len).ok()?)?)
}

fn span_mut(img: &mut [u8], off: u64, len: u64) -> Option<&mut [u8]> {
    let o = usize::try_from(off).ok()?;
    img.get_mut(o..o.checked_add(usize::try_from(len).ok()?)?)
}

/// Writes a word; a write outside the image is dropped (the case stays valid).
fn wr(img: &mut [u8], off: u64, v: u64) {
    if let Some(b) = span_mut(img, off, 8) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

fn wr32(img: &mut [u8], off: u64, v: u32) {
    if let Some(b) = span_mut(img, off, 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// The header fields that locate every area (docs/format.md §2).
#[derive(Clone, Copy, Debug, Default)]
pub struct Geometry {
    /// `pool_size`.
    pub pool_size: u64,
    /// `root_offset`.
    pub root_offset: u64,
    /// `root_type_id`.
    pub root_type_id: u64,
    /// `lane_offset`.
    pub lane_offset: u64,
    /// `lane_count`.
    pub lane_count: u64,
    /// `lane_size`.
    pub lane_size: u64,
    /// `chunk_table`.
    pub chunk_table: u64,
    /// `chunk_count`.
    pub chunk_count: u64,
    /// `chunk_base`.
    pub chunk_base: u64,
}

impl Geometry {
    fn read(img: &[u8]) -> Option<Geometry> {
        Some(Geometry {
            pool_size: rd(img, 32)?,
            root_offset: rd(img, 104)?,
            root_type_id: rd(img, 120)?,
            lane_offset: rd(img, 128)?,
            lane_count: u64::from(rd32(img, 136)?),
            lane_size: u64::from(rd32(img, 140)?),
            chunk_table: rd(img, 144)?,
            chunk_count: rd(img, 152)?,
            chunk_base: rd(img, 160)?,
        })
    }

    fn chunk(&self, i: u64) -> u64 {
        self.chunk_base + i * CHUNK_SIZE
    }

    fn chunk_word(&self, i: u64) -> u64 {
        self.chunk_table + 8 * i
    }

    fn lane(&self, i: u64) -> u64 {
        self.lane_offset + i * self.lane_size
    }
}

/// Block size and count of a valid run descriptor geometry word (docs/format.md §5.1).
fn run_geometry(w: u64) -> Option<(u64, u64)> {
    let bs = w & 0xffff_ffff;
    let n = w >> 32;
    (pobj::limits::CLASSES.contains(&bs) && n == blocks_per_run(bs)).then_some((bs, n))
}

fn blocks_per_run(bs: u64) -> u64 {
    ((CHUNK_SIZE - RUN_DATA) / bs.max(1)).min(8192)
}

fn descriptor(img: &[u8], chunk_off: u64) -> Option<(u64, u64)> {
    if rd(img, chunk_off)? != RUN_MAGIC {
        return None;
    }
    run_geometry(rd(img, chunk_off + 8)?)
}

fn seed(lane: u64, nonce: u64) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&(lane as u32).to_le_bytes());
    b[4..].copy_from_slice(&nonce.to_le_bytes());
    crc32c::crc32c(&b)
}

fn data_len(kind: u32, aux: u64) -> u64 {
    match kind {
        KIND_SNAPSHOT => aux,
        KIND_NEXT => 8,
        _ => 0,
    }
}

/// The seeded checksum of the entry at `at` (docs/format.md §3), if its bytes are in the image.
fn entry_checksum(img: &[u8], at: u64, seed: u32) -> Option<u32> {
    let kind = rd32(img, at + 24)?;
    let d = data_len(kind, rd(img, at + 16)?);
    if d > MAX_PIECE {
        return None;
    }
    let c = crc32c::crc32c_append(seed, span(img, at, 28)?);
    Some(crc32c::crc32c_append(c, span(img, at + 32, d)?))
}

/// Recomputes the checksum of a (mutated) entry so that it still validates under `seed`.
fn reseal(img: &mut [u8], at: u64, seed: u32) {
    if let Some(c) = entry_checksum(img, at, seed) {
        wr32(img, at + 28, c);
    }
}

/// One valid log entry found by the walk.
#[derive(Clone, Copy, Debug)]
pub struct EntryLoc {
    /// Its lane.
    pub lane: u64,
    /// Offset of its 32-byte header.
    pub at: u64,
    /// Its buffer's seed.
    pub seed: u32,
    /// Its kind.
    pub kind: u32,
}

/// The valid log of one lane.
#[derive(Clone, Debug, Default)]
pub struct LaneLog {
    /// The lane's generation.
    pub generation: u64,
    /// Buffers walked: (start, capacity, nonce), the lane's own first.
    pub buffers: Vec<(u64, u64, u64)>,
    /// Where the next entry would go, and that buffer's seed.
    pub end: (u64, u32),
}

/// Walks a lane's valid log as `lane::scan` does (docs/format.md §3), tolerantly: the walk of
/// a base image only stops, never fails.
fn walk_lane(img: &[u8], g: &Geometry, lane: u64, out: &mut Vec<EntryLoc>) -> LaneLog {
    let l = g.lane(lane);
    let generation = rd(img, l).unwrap_or(0);
    let (mut buf, mut cap, mut pos) = (l + LANE_LOG, g.lane_size.saturating_sub(LANE_LOG), 0);
    let mut sd = seed(lane, 0);
    let mut log = LaneLog {
        generation,
        buffers: vec![(buf, cap, 0)],
        end: (buf, sd),
    };
    for _ in 0..(1 << 16) {
        let at = buf + pos;
        log.end = (at, sd);
        if pos + 32 > cap {
            break;
        }
        let (Some(eg), Some(off), Some(aux), Some(kind), Some(sum)) = (
            rd(img, at),
            rd(img, at + 8),
            rd(img, at + 16),
            rd32(img, at + 24),
            rd32(img, at + 28),
        ) else {
            break;
        };
        let d = data_len(kind, aux);
        if eg != generation || d > MAX_PIECE || pos + 32 + d.div_ceil(8) * 8 > cap {
            break;
        }
        if entry_checksum(img, at, sd) != Some(sum) {
            break;
        }
        out.push(EntryLoc {
            lane,
            at,
            seed: sd,
            kind,
        });
        if kind == KIND_NEXT {
            let nonce = rd(img, at + 32).unwrap_or(0);
            let fits = off >= g.chunk_base
                && off.is_multiple_of(8)
                && off.checked_add(aux).is_some_and(|e| e <= g.pool_size);
            if !fits || log.buffers.iter().any(|b| b.0 == off) || log.buffers.len() > 64 {
                break;
            }
            log.buffers.push((off, aux, nonce));
            (buf, cap, pos) = (off, aux, 0);
            sd = seed(lane, nonce);
            log.end = (buf, sd);
            continue;
        }
        if !(KIND_SNAPSHOT..=KIND_FREE_BITS).contains(&kind) {
            break;
        }
        pos += 32 + d.div_ceil(8) * 8;
    }
    log
}

/// A live object of a base image.
#[derive(Clone, Copy, Debug)]
pub struct ObjLoc {
    /// Payload offset.
    pub offset: u64,
    /// Payload bytes its block holds.
    pub capacity: u64,
    /// Its header's type id.
    pub type_id: u64,
}

/// A run of a base image.
#[derive(Clone, Copy, Debug)]
pub struct RunLoc {
    /// Chunk index.
    pub chunk: u64,
    /// Block size.
    pub bs: u64,
    /// Blocks.
    pub n: u64,
}

/// What a base image holds, parsed by the documented formats; mutations pick their targets
/// from it.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Header fields.
    pub geo: Geometry,
    /// Chunks whose word the table walk reads: free chunks, runs, first chunks of extents.
    pub starts: Vec<u64>,
    /// Chunks inside a large extent (their words must be FREE).
    pub inner: Vec<u64>,
    /// Runs with a valid descriptor.
    pub runs: Vec<RunLoc>,
    /// Allocated objects (extents and set run bits).
    pub objects: Vec<ObjLoc>,
    /// Valid log entries of every lane.
    pub entries: Vec<EntryLoc>,
    /// Every lane's log.
    pub lanes: Vec<LaneLog>,
    /// The store's root, if the image holds a store.
    pub kv_root: Option<u64>,
    /// The store's leaves in list order.
    pub leaves: Vec<u64>,
}

impl Parsed {
    /// Parses an image; `None` if its header cannot locate the areas.
    pub fn parse(img: &[u8]) -> Option<Parsed> {
        let geo = Geometry::read(img)?;
        if geo.chunk_count > 1 << 20 || geo.lane_count > 1024 {
            return None;
        }
        let mut p = Parsed {
            geo,
            ..Parsed::default()
        };
        let mut i = 0;
        while i < geo.chunk_count {
            p.starts.push(i);
            let w = rd(img, geo.chunk_word(i))?;
            let (tag, len, high) = (w & 0xffff, (w >> 16) & 0xffff_ffff, w >> 48);
            if tag == TAG_USED && high == 0 && len > 0 && len <= geo.chunk_count - i {
                p.inner.extend(i + 1..i + len);
                p.objects.push(ObjLoc {
                    offset: geo.chunk(i) + LARGE_PAYLOAD,
                    capacity: len * CHUNK_SIZE - LARGE_PAYLOAD,
                    type_id: rd(img, geo.chunk(i) + LARGE_PAYLOAD - 8)?,
                });
                i += len;
                continue;
            }
            if w == WORD_RUN {
                let c = geo.chunk(i);
                if let Some((bs, n)) = descriptor(img, c) {
                    p.runs.push(RunLoc { chunk: i, bs, n });
                    for k in 0..n {
                        if rd(img, c + BITMAP_OFFSET + 8 * (k / 64))? & (1 << (k % 64)) != 0 {
                            let off = c + RUN_DATA + k * bs + OBJ_HEADER;
                            p.objects.push(ObjLoc {
                                offset: off,
                                capacity: bs - OBJ_HEADER,
                                type_id: rd(img, off - 8)?,
                            });
                        }
                    }
                }
            }
            i += 1;
        }
        for lane in 0..geo.lane_count {
            let log = walk_lane(img, &geo, lane, &mut p.entries);
            p.lanes.push(log);
        }
        if rd(img, geo.root_offset) == Some(KV_MAGIC) {
            p.kv_root = Some(geo.root_offset);
            let mut seen = HashSet::new();
            let mut l = rd(img, geo.root_offset + 16)?;
            while l != 0 && seen.insert(l) && p.leaves.len() < 10_000 {
                p.leaves.push(l);
                l = rd(img, l + 8)?;
            }
        }
        Some(p)
    }

    fn next_entries(&self) -> Vec<EntryLoc> {
        self.entries
            .iter()
            .copied()
            .filter(|e| e.kind == KIND_NEXT)
            .collect()
    }

    fn object(&self, k: u64) -> Option<ObjLoc> {
        pick(&self.objects, k).copied()
    }
}

fn pick<T>(v: &[T], k: u64) -> Option<&T> {
    if v.is_empty() {
        None
    } else {
        v.get((k % v.len() as u64) as usize)
    }
}

// ---- the mutations -----------------------------------------------------------------------------

/// A chunk-table word to write (docs/format.md §4).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkWord {
    /// `FREE`.
    Free,
    /// `USED` with a length of `1 + n % (chunk_count + 1)`: may run past the heap.
    Used(u16),
    /// `RUN`.
    Run,
    /// Any word (mostly undecodable).
    Garbage(u64),
}

impl ChunkWord {
    fn encode(self, chunk_count: u64) -> u64 {
        match self {
            ChunkWord::Free => 0,
            ChunkWord::Used(n) => TAG_USED | ((1 + u64::from(n) % (chunk_count + 1)) << 16),
            ChunkWord::Run => WORD_RUN,
            ChunkWord::Garbage(w) => w,
        }
    }
}

/// A change to a run descriptor.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorField {
    /// Replace the magic.
    Magic(u64),
    /// Another valid class (block size and its exact count): every block moves.
    Class(u8),
    /// The block count off by `delta` (0 means +1).
    Count(i8),
    /// A raw geometry word.
    Geometry(u64),
}

/// A new value for an object header's size.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeChoice {
    /// Zero.
    Zero,
    /// Exactly the block's capacity.
    Capacity,
    /// `capacity + 1 + k`: refused by open.
    OverCapacity(u8),
    /// The size less `1 + k`.
    Shrink(u16),
    /// Any value.
    Raw(u64),
}

/// A new type id for an object header.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeChoice {
    /// Byte buffer.
    Bytes,
    /// `HostileNode`.
    Node,
    /// The pool's root type.
    Root,
    /// A store leaf.
    Leaf,
    /// An undo-log extension (freed at open when large).
    LogExt,
    /// Any id.
    Raw(u64),
}

/// Which header field.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderField {
    /// The size word.
    Size(SizeChoice),
    /// The type id word.
    Type(TypeChoice),
}

/// Where a log `NEXT` link leads.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// The payload of chunk `k % chunk_count` (whatever it holds).
    ChunkPayload(u8),
    /// A buffer this lane's walk already entered, with that buffer's nonce (a loop).
    Walked(u8),
    /// Another lane's log buffer (below the heap).
    Lane(u8),
    /// The current target plus `1 + k % 7` (misaligned).
    Misaligned(u8),
    /// Near or past the end of the pool.
    OutOfBounds(u32),
    /// A live object's payload.
    Object(u16),
    /// Any offset.
    Raw(u64),
}

/// A `NEXT` link's capacity.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// Zero.
    Zero,
    /// A few bytes (`k`).
    Small(u8),
    /// One chunk's payload (what the writer uses).
    Chunk,
    /// `1 + k % 4` whole chunks less the payload offset: spans chunks.
    Chunks(u8),
    /// Just past the end of the pool.
    PastEnd,
    /// Any value.
    Raw(u64),
}

/// Where an entry's `offset` points.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryTarget {
    /// Chunk-table word `k % chunk_count`.
    ChunkWord(u8),
    /// Inside the chunk table, misaligned.
    ChunkTableMisaligned(u8),
    /// An object header.
    ObjectHeader(u16),
    /// A live object's payload.
    Object(u16),
    /// A run bitmap word.
    Bitmap(u8, u8),
    /// A run descriptor.
    Descriptor(u8),
    /// A lane (below the heap).
    Lane(u8),
    /// The pool header.
    PoolHeader,
    /// `k` bytes before the end of the pool.
    NearEnd(u16),
    /// Any offset.
    Raw(u64),
}

/// An entry's `aux`.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxChoice {
    /// A length (0 and above 32768 are invalid for snapshots).
    Len(u16),
    /// One bit `1 << (k % 64)`.
    Bit(u8),
    /// `u64::MAX`.
    Max,
    /// Any value.
    Raw(u64),
}

/// A change to one log entry (its checksum is recomputed afterwards).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryField {
    /// Kind `k % 6` (0 and 5 are invalid).
    Kind(u8),
    /// The target offset.
    Offset(EntryTarget),
    /// The aux word.
    Aux(AuxChoice),
    /// Word `at` of the entry's data (the bytes a snapshot restores).
    Data {
        /// Which data word.
        at: u8,
        /// Its value.
        value: u64,
    },
}

/// Where a leaf's `next` (or the store root's `head`) points.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextTarget {
    /// Leaf `k % leaves`.
    Leaf(u8),
    /// The leaf itself (the root itself, for `head`).
    Itself,
    /// The first leaf (a cycle).
    Head,
    /// An object that is not a leaf.
    NonLeaf(u16),
    /// Null.
    Null,
    /// `1 + k` bytes past the leaf (inside it, or misaligned).
    Inside(u8),
    /// Any value.
    Raw(u64),
}

/// A change to a slot's `meta` word (docs/kv.md, Slot).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaField {
    /// Key length (bits 0..20).
    KeyLen(u32),
    /// Value length (bits 20..45).
    ValueLen(u32),
    /// Flip the out-of-line flag.
    ToggleOutOfLine,
    /// Fingerprint (bits 48..56).
    Fingerprint(u8),
    /// Set a reserved bit.
    Reserved(u8),
    /// Any word.
    Raw(u64),
}

/// One structure-aware mutation. Pool-level kinds (the first nine) apply to every base image;
/// log kinds forge an entry where a lane has none; store kinds only to the store image, whose
/// cases draw from all fifteen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A chunk word the table walk reads (a free chunk, a run, an extent's first chunk).
    ChunkWord {
        /// Which chunk.
        chunk: u8,
        /// Its new word.
        word: ChunkWord,
    },
    /// A word inside a large extent (falls back to a walked word if there is none).
    InnerWord {
        /// Which inner chunk.
        inner: u8,
        /// Its new word.
        word: ChunkWord,
    },
    /// XOR into a run bitmap word (one past the used words included).
    BitmapXor {
        /// Which run.
        run: u8,
        /// Which word.
        word: u8,
        /// The mask (0 means bit 0).
        xor: u64,
    },
    /// A run descriptor field.
    Descriptor {
        /// Which run.
        run: u8,
        /// The change.
        field: DescriptorField,
    },
    /// An object header field.
    ObjectHeader {
        /// Which object.
        object: u16,
        /// The change.
        field: HeaderField,
    },
    /// Where a `NEXT` link leads.
    LogLink {
        /// Which link.
        link: u8,
        /// Forge a new link at the end of a lane's log instead.
        append: bool,
        /// The new target.
        target: LinkTarget,
    },
    /// A `NEXT` link's capacity.
    LogCapacity {
        /// Which link.
        link: u8,
        /// Forge a new link instead.
        append: bool,
        /// The new capacity.
        capacity: Capacity,
    },
    /// A `NEXT` link's nonce (XOR; 0 means 1).
    LogNonce {
        /// Which link.
        link: u8,
        /// The mask.
        xor: u64,
    },
    /// A field of a log entry (a forged snapshot entry in a lane without entries).
    LogEntry {
        /// Which entry.
        entry: u16,
        /// The change.
        field: EntryField,
    },
    /// A leaf's `next` pointer.
    LeafNext {
        /// Which leaf.
        leaf: u8,
        /// The new target.
        target: NextTarget,
    },
    /// The store root's `head` pointer.
    KvHead {
        /// The new target.
        target: NextTarget,
    },
    /// Swap two leaves in the list order.
    LeafSwap {
        /// One leaf.
        a: u8,
        /// The other.
        b: u8,
    },
    /// A slot's `meta` word.
    SlotMeta {
        /// Which leaf.
        leaf: u8,
        /// Which slot (a valid one if the leaf has any).
        slot: u8,
        /// The change.
        field: MetaField,
    },
    /// Copy a valid slot into a slot of another (or the same) leaf: a duplicate key, or a key
    /// outside its leaf's bounds.
    SlotCopy {
        /// Source leaf.
        from_leaf: u8,
        /// Source slot.
        from_slot: u8,
        /// Destination leaf.
        to_leaf: u8,
        /// Destination slot.
        to_slot: u8,
        /// Set the destination's bitmap bit.
        set_bit: bool,
    },
    /// XOR into a leaf's bitmap (bits 39..64 included; 0 means bit 39).
    LeafBitmap {
        /// Which leaf.
        leaf: u8,
        /// The mask.
        xor: u64,
    },
}

impl<'a> Arbitrary<'a> for Mutation {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Mutation::decode(u, true)
    }
}

impl Mutation {
    /// Pool-level kinds: the first ones of [`Mutation::KINDS`].
    pub const POOL_KINDS: usize = 9;

    /// How often each kind is drawn, relative to the others. The link kinds are drawn less:
    /// open refuses most links at once (a link must lead to a whole chunk's payload with the
    /// writer's capacity), which says little more the hundredth time.
    const WEIGHTS: [usize; 15] = [3, 1, 3, 2, 3, 1, 1, 1, 3, 2, 1, 1, 2, 2, 2];

    /// Decodes one mutation, of a pool-level kind unless `store`.
    pub fn decode(u: &mut Unstructured<'_>, store: bool) -> arbitrary::Result<Self> {
        let kinds = if store {
            Mutation::KINDS.len()
        } else {
            Mutation::POOL_KINDS
        };
        let weights = &Mutation::WEIGHTS[..kinds];
        let mut draw = u.choose_index(weights.iter().sum())?;
        let mut kind = 0;
        while kind + 1 < kinds && draw >= weights[kind] {
            draw -= weights[kind];
            kind += 1;
        }
        Ok(match kind {
            0 => Mutation::ChunkWord {
                chunk: u.arbitrary()?,
                word: u.arbitrary()?,
            },
            1 => Mutation::InnerWord {
                inner: u.arbitrary()?,
                word: u.arbitrary()?,
            },
            2 => Mutation::BitmapXor {
                run: u.arbitrary()?,
                word: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
            3 => Mutation::Descriptor {
                run: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            4 => Mutation::ObjectHeader {
                object: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            5 => Mutation::LogLink {
                link: u.arbitrary()?,
                append: u.arbitrary()?,
                target: u.arbitrary()?,
            },
            6 => Mutation::LogCapacity {
                link: u.arbitrary()?,
                append: u.arbitrary()?,
                capacity: u.arbitrary()?,
            },
            7 => Mutation::LogNonce {
                link: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
            8 => Mutation::LogEntry {
                entry: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            9 => Mutation::LeafNext {
                leaf: u.arbitrary()?,
                target: u.arbitrary()?,
            },
            10 => Mutation::KvHead {
                target: u.arbitrary()?,
            },
            11 => Mutation::LeafSwap {
                a: u.arbitrary()?,
                b: u.arbitrary()?,
            },
            12 => Mutation::SlotMeta {
                leaf: u.arbitrary()?,
                slot: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            13 => Mutation::SlotCopy {
                from_leaf: u.arbitrary()?,
                from_slot: u.arbitrary()?,
                to_leaf: u.arbitrary()?,
                to_slot: u.arbitrary()?,
                set_bit: u.arbitrary()?,
            },
            _ => Mutation::LeafBitmap {
                leaf: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
        })
    }

    /// Names of every kind, in declaration order.
    pub const KINDS: [&'static str; 15] = [
        "ChunkWord",
        "InnerWord",
        "BitmapXor",
        "Descriptor",
        "ObjectHeader",
        "LogLink",
        "LogCapacity",
        "LogNonce",
        "LogEntry",
        "LeafNext",
        "KvHead",
        "LeafSwap",
        "SlotMeta",
        "SlotCopy",
        "LeafBitmap",
    ];

    /// This mutation's kind (one of [`Mutation::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Mutation::ChunkWord { .. } => "ChunkWord",
            Mutation::InnerWord { .. } => "InnerWord",
            Mutation::BitmapXor { .. } => "BitmapXor",
            Mutation::Descriptor { .. } => "Descriptor",
            Mutation::ObjectHeader { .. } => "ObjectHeader",
            Mutation::LogLink { .. } => "LogLink",
            Mutation::LogCapacity { .. } => "LogCapacity",
            Mutation::LogNonce { .. } => "LogNonce",
            Mutation::LogEntry { .. } => "LogEntry",
            Mutation::LeafNext { .. } => "LeafNext",
            Mutation::KvHead { .. } => "KvHead",
            Mutation::LeafSwap { .. } => "LeafSwap",
            Mutation::SlotMeta { .. } => "SlotMeta",
            Mutation::SlotCopy { .. } => "SlotCopy",
            Mutation::LeafBitmap { .. } => "LeafBitmap",
        }
    }
}

/// The base images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BaseKind {
    /// (a) a closed pobj pool with objects of many sizes.
    Pool,
    /// (b) that pool in the middle of a transaction whose log continues in an extension.
    MidTx,
    /// (c) a closed key-value store.
    Store,
}

impl BaseKind {
    /// A short name for figures.
    pub fn name(self) -> &'static str {
        match self {
            BaseKind::Pool => "pool",
            BaseKind::MidTx => "mid-tx",
            BaseKind::Store => "store",
        }
    }
}

/// One hostile case: a base image and the mutations applied to it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The base image.
    pub base: BaseKind,
    /// 1..=4 mutations.
    pub mutations: Vec<Mutation>,
    /// Seed of the operations run on the opened pool or store.
    pub ops: u64,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let base = [BaseKind::Pool, BaseKind::MidTx, BaseKind::Store][u.choose_index(3)?];
        // 1..=4 mutations, fewer more often: each one may be refused on its own.
        let n = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4][u.choose_index(10)?].min(MAX_MUTATIONS);
        let mut mutations = Vec::with_capacity(n);
        for _ in 0..n {
            mutations.push(Mutation::decode(u, base == BaseKind::Store)?);
        }
        let ops = u64::arbitrary(u)?;
        Ok(Case {
            base,
            mutations,
            ops,
        })
    }
}

impl Case {
    /// Decodes an input (every input is a case; one that `arbitrary` rejects is the empty
    /// input's case).
    pub fn decode(input: &[u8]) -> Case {
        Case::arbitrary(&mut Unstructured::new(input))
            .or_else(|_| Case::arbitrary(&mut Unstructured::new(&[])))
            .unwrap_or(Case {
                base: BaseKind::Pool,
                mutations: vec![Mutation::ChunkWord {
                    chunk: 0,
                    word: ChunkWord::Free,
                }],
                ops: 0,
            })
    }

    /// The mutated image.
    pub fn image(&self, bases: &Bases) -> Vec<u8> {
        let b = bases.get(self.base);
        let mut img = b.image.clone();
        for m in &self.mutations {
            apply(&mut img, &b.parsed, m);
        }
        img
    }
}

fn chunk_word_target(p: &Parsed, list: &[u64], k: u64) -> Option<u64> {
    pick(list, k)
        .or_else(|| pick(&p.starts, k))
        .map(|&c| p.geo.chunk_word(c))
}

fn type_id(p: &Parsed, t: TypeChoice) -> u64 {
    match t {
        TypeChoice::Bytes => BYTES_TYPE_ID,
        TypeChoice::Node => HostileNode::TYPE_ID,
        TypeChoice::Root => p.geo.root_type_id,
        TypeChoice::Leaf => Leaf::TYPE_ID,
        TypeChoice::LogExt => LOG_EXT_TYPE_ID,
        TypeChoice::Raw(v) => v,
    }
}

fn entry_target(p: &Parsed, img: &[u8], t: EntryTarget) -> u64 {
    let g = &p.geo;
    match t {
        EntryTarget::ChunkWord(k) => g.chunk_word(u64::from(k) % g.chunk_count.max(1)),
        EntryTarget::ChunkTableMisaligned(k) => g.chunk_table + 1 + u64::from(k) % 7,
        EntryTarget::ObjectHeader(k) => p
            .object(u64::from(k))
            .map_or(g.chunk_base, |o| o.offset - OBJ_HEADER),
        EntryTarget::Object(k) => p.object(u64::from(k)).map_or(g.chunk_base, |o| o.offset),
        EntryTarget::Bitmap(r, w) => pick(&p.runs, u64::from(r)).map_or(g.chunk_base, |r| {
            g.chunk(r.chunk) + BITMAP_OFFSET + 8 * (u64::from(w) % r.n.div_ceil(64).max(1))
        }),
        EntryTarget::Descriptor(r) => {
            pick(&p.runs, u64::from(r)).map_or(g.chunk_base, |r| g.chunk(r.chunk))
        }
        EntryTarget::Lane(k) => g.lane(u64::from(k) % g.lane_count.max(1)),
        EntryTarget::PoolHeader => 0,
        EntryTarget::NearEnd(k) => (img.len() as u64).saturating_sub(u64::from(k)),
        EntryTarget::Raw(v) => v,
    }
}

/// The NEXT entry a link mutation changes: an existing one, or one forged at the end of a
/// lane's log (pointing at a chunk payload with a fresh nonce). Returns its offset and seed.
fn link_site(img: &mut [u8], p: &Parsed, link: u8, append: bool) -> Option<(u64, u32)> {
    let nexts = p.next_entries();
    if !append {
        if let Some(e) = pick(&nexts, u64::from(link)) {
            return Some((e.at, e.seed));
        }
    }
    let lane_no = u64::from(link) % p.geo.lane_count.max(1);
    let lane = p.lanes.get(lane_no as usize)?;
    let (at, sd) = lane.end;
    let chunk = u64::from(link) % p.geo.chunk_count.max(1);
    wr(img, at, lane.generation);
    wr(img, at + 8, p.geo.chunk(chunk) + LARGE_PAYLOAD);
    wr(img, at + 16, EXT_CAPACITY);
    wr32(img, at + 24, KIND_NEXT);
    wr(img, at + 32, 0x9E37_79B9_7F4A_7C15 ^ u64::from(link));
    Some((at, sd))
}

/// The entry a `LogEntry` mutation changes: an existing one, or a snapshot of an object
/// header forged at the start of an idle lane (it restores the header's own bytes).
fn entry_site(img: &mut [u8], p: &Parsed, k: u16) -> Option<(u64, u32)> {
    if let Some(e) = pick(&p.entries, u64::from(k)) {
        return Some((e.at, e.seed));
    }
    let lane = pick(&p.lanes, u64::from(k))?;
    let (at, sd) = lane.end;
    let target = p.object(u64::from(k))?.offset - OBJ_HEADER;
    let old = span(img, target, OBJ_HEADER)?.to_vec();
    wr(img, at, lane.generation);
    wr(img, at + 8, target);
    wr(img, at + 16, OBJ_HEADER);
    wr32(img, at + 24, KIND_SNAPSHOT);
    span_mut(img, at + 32, OBJ_HEADER)?.copy_from_slice(&old);
    Some((at, sd))
}

fn leaf_target(p: &Parsed, this: u64, t: NextTarget) -> u64 {
    match t {
        NextTarget::Leaf(k) => pick(&p.leaves, u64::from(k)).copied().unwrap_or(0),
        NextTarget::Itself => this,
        NextTarget::Head => p.leaves.first().copied().unwrap_or(0),
        NextTarget::NonLeaf(k) => {
            let others: Vec<u64> = p
                .objects
                .iter()
                .filter(|o| o.type_id != Leaf::TYPE_ID)
                .map(|o| o.offset)
                .collect();
            pick(&others, u64::from(k)).copied().unwrap_or(0)
        }
        NextTarget::Null => 0,
        NextTarget::Inside(k) => this + 1 + u64::from(k),
        NextTarget::Raw(v) => v,
    }
}

fn slot_at(leaf: u64, slot: u64) -> u64 {
    leaf + SLOTS_AT + slot * SLOT_BYTES
}

/// A valid slot of `leaf` (any slot if it has none).
fn pick_slot(img: &[u8], leaf: u64, k: u8) -> u64 {
    let bitmap = rd(img, leaf).unwrap_or(0);
    let valid: Vec<u64> = (0..SLOTS).filter(|i| bitmap & (1 << i) != 0).collect();
    pick(&valid, u64::from(k))
        .copied()
        .unwrap_or(u64::from(k) % SLOTS)
}

/// Applies one mutation to an image of the base that `p` describes.
pub fn apply(img: &mut [u8], p: &Parsed, m: &Mutation) {
    let g = p.geo;
    match *m {
        Mutation::ChunkWord { chunk, word } => {
            if let Some(at) = chunk_word_target(p, &p.starts, u64::from(chunk)) {
                wr(img, at, word.encode(g.chunk_count));
            }
        }
        Mutation::InnerWord { inner, word } => {
            if let Some(at) = chunk_word_target(p, &p.inner, u64::from(inner)) {
                wr(img, at, word.encode(g.chunk_count));
            }
        }
        Mutation::BitmapXor { run, word, xor } => {
            if let Some(r) = pick(&p.runs, u64::from(run)) {
                let w = u64::from(word) % (r.n.div_ceil(64) + 1);
                let at = g.chunk(r.chunk) + BITMAP_OFFSET + 8 * w;
                let x = if xor == 0 { 1 } else { xor };
                if let Some(v) = rd(img, at) {
                    wr(img, at, v ^ x);
                }
            }
        }
        Mutation::Descriptor { run, field } => {
            if let Some(r) = pick(&p.runs, u64::from(run)) {
                let c = g.chunk(r.chunk);
                match field {
                    DescriptorField::Magic(v) => wr(img, c, v),
                    DescriptorField::Class(k) => {
                        let classes = &pobj::limits::CLASSES;
                        let bs = classes[usize::from(k) % classes.len()];
                        wr(img, c + 8, bs | (blocks_per_run(bs) << 32));
                    }
                    DescriptorField::Count(d) => {
                        let d = if d == 0 { 1 } else { i64::from(d) };
                        let n = r.n.saturating_add_signed(d);
                        wr(img, c + 8, r.bs | (n << 32));
                    }
                    DescriptorField::Geometry(v) => wr(img, c + 8, v),
                }
            }
        }
        Mutation::ObjectHeader { object, field } => {
            if let Some(o) = p.object(u64::from(object)) {
                let h = o.offset - OBJ_HEADER;
                match field {
                    HeaderField::Size(s) => {
                        let cur = rd(img, h).unwrap_or(0);
                        let v = match s {
                            SizeChoice::Zero => 0,
                            SizeChoice::Capacity => o.capacity,
                            SizeChoice::OverCapacity(k) => o.capacity + 1 + u64::from(k),
                            SizeChoice::Shrink(k) => cur.saturating_sub(1 + u64::from(k)),
                            SizeChoice::Raw(v) => v,
                        };
                        wr(img, h, v);
                    }
                    HeaderField::Type(t) => wr(img, h + 8, type_id(p, t)),
                }
            }
        }
        Mutation::LogLink {
            link,
            append,
            target,
        } => {
            if let Some((at, sd)) = link_site(img, p, link, append) {
                let cur = rd(img, at + 8).unwrap_or(0);
                let lane = p
                    .entries
                    .iter()
                    .find(|e| e.at == at)
                    .map_or(u64::from(link) % g.lane_count.max(1), |e| e.lane);
                let (off, nonce) = match target {
                    LinkTarget::ChunkPayload(k) => (
                        g.chunk(u64::from(k) % g.chunk_count.max(1)) + LARGE_PAYLOAD,
                        None,
                    ),
                    LinkTarget::Walked(k) => match p
                        .lanes
                        .get(lane as usize)
                        .and_then(|l| pick(&l.buffers, u64::from(k)))
                    {
                        Some(&(start, _, nonce)) => (start, Some(nonce)),
                        None => (cur, None),
                    },
                    LinkTarget::Lane(k) => {
                        (g.lane(u64::from(k) % g.lane_count.max(1)) + LANE_LOG, None)
                    }
                    LinkTarget::Misaligned(k) => (cur + 1 + u64::from(k) % 7, None),
                    LinkTarget::OutOfBounds(k) => (
                        if k & 1 == 0 {
                            g.pool_size.saturating_sub(u64::from(k >> 1) % 4096)
                        } else {
                            u64::MAX - u64::from(k >> 1)
                        },
                        None,
                    ),
                    LinkTarget::Object(k) => {
                        (p.object(u64::from(k)).map_or(cur, |o| o.offset), None)
                    }
                    LinkTarget::Raw(v) => (v, None),
                };
                wr(img, at + 8, off);
                if let Some(n) = nonce {
                    wr(img, at + 32, n);
                }
                reseal(img, at, sd);
            }
        }
        Mutation::LogCapacity {
            link,
            append,
            capacity,
        } => {
            if let Some((at, sd)) = link_site(img, p, link, append) {
                let off = rd(img, at + 8).unwrap_or(0);
                let cap = match capacity {
                    Capacity::Zero => 0,
                    Capacity::Small(k) => u64::from(k),
                    Capacity::Chunk => EXT_CAPACITY,
                    Capacity::Chunks(k) => (1 + u64::from(k) % 4) * CHUNK_SIZE - LARGE_PAYLOAD,
                    Capacity::PastEnd => g.pool_size.saturating_sub(off) + 8,
                    Capacity::Raw(v) => v,
                };
                wr(img, at + 16, cap);
                reseal(img, at, sd);
            }
        }
        Mutation::LogNonce { link, xor } => {
            if let Some((at, sd)) = link_site(img, p, link, false) {
                let x = if xor == 0 { 1 } else { xor };
                if let Some(v) = rd(img, at + 32) {
                    wr(img, at + 32, v ^ x);
                }
                reseal(img, at, sd);
            }
        }
        Mutation::LogEntry { entry, field } => {
            if let Some((at, sd)) = entry_site(img, p, entry) {
                match field {
                    EntryField::Kind(k) => wr32(img, at + 24, u32::from(k) % 6),
                    EntryField::Offset(t) => {
                        let v = entry_target(p, img, t);
                        wr(img, at + 8, v);
                    }
                    EntryField::Aux(a) => {
                        let v = match a {
                            AuxChoice::Len(n) => u64::from(n),
                            AuxChoice::Bit(k) => 1 << (k % 64),
                            AuxChoice::Max => u64::MAX,
                            AuxChoice::Raw(v) => v,
                        };
                        wr(img, at + 16, v);
                    }
                    EntryField::Data { at: w, value } => {
                        let kind = rd32(img, at + 24).unwrap_or(0);
                        let d = data_len(kind, rd(img, at + 16).unwrap_or(0)).min(MAX_PIECE);
                        let words = d.div_ceil(8).max(1);
                        wr(img, at + 32 + 8 * (u64::from(w) % words), value);
                    }
                }
                reseal(img, at, sd);
            }
        }
        Mutation::LeafNext { leaf, target } => {
            if let Some(&l) = pick(&p.leaves, u64::from(leaf)) {
                let v = leaf_target(p, l, target);
                wr(img, l + 8, v);
            }
        }
        Mutation::KvHead { target } => {
            if let Some(r) = p.kv_root {
                let v = leaf_target(p, r, target);
                wr(img, r + 16, v);
            }
        }
        Mutation::LeafSwap { a, b } => {
            let n = p.leaves.len() as u64;
            if let (Some(r), true) = (p.kv_root, n >= 2) {
                let i = u64::from(a) % n;
                let mut j = u64::from(b) % n;
                if i == j {
                    j = (i + 1) % n;
                }
                let mut order = p.leaves.clone();
                order.swap(i as usize, j as usize);
                wr(img, r + 16, order[0]);
                for w in order.windows(2) {
                    wr(img, w[0] + 8, w[1]);
                }
                if let Some(&last) = order.last() {
                    wr(img, last + 8, 0);
                }
            }
        }
        Mutation::SlotMeta { leaf, slot, field } => {
            if let Some(&l) = pick(&p.leaves, u64::from(leaf)) {
                let at = slot_at(l, pick_slot(img, l, slot));
                let cur = rd(img, at).unwrap_or(0);
                let v = match field {
                    MetaField::KeyLen(k) => (cur & !0xF_FFFF) | (u64::from(k) & 0xF_FFFF),
                    MetaField::ValueLen(k) => {
                        let mask = ((1u64 << 25) - 1) << 20;
                        (cur & !mask) | ((u64::from(k) << 20) & mask)
                    }
                    MetaField::ToggleOutOfLine => cur ^ (1 << 56),
                    MetaField::Fingerprint(f) => (cur & !(0xff << 48)) | (u64::from(f) << 48),
                    MetaField::Reserved(k) => {
                        const BITS: [u64; 10] = [45, 46, 47, 57, 58, 59, 60, 61, 62, 63];
                        cur | (1 << BITS[usize::from(k) % BITS.len()])
                    }
                    MetaField::Raw(v) => v,
                };
                wr(img, at, v);
            }
        }
        Mutation::SlotCopy {
            from_leaf,
            from_slot,
            to_leaf,
            to_slot,
            set_bit,
        } => {
            let (Some(&a), Some(&b)) = (
                pick(&p.leaves, u64::from(from_leaf)),
                pick(&p.leaves, u64::from(to_leaf)),
            ) else {
                return;
            };
            let src = slot_at(a, pick_slot(img, a, from_slot));
            let ds = u64::from(to_slot) % SLOTS;
            let Some(bytes) = span(img, src, SLOT_BYTES).map(<[u8]>::to_vec) else {
                return;
            };
            if let Some(dst) = span_mut(img, slot_at(b, ds), SLOT_BYTES) {
                dst.copy_from_slice(&bytes);
            }
            if set_bit {
                if let Some(v) = rd(img, b) {
                    wr(img, b, v | (1 << ds));
                }
            }
        }
        Mutation::LeafBitmap { leaf, xor } => {
            if let Some(&l) = pick(&p.leaves, u64::from(leaf)) {
                let x = if xor == 0 { 1 << SLOTS } else { xor };
                if let Some(v) = rd(img, l) {
                    wr(img, l, v ^ x);
                }
            }
        }
    }
}

// ---- the base images ---------------------------------------------------------------------------

/// One base image and what it holds.
#[derive(Debug)]
pub struct BaseImage {
    /// The image.
    pub image: Vec<u8>,
    /// Its parse.
    pub parsed: Parsed,
}

/// The three base images, built once.
#[derive(Debug)]
pub struct Bases {
    /// (a).
    pub pool: BaseImage,
    /// (b).
    pub mid_tx: BaseImage,
    /// (c).
    pub store: BaseImage,
    /// The store's keys.
    pub keys: Vec<Vec<u8>>,
}

impl Bases {
    /// The image of a kind.
    pub fn get(&self, k: BaseKind) -> &BaseImage {
        match k {
            BaseKind::Pool => &self.pool,
            BaseKind::MidTx => &self.mid_tx,
            BaseKind::Store => &self.store,
        }
    }
}

/// The base images (built at the first call).
pub fn bases() -> Result<&'static Bases, String> {
    static BASES: OnceLock<Result<Bases, String>> = OnceLock::new();
    BASES
        .get_or_init(build_bases)
        .as_ref()
        .map_err(|e| format!("building the base images: {e}"))
}

/// Contents that tell buffers apart: the salt's bytes, then one byte repeated (cheap to
/// build in a debug build, unlike a per-byte pattern).
fn pattern(len: usize, salt: u64) -> Vec<u8> {
    let mut v = vec![(salt as u8) ^ 0xA5; len];
    let n = len.min(8);
    v[..n].copy_from_slice(&salt.to_le_bytes()[..n]);
    v
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn base(image: Vec<u8>, what: &str) -> Result<BaseImage, String> {
    let parsed = Parsed::parse(&image).ok_or_else(|| format!("{what}: unparsable"))?;
    Ok(BaseImage { image, parsed })
}

fn build_bases() -> Result<Bases, String> {
    let (pool, sim) = Pool::<HostileRoot>::create_simulated(LAYOUT, POOL_SIZE).map_err(err)?;
    // Small buffers in runs of four classes, a one-chunk and a three-chunk large buffer, and a
    // list of typed nodes (each with a 16-byte buffer).
    const SMALL: [usize; 21] = [
        16, 16, 16, 16, 16, 100, 100, 100, 100, 100, 100, 1000, 1000, 1000, 1000, 1000, 1000, 5000,
        5000, 5000, 5000,
    ];
    pool.transaction(|tx| {
        let mut head = PPtr::null();
        for i in 0..8u64 {
            let data = tx.alloc_bytes(&pattern(16, i))?;
            head = tx.alloc(HostileNode {
                value: i,
                data,
                next: head,
            })?;
        }
        let mut bufs = [PBytes::null(); 24];
        for (i, &len) in SMALL.iter().enumerate() {
            bufs[i] = tx.alloc_bytes(&pattern(len, 100 + i as u64))?;
        }
        let big = tx.alloc_bytes(&pattern(70_000, 1))?;
        let huge = tx.alloc_bytes(&pattern(600_000, 2))?;
        let r = tx.root_mut()?;
        r.nodes = head;
        r.bufs = bufs;
        r.big = big;
        r.huge = huge;
        r.len = 8;
        Ok::<_, Error>(())
    })
    .map_err(err)?;
    // Holes in the run bitmaps: free a few buffers of each class and the head node.
    pool.transaction(|tx| {
        let r = *tx.root();
        for i in [1usize, 3, 6, 8, 12, 18] {
            tx.free_bytes(r.bufs[i])?;
        }
        let head = *tx.get(r.nodes)?;
        tx.free_bytes(head.data)?;
        tx.free(r.nodes)?;
        let m = tx.root_mut()?;
        for i in [1usize, 3, 6, 8, 12, 18] {
            m.bufs[i] = PBytes::null();
        }
        m.nodes = head.next;
        m.len = 7;
        Ok::<_, Error>(())
    })
    .map_err(err)?;
    drop(pool);
    let a = sim.persisted_image();

    // (b): the same pool, mid-transaction. A 70 000-byte snapshot does not fit the lane's
    // 8 KiB buffer, so the log starts with a NEXT link to an extension, where the other
    // entries (snapshots, allocation and free bits) follow.
    let pool = Pool::<HostileRoot>::open_medium(Arc::clone(&sim), LAYOUT).map_err(err)?;
    let images: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = Arc::clone(&images);
    sim.set_hook(Some(Box::new(move |cp| {
        if let Ok(mut v) = sink.lock() {
            v.push(cp.working());
        }
    })));
    let r = pool.root().map_err(err)?;
    let tx_result = pool.transaction(|tx| {
        tx.bytes_mut(r.big)?.fill(0x5A);
        let fresh = tx.alloc_bytes(&[7u8; 200])?;
        tx.free_bytes(r.bufs[0])?;
        tx.update_field(r.nodes, |n| &mut n.value, 99)?;
        let m = tx.root_mut()?;
        m.bufs[0] = PBytes::null();
        m.bufs[23] = fresh;
        Ok::<_, Error>(())
    });
    sim.set_hook(None);
    tx_result.map_err(err)?;
    drop(pool);
    let captured = images.lock().map_err(err)?.clone();
    let mut best: Option<(usize, Vec<u8>)> = None;
    for img in captured {
        let Some(p) = Parsed::parse(&img) else {
            continue;
        };
        let starts_with_next = p
            .entries
            .iter()
            .any(|e| e.kind == KIND_NEXT && p.geo.lane(e.lane) + LANE_LOG == e.at);
        if starts_with_next && best.as_ref().is_none_or(|b| p.entries.len() > b.0) {
            best = Some((p.entries.len(), img));
        }
    }
    let b = best
        .map(|(_, img)| img)
        .ok_or("no captured image has a log that continues in an extension")?;

    // (c): a store with enough keys for several leaves, some values out of line.
    let (db, ksim) = pobj_kv::Db::create_simulated(POOL_SIZE).map_err(err)?;
    let mut keys = Vec::new();
    for i in 0..KV_KEYS {
        let k = format!("key{:04}", (i * 37) % KV_KEYS).into_bytes();
        let v = if i % 5 == 0 {
            pattern(130 + i, i as u64)
        } else {
            format!("value{i}").into_bytes()
        };
        db.put(&k, &v).map_err(err)?;
        keys.push(k);
    }
    for k in keys.iter().step_by(13) {
        db.remove(k).map_err(err)?;
    }
    drop(db);
    let c = ksim.persisted_image();

    let bases = Bases {
        pool: base(a, "pool image")?,
        mid_tx: base(b, "mid-transaction image")?,
        store: base(c, "store image")?,
        keys,
    };
    // Sanity: every base opens, and the store has several leaves.
    Pool::<HostileRoot>::open_image(&bases.pool.image, LAYOUT).map_err(err)?;
    Pool::<HostileRoot>::open_image(&bases.mid_tx.image, LAYOUT).map_err(err)?;
    let medium = SimMedium::from_image(&bases.store.image).map_err(err)?;
    pobj_kv::Db::open_medium(medium).map_err(err)?;
    if bases.store.parsed.leaves.len() < 4 {
        return Err(format!(
            "the store image has {} leaves",
            bases.store.parsed.leaves.len()
        ));
    }
    Ok(bases)
}

// ---- the oracle --------------------------------------------------------------------------------

/// What one case did (when the libraries behaved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its base image.
    pub base: BaseKind,
    /// Mutations applied.
    pub mutations: usize,
    /// The kind of error open refused it with, if it did.
    pub refused: Option<String>,
    /// It opened and its check (`Pool::check`, or `Db::check` for a store) reported problems.
    pub check_problems: bool,
    /// Operations run on the opened pool and store.
    pub operations: u64,
}

/// A short name for an error's kind (`Corrupted` with its `what`).
pub fn error_kind(e: &Error) -> String {
    match e {
        Error::Corrupted { what, .. } => format!("Corrupted({what})"),
        e => {
            let d = format!("{e:?}");
            d.split([' ', '{', '(']).next().unwrap_or("?").to_string()
        }
    }
}

fn kv_error_kind(e: &pobj_kv::Error) -> String {
    match e {
        pobj_kv::Error::Pool(p) => error_kind(p),
        pobj_kv::Error::Corrupted { what, .. } => format!("kv Corrupted({what})"),
        e => {
            let d = format!("{e:?}");
            format!("kv {}", d.split([' ', '{', '(']).next().unwrap_or("?"))
        }
    }
}

/// Runs one input: the case it decodes to, on a worker thread. `Err` is a failure of the
/// libraries (a panic, a hang, or a broken promise), with a message naming the case.
pub fn check_case(input: &[u8]) -> Result<Outcome, String> {
    let case = Case::decode(input);
    check(&case).map_err(|e| format!("{e} (input {input:02x?})"))
}

/// Runs one case on a worker thread (see [`check_case`]).
pub fn check(case: &Case) -> Result<Outcome, String> {
    let name = |symptom: String| format!("hostile_pool case {case:?} failed: {symptom}");
    let bases = bases().map_err(name)?;
    let (tx, rx) = mpsc::channel();
    let c = case.clone();
    let worker = std::thread::Builder::new()
        .name("hostile-case".into())
        .spawn(move || {
            let stage = Cell::new("start");
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| run_case(bases, &c, &stage)));
            let _ = tx.send(r.map_err(|p| {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                format!("panic during {}: {msg}", stage.get())
            }));
        })
        .map_err(|e| name(format!("cannot start the worker thread: {e}")))?;
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(r) => {
            let _ = worker.join();
            r.and_then(|o| o).map_err(name)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(name(format!(
            "no result within {} s (a hang)",
            CASE_TIMEOUT.as_secs()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(name("the worker ended without a result".into()))
        }
    }
}

fn run_case(bases: &Bases, case: &Case, stage: &Cell<&'static str>) -> Result<Outcome, String> {
    let img = case.image(bases);
    let mut rng = Rng::new(case.ops);
    let mut out = Outcome {
        base: case.base,
        mutations: case.mutations.len(),
        refused: None,
        check_problems: false,
        operations: 0,
    };
    match case.base {
        BaseKind::Pool | BaseKind::MidTx => {
            pool_oracle::<HostileRoot>(&img, LAYOUT, &mut rng, &mut out, stage)?;
        }
        BaseKind::Store => {
            let mut pool_view = out.clone();
            pool_oracle::<KvRoot>(&img, pobj_kv::LAYOUT, &mut rng, &mut pool_view, stage)?;
            out.operations = pool_view.operations;
            store_oracle(&img, &bases.keys, &mut rng, &mut out, stage)?;
        }
    }
    Ok(out)
}

/// A small deterministic generator for the operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x2545_F491_4F6C_DD1D) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Byte ranges of live objects: the ones listed at open, plus ours, minus ours freed.
#[derive(Default)]
struct Ranges(Vec<(u64, u64, u64)>);

impl Ranges {
    fn insert(&mut self, off: u64, start: u64, end: u64) -> Result<(), String> {
        if let Some(&(o, s, e)) = self.0.iter().find(|&&(_, s, e)| start < e && s < end) {
            return Err(format!(
                "the block at {off:#x} ({start:#x}..{end:#x}) overlaps the live object at {o:#x} ({s:#x}..{e:#x})"
            ));
        }
        self.0.push((off, start, end));
        Ok(())
    }

    fn remove(&mut self, off: u64) {
        self.0.retain(|r| r.0 != off);
    }
}

/// No two listed objects overlap, and each lies in the heap.
fn no_overlaps(objs: &[ObjectInfo], g: &Geometry, when: &str) -> Result<(), String> {
    let mut spans: Vec<(u64, u64, u64)> = objs
        .iter()
        .map(|o| {
            (
                o.offset - OBJ_HEADER.min(o.offset),
                o.offset + o.capacity,
                o.offset,
            )
        })
        .collect();
    spans.sort_unstable();
    for s in &spans {
        let heap_end = g.chunk(g.chunk_count);
        if s.0 < g.chunk_base || s.1 > heap_end {
            return Err(format!(
                "{when}: listed object at {:#x} ({:#x}..{:#x}) lies outside the heap",
                s.2, s.0, s.1
            ));
        }
    }
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "{when}: listed objects at {:#x} ({:#x}..{:#x}) and {:#x} ({:#x}..{:#x}) overlap",
                w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1
            ));
        }
    }
    Ok(())
}

/// Resolves `off` through the byte-buffer API: `Ok(Some((type id, length)))` if it resolves
/// as a live object (the length only for a buffer), `Ok(None)` if it is not one, `Err` for any
/// other answer. `racy` uses the lock-free `bytes_len_racy` (the same resolution, cheaper for
/// the many probes) instead of `read_bytes`.
fn resolves<R: Persistent>(
    pool: &Pool<R>,
    off: u64,
    racy: bool,
) -> Result<Option<(u64, u64)>, Error> {
    let p = PBytes::from_offset(off);
    let r = if racy {
        pool.bytes_len_racy(p)
    } else {
        pool.read_bytes(p, |b| b.len() as u64)
    };
    match r {
        Ok(len) => Ok(Some((BYTES_TYPE_ID, len))),
        Err(Error::TypeMismatch { found, .. }) => Ok(Some((found, 0))),
        Err(Error::InvalidPointer { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One of our own objects.
struct Mine {
    off: u64,
    /// A byte buffer's contents, or `None` for a node.
    data: Option<Vec<u8>>,
    /// A node's value.
    value: u64,
}

const SIZES: [usize; 9] = [16, 40, 100, 400, 1000, 5000, 20_000, 70_000, 150_000];

fn pool_oracle<R: Persistent>(
    img: &[u8],
    layout: &str,
    rng: &mut Rng,
    out: &mut Outcome,
    stage: &Cell<&'static str>,
) -> Result<(), String> {
    let g = Geometry::read(img).ok_or("the mutated image has no header")?;
    stage.set("Pool::open_image");
    let (pool, sim) = match Pool::<R>::open_image(img, layout) {
        Ok(opened) => opened,
        Err(e) => {
            out.refused = Some(error_kind(&e));
            return Ok(());
        }
    };
    stage.set("Pool::check at open");
    let problems0 = pool.check().problems;
    out.check_problems = !problems0.is_empty();
    stage.set("Pool::objects at open");
    let objs = pool
        .objects()
        .map_err(|e| format!("objects() failed on a pool that opened: {e}"))?;
    no_overlaps(&objs, &g, "at open")?;

    // Every listed object resolves, as what its header says.
    stage.set("resolving listed objects");
    let listed: HashSet<u64> = objs.iter().map(|o| o.offset).collect();
    for o in &objs {
        match resolves(&pool, o.offset, false) {
            Ok(Some((t, len))) if t == o.type_id && (t != BYTES_TYPE_ID || len == o.size) => {}
            r => {
                return Err(format!(
                    "listed object {o:?} does not resolve as listed: {r:?}"
                ))
            }
        }
        let typed = if o.type_id == HostileNode::TYPE_ID
            && o.size == std::mem::size_of::<HostileNode>() as u64
        {
            pool.get(PPtr::<HostileNode>::from_offset(o.offset)).err()
        } else if o.type_id == R::TYPE_ID
            && o.size == std::mem::size_of::<R>() as u64
            && o.offset.is_multiple_of(std::mem::align_of::<R>() as u64)
        {
            pool.read(PPtr::<R>::from_offset(o.offset), |_| ()).err()
        } else if o.type_id == Leaf::TYPE_ID
            && o.size == std::mem::size_of::<Leaf>() as u64
            && o.offset.is_multiple_of(std::mem::align_of::<Leaf>() as u64)
        {
            pool.read(PPtr::<Leaf>::from_offset(o.offset), |_| ()).err()
        } else {
            None
        };
        if let Some(e) = typed {
            return Err(format!(
                "listed object {o:?} does not resolve through its type: {e}"
            ));
        }
    }
    // Every probe offset that resolves is listed: each chunk's large payload, and each block of
    // each chunk whose descriptor decodes (whatever its chunk word says).
    stage.set("probing chunk payloads and run blocks");
    // Recovery may have rewritten descriptors (the rebuild never does): when some lane of the
    // mutated image has a valid entry, also probe by what open made durable.
    let mut entries = Vec::new();
    for lane in 0..g.lane_count.min(64) {
        walk_lane(img, &g, lane, &mut entries);
    }
    let opened = if entries.is_empty() {
        Vec::new()
    } else {
        sim.persisted_image()
    };
    for c in 0..g.chunk_count {
        let base = g.chunk(c);
        let mut probes = vec![base + LARGE_PAYLOAD];
        let mut geometries = vec![descriptor(img, base), descriptor(&opened, base)];
        geometries.dedup();
        for (bs, n) in geometries.into_iter().flatten() {
            probes.extend((0..n).map(|k| base + RUN_DATA + k * bs + OBJ_HEADER));
        }
        for off in probes {
            match resolves(&pool, off, true) {
                Ok(Some((t, _))) if !listed.contains(&off) => {
                    return Err(format!(
                        "offset {off:#x} resolves (type id {t:#x}) but objects() does not list it"
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "resolving probe {off:#x} on a pool that opened gave {e}"
                    ))
                }
            }
        }
    }

    // Snapshot the pre-existing byte buffers.
    stage.set("snapshotting pre-existing buffers");
    let mut before = Vec::new();
    let mut model = Ranges::default();
    for o in &objs {
        model.insert(o.offset, o.offset - OBJ_HEADER, o.offset + o.capacity)?;
        if o.type_id == BYTES_TYPE_ID {
            let b = pool
                .bytes(PBytes::from_offset(o.offset))
                .map_err(|e| format!("listed buffer {:#x} cannot be read: {e}", o.offset))?;
            before.push((o.offset, b));
        }
    }

    stage.set("pool operations");
    let mut mine: Vec<Mine> = Vec::new();
    let heap = (g.chunk_base, g.chunk(g.chunk_count));
    alloc_round(&pool, rng, ALLOC_ROUND, heap, &mut model, &mut mine, out)?;
    // Free about half of ours.
    let mut kept = Vec::new();
    for m in mine.drain(..) {
        if rng.below(2) == 0 {
            out.operations += 1;
            let r = pool.transaction(|tx| match m.data {
                Some(_) => tx.free_bytes(PBytes::from_offset(m.off)),
                None => tx.free(PPtr::<HostileNode>::from_offset(m.off)),
            });
            if r.is_ok() {
                model.remove(m.off);
                continue;
            }
        }
        kept.push(m);
    }
    mine = kept;
    // Write transactions into ours, some aborted.
    for _ in 0..WRITES {
        let Some(i) = (!mine.is_empty()).then(|| rng.below(mine.len() as u64) as usize) else {
            break;
        };
        let abort = rng.below(3) == 0;
        let off = mine[i].off;
        out.operations += 1;
        match &mut mine[i].data {
            Some(data) => {
                let at = rng.below(data.len() as u64) as usize;
                let n = (1 + rng.below(300) as usize).min(data.len() - at);
                let fill = rng.next() as u8;
                let whole = data.len() <= 5000 && rng.below(4) == 0;
                let r = pool.transaction(|tx| {
                    if whole {
                        tx.bytes_mut(PBytes::from_offset(off))?.fill(fill);
                    } else {
                        tx.write_bytes(PBytes::from_offset(off), at as u64, &vec![fill; n])?;
                    }
                    if abort {
                        Err(Error::TxAborted)
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    if whole {
                        data.fill(fill);
                    } else {
                        data[at..at + n].fill(fill);
                    }
                }
            }
            None => {
                let v = rng.next();
                let r = pool.transaction(|tx| {
                    tx.update_field(PPtr::<HostileNode>::from_offset(off), |n| &mut n.value, v)?;
                    if abort {
                        Err(Error::TxAborted)
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    mine[i].value = v;
                }
            }
        }
    }
    // One aborted transaction that allocates, writes and frees: nothing of it may remain.
    out.operations += 1;
    let victim = mine.first().map(|m| (m.off, m.data.is_some()));
    let _ = pool.transaction(|tx| {
        let b = tx.alloc_bytes(&[0xEE; 1000])?;
        tx.write_bytes(b, 0, &[1, 2, 3])?;
        if let Some((off, true)) = victim {
            tx.write_bytes(PBytes::from_offset(off), 0, &[0xEE])?;
            tx.free_bytes(PBytes::from_offset(off))?;
        }
        Err::<(), _>(Error::TxAborted)
    });
    alloc_round(&pool, rng, SECOND_ROUND, heap, &mut model, &mut mine, out)?;

    // Nothing we did may have changed what we did not own, and ours must read back.
    stage.set("verifying after the operations");
    for m in &mine {
        match &m.data {
            Some(data) => match pool.bytes(PBytes::from_offset(m.off)) {
                Ok(b) if b == *data => {}
                Ok(_) => return Err(format!("our buffer at {:#x} changed", m.off)),
                Err(e) => return Err(format!("our buffer at {:#x} is unreadable: {e}", m.off)),
            },
            None => match pool.get(PPtr::<HostileNode>::from_offset(m.off)) {
                Ok(n) if n.value == m.value => {}
                r => return Err(format!("our node at {:#x} reads {r:?}", m.off)),
            },
        }
    }
    for (off, b) in &before {
        match pool.bytes(PBytes::from_offset(*off)) {
            Ok(now) if now == *b => {}
            Ok(_) => {
                return Err(format!(
                    "the pre-existing buffer at {off:#x} changed under our operations"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "the pre-existing buffer at {off:#x} became unreadable: {e}"
                ))
            }
        }
    }
    stage.set("Pool::objects after the operations");
    let after = pool
        .objects()
        .map_err(|e| format!("objects() failed after the operations: {e}"))?;
    no_overlaps(&after, &g, "after the operations")?;
    stage.set("Pool::check after the operations");
    if problems0.is_empty() {
        let p = pool.check().problems;
        if !p.is_empty() {
            return Err(format!(
                "check() was clean at open but reports after the operations: {}",
                p.join("; ")
            ));
        }
    }
    Ok(())
}

/// Allocations of several sizes, each in its own transaction; every block handed out must be
/// free in the model.
fn alloc_round<R: Persistent>(
    pool: &Pool<R>,
    rng: &mut Rng,
    count: usize,
    heap: (u64, u64),
    model: &mut Ranges,
    mine: &mut Vec<Mine>,
    out: &mut Outcome,
) -> Result<(), String> {
    for _ in 0..count {
        out.operations += 1;
        let salt = rng.next();
        let (r, len, data) = if rng.below(5) == 0 {
            let node = HostileNode {
                value: salt,
                data: PBytes::null(),
                next: PPtr::null(),
            };
            let r = pool.transaction(|tx| tx.alloc(node).map(|p| p.offset()));
            (r, std::mem::size_of::<HostileNode>() as u64, None)
        } else {
            let len = SIZES[rng.below(SIZES.len() as u64) as usize] + rng.below(8) as usize;
            let data = pattern(len, salt);
            let r = pool.transaction(|tx| tx.alloc_bytes(&data).map(|p| p.offset()));
            (r, len as u64, Some(data))
        };
        match r {
            Ok(off) => {
                if off < heap.0 + OBJ_HEADER || off + len > heap.1 {
                    return Err(format!(
                        "an allocation of {len} bytes returned {off:#x}, outside the heap"
                    ));
                }
                model
                    .insert(off, off - OBJ_HEADER, off + len)
                    .map_err(|e| format!("allocation of {len} bytes: {e}"))?;
                mine.push(Mine {
                    off,
                    data,
                    value: salt,
                });
            }
            Err(Error::OutOfSpace { .. }) => {}
            Err(_) => {}
        }
    }
    Ok(())
}

fn store_oracle(
    img: &[u8],
    keys: &[Vec<u8>],
    rng: &mut Rng,
    out: &mut Outcome,
    stage: &Cell<&'static str>,
) -> Result<(), String> {
    let medium = SimMedium::from_image(img).map_err(|e| format!("simulated medium: {e}"))?;
    stage.set("Db::open_medium");
    let db = match pobj_kv::Db::open_medium(medium) {
        Ok(db) => db,
        Err(e) => {
            out.refused = Some(kv_error_kind(&e));
            out.check_problems = false;
            return Ok(());
        }
    };
    out.refused = None;
    stage.set("Db::check at open");
    let clean = db.check().is_ok();
    out.check_problems = !clean;
    stage.set("store gets of the base keys");
    for k in keys {
        out.operations += 1;
        let _ = db.get(k);
    }
    // New keys, among the base keys and after them; some values out of line.
    stage.set("store puts");
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for i in 0..KV_PUTS {
        out.operations += 1;
        let k = if i % 2 == 0 {
            format!("key{:04}+{i}", rng.below(KV_KEYS as u64)).into_bytes()
        } else {
            format!("zz{i:03}").into_bytes()
        };
        let v = pattern(rng.below(300) as usize, i as u64);
        if db.put(&k, &v).is_ok() {
            model.insert(k, Some(v));
        }
    }
    stage.set("store removes");
    let ours: Vec<Vec<u8>> = model.keys().cloned().collect();
    for i in 0..KV_REMOVES {
        out.operations += 1;
        if i % 2 == 0 {
            if let Some(k) = pick(keys, rng.next()) {
                let _ = db.remove(k);
            }
        } else if let Some(k) = pick(&ours, rng.next()) {
            let r = db.remove(k);
            let had = model.get(k).is_some_and(Option::is_some);
            match r {
                Ok(found) => {
                    if clean && found != had {
                        return Err(format!(
                            "remove of our key {:?} returned {found}, expected {had}",
                            String::from_utf8_lossy(k)
                        ));
                    }
                    model.insert(k.clone(), None);
                }
                Err(e) if clean && !matches!(e, pobj_kv::Error::OutOfSpace) => {
                    return Err(format!(
                        "remove of our key {:?} on a store that checked clean: {e}",
                        String::from_utf8_lossy(k)
                    ))
                }
                Err(_) => {}
            }
        }
    }
    stage.set("store gets of the new keys");
    for (k, v) in &model {
        out.operations += 1;
        let got = db.get(k);
        if clean {
            match got {
                Ok(g) if g == *v => {}
                r => {
                    return Err(format!(
                    "on a store that checked clean, get of our key {:?} gave {r:?}, expected {v:?}",
                    String::from_utf8_lossy(k)
                ))
                }
            }
        }
    }
    stage.set("store scan");
    out.operations += 1;
    let mut prev: Option<Vec<u8>> = None;
    let mut scanned = 0u64;
    let mut scan_failed = false;
    for item in db.iter() {
        match item {
            Ok((k, _)) => {
                if prev.as_ref().is_some_and(|p| *p >= k) {
                    return Err(format!(
                        "the scan returned {:?} after {:?}",
                        String::from_utf8_lossy(&k),
                        prev.as_ref()
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                    ));
                }
                prev = Some(k);
                scanned += 1;
                if scanned > 1 << 20 {
                    return Err("the scan does not end".into());
                }
            }
            Err(_) => {
                scan_failed = true;
                break;
            }
        }
    }
    stage.set("store count_all");
    out.operations += 1;
    let count = db.count_all();
    if clean && !scan_failed {
        match count {
            Ok(c) if c == scanned => {}
            r => {
                return Err(format!(
                "on a store that checked clean, count_all gave {r:?} but the scan found {scanned}"
            ))
            }
        }
    }
    stage.set("Db::check after the operations");
    let end = db.check();
    if clean && !end.is_ok() {
        return Err(format!(
            "Db::check was clean at open but reports after the operations: {}",
            end.problems.join("; ")
        ));
    }
    Ok(())
}
