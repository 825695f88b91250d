//! Applying a mutation to an image, located by the parsed structures (checksums recomputed
//! where the field is checksummed).

use super::{
    blocks_per_run, data_len, pick, rd, rd32, reseal, span, span_mut, wr, wr32, AuxChoice,
    Capacity, DescriptorField, EntryField, EntryTarget, HeaderField, HostileNode, Leaf, LinkTarget,
    MetaField, Mutation, NextTarget, Parsed, Persistent, SizeChoice, TypeChoice, BITMAP_OFFSET,
    BYTES_TYPE_ID, CHUNK_SIZE, EXT_CAPACITY, KIND_NEXT, KIND_SNAPSHOT, LANE_LOG, LARGE_PAYLOAD,
    LOG_EXT_TYPE_ID, MAX_PIECE, OBJ_HEADER, SLOTS, SLOTS_AT, SLOT_BYTES,
};

pub(crate) fn chunk_word_target(p: &Parsed, list: &[u64], k: u64) -> Option<u64> {
    pick(list, k)
        .or_else(|| pick(&p.starts, k))
        .map(|&c| p.geo.chunk_word(c))
}

pub(crate) fn type_id(p: &Parsed, t: TypeChoice) -> u64 {
    match t {
        TypeChoice::Bytes => BYTES_TYPE_ID,
        TypeChoice::Node => HostileNode::TYPE_ID,
        TypeChoice::Root => p.geo.root_type_id,
        TypeChoice::Leaf => Leaf::TYPE_ID,
        TypeChoice::LogExt => LOG_EXT_TYPE_ID,
        TypeChoice::Raw(v) => v,
    }
}

pub(crate) fn entry_target(p: &Parsed, img: &[u8], t: EntryTarget) -> u64 {
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
pub(crate) fn link_site(img: &mut [u8], p: &Parsed, link: u8, append: bool) -> Option<(u64, u32)> {
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
pub(crate) fn entry_site(img: &mut [u8], p: &Parsed, k: u16) -> Option<(u64, u32)> {
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

pub(crate) fn leaf_target(p: &Parsed, this: u64, t: NextTarget) -> u64 {
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

pub(crate) fn slot_at(leaf: u64, slot: u64) -> u64 {
    leaf + SLOTS_AT + slot * SLOT_BYTES
}

/// A valid slot of `leaf` (any slot if it has none).
pub(crate) fn pick_slot(img: &[u8], leaf: u64, k: u8) -> u64 {
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
