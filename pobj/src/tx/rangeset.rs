//! A set of byte ranges, merged on insert: which ranges a transaction has already logged (or
//! allocated, or written unlogged), so that a range snapshotted twice is logged once.
//!
//! Small sets (the common transaction touches a few ranges) live in a sorted `Vec`, reused from
//! one transaction to the next; large ones move to a `BTreeMap`.

use std::collections::BTreeMap;

const SMALL_MAX: usize = 64;

/// Disjoint, non-adjacent half-open ranges.
#[derive(Debug, Default, Clone)]
pub(crate) struct RangeSet {
    small: Vec<(u64, u64)>,
    large: BTreeMap<u64, u64>,
    is_large: bool,
}

impl RangeSet {
    pub(crate) fn clear(&mut self) {
        self.small.clear();
        self.large.clear();
        self.is_large = false;
    }

    pub(crate) fn is_empty(&self) -> bool {
        if self.is_large {
            self.large.is_empty()
        } else {
            self.small.is_empty()
        }
    }

    /// The parts of `start..end` not in the set, in order.
    pub(crate) fn uncovered(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        if self.is_large {
            let before = self.large.range(..start).next_back().map(|(&s, &e)| (s, e));
            gaps(
                before
                    .into_iter()
                    .chain(self.large.range(start..end).map(|(&s, &e)| (s, e))),
                start,
                end,
            )
        } else {
            let i = self.small.partition_point(|&(_, e)| e <= start);
            gaps(
                self.small[i..]
                    .iter()
                    .copied()
                    .take_while(|&(s, _)| s < end),
                start,
                end,
            )
        }
    }

    /// Adds `start..end`, merging with overlapping or adjacent ranges.
    pub(crate) fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        if !self.is_large {
            // First range that ends at or after `start` (it may merge), through the last range
            // that starts at or before `end`.
            let i = self.small.partition_point(|&(_, e)| e < start);
            let mut j = i;
            while j < self.small.len() && self.small[j].0 <= end {
                start = start.min(self.small[j].0);
                end = end.max(self.small[j].1);
                j += 1;
            }
            self.small.splice(i..j, [(start, end)]);
            if self.small.len() > SMALL_MAX {
                self.large.extend(self.small.drain(..));
                self.is_large = true;
            }
            return;
        }
        if let Some((&s, &e)) = self.large.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let overl: Vec<(u64, u64)> = self
            .large
            .range(start..=end)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in overl {
            self.large.remove(&s);
            end = end.max(e);
        }
        self.large.insert(start, end);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (a, b) = if self.is_large {
            (&[][..], Some(&self.large))
        } else {
            (&self.small[..], None)
        };
        a.iter()
            .copied()
            .chain(b.into_iter().flat_map(|m| m.iter().map(|(&s, &e)| (s, e))))
    }
}

/// The parts of `start..end` not covered by `ranges` (sorted, disjoint).
fn gaps(ranges: impl Iterator<Item = (u64, u64)>, start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut cur = start;
    for (s, e) in ranges {
        if e <= cur {
            continue;
        }
        if s > cur {
            out.push((cur, s.min(end)));
        }
        cur = cur.max(e);
        if cur >= end {
            break;
        }
    }
    if cur < end {
        out.push((cur, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_bitset(ops in proptest::collection::vec((0u64..400, 1u64..40), 1..120), q in (0u64..400, 1u64..60)) {
            let mut rs = RangeSet::default();
            let mut model = [false; 500];
            for (s, l) in ops {
                rs.insert(s, s + l);
                for m in &mut model[s as usize..(s + l) as usize] { *m = true; }
            }
            let (qs, ql) = q;
            let unc = rs.uncovered(qs, qs + ql);
            let mut got = [false; 500];
            for (s, e) in &unc { for g in &mut got[*s as usize..*e as usize] { *g = true; } }
            for i in qs..qs + ql {
                prop_assert_eq!(got[i as usize], !model[i as usize], "at {}", i);
            }
            let v: Vec<_> = rs.iter().collect();
            for w in v.windows(2) { prop_assert!(w[0].1 < w[1].0); }
            let mut covered = [false; 500];
            for (s, e) in v { for c in &mut covered[s as usize..e as usize] { *c = true; } }
            prop_assert_eq!(&covered[..], &model[..]);
        }
    }
}
