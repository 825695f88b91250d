//! The documented on-media format (docs/format.md, docs/kv.md), parsed from a pool image: the
//! geometry, lanes and their undo logs, objects, runs, leaves and slots.

use super::{HashSet, PPtr, Persistent, TypeHasher, CHUNK_SIZE};

pub(crate) const BYTES_TYPE_ID: u64 = TypeHasher::new().str("pobj::bytes").finish();
pub(crate) const LOG_EXT_TYPE_ID: u64 = TypeHasher::new().str("pobj::log_ext").finish();
pub(crate) const RUN_MAGIC: u64 = u64::from_le_bytes(*b"POBJRUN\0");
pub(crate) const RUN_DATA: u64 = 1136;
pub(crate) const BITMAP_OFFSET: u64 = 64;
pub(crate) const LARGE_PAYLOAD: u64 = 64;
pub(crate) const OBJ_HEADER: u64 = 16;
pub(crate) const LANE_LOG: u64 = 64;
pub(crate) const TAG_USED: u64 = 0x5355;
pub(crate) const WORD_RUN: u64 = 0x1_5552;
pub(crate) const KIND_SNAPSHOT: u32 = 1;
pub(crate) const KIND_FREE_BITS: u32 = 3;
pub(crate) const KIND_NEXT: u32 = 4;
pub(crate) const MAX_PIECE: u64 = 32768;
pub(crate) const EXT_CAPACITY: u64 = CHUNK_SIZE - LARGE_PAYLOAD;
pub(crate) const SLOTS: u64 = 39;
pub(crate) const SLOT_BYTES: u64 = 128;
pub(crate) const SLOTS_AT: u64 = 64;

/// The store's leaf as docs/kv.md ("Leaf", "Slot") describes it, written here rather than taken
/// from pobj-kv (whose leaf type is its own): pobj's type id hashes the type's name and its
/// fields' names and type ids, so this type has the store's leaf type id exactly when it has
/// its layout. `tests/tests/hostile_replay.rs` checks that against a store's pool.
#[derive(Persistent, Clone, Copy)]
#[repr(C, align(64))]
pub struct Leaf {
    /// Bitmap and next pointer.
    pub head: LeafHead,
    /// `b"PKVLEAF1"`.
    pub magic: u64,
    /// The offset of the map's header.
    pub owner: u64,
    /// Zero.
    pub reserved: [u64; 4],
    /// The entries.
    pub slots: [Slot; SLOTS as usize],
}

/// A leaf's first 16 bytes.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct LeafHead {
    /// Bit i set: slot i holds an entry.
    pub bitmap: u64,
    /// The next leaf in key order.
    pub next: PPtr<Leaf>,
}

/// One entry of a leaf.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
pub struct Slot {
    /// Key length, value length, fingerprint and flags.
    pub meta: u64,
    /// Inline key and value, or the out-of-line buffer's offset.
    pub data: [u8; 120],
}

const _: () = assert!(std::mem::size_of::<Leaf>() as u64 == SLOTS_AT + SLOTS * SLOT_BYTES);
const _: () = assert!(std::mem::size_of::<Slot>() as u64 == SLOT_BYTES);
pub(crate) const KV_MAGIC: u64 = u64::from_le_bytes(*b"PKVSTORE");

pub(crate) fn rd(img: &[u8], off: u64) -> Option<u64> {
    let o = usize::try_from(off).ok()?;
    let b = img.get(o..o.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn rd32(img: &[u8], off: u64) -> Option<u32> {
    let o = usize::try_from(off).ok()?;
    let b = img.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn span(img: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let o = usize::try_from(off).ok()?;
    img.get(o..o.checked_add(usize::try_from(len).ok()?)?)
}

pub(crate) fn span_mut(img: &mut [u8], off: u64, len: u64) -> Option<&mut [u8]> {
    let o = usize::try_from(off).ok()?;
    img.get_mut(o..o.checked_add(usize::try_from(len).ok()?)?)
}

/// Writes a word; a write outside the image is dropped (the case stays valid).
pub(crate) fn wr(img: &mut [u8], off: u64, v: u64) {
    if let Some(b) = span_mut(img, off, 8) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn wr32(img: &mut [u8], off: u64, v: u32) {
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
    pub(crate) fn read(img: &[u8]) -> Option<Geometry> {
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

    pub(crate) fn chunk(&self, i: u64) -> u64 {
        self.chunk_base + i * CHUNK_SIZE
    }

    pub(crate) fn chunk_word(&self, i: u64) -> u64 {
        self.chunk_table + 8 * i
    }

    pub(crate) fn lane(&self, i: u64) -> u64 {
        self.lane_offset + i * self.lane_size
    }
}

/// Block size and count of a valid run descriptor geometry word (docs/format.md §5.1).
pub(crate) fn run_geometry(w: u64) -> Option<(u64, u64)> {
    let bs = w & 0xffff_ffff;
    let n = w >> 32;
    (pobj::limits::CLASSES.contains(&bs) && n == blocks_per_run(bs)).then_some((bs, n))
}

pub(crate) fn blocks_per_run(bs: u64) -> u64 {
    ((CHUNK_SIZE - RUN_DATA) / bs.max(1)).min(8192)
}

pub(crate) fn descriptor(img: &[u8], chunk_off: u64) -> Option<(u64, u64)> {
    if rd(img, chunk_off)? != RUN_MAGIC {
        return None;
    }
    run_geometry(rd(img, chunk_off + 8)?)
}

pub(crate) fn seed(lane: u64, nonce: u64) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&(lane as u32).to_le_bytes());
    b[4..].copy_from_slice(&nonce.to_le_bytes());
    crc32c::crc32c(&b)
}

pub(crate) fn data_len(kind: u32, aux: u64) -> u64 {
    match kind {
        KIND_SNAPSHOT => aux,
        KIND_NEXT => 8,
        _ => 0,
    }
}

/// The seeded checksum of the entry at `at` (docs/format.md §3), if its bytes are in the image.
pub(crate) fn entry_checksum(img: &[u8], at: u64, seed: u32) -> Option<u32> {
    let kind = rd32(img, at + 24)?;
    let d = data_len(kind, rd(img, at + 16)?);
    if d > MAX_PIECE {
        return None;
    }
    let c = crc32c::crc32c_append(seed, span(img, at, 28)?);
    Some(crc32c::crc32c_append(c, span(img, at + 32, d)?))
}

/// Recomputes the checksum of a (mutated) entry so that it still validates under `seed`.
pub(crate) fn reseal(img: &mut [u8], at: u64, seed: u32) {
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
pub(crate) fn walk_lane(img: &[u8], g: &Geometry, lane: u64, out: &mut Vec<EntryLoc>) -> LaneLog {
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

    pub(crate) fn next_entries(&self) -> Vec<EntryLoc> {
        self.entries
            .iter()
            .copied()
            .filter(|e| e.kind == KIND_NEXT)
            .collect()
    }

    pub(crate) fn object(&self, k: u64) -> Option<ObjLoc> {
        pick(&self.objects, k).copied()
    }
}

pub(crate) fn pick<T>(v: &[T], k: u64) -> Option<&T> {
    if v.is_empty() {
        None
    } else {
        v.get((k % v.len() as u64) as usize)
    }
}
