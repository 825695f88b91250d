//! A set of byte ranges, merged on insert: which ranges a transaction has already logged (or
//! allocated), so that a range snapshotted twice is logged once.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent half-open ranges keyed by start.
#[derive(Debug, Default, Clone)]
pub(crate) struct RangeSet {
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The parts of `start..end` not in the set, in order.
    pub(crate) fn uncovered(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cur = start;
        if let Some((_, &e)) = self.map.range(..=start).next_back() {
            cur = cur.max(e);
        }
        for (&s, &e) in self.map.range(start..end) {
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

    /// Adds `start..end`, merging with overlapping or adjacent ranges.
    pub(crate) fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        if let Some((&s, &e)) = self.map.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let overl: Vec<(u64, u64)> = self.map.range(start..=end).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in overl {
            self.map.remove(&s);
            end = end.max(e);
        }
        self.map.insert(start, end);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_bitset(ops in proptest::collection::vec((0u64..200, 1u64..40), 1..30), q in (0u64..200, 1u64..60)) {
            let mut rs = RangeSet::default();
            let mut model = [false; 300];
            for (s, l) in ops {
                rs.insert(s, s + l);
                for m in &mut model[s as usize..(s + l) as usize] { *m = true; }
            }
            let (qs, ql) = q;
            let unc = rs.uncovered(qs, qs + ql);
            let mut got = [false; 300];
            for (s, e) in &unc { for g in &mut got[*s as usize..*e as usize] { *g = true; } }
            for i in qs..qs + ql {
                prop_assert_eq!(got[i as usize], !model[i as usize], "at {}", i);
            }
            let v: Vec<_> = rs.iter().collect();
            for w in v.windows(2) { prop_assert!(w[0].1 < w[1].0); }
        }
    }
}
