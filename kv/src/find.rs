//! The one slot finder: the fingerprint filter and the key comparison over a leaf's valid slots,
//! used by the optimistic reader, the locked writers and a batch's transaction alike. How the
//! leaf's bytes are read is a [`LeafSource`]: racy atomic loads (`optimistic::LeafReader`) or a
//! transaction's view ([`TxLeaf`]).

use std::borrow::Cow;

use pobj::{PBytes, PPtr, Persistent, Tx};

use crate::error::Result;
use crate::leaf::{Leaf, LeafHead, SLOT_MASK};
use crate::slot::Slot;

/// Reads one leaf and the out-of-line buffers of its slots.
pub(crate) trait LeafSource {
    /// The whole leaf.
    fn leaf(&self) -> Result<Cow<'_, Leaf>>;
    /// The leaf's bitmap and next pointer.
    fn head(&self) -> Result<LeafHead>;
    /// Slot `i`; only its first `len` bytes need be read (the rest may read as zero).
    fn slot(&self, i: usize, len: usize) -> Result<Slot>;
    /// Bytes `0..len` of the buffer `b`, or fewer if a source finds it shorter.
    fn buffer(&self, b: PBytes, len: usize) -> Result<Cow<'_, [u8]>>;
}

/// A slot found to hold a key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    /// Its index in the leaf.
    pub slot: usize,
    /// Its out-of-line buffer, if any.
    pub buffer: Option<PBytes>,
}

/// The slot among `bitmap`'s valid ones that holds `key` (fingerprint `fp`; `fps(i)` is slot
/// `i`'s fingerprint as the index knows it). With `with_value`, also the entry's value, read
/// in the same loads as the key; otherwise an empty vector and only the key's bytes are read.
pub(crate) fn find<S: LeafSource>(
    src: &S,
    bitmap: u64,
    fps: impl Fn(usize) -> u8,
    key: &[u8],
    fp: u8,
    with_value: bool,
) -> Result<Option<(Hit, Vec<u8>)>> {
    // Meta and the key (at least the 8 bytes of an out-of-line buffer's offset); the whole
    // slot when the value is wanted.
    let slot_len = if with_value {
        core::mem::size_of::<Slot>()
    } else {
        8 + key.len().max(8)
    };
    let mut bits = bitmap & SLOT_MASK;
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        if fps(i) != fp {
            continue;
        }
        let s = src.slot(i, slot_len)?;
        let Some(m) = s.meta() else { continue };
        if m.klen != key.len() {
            continue;
        }
        let vlen = if with_value { m.vlen } else { 0 };
        match s.buffer() {
            // A decoded inline entry fits the slot: klen + vlen <= INLINE.
            None => {
                if s.data.get(..m.klen) == Some(key) {
                    let v = s.data.get(m.klen..m.klen + vlen).unwrap_or_default();
                    let hit = Hit {
                        slot: i,
                        buffer: None,
                    };
                    return Ok(Some((hit, v.to_vec())));
                }
            }
            Some(b) => {
                let d = src.buffer(b, m.klen + vlen)?;
                if d.get(..m.klen) == Some(key) {
                    let v = d.get(m.klen..).unwrap_or_default();
                    let hit = Hit {
                        slot: i,
                        buffer: Some(b),
                    };
                    return Ok(Some((hit, v.to_vec())));
                }
            }
        }
    }
    Ok(None)
}

/// A leaf read through a transaction (a batch's, whose writes it sees).
pub(crate) struct TxLeaf<'t, 'p, R: Persistent> {
    tx: &'t Tx<'p, R>,
    leaf: Box<Leaf>,
}

impl<'t, 'p, R: Persistent> TxLeaf<'t, 'p, R> {
    pub(crate) fn new(tx: &'t Tx<'p, R>, p: PPtr<Leaf>) -> Result<Self> {
        Ok(TxLeaf {
            tx,
            leaf: Box::new(tx.load(p)?),
        })
    }
}

impl<R: Persistent> LeafSource for TxLeaf<'_, '_, R> {
    fn leaf(&self) -> Result<Cow<'_, Leaf>> {
        Ok(Cow::Borrowed(&*self.leaf))
    }

    fn head(&self) -> Result<LeafHead> {
        Ok(self.leaf.head)
    }

    fn slot(&self, i: usize, _len: usize) -> Result<Slot> {
        // `i` is a bit of a bitmap masked with `SLOT_MASK`: below `SLOTS`.
        Ok(self.leaf.slots[i])
    }

    fn buffer(&self, b: PBytes, len: usize) -> Result<Cow<'_, [u8]>> {
        let mut d = vec![0u8; len];
        self.tx.load_bytes(b, 0, &mut d)?;
        Ok(Cow::Owned(d))
    }
}

/// The entries of the leaf `src` reads whose keys `keep` accepts, sorted by key in `order` if
/// given (values only if `values`, else empty): what a scan takes from one leaf, racily or in a
/// transaction.
pub(crate) fn leaf_entries<S: LeafSource>(
    src: &S,
    at: u64,
    keep: impl Fn(&[u8]) -> bool,
    values: bool,
    order: Option<&crate::order::KeyOrder>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let leaf = src.leaf()?;
    let mut out = Vec::new();
    for i in leaf.valid() {
        let s = &leaf.slots[i];
        let m = s.meta().ok_or(crate::Error::Corrupted {
            what: "slot metadata",
            offset: at,
        })?;
        let n = if values { m.klen + m.vlen } else { m.klen };
        let (k, v) = match s.buffer() {
            // A decoded inline entry fits the slot: klen + vlen <= INLINE.
            None => (s.data[..m.klen].to_vec(), s.data[m.klen..n].to_vec()),
            Some(buf) => {
                let d = src.buffer(buf, n)?;
                if d.len() < n {
                    return Err(crate::Error::Corrupted {
                        what: "out-of-line entry",
                        offset: buf.offset(),
                    });
                }
                (d[..m.klen].to_vec(), d[m.klen..n].to_vec())
            }
        };
        if keep(&k) {
            out.push((k, v));
        }
    }
    if let Some(order) = order {
        order.sort(&mut out);
    }
    Ok(out)
}
