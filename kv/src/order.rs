//! Key order: bytewise by default, or a user's comparator chosen when the map is created.
//!
//! The comparator's name is persisted in the map's header (docs/kv.md, `KvRoot`); an open with
//! a comparator of another name is refused ([`Error::ComparatorMismatch`](crate::Error)), since
//! the leaves were ordered by the recorded one.

use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// The name of the default order (unsigned bytewise), as pmemkv names it.
pub const BINARY_COMPARATOR: &str = "__pmemkv_binary_comparator";

/// Longest comparator name, in bytes.
pub const MAX_COMPARATOR_NAME: usize = 4096;

/// An order on keys, identified by its name.
///
/// The order must be total and consistent: `compare(a, b) == Equal` only for identical byte
/// strings (keys are found by their bytes and fingerprints; two different keys that compare
/// equal would be routed to one leaf and found in another), antisymmetric and transitive, and
/// the same every time the map is opened under that name. An order that breaks this cannot cause
/// undefined behaviour, and scans end (with [`Error::Internal`](crate::Error) if they would
/// not), but lookups, scans and `check` may then give
/// wrong answers or [`Error::Internal`](crate::Error), a sort inside the store may panic, and
/// an open may refuse the leaves as out of order. `compare` is called with validated keys only,
/// and must not call into the map (it runs under the map's locks).
pub trait Comparator: Send + Sync + 'static {
    /// The name recorded in the map (at most [`MAX_COMPARATOR_NAME`] bytes).
    fn name(&self) -> &str;
    /// Orders two keys.
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;
}

/// The default order: unsigned bytewise (`[u8]`'s `Ord`), named [`BINARY_COMPARATOR`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Bytewise;

impl Comparator for Bytewise {
    fn name(&self) -> &str {
        BINARY_COMPARATOR
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.cmp(b)
    }
}

/// The order of an open map: bytewise (no indirection on the hot path) or a user's comparator.
#[derive(Clone, Default)]
pub(crate) enum KeyOrder {
    #[default]
    Bytewise,
    Custom(Arc<dyn Comparator>),
}

impl std::fmt::Debug for KeyOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl KeyOrder {
    /// The order `c` stands for: [`Bytewise`] by its name is the fast path.
    pub(crate) fn of(c: Option<Arc<dyn Comparator>>) -> KeyOrder {
        match c {
            Some(c) if c.name() != BINARY_COMPARATOR => KeyOrder::Custom(c),
            _ => KeyOrder::Bytewise,
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            KeyOrder::Bytewise => BINARY_COMPARATOR,
            KeyOrder::Custom(c) => c.name(),
        }
    }

    #[inline]
    pub(crate) fn cmp(&self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            KeyOrder::Bytewise => a.cmp(b),
            KeyOrder::Custom(c) => c.compare(a, b),
        }
    }

    #[inline]
    pub(crate) fn lt(&self, a: &[u8], b: &[u8]) -> bool {
        self.cmp(a, b) == Ordering::Less
    }

    #[inline]
    pub(crate) fn le(&self, a: &[u8], b: &[u8]) -> bool {
        self.cmp(a, b) != Ordering::Greater
    }

    /// Whether `k` lies within `range` in this order.
    pub(crate) fn in_range<B: RangeBounds<[u8]> + ?Sized>(&self, range: &B, k: &[u8]) -> bool {
        (match range.start_bound() {
            Bound::Unbounded => true,
            Bound::Included(s) => self.le(s, k),
            Bound::Excluded(s) => self.lt(s, k),
        }) && (match range.end_bound() {
            Bound::Unbounded => true,
            Bound::Included(e) => self.le(k, e),
            Bound::Excluded(e) => self.lt(k, e),
        })
    }

    /// Whether nothing lies between `lower` and `upper`.
    pub(crate) fn empty_between(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
        match (lower, upper) {
            (_, Bound::Unbounded) | (Bound::Unbounded, _) => false,
            (Bound::Included(k), Bound::Included(e)) => self.lt(e, k),
            (Bound::Included(k), Bound::Excluded(e))
            | (Bound::Excluded(k), Bound::Excluded(e) | Bound::Included(e)) => self.le(e, k),
        }
    }

    /// Sorts entries by key.
    pub(crate) fn sort<T>(&self, v: &mut [(Vec<u8>, T)]) {
        match self {
            KeyOrder::Bytewise => v.sort_unstable_by(|a, b| a.0.cmp(&b.0)),
            KeyOrder::Custom(c) => v.sort_unstable_by(|a, b| c.compare(&a.0, &b.0)),
        }
    }
}

/// A key in the index of a map with a user's order: the first leaf's bound is below every key
/// (`min`), since the empty key is not the least key of every order.
#[derive(Clone)]
pub(crate) struct OrderedKey {
    pub(crate) min: bool,
    pub(crate) key: Vec<u8>,
    pub(crate) order: Arc<dyn Comparator>,
}

impl PartialEq for OrderedKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OrderedKey {}
impl PartialOrd for OrderedKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.min, other.min) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.order.compare(&self.key, &other.key),
        }
    }
}
