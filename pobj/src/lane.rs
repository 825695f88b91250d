//! Lanes and their undo logs.
//!
//! A lane is a 64-byte header holding the lane's *generation* followed by the first log buffer.
//! Each log entry carries the generation and a CRC-32C, so the valid log is exactly the run of
//! entries from the start of the buffer whose generation equals the header's and whose checksum
//! holds. Retiring a log is one aligned 8-byte store: generation + 1. Recovery (and abort) walk
//! the valid entries and undo them in reverse order; every undo action is idempotent, so a crash
//! during recovery is recovered by running it again. See `docs/transactions.md`.

use core::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::format::layout::{Geometry, CHUNK_SIZE};
use crate::heap::LARGE_PAYLOAD;
use crate::media::persist::{Batch, Persister};
use crate::media::region::Region;
use crate::Persistent;

/// Bytes of the lane header.
pub(crate) const LANE_HEADER: u64 = 64;
/// Bytes of an entry header.
pub(crate) const ENTRY_HEADER: u64 = 32;
/// Largest snapshot payload in one entry; larger ranges are split.
pub(crate) const MAX_PIECE: u64 = 32 << 10;

/// Entry kind: `data` holds the old bytes of `offset..offset+aux`.
pub(crate) const KIND_SNAPSHOT: u32 = 1;
/// Entry kind: undo clears bits `aux` of the bitmap word at `offset` (a block allocated).
pub(crate) const KIND_ALLOC_BITS: u32 = 2;
/// Entry kind: undo sets bits `aux` of the bitmap word at `offset` (a block freed).
pub(crate) const KIND_FREE_BITS: u32 = 3;
/// Entry kind: the log continues in the buffer at `offset` of `aux` bytes.
pub(crate) const KIND_NEXT: u32 = 4;

/// The lane header, at the start of each lane.
#[derive(Clone, Copy, Persistent)]
#[repr(C)]
pub(crate) struct LaneHeader {
    /// The generation of the lane's current log; only entries with this generation are valid.
    pub generation: u64,
    /// Zero.
    pub reserved: [u64; 7],
}
static_assertions::const_assert_eq!(core::mem::size_of::<LaneHeader>() as u64, LANE_HEADER);

/// The header of each log entry (data follows, padded to 8 bytes).
#[derive(Clone, Copy, Persistent)]
#[repr(C)]
pub(crate) struct EntryHeader {
    /// The lane generation this entry belongs to.
    pub generation: u64,
    /// Target offset in the pool (or next buffer for `KIND_NEXT`).
    pub offset: u64,
    /// Length of the snapshot, the bit mask, or the next buffer's capacity.
    pub aux: u64,
    /// One of the `KIND_*` constants.
    pub kind: u32,
    /// CRC-32C of bytes 0..28 of this header and the data.
    pub checksum: u32,
}
static_assertions::const_assert_eq!(core::mem::size_of::<EntryHeader>() as u64, ENTRY_HEADER);
static_assertions::const_assert_eq!(core::mem::offset_of!(EntryHeader, kind), 24);

/// Most entries one transaction may log (a limit, so that recovery's memory is bounded).
pub(crate) const MAX_LOG_ENTRIES: usize = 1 << 22;
/// Most log buffers (the lane's and its extensions) one transaction may use.
pub(crate) const MAX_LOG_BUFFERS: u64 = 4096;

/// The checksum seed of a log buffer: the lane's index and the buffer's nonce (0 for the
/// lane's own buffer; a random value, recorded in the `NEXT` entry, for an extension). Entries
/// left in a reused extension by another lane or by user data never validate.
pub(crate) fn buffer_seed(lane: u32, nonce: u64) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&lane.to_le_bytes());
    b[4..].copy_from_slice(&nonce.to_le_bytes());
    crc32c::crc32c(&b)
}

/// The checksum of an entry in a buffer with the given seed.
pub(crate) fn entry_checksum(seed: u32, h: &EntryHeader, data: &[u8]) -> u32 {
    let hb = crate::types::persistent::as_bytes(h);
    crc32c::crc32c_append(crc32c::crc32c_append(seed, &hb[..28]), data)
}

/// Bytes of data an entry of `kind` with `aux` carries.
pub(crate) fn data_len(kind: u32, aux: u64) -> u64 {
    match kind {
        KIND_SNAPSHOT => aux,
        KIND_NEXT => 8,
        _ => 0,
    }
}

/// Bytes an entry with `data_len` bytes of data takes.
pub(crate) fn entry_size(data_len: u64) -> u64 {
    ENTRY_HEADER + data_len.div_ceil(8) * 8
}

/// A decoded valid entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Kind.
    pub kind: u32,
    /// Target offset.
    pub offset: u64,
    /// Aux value.
    pub aux: u64,
    /// Where the data sits in the pool.
    pub data_at: u64,
}

/// Reads the lane's generation.
pub(crate) fn generation(region: &Region, g: &Geometry, lane: u32) -> Result<u64> {
    Ok(region.atomic(g.lane(lane))?.load(Ordering::Acquire))
}

/// The log-extension chunks that log walks have entered. A `NEXT` link must lead to the payload
/// of a chunk that no walk sharing this set has entered before (recovery shares one set across
/// all lanes), so a crafted file can make recovery read each byte of the heap at most once:
/// the CRC work of an open is bounded by the pool's size, whatever the links say.
#[derive(Debug, Default)]
pub(crate) struct Walked(std::collections::HashSet<u64>);

/// Walks the valid entries of a lane's log, in order.
///
/// # Safety
/// No other thread writes this lane's log concurrently.
pub(crate) unsafe fn scan(region: &Region, g: &Geometry, lane: u32) -> Result<Vec<Entry>> {
    // SAFETY: forwarded contract.
    unsafe { scan_walked(region, g, lane, &mut Walked::default(), None) }
}

/// [`scan`] with the set of extension chunks already entered by other walks, stopping after
/// `limit` undo entries where given (links not counted).
///
/// # Safety
/// As [`scan`].
pub(crate) unsafe fn scan_walked(
    region: &Region,
    g: &Geometry,
    lane: u32,
    walked: &mut Walked,
    limit: Option<usize>,
) -> Result<Vec<Entry>> {
    let gen = generation(region, g, lane)?;
    let mut out = Vec::new();
    let mut buf = g.lane(lane) + LANE_HEADER;
    let mut cap = u64::from(g.lane_size) - LANE_HEADER;
    let mut pos = 0u64;
    let mut hops = 0u64;
    let mut seed = buffer_seed(lane, 0);
    let mut data = Vec::new();
    loop {
        if pos + ENTRY_HEADER > cap || limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let at = buf + pos;
        // SAFETY: no concurrent writer of this log (contract).
        let h: EntryHeader = unsafe { region.read(at)? };
        if h.generation != gen {
            break;
        }
        let dlen = data_len(h.kind, h.aux);
        if dlen > MAX_PIECE || pos + entry_size(dlen) > cap {
            break;
        }
        data.resize(dlen as usize, 0);
        // SAFETY: as above.
        unsafe { region.read_into(at + ENTRY_HEADER, &mut data)? };
        if entry_checksum(seed, &h, &data) != h.checksum {
            break;
        }
        match h.kind {
            KIND_NEXT => {
                hops += 1;
                // An extension is always the payload of one whole chunk (`Tx::extend_log`).
                let chunk = h
                    .offset
                    .checked_sub(g.chunk_base + LARGE_PAYLOAD)
                    .filter(|r| r.is_multiple_of(CHUNK_SIZE))
                    .map(|r| r / CHUNK_SIZE)
                    .filter(|&c| c < g.chunk_slots && g.len_for(c + 1) <= region.len());
                let ok = chunk.is_some()
                    && h.aux == CHUNK_SIZE - LARGE_PAYLOAD
                    && hops <= MAX_LOG_BUFFERS.min(g.chunk_slots);
                let Some(chunk) = chunk.filter(|_| ok) else {
                    return Err(Error::Corrupted {
                        what: "undo log link",
                        offset: at,
                    });
                };
                if !walked.0.insert(chunk) {
                    return Err(Error::Corrupted {
                        what: "undo log link (to a buffer already walked)",
                        offset: at,
                    });
                }
                let mut nonce = [0u8; 8];
                nonce.copy_from_slice(&data[..8]);
                seed = buffer_seed(lane, u64::from_le_bytes(nonce));
                buf = h.offset;
                cap = h.aux;
                pos = 0;
                continue;
            }
            KIND_SNAPSHOT | KIND_ALLOC_BITS | KIND_FREE_BITS => {
                if out.len() >= MAX_LOG_ENTRIES {
                    return Err(Error::Corrupted {
                        what: "undo log (too many entries)",
                        offset: at,
                    });
                }
                out.push(Entry {
                    kind: h.kind,
                    offset: h.offset,
                    aux: h.aux,
                    data_at: at + ENTRY_HEADER,
                });
            }
            _ => {
                return Err(Error::Corrupted {
                    what: "undo log entry kind",
                    offset: at,
                })
            }
        }
        pos += entry_size(dlen);
    }
    Ok(out)
}

/// Undoes a lane's valid entries in reverse order, makes the result durable, then retires the
/// log. Used by recovery at open (`own: None`: every valid entry, whose effects the heap's
/// rebuild then checks) and by abort (`own: Some(n)`: exactly the `n` entries this transaction
/// wrote; valid-looking entries after them are bytes of the file, which an abort after open
/// must not apply). Returns the number of entries undone.
///
/// # Safety
/// No other thread accesses the lane or the ranges its entries name, and no reference into
/// those ranges is live.
pub(crate) unsafe fn rollback(
    region: &Region,
    g: &Geometry,
    p: &Persister,
    lane: u32,
    walked: &mut Walked,
    own: Option<usize>,
) -> Result<usize> {
    // SAFETY: exclusive access to the lane (contract).
    let entries = unsafe { scan_walked(region, g, lane, walked, own)? };
    if own.is_some_and(|n| entries.len() != n) {
        return Err(Error::Corrupted {
            what: "undo log (this transaction's entries do not read back)",
            offset: g.lane(lane),
        });
    }
    if entries.is_empty() {
        return Ok(0);
    }
    let mut b = Batch::new();
    let mut data = Vec::new();
    for e in entries.iter().rev() {
        match e.kind {
            KIND_SNAPSHOT => {
                // Snapshots only ever cover the heap; anything else is damage.
                if e.offset < g.chunk_table
                    || e.offset
                        .checked_add(e.aux)
                        .is_none_or(|end| end > region.len())
                {
                    return Err(Error::Corrupted {
                        what: "undo log snapshot target",
                        offset: e.data_at - ENTRY_HEADER,
                    });
                }
                data.resize(e.aux as usize, 0);
                // SAFETY: exclusive access (contract); source (log) and target (heap) are disjoint
                // since the log is in a lane or a log-extension chunk and `data` is a DRAM copy.
                unsafe { region.read_into(e.data_at, &mut data)? };
                if e.offset < g.chunk_base {
                    // Chunk-table words are read without locks by pointer resolution in other
                    // threads: restore them with atomic stores. Only the words of chunks the
                    // pool has: the table's later pages may be holes of the file, and a store
                    // into a hole of a full medium raises SIGBUS.
                    let words_end = g.chunk_table + 8 * g.chunks_in(region.len());
                    if !e.offset.is_multiple_of(8)
                        || !e.aux.is_multiple_of(8)
                        || e.offset + e.aux > words_end
                    {
                        return Err(Error::Corrupted {
                            what: "undo log snapshot of chunk headers",
                            offset: e.data_at - ENTRY_HEADER,
                        });
                    }
                    for (i, w) in data.chunks_exact(8).enumerate() {
                        let mut v = [0u8; 8];
                        v.copy_from_slice(w);
                        region
                            .atomic(e.offset + i as u64 * 8)?
                            .store(u64::from_le_bytes(v), Ordering::Release);
                    }
                } else {
                    // SAFETY: as above.
                    unsafe { region.write_from(e.offset, &data)? };
                }
                p.flush(&mut b, e.offset, e.aux);
            }
            KIND_ALLOC_BITS | KIND_FREE_BITS => {
                if e.offset < g.chunk_base || !e.offset.is_multiple_of(8) {
                    return Err(Error::Corrupted {
                        what: "undo log bitmap target",
                        offset: e.data_at - ENTRY_HEADER,
                    });
                }
                let w = region.atomic(e.offset)?;
                if e.kind == KIND_ALLOC_BITS {
                    w.fetch_and(!e.aux, Ordering::AcqRel);
                } else {
                    w.fetch_or(e.aux, Ordering::AcqRel);
                }
                p.flush(&mut b, e.offset, 8);
            }
            _ => {}
        }
    }
    p.fence(&mut b)?;
    retire(region, g, p, lane, &mut b)?;
    Ok(entries.len())
}

/// Gives every lane a fresh random generation at open, after recovery, made durable by one
/// fence. A file can hold entries that validate under any generation it can predict (the seed
/// of a lane's own buffer is fixed); with an unpredictable generation none of them can become
/// valid later, when a transaction of this session reaches that generation and then crashes.
///
/// # Safety
/// Exclusive access to the pool (open, before any handle exists).
pub(crate) unsafe fn reseed(region: &Region, g: &Geometry, p: &Persister) -> Result<()> {
    let mut b = Batch::new();
    for i in 0..g.lane_count {
        let off = g.lane(i);
        region
            .atomic(off)?
            .store(random_generation(), Ordering::Release);
        p.flush(&mut b, off, 8);
    }
    p.fence(&mut b)
}

/// A random nonzero generation, far from wrapping (the top bit clear).
fn random_generation() -> u64 {
    use std::hash::BuildHasher;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let r = std::collections::hash_map::RandomState::new()
        .hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    (r >> 1).max(1)
}

/// Retires the lane's log: generation + 1, flushed and fenced.
pub(crate) fn retire(
    region: &Region,
    g: &Geometry,
    p: &Persister,
    lane: u32,
    b: &mut Batch,
) -> Result<()> {
    let off = g.lane(lane);
    let w = region.atomic(off)?;
    let next = w.load(Ordering::Acquire).wrapping_add(1).max(1);
    w.store(next, Ordering::Release);
    p.flush(b, off, 8);
    p.fence(b)
}

/// Formats all lanes at creation: zeroed, generation 1. Caller fences.
///
/// # Safety
/// Exclusive access to the pool (creation).
pub(crate) unsafe fn format(
    region: &Region,
    g: &Geometry,
    p: &Persister,
    b: &mut Batch,
) -> Result<()> {
    let total = u64::from(g.lane_count) * u64::from(g.lane_size);
    // SAFETY: exclusive access to a pool being created (contract): no other thread can reach it.
    unsafe { region.zero_fresh(g.lane_offset, total)? };
    for i in 0..g.lane_count {
        region.atomic(g.lane(i))?.store(1, Ordering::Release);
    }
    // SAFETY: as above.
    unsafe { p.flush_fresh(b, g.lane_offset, total) };
    Ok(())
}
