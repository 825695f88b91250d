//! `Cursor`: a position in the map that moves both ways and seeks (what pmemkv's iterators do).
//!
//! A cursor holds a copy of the entry it is at and no lock: every move reads the map afresh
//! (the leaf holding the position, validated like any read), so it sees what was committed
//! before the move. Under concurrent writers each move returns an entry that was in the map at
//! some moment during the move.

use std::ops::Bound;

use pobj::Persistent;

use super::read::Probe;
use super::{index_inconsistent, Map, MAX_REROUTES};
use crate::error::Result;
use crate::leaf::KvRoot;

/// A position in a [`Map`], moved by seeks, [`next`](Cursor::next) and [`prev`](Cursor::prev).
/// After a move that finds nothing the cursor is unpositioned (`key()` is `None`).
pub struct Cursor<R: Persistent = KvRoot> {
    map: Map<R>,
    at: Option<(Vec<u8>, Vec<u8>)>,
}

impl<R: Persistent> std::fmt::Debug for Cursor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("key_len", &self.at.as_ref().map(|e| e.0.len()))
            .finish_non_exhaustive()
    }
}

impl<R: Persistent> Cursor<R> {
    pub(crate) fn new(map: Map<R>) -> Self {
        Cursor { map, at: None }
    }

    fn place(&mut self, e: Option<(Vec<u8>, Vec<u8>)>) -> bool {
        self.at = e;
        self.at.is_some()
    }

    /// Positions at `key`; `false` (unpositioned) if it is absent.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        let e = self.map.get(key)?.map(|v| (key.to_vec(), v));
        Ok(self.place(e))
    }

    /// Positions at the greatest key below `key`.
    pub fn seek_lower(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let e = self.map.last_below(Bound::Excluded(key.as_ref()))?;
        Ok(self.place(e))
    }

    /// Positions at the greatest key at or below `key`.
    pub fn seek_lower_eq(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let e = self.map.last_below(Bound::Included(key.as_ref()))?;
        Ok(self.place(e))
    }

    /// Positions at the least key above `key`.
    pub fn seek_higher(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let e = self.map.first_above(Bound::Excluded(key.as_ref()))?;
        Ok(self.place(e))
    }

    /// Positions at the least key at or above `key`.
    pub fn seek_higher_eq(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let e = self.map.first_above(Bound::Included(key.as_ref()))?;
        Ok(self.place(e))
    }

    /// Positions at the least key; `false` if the map is empty.
    pub fn seek_to_first(&mut self) -> Result<bool> {
        let e = self.map.first_above(Bound::Unbounded)?;
        Ok(self.place(e))
    }

    /// Positions at the greatest key; `false` if the map is empty.
    pub fn seek_to_last(&mut self) -> Result<bool> {
        let e = self.map.last_below(Bound::Unbounded)?;
        Ok(self.place(e))
    }

    /// Whether a key follows the current one (the cursor does not move); `false` when
    /// unpositioned.
    pub fn has_next(&self) -> Result<bool> {
        let Some((k, _)) = &self.at else {
            return Ok(false);
        };
        Ok(self
            .map
            .next_entries(Bound::Excluded(k), Bound::Unbounded, false)?
            .is_some())
    }

    /// Moves to the next key; `false` (unpositioned) if there is none or the cursor is not
    /// positioned.
    #[expect(
        clippy::should_implement_trait,
        reason = "pmemkv's name; a cursor moves both ways and is no `Iterator`"
    )]
    pub fn next(&mut self) -> Result<bool> {
        let Some((k, _)) = self.at.take() else {
            return Ok(false);
        };
        let e = self.map.first_above(Bound::Excluded(&k))?;
        if e.as_ref().is_some_and(|e| e.0 == k) {
            return Err(super::scan::not_an_order());
        }
        Ok(self.place(e))
    }

    /// Moves to the previous key; `false` (unpositioned) if there is none or the cursor is not
    /// positioned.
    pub fn prev(&mut self) -> Result<bool> {
        let Some((k, _)) = self.at.take() else {
            return Ok(false);
        };
        let e = self.map.last_below(Bound::Excluded(&k))?;
        if e.as_ref().is_some_and(|e| e.0 == k) {
            return Err(super::scan::not_an_order());
        }
        Ok(self.place(e))
    }

    /// The current key.
    pub fn key(&self) -> Option<&[u8]> {
        self.at.as_ref().map(|e| e.0.as_slice())
    }

    /// The current value, as read by the last move.
    pub fn value(&self) -> Option<&[u8]> {
        self.at.as_ref().map(|e| e.1.as_slice())
    }

    /// Replaces the current entry's value by `f(value)` ([`Map::update`]: atomic and durable,
    /// read and written under the leaf's lock); the cursor keeps its key (the same buffer) and
    /// holds the new value. `false` if unpositioned or the key was removed meanwhile.
    pub fn update(&mut self, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<bool> {
        let Some((k, v)) = self.at.as_mut() else {
            return Ok(false);
        };
        let mut new = None;
        let applied = self.map.update(&*k, |old| {
            let n = f(old);
            new = Some(n.clone());
            n
        })?;
        if let Some(n) = new {
            *v = n;
        }
        Ok(applied)
    }

    /// The map the cursor moves in.
    pub fn map(&self) -> &Map<R> {
        &self.map
    }

    /// Rereads the current entry (after a write to it); unpositioned if it was removed.
    pub fn refresh(&mut self) -> Result<bool> {
        let Some((k, _)) = self.at.take() else {
            return Ok(false);
        };
        self.seek(k)
    }
}

impl<R: Persistent> Map<R> {
    /// A cursor, unpositioned: seek it first. It holds a handle of the map (no lock).
    pub fn cursor(&self) -> Cursor<R> {
        Cursor::new(self.clone())
    }

    /// The least entry whose key lies above `lower`. Keys are read first and only the entry
    /// returned is copied with its value (a key removed meanwhile is passed over).
    pub(crate) fn first_above(&self, lower: Bound<&[u8]>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut from: Bound<Vec<u8>> = lower.map(<[u8]>::to_vec);
        for _ in 0..MAX_REROUTES {
            let Some(e) =
                self.next_entries(from.as_ref().map(Vec::as_slice), Bound::Unbounded, false)?
            else {
                return Ok(None);
            };
            for (k, _) in e {
                if let Some(v) = self.get(&k)? {
                    return Ok(Some((k, v)));
                }
                from = Bound::Excluded(k);
            }
        }
        Err(index_inconsistent())
    }

    /// The greatest entry whose key lies below `upper`: the leaf holding the bound, then the
    /// leaves before it, one at a time, each read at the bound where the previous one began (a
    /// split or unlink of the leaf before meanwhile is re-routed by `Probe::Below`, so no leaf
    /// is skipped).
    pub(crate) fn last_below(&self, upper: Bound<&[u8]>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut bound: Option<Vec<u8>> = None;
        let mut first_step = Some(match upper {
            Bound::Included(k) | Bound::Excluded(k) => Probe::Key(k),
            Bound::Unbounded => Probe::Last,
        });
        // Each step ends at a strictly lower bound (the leaf before the one read); the index
        // has fewer leaves than this.
        for _ in 0..MAX_REROUTES {
            let (probe, range) = match (first_step.take(), &bound) {
                (Some(p), _) => (p, (Bound::Unbounded, upper)),
                (None, Some(b)) => (
                    Probe::Below(b),
                    (Bound::Unbounded, Bound::Excluded(b.as_slice())),
                ),
                (None, None) => return Err(index_inconsistent()),
            };
            let (st, mut e) = self.entries_holding(probe, &range, false)?;
            while let Some((k, _)) = e.pop() {
                // The value, read afresh: only the entry returned is copied. A key removed
                // meanwhile is passed over for the one before it.
                if let Some(v) = self.get(&k)? {
                    return Ok(Some((k, v)));
                }
            }
            if st.first {
                return Ok(None);
            }
            bound = Some(st.low.clone());
        }
        Err(index_inconsistent())
    }
}
