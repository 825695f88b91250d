//! Crash testing: run a workload on a simulated medium and, at every crash point (every fence),
//! open the images a power failure could leave, let recovery run, and check them.
//!
//! At a crash point the medium holds a *persisted* image (what flush + fence made durable) and
//! a *working* image (every store). They differ in some units — cache lines, or 8-byte words
//! for torn lines — each of which may or may not have reached the medium. [`CrashTest`] builds
//! post-crash images from chosen subsets of those units (none, all, each one alone, each one
//! left out, random ones; every subset when there are at most `exhaustive_max`), opens each
//! with [`Pool::open_medium`] (which runs recovery), checks that the pool passes
//! [`Pool::check`], and calls the user's checker with the number of operations that had
//! returned when the crash came. Recovery itself is crash-tested: for some images, the fences
//! that recovery issues are crash points too, whose images are opened and checked in turn.
//!
//! A failure carries the seed and the exact case ([`Case`]), and
//! [`CrashTest::replay`] re-runs only that case. See `docs/crash-testing.md` and
//! `pobj/examples/crash_test.rs`.

pub mod fuzz;
mod images;
mod sweep;

use self::images::Rng;
use self::sweep::{open_and_check, HookState};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::media::sim::{CrashPoint, FenceHook, SimMedium};
use crate::{Persistent, Pool};

/// The unit in which post-crash images differ from the persisted image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// 64-byte cache lines: each line reaches the medium whole or not at all.
    Line,
    /// 8-byte words: lines may be torn (the guarantee is only 8-byte atomicity).
    Word,
}

impl Granularity {
    fn bytes(self) -> usize {
        match self {
            Granularity::Line => 64,
            Granularity::Word => 8,
        }
    }
}

/// Which of the differing units reach the medium in a post-crash image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subset {
    /// None: the persisted image.
    None,
    /// All: the working image.
    All,
    /// Only unit `i`.
    Only(usize),
    /// Every unit but `i`.
    AllBut(usize),
    /// The units whose bits are set (for at most 64 units).
    Mask(u64),
    /// Each unit with probability 1/2, drawn from this seed.
    Random(u64),
}

impl Subset {
    fn includes(&self, n: usize) -> Vec<bool> {
        match *self {
            Subset::None => vec![false; n],
            Subset::All => vec![true; n],
            Subset::Only(i) => (0..n).map(|k| k == i).collect(),
            Subset::AllBut(i) => (0..n).map(|k| k != i).collect(),
            Subset::Mask(m) => (0..n).map(|k| k < 64 && m & (1 << k) != 0).collect(),
            Subset::Random(seed) => {
                let mut r = Rng(seed);
                (0..n).map(|_| r.next() & 1 == 1).collect()
            }
        }
    }
}

/// One post-crash image: where the crash came and what reached the medium.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The crash point: the index of the fence (counted from the first operation).
    pub point: u64,
    /// The unit of the subset.
    pub granularity: Granularity,
    /// The subset of differing units that reached the medium.
    pub subset: Subset,
    /// For a crash during recovery of that image: recovery's fence index, granularity, subset.
    pub recovery: Option<(u64, Granularity, Subset)>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash point {} ({:?}, {:?})",
            self.point, self.granularity, self.subset
        )?;
        if let Some((p, g, s)) = &self.recovery {
            write!(
                f,
                ", then a crash during recovery at its fence {p} ({g:?}, {s:?})"
            )?;
        }
        Ok(())
    }
}

/// What failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Creating the pool, opening the store on it, or the setup (no crash involved).
    Setup,
    /// An operation returned `Err` (no crash involved): operation `completed`.
    Operation,
    /// A post-crash image (`case`) failed its checks.
    Crash,
    /// The final persisted image, after every operation returned, failed its checks.
    FinalImage,
    /// (The crash fuzzer, `fuzz`.) In the run with the crash, an operation behaved otherwise
    /// than in the learning run of the same input, or the replayed crash point was never
    /// reached (or no image of it was checked).
    Nondeterministic,
}

/// A failed check, with what is needed to replay it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What failed: a post-crash image, or something before or after any crash.
    pub kind: FailureKind,
    /// The seed of the run.
    pub seed: u64,
    /// The failing image.
    pub case: Case,
    /// Operations that had returned when the crash came.
    pub completed: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash test failed at {} after {} completed operations (seed {:#x}): {}\n\
             replay with CrashTest::new().seed({:#x}).replay({:?})",
            self.case, self.completed, self.seed, self.message, self.seed, self.case
        )
    }
}

impl std::error::Error for Failure {}

/// What a run covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Operations run.
    pub operations: usize,
    /// Crash points (fences) reached by the workload.
    pub points: u64,
    /// Crash points at which images were checked.
    pub points_checked: u64,
    /// Post-crash images opened and checked.
    pub images: u64,
    /// Crash points inside recovery that were visited.
    pub recovery_points: u64,
    /// Images of crashes during recovery opened and checked.
    pub recovery_images: u64,
}

impl std::ops::AddAssign for Report {
    fn add_assign(&mut self, o: Report) {
        self.operations += o.operations;
        self.points += o.points;
        self.points_checked += o.points_checked;
        self.images += o.images;
        self.recovery_points += o.recovery_points;
        self.recovery_images += o.recovery_images;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations, {} crash points ({} checked), {} post-crash images; recovery: {} crash points, {} images",
            self.operations, self.points, self.points_checked, self.images, self.recovery_points, self.recovery_images
        )
    }
}

/// Builds a store on a recovered pool.
type Opener<R, St> = dyn Fn(Pool<R>) -> Result<St, String> + Send + Sync;
/// Checks a recovered store given the number of completed operations.
type Checker<St> = dyn Fn(&St, usize) -> Result<(), String> + Send + Sync;

/// How a store is built on a recovered pool, and how it is checked.
struct Target<R, St> {
    open: Box<Opener<R, St>>,
    check: Box<Checker<St>>,
}

/// A crash-test configuration.
#[derive(Clone)]
pub struct CrashTest {
    seed: u64,
    granularities: Vec<Granularity>,
    exhaustive_max: usize,
    random_subsets: usize,
    max_images_per_point: usize,
    point_probability: f64,
    recovery_every: u64,
    replay: Option<Case>,
    on_fence: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for CrashTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrashTest")
            .field("seed", &self.seed)
            .field("granularities", &self.granularities)
            .field("exhaustive_max", &self.exhaustive_max)
            .field("random_subsets", &self.random_subsets)
            .field("max_images_per_point", &self.max_images_per_point)
            .field("point_probability", &self.point_probability)
            .field("recovery_every", &self.recovery_every)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

impl Default for CrashTest {
    fn default() -> Self {
        Self::new()
    }
}

impl CrashTest {
    /// Every crash point, lines and words, all subsets up to 10 units, 4 random subsets
    /// otherwise, at most 48 images per point and granularity, and a crash-tested recovery for
    /// one image in 16.
    #[must_use]
    pub fn new() -> Self {
        CrashTest {
            seed: 0x5eed,
            granularities: vec![Granularity::Line, Granularity::Word],
            exhaustive_max: 10,
            random_subsets: 4,
            max_images_per_point: 48,
            point_probability: 1.0,
            recovery_every: 16,
            replay: None,
            on_fence: None,
        }
    }

    /// The seed for random subsets and sampling.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Which granularities to test.
    #[must_use]
    pub fn granularities(mut self, g: &[Granularity]) -> Self {
        self.granularities = g.to_vec();
        self
    }

    /// Enumerate every subset when at most this many units differ (capped at 16).
    #[must_use]
    pub fn exhaustive_max(mut self, n: usize) -> Self {
        self.exhaustive_max = n.min(16);
        self
    }

    /// Random subsets per point when there are more units than `exhaustive_max`.
    #[must_use]
    pub fn random_subsets(mut self, n: usize) -> Self {
        self.random_subsets = n;
        self
    }

    /// At most this many images per crash point and granularity.
    #[must_use]
    pub fn max_images_per_point(mut self, n: usize) -> Self {
        self.max_images_per_point = n.max(1);
        self
    }

    /// Check each crash point with this probability (seeded), for long workloads.
    #[must_use]
    pub fn sample_points(mut self, p: f64) -> Self {
        self.point_probability = p.clamp(0.0, 1.0);
        self
    }

    /// Crash-test recovery for one image in `n` (0: never).
    #[must_use]
    pub fn recovery_every(mut self, n: u64) -> Self {
        self.recovery_every = n;
        self
    }

    /// Calls `f` after every fence of the workload, in the thread that fenced and outside the
    /// medium's lock: a scheduling point for tests that interleave several writer threads
    /// deterministically (hand over to another thread here).
    #[must_use]
    pub fn on_fence(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_fence = Some(Arc::new(f));
        self
    }

    /// Check only this case (from a [`Failure`]).
    #[must_use]
    pub fn replay(mut self, case: Case) -> Self {
        self.replay = Some(case);
        self
    }

    /// Runs the workload: `setup` on a fresh simulated pool (not crash-tested), then `ops`
    /// operations `op(pool, i)` in order; at each crash point, every chosen post-crash image is
    /// opened, must pass `Pool::check`, and is given to `check` with the number of operations
    /// that had returned (the checker says whether that state is acceptable: typically equal
    /// to the model after `completed` operations, or after `completed + 1`). After the last
    /// operation, the final persisted image is checked with `completed == ops`.
    pub fn run<R, S, W, C>(
        &self,
        layout: &str,
        size: impl Into<crate::PoolOptions>,
        setup: S,
        ops: usize,
        op: W,
        check: C,
    ) -> Result<Report, Failure>
    where
        R: Persistent,
        S: FnOnce(&Pool<R>) -> Result<(), String>,
        W: FnMut(&Pool<R>, usize) -> Result<(), String>,
        C: Fn(&Pool<R>, usize) -> Result<(), String> + Send + Sync + 'static,
    {
        self.run_store(layout, size, Ok, setup, ops, op, check)
    }

    /// Like [`CrashTest::run`] for a structure that owns its pool (such as a key-value store):
    /// `open` builds it on the workload's new pool and on every recovered image (after
    /// `Pool::check` passed); `setup`, `op` and `check` work on it.
    #[allow(clippy::too_many_arguments)]
    pub fn run_store<R, St, O, S, W, C>(
        &self,
        layout: &str,
        size: impl Into<crate::PoolOptions>,
        open: O,
        setup: S,
        ops: usize,
        mut op: W,
        check: C,
    ) -> Result<Report, Failure>
    where
        R: Persistent,
        St: 'static,
        O: Fn(Pool<R>) -> Result<St, String> + Send + Sync + 'static,
        S: FnOnce(&St) -> Result<(), String>,
        W: FnMut(&St, usize) -> Result<(), String>,
        C: Fn(&St, usize) -> Result<(), String> + Send + Sync + 'static,
    {
        let fail = |kind, message: String, completed: usize| Failure {
            kind,
            seed: self.seed,
            case: Case {
                point: 0,
                granularity: Granularity::Line,
                subset: Subset::None,
                recovery: None,
            },
            completed,
            message,
        };
        let target: Arc<Target<R, St>> = Arc::new(Target {
            open: Box::new(open),
            check: Box::new(check),
        });
        let (pool, sim) = Pool::<R>::create_simulated(layout, size.into())
            .map_err(|e| fail(FailureKind::Setup, format!("create: {e}"), 0))?;
        let store =
            (target.open)(pool).map_err(|m| fail(FailureKind::Setup, format!("open: {m}"), 0))?;
        setup(&store).map_err(|m| fail(FailureKind::Setup, format!("setup: {m}"), 0))?;
        let shared = Arc::new(HookState {
            cfg: self.clone(),
            layout: layout.to_string(),
            completed: AtomicUsize::new(0),
            out: Mutex::new((Report::default(), None)),
        });
        let base = sim.fences();
        {
            let shared = Arc::clone(&shared);
            let target = Arc::clone(&target);
            sim.set_hook(Some(Box::new(move |cp: &CrashPoint<'_>| {
                shared.at_point(cp.index - base, cp, &target);
            })));
            sim.set_after_fence(self.on_fence.clone());
        }
        for i in 0..ops {
            shared.completed.store(i, Ordering::SeqCst);
            if let Err(m) = op(&store, i) {
                sim.set_hook(None);
                sim.set_after_fence(None);
                return Err(fail(
                    FailureKind::Operation,
                    format!("operation {i} failed: {m}"),
                    i,
                ));
            }
            if shared.failed() {
                break;
            }
        }
        shared.completed.store(ops, Ordering::SeqCst);
        sim.set_hook(None);
        sim.set_after_fence(None);
        let points = sim.fences() - base;
        drop(store);
        let (mut report, failure) = {
            let mut g = shared
                .out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (g.0, g.1.take())
        };
        if let Some(f) = failure {
            return Err(f);
        }
        report.operations = ops;
        report.points = points;
        if self.replay.is_none() {
            // The final state: everything returned, so everything is durable.
            let image = sim.persisted_image();
            let case = Case {
                point: points,
                granularity: Granularity::Line,
                subset: Subset::None,
                recovery: None,
            };
            if let Err(message) = open_and_check(&image, layout, ops, &target) {
                return Err(Failure {
                    kind: FailureKind::FinalImage,
                    seed: self.seed,
                    case,
                    completed: ops,
                    message,
                });
            }
            report.images += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::images::{choose_subsets, differing_units};
    use super::*;

    #[test]
    fn units_and_subsets() {
        let a = vec![0u8; 256];
        let mut b = a.clone();
        b[3] = 1;
        b[70] = 1;
        b[71] = 1;
        b[200] = 9;
        assert_eq!(differing_units(&a, &b, Granularity::Line), vec![0, 64, 192]);
        assert_eq!(differing_units(&a, &b, Granularity::Word), vec![0, 64, 200]);
        let cfg = CrashTest::new();
        assert_eq!(choose_subsets(&cfg, 0, Granularity::Line, 3).len(), 8);
        assert_eq!(
            choose_subsets(&cfg, 0, Granularity::Line, 0),
            vec![Subset::None]
        );
        let many = choose_subsets(&cfg, 0, Granularity::Line, 100);
        assert!(many.len() <= cfg.max_images_per_point);
        assert!(many.contains(&Subset::None) && many.contains(&Subset::All));
        assert_eq!(
            Subset::Random(5).includes(50),
            Subset::Random(5).includes(50)
        );
    }
}
