//! Iterators over a key range, in key order.
//!
//! An iterator loads one leaf at a time (its entries in the range, sorted) and then moves to the
//! leaf after the last one it visited, looked up again in the inner nodes, so it holds no lock
//! between items. Each key is returned at most once and in order; with concurrent writers, each
//! value returned was the key's value at some moment during the scan.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use crate::db::Db;
use crate::error::Result;

/// An iterator over entries in a key range; items are `Result<(key, value)>`.
pub struct Iter<'a> {
    db: &'a Db,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    last: Option<Vec<u8>>,
    done: bool,
}

impl<'a> Iter<'a> {
    pub(crate) fn new<K: AsRef<[u8]>, R: RangeBounds<K>>(db: &'a Db, range: R) -> Self {
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
        }
    }

    /// Loads the entries after the last returned key from the next leaf that has any.
    fn refill(&mut self) -> Result<()> {
        let lower: Bound<&[u8]> = match &self.last {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => match &self.start {
                Bound::Included(k) => Bound::Included(k.as_slice()),
                Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            },
        };
        let upper: Bound<&[u8]> = match &self.end {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let range = (lower, upper);
        for (_, ptr) in self.db.leaves_for(&range) {
            let entries = self.db.leaf_entries(ptr, &range, true)?;
            if !entries.is_empty() {
                self.buf.extend(entries);
                return Ok(());
            }
        }
        self.done = true;
        Ok(())
    }
}

impl Iterator for Iter<'_> {
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

impl Db {
    /// All entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new::<&[u8], _>(self, ..)
    }

    /// Entries whose keys are in `range` (the bounds of `BTreeMap::range`), in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter<'_> {
        Iter::new(self, range)
    }
}
