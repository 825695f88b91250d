//! Write batches: every change in one transaction, with writers excluded and the touched leaves
//! mid-write until the end.

use std::sync::Arc;

use pobj::{Persistent, Tx};

use super::ops::{self, first_free, Writes};
use super::{check_sizes, internal, Map};
use crate::error::Result;
use crate::find::{find, Hit, LeafSource, TxLeaf};
use crate::inner::LeafState;
use crate::leaf::LeafHead;
use crate::reentry::Entered;
use crate::slot::fingerprint;

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum BatchOp {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
}

/// Puts and removes applied atomically by [`Db::write`], in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.ops
            .push(BatchOp::Put(key.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }
    /// Adds a remove.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(BatchOp::Remove(key.as_ref().to_vec()));
        self
    }
    /// Operations in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// Whether the batch is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What a transaction did to a map, to publish after it commits (or undo if it aborts).
#[derive(Default)]
pub(super) struct BatchState {
    pub(super) touched: Vec<Arc<LeafState>>,
    pub(super) delta: i64,
    /// The map is destroyed by the transaction.
    pub(super) destroyed: bool,
}

/// Finds `key` in a leaf inside a transaction: header and hit.
pub(super) fn find_tx<R: Persistent>(
    tx: &Tx<'_, R>,
    st: &LeafState,
    key: &[u8],
    fp: u8,
) -> Result<(LeafHead, Option<Hit>)> {
    let leaf = TxLeaf::new(tx, st.ptr)?;
    let head = leaf.head()?;
    let hit = find(&leaf, head.bitmap, |i| st.fp(i), key, fp, false)?;
    Ok((head, hit.map(|(h, _)| h)))
}

impl<R: Persistent> Map<R> {
    /// Applies a batch of puts and removes in one transaction: all or nothing, durable when it
    /// returns. Other writers of the pool wait (it is a safe transaction of the pool); readers
    /// see, for each leaf, its state before or after the whole batch (every leaf the batch
    /// touches stays mid-write until it ends).
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        for op in &batch.ops {
            match op {
                BatchOp::Put(k, v) => check_sizes(k, Some(v))?,
                BatchOp::Remove(k) => check_sizes(k, None)?,
            }
        }
        let _in = Entered::new(self.core.id)?;
        self.check_failed()?;
        self.pool.transaction(|tx| {
            let mut m = self.tx(tx)?;
            for op in &batch.ops {
                match op {
                    BatchOp::Put(k, v) => m.put(k, v)?,
                    BatchOp::Remove(k) => {
                        m.remove(k)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Marks `st` as written by the batch (once).
    pub(super) fn touch(b: &mut BatchState, st: &Arc<LeafState>) {
        if !b.touched.iter().any(|t| Arc::ptr_eq(t, st)) {
            st.version.write_begin();
            #[cfg(loom)]
            if crate::sync::mutated("a transaction's leaves are not kept mid-write") {
                st.version.write_end();
            }
            b.touched.push(Arc::clone(st));
        }
    }

    /// Put inside a batch's transaction, with logged writes. A full leaf is split (even for
    /// an overwrite), in the same transaction.
    pub(super) fn put_tx(
        &self,
        tx: &mut Tx<'_, R>,
        b: &mut BatchState,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let fp = fingerprint(key);
        for _ in 0..3 {
            let st = self.route_locked(key)?;
            Self::touch(b, &st);
            let (head, hit) = find_tx(tx, &st, key, fp)?;
            let Some(slot_i) = first_free(head.bitmap) else {
                let plan = ops::split_plan(&TxLeaf::new(tx, st.ptr)?, &st, &self.core.order)?;
                let n = ops::split(tx, st.ptr, &plan)?;
                self.publish_split(&st, n, &plan, Some(b));
                continue;
            };
            ops::put(
                tx,
                Writes::Logged,
                st.ptr,
                head.bitmap,
                slot_i,
                hit,
                key,
                value,
            )?;
            st.set_fp(slot_i, fp);
            if hit.is_none() {
                b.delta += 1;
            }
            return Ok(());
        }
        Err(internal("leaf still full after a split"))
    }

    /// Remove inside a batch's transaction, with logged writes.
    pub(super) fn remove_tx(
        &self,
        tx: &mut Tx<'_, R>,
        b: &mut BatchState,
        key: &[u8],
    ) -> Result<bool> {
        let fp = fingerprint(key);
        let st = self.route_locked(key)?;
        Self::touch(b, &st);
        let (head, hit) = find_tx(tx, &st, key, fp)?;
        let Some(hit) = hit else { return Ok(false) };
        let bitmap = head.bitmap & !(1 << hit.slot);
        if ops::empties(&st, bitmap) {
            let pst = self
                .core
                .index
                .prev(&st)
                .ok_or(internal("leaf without predecessor"))?;
            Self::touch(b, &pst);
            ops::unlink(tx, hit, pst.ptr, st.ptr, head.next)?;
            self.publish_unlink(&pst, &st, Some(b));
        } else {
            ops::clear(tx, Writes::Logged, st.ptr, hit, bitmap)?;
        }
        b.delta -= 1;
        Ok(true)
    }
}
