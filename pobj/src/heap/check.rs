//! `Heap::check`: the chunk table, runs and object headers against each other.

use std::sync::atomic::Ordering;

use super::{Block, Heap, State, FREE_WORD};
use crate::format::chunk::ChunkHeader;
use crate::format::layout::Geometry;
use crate::format::run::{self, BITMAP_OFFSET, RUN_MAGIC};
use crate::problem::CheckProblem;

impl Heap {
    /// Read-only consistency check of the persistent heap against itself and the volatile state.
    /// Appends one line per problem.
    /// Returns the number of objects found on media.
    pub(crate) fn check(&self, problems: &mut Vec<CheckProblem>) -> u64 {
        // Blocks of freed shared objects are free on the medium but not yet in the free lists
        // (their grace period): the medium is compared with the state they will leave.
        let st = self.state_after_quarantine();
        let g = &self.geo;
        let count = self.chunks();
        let mut objects = 0u64;
        let mut bytes = 0u64;
        let mut i = 0;
        while i < count {
            let hoff = g.chunk_header_offset(i);
            let w = match self.region.atomic(hoff) {
                Ok(a) => a.load(Ordering::Acquire),
                Err(e) => {
                    problems.push(CheckProblem::ChunkUnreadable {
                        chunk: i,
                        error: e.to_string(),
                    });
                    return objects;
                }
            };
            match ChunkHeader::decode(w) {
                None => {
                    problems.push(CheckProblem::InvalidChunkHeader {
                        chunk: i,
                        offset: hoff,
                        word: w,
                    });
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
                        problems.push(CheckProblem::FreeChunkNotListed { chunk: i });
                    }
                    i += 1;
                }
                Some(ChunkHeader::Used { len }) => {
                    if len > count - i {
                        problems.push(CheckProblem::ExtentPastHeap { chunk: i, len });
                        return objects;
                    }
                    for c in i + 1..i + len {
                        if let Ok(a) = self.region.atomic(g.chunk_header_offset(c)) {
                            if a.load(Ordering::Acquire) != FREE_WORD {
                                problems.push(CheckProblem::InnerWordNotFree {
                                    chunk: c,
                                    extent: i,
                                });
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
                            problems.push(CheckProblem::UsedChunkListedFree { chunk: c });
                        }
                    }
                    let blk = Block::Large { chunk: i, len };
                    match self.region.atomic(blk.header_offset(g)) {
                        Ok(a) => check_size(problems, g, blk, a.load(Ordering::Acquire)),
                        Err(e) => problems.push(CheckProblem::ObjectUnreadable {
                            chunk: i,
                            error: e.to_string(),
                        }),
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
            problems.push(CheckProblem::CountsDisagree {
                media_objects: objects,
                media_bytes: bytes,
                volatile_objects: st.alloc_objects,
                volatile_bytes: st.alloc_bytes,
            });
        }
        objects
    }

    pub(super) fn check_run(
        &self,
        st: &State,
        i: u64,
        problems: &mut Vec<CheckProblem>,
        objects: &mut u64,
        bytes: &mut u64,
    ) {
        let g = &self.geo;
        let coff = g.chunk_offset(i);
        let (magic, geo) =
            if let (Ok(a), Ok(b)) = (self.region.atomic(coff), self.region.atomic(coff + 8)) {
                (a.load(Ordering::Acquire), b.load(Ordering::Acquire))
            } else {
                problems.push(CheckProblem::InvalidRun { chunk: i });
                return;
            };
        let Some((bs, n)) = (magic == RUN_MAGIC)
            .then(|| run::decode_geometry(geo))
            .flatten()
        else {
            problems.push(CheckProblem::InvalidRun { chunk: i });
            return;
        };
        let vol = st.runs.get(&i);
        if vol.is_none() {
            problems.push(CheckProblem::RunNotKnown { chunk: i });
        }
        for wi in 0..n.div_ceil(64) {
            let woff = coff + BITMAP_OFFSET + wi * 8;
            let Ok(a) = self.region.atomic(woff) else {
                continue;
            };
            let mut v = a.load(Ordering::Acquire);
            let valid = if (wi + 1) * 64 <= n {
                u64::MAX
            } else {
                (1u64 << (n % 64)) - 1
            };
            if v & !valid != 0 {
                problems.push(CheckProblem::BitsPastLastBlock { chunk: i, word: wi });
            }
            if let Some(r) = vol {
                if r.bits.get(wi as usize).copied() != Some(v) {
                    problems.push(CheckProblem::BitmapDiffers { chunk: i, word: wi });
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
                    check_size(problems, g, blk, h.load(Ordering::Acquire));
                }
                *objects += 1;
                *bytes += bs;
            }
        }
    }
}

/// Reports `blk` if the size in its object header exceeds its capacity.
fn check_size(problems: &mut Vec<CheckProblem>, g: &Geometry, blk: Block, size: u64) {
    let size = size & !crate::format::object::SHARED_FLAG;
    if size > blk.capacity() {
        problems.push(CheckProblem::ObjectTooLarge {
            offset: blk.payload_offset(g),
            size,
            capacity: blk.capacity(),
        });
    }
}
