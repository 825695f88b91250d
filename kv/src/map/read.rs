//! Lookups: routing through the index to a leaf state, then an optimistic read validated by the
//! leaf's version, or (after `OPTIMISTIC_ATTEMPTS`) one under the leaf's lock.

use pobj::Persistent;
use std::sync::Arc;

use super::{
    backoff, check_sizes, index_inconsistent, internal, Map, MAX_REROUTES, OPTIMISTIC_ATTEMPTS,
};
use crate::error::Result;
use crate::find::{find, Hit, LeafSource};
use crate::inner::LeafState;
use crate::leaf::LeafHead;
use crate::optimistic;
use crate::reentry::Entered;
use crate::slot::fingerprint;

/// Where a read starts: the leaf holding a key, the first leaf or the last (a scan from the
/// start: the empty key is not the least key of every order).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Probe<'a> {
    Key(&'a [u8]),
    First,
    Last,
    /// The leaf whose range ends at (or, after an unlink merged the next leaf into it, holds)
    /// this bound of another leaf: the one holding the keys just below it.
    Below(&'a [u8]),
}

/// A key's slot and its value.
pub(super) type Found = (Hit, Vec<u8>);

/// Key-value pairs read from one leaf, sorted.
pub(crate) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

impl<R: Persistent> Map<R> {
    /// The state the index names for `key`: none while a rebuild is in progress, and for a
    /// moment while the first leaf's entry is replaced (the index unlinks the old entry before
    /// it links the new one), so callers that may race a split or an unlink retry on `None`.
    pub(super) fn route(&self, key: &[u8]) -> Option<Arc<LeafState>> {
        self.core.index.route(key)
    }

    /// `route` of a probe.
    pub(super) fn route_probe(&self, probe: Probe<'_>) -> Option<Arc<LeafState>> {
        match probe {
            Probe::Key(k) => self.core.index.route(k),
            Probe::First => self.core.index.first(),
            Probe::Last => self.core.index.last(),
            Probe::Below(low) => self.core.index.before(low),
        }
    }

    /// Whether `st`'s range holds the probe.
    pub(super) fn holds(&self, st: &LeafState, probe: Probe<'_>) -> bool {
        match probe {
            Probe::Key(k) => st.contains(&self.core.order, k),
            Probe::First => st.first,
            Probe::Last => st.high.is_none(),
            Probe::Below(low) => {
                st.high.as_deref() == Some(low) || st.contains(&self.core.order, low)
            }
        }
    }

    /// `route` for a writer or locked reader that may race a split or an unlink: `None` (after
    /// a back-off) while the first leaf's index entry is being replaced, for the caller to
    /// retry; it cannot last, since every replacement links the new entry right after.
    pub(super) fn route_or_back_off(&self, key: &[u8], attempt: u32) -> Option<Arc<LeafState>> {
        let st = self.core.index.route(key);
        if st.is_none() {
            backoff(attempt);
        }
        st
    }

    /// `route` for an operation holding the writers' lock exclusively (a batch), under which no
    /// rebuild, split or unlink of another thread runs: an index with no state for a key is
    /// damage.
    pub(super) fn route_locked(&self, key: &[u8]) -> Result<Arc<LeafState>> {
        self.core
            .index
            .route(key)
            .ok_or(internal("inner nodes (no leaf for a key)"))
    }

    /// Finds `key` in a leaf whose writers are excluded (lock held): bitmap and hit. Only the
    /// header and the slots whose fingerprint matches are read.
    pub(super) fn find_locked(
        &self,
        st: &LeafState,
        key: &[u8],
        fp: u8,
    ) -> Result<(LeafHead, Option<Hit>)> {
        let reader = optimistic::LeafReader::new(&self.pool, st.ptr)?;
        let head = reader.head()?;
        let hit = find(&reader, head.bitmap, |i| st.fp(i), key, fp, false)?;
        Ok((head, hit.map(|(h, _)| h)))
    }

    /// `find_locked`, with the value (under the leaf's lock).
    pub(super) fn find_locked_value(
        &self,
        st: &LeafState,
        key: &[u8],
        fp: u8,
    ) -> Result<(LeafHead, Option<Found>)> {
        let reader = optimistic::LeafReader::new(&self.pool, st.ptr)?;
        let head = reader.head()?;
        let hit = find(&reader, head.bitmap, |i| st.fp(i), key, fp, true)?;
        Ok((head, hit))
    }

    /// One optimistic lookup attempt in `st`: `Ok(None)` means "retry", `Ok(Some(v))` the
    /// validated answer (`v` itself `None` when the key is absent).
    #[expect(
        clippy::option_option,
        reason = "the outer `None` is \"retry\", the inner one \"absent\""
    )]
    pub(super) fn try_get(
        &self,
        st: &LeafState,
        key: &[u8],
        fp: u8,
    ) -> Result<Option<Option<Vec<u8>>>> {
        let Some(v) = st.version.read_begin() else {
            return Ok(None);
        };
        if st.is_dead() || !st.contains(&self.core.order, key) {
            return Ok(None);
        }
        let read = (|| -> Result<Option<Vec<u8>>> {
            let reader = optimistic::LeafReader::new_unchecked(&self.pool, st.ptr)?;
            let bitmap = reader.head()?.bitmap;
            let found = find(&reader, bitmap, |i| st.fp(i), key, fp, true)?;
            Ok(found.map(|(_, v)| v))
        })();
        // Anything read (or any error from reading torn data) counts only if validated.
        if !st.version.read_validate(v) || st.is_dead() {
            return Ok(None);
        }
        // A write that failed late set `failed` before its leaf's version became even again:
        // a read validated against that version sees it.
        self.check_failed()?;
        read.map(Some)
    }

    /// Calls `f` with the value of `key`; `None` if absent. The value is copied out of the
    /// pool and validated before `f` sees it (readers take no lock).
    pub fn get_with<U>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> U,
    ) -> Result<Option<U>> {
        Ok(self.get(key)?.map(|v| f(&v)))
    }

    /// The value of `key`, copied; `None` if absent.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        check_sizes(key, None)?;
        let fp = fingerprint(key);
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            self.check_failed()?;
            // Pinned from the route to the validation: a leaf or entry freed meanwhile is not
            // reused before the pin is dropped (pobj's grace period of shared objects).
            let pin = pobj::ReadPin::new();
            if let Some(st) = self.route(key) {
                if let Some(r) = self.try_get(&st, key, fp)? {
                    return Ok(r);
                }
            }
            drop(pin);
            backoff(attempt);
        }
        Ok(self
            .read_locked(Probe::Key(key), |st| self.try_get(st, key, fp))?
            .1)
    }

    /// The readers' slow path: under the writers' read lock and the lock of the leaf holding
    /// `probe` (see `route_probe`), `read` cannot be overtaken, so a reader that kept losing
    /// races still finishes. `read` answering "retry" under the lock means the leaf's version is
    /// odd: corruption.
    pub(super) fn read_locked<T>(
        &self,
        probe: Probe<'_>,
        mut read: impl FnMut(&LeafState) -> Result<Option<T>>,
    ) -> Result<(Arc<LeafState>, T)> {
        let _in = Entered::new(self.core.id)?;
        // Under the pool's shared section no user transaction holds a leaf mid-write, so
        // the leaf's version is even under its lock.
        let _section = self.pool.shared_section()?;
        let _w = self
            .core
            .writers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for attempt in 0..MAX_REROUTES {
            // A map destroyed (or failed) while this reader waited for the section has no
            // leaves to route to.
            self.check_failed()?;
            let Some(st) = self.route_probe(probe) else {
                backoff(attempt);
                continue;
            };
            let g = st.lock();
            if st.is_dead() || !self.holds(&st, probe) {
                drop(g);
                backoff(attempt);
                continue;
            }
            let r = read(&st)?.ok_or_else(|| internal("leaf version (odd under its lock)"))?;
            drop(g);
            return Ok((st, r));
        }
        Err(index_inconsistent())
    }

    /// Whether `key` is present.
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }
}
