//! Iterators over a key range, in key order.
//!
//! An iterator reads one leaf at a time (its entries in the range, sorted, validated against
//! the leaf's version) and then continues after the last key it returned, routed again through
//! the inner nodes: it holds no lock between items. Guarantee under concurrent writers: each key
//! is returned at most once and in increasing order, and each value returned was the key's
//! value at some moment during the scan; keys inserted or removed during the scan may or may
//! not appear.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use pobj::Persistent;

use crate::error::Result;
use crate::leaf::KvRoot;
use crate::map::Map;

/// An iterator over entries in a key range; items are `Result<(key, value)>`.
pub struct Iter<'a, R: Persistent = KvRoot> {
    db: &'a Map<R>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    last: Option<Vec<u8>>,
    done: bool,
    /// Leaves read so far (bounded: see `Map::batch_limit`).
    batches: usize,
}

impl<'a, R: Persistent> Iter<'a, R> {
    pub(crate) fn new<K: AsRef<[u8]>, B: RangeBounds<K>>(db: &'a Map<R>, range: B) -> Self {
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Iter {
            db,
            start: own(range.start_bound()),
            end: own(range.end_bound()),
            buf: VecDeque::new(),
            last: None,
            done: false,
            batches: 0,
        }
    }

    fn refill(&mut self) -> Result<()> {
        self.batches += 1;
        if self.batches > self.db.batch_limit() {
            return Err(crate::map::not_an_order());
        }
        let from = match &self.last {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => self.start.as_ref().map(Vec::as_slice),
        };
        match self
            .db
            .next_entries(from, self.end.as_ref().map(Vec::as_slice), true)?
        {
            Some(mut e) => {
                crate::map::progress(self.last.as_deref(), &mut e)?;
                self.buf.extend(e);
            }
            None => self.done = true,
        }
        Ok(())
    }
}

impl<R: Persistent> Iterator for Iter<'_, R> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        let e = self.buf.pop_front()?;
        self.last = Some(e.0.clone());
        Some(Ok(e))
    }
}

impl<R: Persistent> Map<R> {
    /// All entries in key order.
    pub fn iter(&self) -> Iter<'_, R> {
        Iter::new::<&[u8], _>(self, ..)
    }

    /// Entries whose keys are in `range` (the bounds of `BTreeMap::range`), in key order.
    pub fn range<K: AsRef<[u8]>, B: RangeBounds<K>>(&self, range: B) -> Iter<'_, R> {
        Iter::new(self, range)
    }
}
