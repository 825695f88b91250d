//! Commit and abort: the fences, the commit point, and what a failure on either side of it
//! leaves.

use std::sync::atomic::Ordering;

use super::pool_core::Fault;
use super::scratch::{Apply, Deferred};
use super::Tx;
use crate::error::{Error, Result};
use crate::lane::{self, KIND_SNAPSHOT};
use crate::Persistent;

impl<R: Persistent> Tx<'_, R> {
    /// Makes everything durable and retires the log.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.commit_steps()?;
        if self.sh.persister().commit_in_doubt() {
            // An msync failed while this transaction ran (another thread's, or this commit's
            // last step). The kernel reports a write-back error to one caller only, so this
            // commit's own msyncs may have succeeded over pages that were not written. Its
            // changes stand in memory (logged, unlogged or one-word alike): report them as
            // committed with their durability in doubt (the caller returns `CommitInDoubt`).
            self.committed = true;
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    pub(super) fn commit_steps(&mut self) -> Result<()> {
        self.live()?;
        if let Some(d) = self.single_word_change() {
            return self.commit_one_word(d);
        }
        if self.log.entries == 0
            && self.book.frees.is_empty()
            && self.book.commit_words.len() <= 1
            && self.book.deferred.is_empty()
        {
            return self.commit_unlogged();
        }
        self.commit_logged()
    }

    /// The deferred entry of a transaction whose only persistent change is one allocation or
    /// one free (nothing logged, no commit word): its 8-byte word is the commit.
    fn single_word_change(&self) -> Option<Deferred> {
        let b = &self.book;
        if self.log.entries != 0 || !b.commit_words.is_empty() || b.deferred.len() != 1 {
            return None;
        }
        let d = b.deferred[0];
        let single_alloc =
            matches!(d.apply, Apply::Allocate(_)) && b.allocs.len() == 1 && b.frees.is_empty();
        let single_free = d.apply == Apply::Nothing && b.frees.len() == 1 && b.allocs.is_empty();
        (single_alloc || single_free).then_some(d)
    }

    /// Commits a transaction with no undo log: only unlogged ranges and at most one commit
    /// word. The ranges are durable before the word, whose 8-byte atomicity commits it.
    fn commit_unlogged(&mut self) -> Result<()> {
        let sh = self.sh;
        if !self.book.covered.is_empty() {
            for (s, e) in self.book.covered.iter() {
                sh.flush(&mut self.batch, s, e - s);
            }
            sh.fence(&mut self.batch)?;
        }
        if let Some((w, v)) = self.book.commit_words.pop() {
            sh.atomic(w)?.store(v, Ordering::Release);
            self.committed = true;
            sh.flush(&mut self.batch, w, 8);
            sh.fence(&mut self.batch)?;
        }
        Ok(())
    }

    /// Commits a transaction with an undo log: entries durable, commit words and frees
    /// applied, every change durable, then the retire (the commit point).
    fn commit_logged(&mut self) -> Result<()> {
        let sh = self.sh;
        self.flush_deferred()?;
        self.log_commit_words()?;
        if self.log.unfenced {
            self.fence_and_apply()?;
        }
        // A block already free when its free is applied was freed by another transaction
        // since this one resolved it (only a structure that broke its own ownership, or a
        // hostile pool, does that): it is not handed back a second time.
        let mut twice = Vec::new();
        for (i, (_, block)) in self.book.frees.iter().enumerate() {
            let (word, was) = block.alloc_word(sh.geo()).mark_free_checked(sh.region())?;
            self.book.meta.push(word);
            if !was {
                twice.push(i);
            }
        }
        for i in twice.into_iter().rev() {
            self.book.frees.swap_remove(i);
        }
        let early_retire = sh.fault(Fault::RetireBeforeDataFlush);
        if early_retire {
            self.retire()?;
        }
        for (s, e) in self.book.covered.iter() {
            sh.flush(&mut self.batch, s, e - s);
        }
        self.book.meta.sort_unstable();
        self.book.meta.dedup();
        for &w in &self.book.meta {
            sh.flush(&mut self.batch, w, 8);
        }
        if early_retire {
            sh.fence(&mut self.batch)?;
        } else {
            // Every modified range and metadata word is durable before the log is retired: a
            // crash after the retire must find the new data, since nothing can undo it then.
            if !sh.fault(Fault::SkipCommitFence) {
                sh.fence(&mut self.batch)?;
            }
            self.retire()?;
        }
        // Durable: hand freed blocks back.
        for (_, block) in self.book.frees.drain(..) {
            sh.release_object(block);
        }
        self.book.allocs.clear();
        if self.trim_exts().is_err() {
            // The transaction is durable (the retire was fenced); only the extension chunks'
            // words may not be. They are freed at the next open anyway: refuse further writes
            // (the persistence layer failed) but report the commit.
            sh.poison();
        }
        Ok(())
    }

    /// Commit words become logged writes: each word's current bytes are logged (whatever else
    /// covered them), one fence makes the entries durable, then the words are stored.
    fn log_commit_words(&mut self) -> Result<()> {
        let sh = self.sh;
        let words = std::mem::take(&mut self.book.commit_words);
        for &(w, _) in &words {
            let cur = sh.atomic(w)?.load(Ordering::Acquire);
            self.append(KIND_SNAPSHOT, w, 8, &cur.to_le_bytes())?;
        }
        if !words.is_empty() {
            self.fence_and_apply()?;
        }
        for (w, v) in words {
            sh.atomic(w)?.store(v, Ordering::Release);
            self.book.meta.push(w);
        }
        Ok(())
    }

    /// Retires the log: from this store on, the transaction cannot be undone.
    fn retire(&mut self) -> Result<()> {
        self.committed = true;
        let sh = self.sh;
        lane::retire(
            sh.region(),
            sh.geo(),
            sh.persister(),
            self.slot.index,
            &mut self.batch,
        )
    }

    /// Whether commit stored its irreversible word (the commit word, or the retire): a failure
    /// from then on leaves the changes in place, with their durability unknown.
    pub(crate) fn past_commit_point(&self) -> bool {
        self.committed
    }

    /// Commits a transaction whose only persistent change is one allocation or one free: the
    /// data (the new object, any unlogged bytes) is made durable, then the one word — bitmap
    /// word or chunk header — is stored, flushed and fenced. A crash before that word reaches
    /// the medium leaves the old word: nothing happened.
    pub(super) fn commit_one_word(&mut self, d: Deferred) -> Result<()> {
        let sh = self.sh;
        self.book.deferred.clear();
        if !self.book.covered.is_empty() {
            for (s, e) in self.book.covered.iter() {
                sh.flush(&mut self.batch, s, e - s);
            }
            sh.fence(&mut self.batch)?;
        }
        // The commit point: from this store on, the transaction cannot be undone.
        self.committed = true;
        let word = match d.apply {
            Apply::Allocate(word) => word.mark_allocated(sh.region())?,
            Apply::Nothing => {
                let (_, block) = self.book.frees[0];
                let (word, was) = block.alloc_word(sh.geo()).mark_free_checked(sh.region())?;
                if !was {
                    // Freed by another transaction meanwhile: not handed back twice.
                    self.book.frees.clear();
                }
                word
            }
        };
        sh.flush(&mut self.batch, word, 8);
        sh.fence(&mut self.batch)?;
        for (_, block) in self.book.frees.drain(..) {
            sh.release_object(block);
        }
        self.book.allocs.clear();
        Ok(())
    }

    /// Undoes everything and retires the log.
    pub(crate) fn abort(&mut self) -> Result<()> {
        let sh = self.sh;
        if self.committed {
            // Commit failed after its point of no return (a fence of an irreversible step): the
            // changes stand, or recovery decides at the next open. Roll back nothing, release
            // nothing (allocations are live, frees are kept until reopen), refuse further writes.
            sh.poison();
            self.book.allocs.clear();
            self.book.frees.clear();
            self.book.pending.clear();
            self.book.commit_words.clear();
            return Err(Error::Poisoned);
        }
        let r = if self.log.entries > 0 {
            // SAFETY: this transaction holds the lane; the closure has returned, so no reference
            // into the logged ranges is live; other threads are excluded by the pool lock or the
            // shared contract.
            unsafe {
                lane::rollback(
                    sh.region(),
                    sh.geo(),
                    sh.persister(),
                    self.slot.index,
                    &mut lane::Walked::default(),
                    Some(self.log.entries),
                )
            }
            .map(|_| ())
        } else {
            Ok(())
        };
        self.book.pending.clear();
        self.book.commit_words.clear();
        self.book.deferred.clear();
        self.book.frees.clear();
        if r.is_ok() {
            for b in self.book.allocs.drain(..) {
                sh.release_object(b);
            }
        }
        r?;
        self.trim_exts()
    }

    /// Frees the log extensions this transaction used. (A lane keeps none between
    /// transactions, so that heap figures do not depend on past transactions.)
    pub(super) fn trim_exts(&mut self) -> Result<()> {
        if self.slot.exts.is_empty() {
            return Ok(());
        }
        let sh = self.sh;
        let extra: Vec<_> = std::mem::take(&mut self.slot.exts);
        for (_, _, block) in &extra {
            let word = block.alloc_word(sh.geo()).mark_free(sh.region())?;
            sh.flush(&mut self.batch, word, 8);
        }
        sh.fence(&mut self.batch)?;
        for (_, _, block) in extra {
            sh.release(block);
        }
        Ok(())
    }
}
