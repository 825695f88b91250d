//! What one thread of a workload does: a loop per kind of workload over its share of the
//! operations, each operation timed and, where the answer is known, checked.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::keys::{absent, fill_value, present, successor};
use crate::random::{Rng, ScrambledZipfian, Zipfian};
use crate::{BenchError, Store, Workload, Ycsb};

use super::one::Plan;
use super::threads::{Ctx, Recorder};

/// One thread's buffers, generator and share of a workload.
pub(super) struct Worker<'a> {
    ctx: &'a Ctx<'a>,
    plan: &'a Plan,
    store: &'a dyn Store,
    /// The thread's index.
    t: usize,
    /// Its share of the operations (of `0..plan.total`).
    range: Range<u64>,
    key: Vec<u8>,
    val: Vec<u8>,
    out: Vec<u8>,
    rng: Rng,
}

impl<'a> Worker<'a> {
    pub(super) fn new(
        ctx: &'a Ctx<'a>,
        plan: &'a Plan,
        store: &'a dyn Store,
        t: usize,
        range: Range<u64>,
    ) -> Self {
        let cfg = ctx.cfg;
        Worker {
            ctx,
            plan,
            store,
            t,
            range,
            key: vec![0u8; cfg.key_size],
            val: vec![0u8; cfg.value_size],
            out: Vec::with_capacity(cfg.value_size),
            rng: Rng::new(ctx.seed(plan.w.code(), t as u64)),
        }
    }

    /// Runs this thread's share.
    pub(super) fn run(mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        match self.plan.w {
            Workload::FillSeq => self.fill(rec, 1, self.range.clone()),
            Workload::FillRandom => {
                let ids = self.permuted();
                self.fill(rec, 2, ids.iter().copied())
            }
            Workload::Overwrite => self.overwrite(rec),
            Workload::ReadRandom => self.read_hits(rec, true),
            Workload::ReadMissing => self.read_misses(rec),
            Workload::ReadSeq => self.read_seq(rec),
            Workload::DeleteRandom => self.delete(rec),
            Workload::ReadWhileWriting if Some(self.t) == self.plan.background => {
                self.background_writer(rec)
            }
            Workload::ReadWhileWriting => {
                let r = self.read_hits(rec, false);
                self.plan.readers_left.fetch_sub(1, Ordering::AcqRel);
                r
            }
            Workload::Ycsb(y) => self.ycsb(rec, y),
        }
    }

    /// This thread's slice of the workload's key permutation.
    fn permuted(&self) -> &'a [u64] {
        let plan: &'a Plan = self.plan;
        let (a, b) = (self.range.start as usize, self.range.end as usize);
        plan.perm.get(a..b).unwrap_or(&[])
    }

    fn kv_bytes(&self) -> u64 {
        (self.ctx.cfg.key_size + self.ctx.cfg.value_size) as u64
    }

    /// Puts key `i` with a value salted by `salt`, timed; `false` when the run is aborting.
    fn put(&mut self, rec: &mut Recorder<'_>, i: u64, salt: u8) -> Result<bool, BenchError> {
        present(i, &mut self.key);
        fill_value(i, salt, &mut self.val);
        let t0 = Instant::now();
        self.store
            .put(&self.key, &self.val)
            .map_err(|e| self.ctx.store_err(self.plan.w.name(), e))?;
        Ok(rec.done(t0, self.kv_bytes()))
    }

    /// Gets `self.key`, timed: whether it was found, and whether to go on.
    fn get(&mut self, rec: &mut Recorder<'_>) -> Result<(bool, bool), BenchError> {
        let t0 = Instant::now();
        let found = self
            .store
            .get(&self.key, &mut self.out)
            .map_err(|e| self.ctx.store_err(self.plan.w.name(), e))?;
        Ok((found, rec.done(t0, 0)))
    }

    fn missing(&self, i: u64) -> BenchError {
        self.ctx.verify(self.plan.w, format!("key {i} is missing"))
    }

    fn fill(
        &mut self,
        rec: &mut Recorder<'_>,
        salt: u8,
        ids: impl Iterator<Item = u64>,
    ) -> Result<(), BenchError> {
        for i in ids {
            if !self.put(rec, i, salt)? {
                break;
            }
        }
        Ok(())
    }

    fn overwrite(&mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        for _ in self.range.clone() {
            let i = self.rng.below(self.plan.count);
            if !self.put(rec, i, 3)? {
                break;
            }
        }
        Ok(())
    }

    /// Random reads of present keys, each checked for presence and, where `check_len`, for its
    /// value's length (readwhilewriting checks presence only, beside its writer).
    fn read_hits(&mut self, rec: &mut Recorder<'_>, check_len: bool) -> Result<(), BenchError> {
        let vs = self.ctx.cfg.value_size;
        for _ in self.range.clone() {
            let i = self.rng.below(self.plan.count);
            present(i, &mut self.key);
            let (found, go_on) = self.get(rec)?;
            if !found {
                return Err(self.missing(i));
            }
            if check_len && self.out.len() != vs {
                return Err(self.ctx.verify(
                    self.plan.w,
                    format!("key {i} has a value of {} bytes, not {vs}", self.out.len()),
                ));
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    fn read_misses(&mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        for _ in self.range.clone() {
            let i = self.rng.below(self.plan.count);
            absent(i, &mut self.key);
            let (found, go_on) = self.get(rec)?;
            if found {
                return Err(self
                    .ctx
                    .verify(self.plan.w, format!("absent key {i} was found")));
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// Scans this thread's share of the keys in chunks; each entry is charged an equal part of
    /// its chunk's time.
    fn read_seq(&mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        const CHUNK: usize = 1024;
        let mut left = self.range.end - self.range.start;
        present(self.range.start, &mut self.key);
        let mut start = self.key.clone();
        let mut last = Vec::with_capacity(self.key.len());
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            let t0 = Instant::now();
            let got = self
                .store
                .scan(&start, want, &mut |k, _| {
                    last.clear();
                    last.extend_from_slice(k);
                })
                .map_err(|e| self.ctx.store_err(self.plan.w.name(), e))?;
            let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if got == 0 {
                return Err(self
                    .ctx
                    .verify(self.plan.w, format!("the scan ended {left} keys early")));
            }
            let per = (ns / got as u64).max(1);
            rec.hist.saturating_record_n(per, got as u64);
            left -= got as u64;
            successor(&last, &mut start);
            if !rec.count(got as u64, 0) {
                break;
            }
        }
        Ok(())
    }

    fn delete(&mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let ks = self.ctx.cfg.key_size as u64;
        for &i in self.permuted() {
            present(i, &mut self.key);
            let t0 = Instant::now();
            let found = self
                .store
                .remove(&self.key)
                .map_err(|e| self.ctx.store_err(self.plan.w.name(), e))?;
            let go_on = rec.done(t0, ks);
            if !found {
                return Err(self.missing(i));
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// readwhilewriting's writer: overwrites random keys until the readers are done.
    fn background_writer(&mut self, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        while self.plan.readers_left.load(Ordering::Acquire) > 0 {
            let i = self.rng.below(self.plan.count);
            if !self.put(rec, i, 4)? {
                break;
            }
        }
        Ok(())
    }

    /// A YCSB core workload: each operation drawn by its mix.
    fn ycsb(&mut self, rec: &mut Recorder<'_>, y: Ycsb) -> Result<(), BenchError> {
        let (read, update, insert, scan) = match y {
            Ycsb::A => (0.5, 0.5, 0.0, 0.0),
            Ycsb::B => (0.95, 0.05, 0.0, 0.0),
            Ycsb::C => (1.0, 0.0, 0.0, 0.0),
            Ycsb::D => (0.95, 0.0, 0.05, 0.0),
            Ycsb::E => (0.0, 0.0, 0.05, 0.95),
            // F: the other half are read-modify-writes.
            Ycsb::F => (0.5, 0.0, 0.0, 0.0),
        };
        let mut keys = Chooser {
            y,
            scrambled: self.plan.scrambled.clone(),
            latest: self.plan.latest.clone(),
        };
        for _ in self.range.clone() {
            let p = self.rng.unit();
            let inserted = self.plan.next_id.load(Ordering::Acquire);
            let go_on = if p < read {
                let i = keys.choose(&mut self.rng, inserted);
                self.ycsb_read(rec, i)?
            } else if p < read + update {
                let i = keys.choose(&mut self.rng, inserted);
                self.put(rec, i, 5)?
            } else if p < read + update + insert {
                let i = self.plan.next_id.fetch_add(1, Ordering::AcqRel);
                self.put(rec, i, 6)?
            } else if p < read + update + insert + scan {
                let i = keys.choose(&mut self.rng, inserted);
                self.ycsb_scan(rec, i)?
            } else {
                let i = keys.choose(&mut self.rng, inserted);
                self.read_modify_write(rec, i)?
            };
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// A YCSB read: keys past the loaded ones may not be inserted yet (counted as misses).
    fn ycsb_read(&mut self, rec: &mut Recorder<'_>, i: u64) -> Result<bool, BenchError> {
        present(i, &mut self.key);
        let (found, go_on) = self.get(rec)?;
        if !found {
            if i < self.plan.count {
                return Err(self.missing(i));
            }
            rec.misses += 1;
        }
        Ok(go_on)
    }

    /// A YCSB E scan of 1 to `scan_max` entries from key `i`.
    fn ycsb_scan(&mut self, rec: &mut Recorder<'_>, i: u64) -> Result<bool, BenchError> {
        present(i, &mut self.key);
        let len = 1 + self.rng.below(self.ctx.cfg.scan_max.max(1) as u64) as usize;
        let t0 = Instant::now();
        let got = self
            .store
            .scan(&self.key, len, &mut |_, _| {})
            .map_err(|e| self.ctx.store_err(self.plan.w.name(), e))?;
        let go_on = rec.done(t0, 0);
        if got == 0 && i < self.plan.count {
            return Err(self
                .ctx
                .verify(self.plan.w, format!("scan from key {i} found nothing")));
        }
        Ok(go_on)
    }

    /// YCSB F's read-modify-write: one timed get and put.
    fn read_modify_write(&mut self, rec: &mut Recorder<'_>, i: u64) -> Result<bool, BenchError> {
        let name = self.plan.w.name();
        present(i, &mut self.key);
        let t0 = Instant::now();
        let found = self
            .store
            .get(&self.key, &mut self.out)
            .map_err(|e| self.ctx.store_err(name, e))?;
        if !found {
            return Err(self.missing(i));
        }
        self.out.resize(self.ctx.cfg.value_size, 0);
        if let Some(b) = self.out.last_mut() {
            *b = b.wrapping_add(1);
        }
        self.store
            .put(&self.key, &self.out)
            .map_err(|e| self.ctx.store_err(name, e))?;
        Ok(rec.done(t0, self.kv_bytes()))
    }
}

/// The key chooser of YCSB's reads, updates and scans: *latest* (D) or the scrambled zipfian
/// over the keys inserted so far.
struct Chooser {
    y: Ycsb,
    scrambled: ScrambledZipfian,
    latest: Zipfian,
}

impl Chooser {
    fn choose(&mut self, rng: &mut Rng, inserted: u64) -> u64 {
        if self.y == Ycsb::D {
            self.latest.grow(inserted.max(1));
            inserted
                .saturating_sub(1)
                .saturating_sub(self.latest.next(rng))
        } else {
            loop {
                let k = self.scrambled.next(rng);
                if k < inserted.max(1) {
                    break k;
                }
            }
        }
    }
}
