//! `Heap::check`: the chunk table, runs and object headers against each other.

use super::{Block, Heap, State, FREE_WORD};
use crate::format::chunk::ChunkHeader;
use crate::format::run::{self, BITMAP_OFFSET, RUN_MAGIC};

impl Heap {
    /// Read-only consistency check of the persistent heap against itself and the volatile state.
    /// Appends one line per problem.
    /// Returns the number of objects found on media.
    pub(crate) fn check(&self, problems: &mut Vec<String>) -> u64 {
        let g = &self.geo;
        let st = self.lock();
        let mut objects = 0u64;
        let mut bytes = 0u64;
        let mut i = 0;
        while i < g.chunk_count {
            let hoff = g.chunk_header_offset(i);
            let w = match self.region.atomic(hoff) {
                Ok(a) => a.load(core::sync::atomic::Ordering::Acquire),
                Err(e) => {
                    problems.push(format!("chunk {i}: {e}"));
                    return objects;
                }
            };
            match ChunkHeader::decode(w) {
                None => {
                    problems.push(format!(
                        "chunk {i}: invalid header word {w:#018x} at {hoff:#x}"
                    ));
                    i += 1;
                }
                Some(ChunkHeader::Free) => {
                    let covered = st
                        .free_by_start
                        .range(..=i)
                        .next_back()
                        .is_some_and(|(&s, &l)| i < s + l)
                        || st.runs.get(&i).is_some_and(|r| r.free == r.nblocks);
                    if !covered {
                        problems.push(format!(
                            "chunk {i}: free on media but not in the free lists (leak)"
                        ));
                    }
                    i += 1;
                }
                Some(ChunkHeader::Used { len }) => {
                    if len > g.chunk_count - i {
                        problems.push(format!(
                            "chunk {i}: extent of {len} chunks runs past the heap"
                        ));
                        return objects;
                    }
                    for c in i + 1..i + len {
                        if let Ok(a) = self.region.atomic(g.chunk_header_offset(c)) {
                            if a.load(core::sync::atomic::Ordering::Acquire) != FREE_WORD {
                                problems.push(format!(
                                    "chunk {c}: header word inside the extent of chunk {i} is not FREE"
                                ));
                            }
                        }
                    }
                    for c in i..i + len {
                        if st
                            .free_by_start
                            .range(..=c)
                            .next_back()
                            .is_some_and(|(&s, &l)| c < s + l)
                        {
                            problems.push(format!(
                                "chunk {c}: inside a used extent but listed free (double hand-out)"
                            ));
                        }
                    }
                    let blk = Block::Large { chunk: i, len };
                    match self.region.atomic(blk.header_offset(g)) {
                        Ok(a) if a.load(core::sync::atomic::Ordering::Acquire) > blk.capacity() => {
                            problems.push(format!(
                                "object at {:#x}: size larger than its extent",
                                blk.payload_offset(g)
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(format!("object at chunk {i}: {e}")),
                    }
                    objects += 1;
                    bytes += blk.footprint();
                    i += len;
                }
                Some(ChunkHeader::Run) => {
                    self.check_run(&st, i, problems, &mut objects, &mut bytes);
                    i += 1;
                }
            }
        }
        // Reservations of in-flight transactions are counted in the volatile totals; `check` is
        // run with no transaction in flight, so the totals must agree.
        if objects != st.alloc_objects || bytes != st.alloc_bytes {
            problems.push(format!(
                "object counts disagree: media has {objects} objects / {bytes} bytes, volatile state {} / {}",
                st.alloc_objects, st.alloc_bytes
            ));
        }
        objects
    }

    pub(super) fn check_run(
        &self,
        st: &State,
        i: u64,
        problems: &mut Vec<String>,
        objects: &mut u64,
        bytes: &mut u64,
    ) {
        let g = &self.geo;
        let coff = g.chunk_offset(i);
        let (magic, geo) = match (self.region.atomic(coff), self.region.atomic(coff + 8)) {
            (Ok(a), Ok(b)) => (
                a.load(core::sync::atomic::Ordering::Acquire),
                b.load(core::sync::atomic::Ordering::Acquire),
            ),
            _ => {
                problems.push(format!("run at chunk {i}: out of bounds"));
                return;
            }
        };
        let Some((bs, n)) = (magic == RUN_MAGIC)
            .then(|| run::decode_geometry(geo))
            .flatten()
        else {
            problems.push(format!("run at chunk {i}: invalid descriptor"));
            return;
        };
        let vol = st.runs.get(&i);
        if vol.is_none() {
            problems.push(format!("run at chunk {i}: not known to the allocator"));
        }
        for wi in 0..n.div_ceil(64) {
            let woff = coff + BITMAP_OFFSET + wi * 8;
            let Ok(a) = self.region.atomic(woff) else {
                continue;
            };
            let mut v = a.load(core::sync::atomic::Ordering::Acquire);
            let valid = if (wi + 1) * 64 <= n {
                u64::MAX
            } else {
                (1u64 << (n % 64)) - 1
            };
            if v & !valid != 0 {
                problems.push(format!(
                    "run at chunk {i}: bitmap bits set past the last block"
                ));
            }
            if let Some(r) = vol {
                if r.bits.get(wi as usize).copied() != Some(v) {
                    problems.push(format!(
                        "run at chunk {i}: bitmap word {wi} differs from the allocator's"
                    ));
                }
            }
            v &= valid;
            while v != 0 {
                let b = u64::from(v.trailing_zeros());
                v &= v - 1;
                let blk = Block::Small {
                    chunk: i,
                    index: wi * 64 + b,
                    bs,
                };
                if let Ok(h) = self.region.atomic(blk.header_offset(g)) {
                    if h.load(core::sync::atomic::Ordering::Acquire) > blk.capacity() {
                        problems.push(format!(
                            "object at {:#x}: size larger than its block",
                            blk.payload_offset(g)
                        ));
                    }
                }
                *objects += 1;
                *bytes += bs;
            }
        }
    }
}
