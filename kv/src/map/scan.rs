//! Ranges, scans and counts: validated entries of one leaf at a time, never going backwards.

use pobj::Persistent;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use super::read::{Entries, Probe};
use super::{backoff, Map, MAX_REROUTES, OPTIMISTIC_ATTEMPTS};
use crate::error::Result;
use crate::find::leaf_entries;
use crate::inner::LeafState;
use crate::optimistic;
use crate::order::KeyOrder;
use crate::sync::Ordering;

/// What a comparator that is no strict total order leads to: a scan that would not advance.
pub(crate) fn not_an_order() -> crate::Error {
    super::internal(
        "key order (the comparator is not a strict total order: a scan did not advance)",
    )
}

/// Drops an entry of the key returned last (`last`), which only an order in which a key is
/// below itself returns again, and refuses a batch that does not advance: scans always end.
pub(crate) fn progress(last: Option<&[u8]>, entries: &mut Entries) -> Result<()> {
    if let Some(l) = last {
        entries.retain(|e| e.0 != l);
        if entries.is_empty() {
            return Err(not_an_order());
        }
    }
    Ok(())
}

impl<R: Persistent> Map<R> {
    /// The most leaves a scan may read: each leaf of the index once, a few times over for the
    /// leaves that concurrent splits add, and the re-route slack. Only an order under which a
    /// scan cycles through keys (a comparator that is no order) reaches it.
    pub(crate) fn batch_limit(&self) -> usize {
        MAX_REROUTES as usize + 4 * self.core.index.len()
    }

    /// One validated read of the entries of `st` within `range` (and within the leaf's own
    /// range), sorted; `None` if it must be retried (a concurrent write or a dead state).
    pub(super) fn try_leaf_entries<B: RangeBounds<[u8]>>(
        &self,
        st: &LeafState,
        range: &B,
        values: bool,
    ) -> Result<Option<Entries>> {
        let Some(v) = st.version.read_begin() else {
            return Ok(None);
        };
        if st.is_dead() {
            return Ok(None);
        }
        let order = &self.core.order;
        // A user's comparator sees only validated keys (a racy read may hold a torn one, which
        // a comparator that decodes its keys could choke on): its filter and sort come after
        // the validation. Bytewise comparisons are safe on any bytes and filter while reading.
        let custom = matches!(order, KeyOrder::Custom(_));
        let keep = |k: &[u8]| order.in_range(range, k) && st.contains(order, k);
        let read = optimistic::LeafReader::new_unchecked(&self.pool, st.ptr).and_then(|leaf| {
            leaf_entries(
                &leaf,
                st.ptr.offset(),
                |k| custom || keep(k),
                values,
                (!custom).then_some(order),
            )
        });
        if !st.version.read_validate(v) || st.is_dead() {
            return Ok(None);
        }
        self.check_failed()?;
        let mut e = read?;
        if custom {
            e.retain(|(k, _)| keep(k));
            order.sort(&mut e);
        }
        Ok(Some(e))
    }

    /// The next leaf state at or after `from` with entries in `range`, and those entries; none
    /// when the range is exhausted. Visits one leaf at a time (O(log n) routing each).
    pub(crate) fn next_entries(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        values: bool,
    ) -> Result<Option<Entries>> {
        let mut lower: Bound<Vec<u8>> = match from {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut prev: Option<Arc<LeafState>> = None;
        loop {
            self.check_failed()?;
            let probe = match &lower {
                Bound::Included(k) | Bound::Excluded(k) => Probe::Key(k),
                Bound::Unbounded => Probe::First,
            };
            // Nothing left between the lower bound and the end?
            if self
                .core
                .order
                .empty_between(lower.as_ref().map(Vec::as_slice), to)
            {
                return Ok(None);
            }
            let range = (lower.as_ref().map(Vec::as_slice), to);
            let (st, e) = self.entries_holding(probe, &range, values)?;
            if prev.as_ref().is_some_and(|p| Arc::ptr_eq(p, &st)) {
                // Routed back to the leaf just read: only a comparator that is no strict order
                // makes a leaf hold its own upper bound.
                return Err(not_an_order());
            }
            if !e.is_empty() {
                return Ok(Some(e));
            }
            prev = Some(Arc::clone(&st));
            // Nothing here: continue at the next leaf's bound, which is above the lower bound
            // since this leaf holds it.
            match &st.high {
                None => return Ok(None),
                Some(h) => lower = Bound::Included(h.clone()),
            }
        }
    }

    /// The state holding `probe` and its validated entries in `range`: optimistic attempts,
    /// then (after `OPTIMISTIC_ATTEMPTS`) one under the writers' and the leaf's locks.
    pub(super) fn entries_holding<B: RangeBounds<[u8]>>(
        &self,
        probe: Probe<'_>,
        range: &B,
        values: bool,
    ) -> Result<(Arc<LeafState>, Entries)> {
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            self.check_failed()?;
            // Pinned from the route to the validation (see `get`).
            let pin = pobj::ReadPin::new();
            // Never use a state that does not hold the lower bound (the index may be
            // publishing a split or an unlink), or the scan could go backwards.
            if let Some(st) = self.route_probe(probe).filter(|st| self.holds(st, probe)) {
                if let Some(e) = self.try_leaf_entries(&st, range, values)? {
                    return Ok((st, e));
                }
            }
            drop(pin);
            backoff(attempt);
        }
        self.read_locked(probe, |st| self.try_leaf_entries(st, range, values))
    }

    /// Calls `f` for each entry in `range` in key order until it returns `false`.
    pub(super) fn scan<B: RangeBounds<[u8]>>(
        &self,
        range: B,
        values: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        let mut batches = 0usize;
        loop {
            batches += 1;
            if batches > self.batch_limit() {
                return Err(not_an_order());
            }
            let from = match &last {
                Some(k) => Bound::Excluded(k.as_slice()),
                None => range.start_bound(),
            };
            let Some(mut entries) = self.next_entries(from, range.end_bound(), values)? else {
                return Ok(());
            };
            progress(last.as_deref(), &mut entries)?;
            for (k, v) in &entries {
                if !f(k, v) {
                    return Ok(());
                }
            }
            last = entries.into_iter().next_back().map(|e| e.0);
        }
    }

    /// Counts keys in `range` without copying values.
    pub(super) fn count_range<B: RangeBounds<[u8]>>(&self, range: B) -> Result<u64> {
        let mut n = 0;
        self.scan(range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Number of entries.
    pub fn count_all(&self) -> Result<u64> {
        Ok(self.core.count.load(Ordering::Acquire))
    }

    /// Keys greater than `key`.
    pub fn count_above(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Excluded(key.as_ref()), Bound::Unbounded))
    }

    /// Keys greater than or equal to `key`.
    pub fn count_equal_above(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Included(key.as_ref()), Bound::Unbounded))
    }

    /// Keys less than `key`.
    pub fn count_below(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Unbounded, Bound::Excluded(key.as_ref())))
    }

    /// Keys less than or equal to `key`.
    pub fn count_equal_below(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count_range((Bound::Unbounded, Bound::Included(key.as_ref())))
    }

    /// Keys strictly between `k1` and `k2` (0 when `k1 >= k2`).
    pub fn count_between(&self, k1: impl AsRef<[u8]>, k2: impl AsRef<[u8]>) -> Result<u64> {
        let (a, b) = (k1.as_ref(), k2.as_ref());
        if !self.core.order.lt(a, b) {
            return Ok(0);
        }
        self.count_range((Bound::Excluded(a), Bound::Excluded(b)))
    }

    /// Calls `f(key, value)` for every entry in key order, until it returns `false`.
    pub fn get_all(&self, f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.scan::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Unbounded, Bound::Unbounded), true, f)
    }

    /// Entries with keys greater than `key`, in order, until `f` returns `false`.
    pub fn get_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Excluded(key.as_ref()), Bound::Unbounded), true, f)
    }

    /// Entries with keys greater than or equal to `key`.
    pub fn get_equal_above(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Included(key.as_ref()), Bound::Unbounded), true, f)
    }

    /// Entries with keys less than `key`.
    pub fn get_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Unbounded, Bound::Excluded(key.as_ref())), true, f)
    }

    /// Entries with keys less than or equal to `key`.
    pub fn get_equal_below(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.scan((Bound::Unbounded, Bound::Included(key.as_ref())), true, f)
    }

    /// Entries with keys strictly between `k1` and `k2`.
    pub fn get_between(
        &self,
        k1: impl AsRef<[u8]>,
        k2: impl AsRef<[u8]>,
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let (a, b) = (k1.as_ref(), k2.as_ref());
        if !self.core.order.lt(a, b) {
            return Ok(());
        }
        self.scan((Bound::Excluded(a), Bound::Excluded(b)), true, f)
    }
}
