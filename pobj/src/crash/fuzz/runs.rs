//! The two runs behind every fuzz case: one without crashes that learns what the operations do,
//! and one with the crash (or the whole sweep), checked against what was learned.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{CrashAt, FuzzFailure, Fuzzer, Outcome, Structure};
use crate::crash::sweep::panic_message;
use crate::crash::{Case, CrashTest, Failure, FailureKind, Granularity, Report, Subset};
use crate::Pool;

/// What a run without crashes learned about a sequence of operations.
pub(super) struct Learned<M> {
    /// The model after the setup and after each operation.
    pub(super) states: Arc<[M]>,
    /// Each operation's outcome.
    pub(super) outcomes: Vec<Outcome>,
    /// Each operation's fences.
    pub(super) fences: Vec<u64>,
    /// The crash points of the whole sequence.
    pub(super) points: u64,
}

impl<M> Learned<M> {
    /// Operations that took effect.
    pub(super) fn applied(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|&&o| o == Outcome::Applied)
            .count()
    }

    /// The crash point a choice names, if the operations issue any fence.
    pub(super) fn resolve(&self, at: CrashAt) -> Option<u64> {
        if self.points == 0 {
            return None;
        }
        match at {
            CrashAt::Fence(p) => Some(p % self.points),
            CrashAt::InLastOp(p) => {
                let last = self.fences.iter().rposition(|&f| f > 0)?;
                let before: u64 = self.fences[..last].iter().sum();
                Some(before + p % self.fences[last])
            }
        }
    }
}

/// Locks a mutex whose holder may have panicked (the harness reports panics itself).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs user code, turning a panic into an error message.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(format!("{what} panicked: {}", panic_message(&p))),
    }
}

/// A failure outside the harness's own runs (a panicking `model`, an unreached crash point).
fn failure(kind: FailureKind, case: Case, completed: usize, message: String) -> Failure {
    Failure {
        kind,
        seed: CrashTest::new().seed,
        case,
        completed,
        message,
    }
}

/// The case of a failure that involves no crash.
fn no_crash(point: u64) -> Case {
    Case {
        point,
        granularity: Granularity::Line,
        subset: Subset::None,
        recovery: None,
    }
}

/// Counts the workload's fences (chained before a sweep's own `on_fence`).
fn counting(cfg: CrashTest, counter: &Arc<AtomicU64>) -> CrashTest {
    let counter = Arc::clone(counter);
    let inner = cfg.on_fence.clone();
    cfg.on_fence(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = &inner {
            f();
        }
    })
}

impl<S: Structure> Fuzzer<S> {
    /// Runs the operations once, without crashes: the model's state after each (`states[0]`
    /// after the setup), each one's outcome and fences; the final persisted image is checked
    /// against the last state.
    pub(super) fn learn(&self, ops: &[S::Op]) -> Result<Learned<S::Model>, FuzzFailure<S::Op>> {
        let s = &self.structure;
        let first = guarded("Structure::model", || Ok(s.model()))
            .map_err(|m| FuzzFailure::new(ops, failure(FailureKind::Setup, no_crash(0), 0, m)))?;
        let states = Arc::new(Mutex::new(vec![first]));
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut fences = Vec::with_capacity(ops.len());
        let fenced = Arc::new(AtomicU64::new(0));
        let cfg = counting(
            CrashTest::new().granularities(&[]).recovery_every(0),
            &fenced,
        );
        let shared = Arc::clone(&states);
        let checker = Arc::clone(s);
        let (layout, options) = self.pool_choice(ops)?;
        let report = cfg
            .run_store(
                &layout,
                options,
                self.opener(),
                |store| guarded("Structure::setup", || s.setup(store)),
                ops.len(),
                |store, i| {
                    let start = fenced.load(Ordering::Relaxed);
                    let outcome = guarded("Structure::apply", || s.apply(store, &ops[i]))?;
                    fences.push(fenced.load(Ordering::Relaxed) - start);
                    let mut st = lock(&states);
                    let mut next = st[st.len() - 1].clone();
                    if outcome == Outcome::Applied {
                        guarded("Structure::apply_model", || {
                            s.apply_model(&mut next, &ops[i]);
                            Ok(())
                        })?;
                    }
                    st.push(next);
                    outcomes.push(outcome);
                    Ok(())
                },
                move |store, done| {
                    let st = lock(&shared);
                    let before = st.get(done).ok_or("no model state")?;
                    let after = st.get(done + 1).unwrap_or(before);
                    guarded("Structure::check", || checker.check(store, before, after))
                },
            )
            .map_err(|f| FuzzFailure::new(ops, f))?;
        let states: Arc<[S::Model]> = std::mem::take(&mut *lock(&states)).into();
        Ok(Learned {
            states,
            outcomes,
            fences,
            points: report.points,
        })
    }

    /// The crash run: the operations again, with the crash `case` only (operations after it
    /// are not run) or under the sweep `cfg`, each post-crash image checked against the
    /// states before and after the interrupted operation. An operation whose outcome or
    /// fences differ from the learning run, or a replayed crash point that is never reached,
    /// is a failure: the structure is not deterministic.
    pub(super) fn crash_run(
        &self,
        ops: &[S::Op],
        learned: &Learned<S::Model>,
        case: Option<&Case>,
        sweep: Option<&CrashTest>,
    ) -> Result<Report, FuzzFailure<S::Op>> {
        let s = &self.structure;
        let fenced = Arc::new(AtomicU64::new(0));
        let base = match (case, sweep) {
            (Some(c), _) => CrashTest::new().replay(c.clone()),
            (None, Some(cfg)) => cfg.clone(),
            (None, None) => CrashTest::new(),
        };
        // The one case this run checks, if it is a replay (ours or the sweep's).
        let replayed = base.replay.clone();
        let cfg = counting(base, &fenced);
        let model = Arc::clone(&learned.states);
        let checker = Arc::clone(s);
        let target = replayed.as_ref().map(|c| c.point);
        let mut done_with_target = false;
        let (layout, options) = self.pool_choice(ops)?;
        let result = cfg.run_store(
            &layout,
            options,
            self.opener(),
            |store| guarded("Structure::setup", || s.setup(store)),
            ops.len(),
            |store, i| {
                if done_with_target {
                    // The crash point has been checked: the rest cannot change the case.
                    return Ok(());
                }
                let start = fenced.load(Ordering::Relaxed);
                let outcome = guarded("Structure::apply", || s.apply(store, &ops[i]))?;
                let issued = fenced.load(Ordering::Relaxed) - start;
                let (was, had) = (learned.outcomes[i], learned.fences[i]);
                if (outcome, issued) != (was, had) {
                    return Err(format!(
                        "it returned {outcome:?} after {issued} fences, but {was:?} after {had} \
                         in the first run of the same input"
                    ));
                }
                done_with_target = target.is_some_and(|t| t < fenced.load(Ordering::Relaxed));
                Ok(())
            },
            move |store, done| {
                let before = model.get(done).ok_or("no model state")?;
                let after = model.get(done + 1).unwrap_or(before);
                guarded("Structure::check", || checker.check(store, before, after))
            },
        );
        let report = result.map_err(|mut f| {
            if f.kind == FailureKind::Operation || f.kind == FailureKind::Setup {
                // It returned in the learning run: this run went otherwise.
                f.kind = FailureKind::Nondeterministic;
                if let Some(c) = &replayed {
                    f.case = c.clone();
                }
            }
            FuzzFailure::new(ops, f)
        })?;
        if let Some(c) = replayed {
            // Reached and an image opened (a replay of a granularity the sweep does not test
            // opens none: not checked either).
            if report.images == 0 {
                let message = format!(
                    "crash point {} was never checked: the operations issued {} fences (a case \
                     for other operations or another granularity, or a structure that is not \
                     deterministic)",
                    c.point,
                    fenced.load(Ordering::Relaxed)
                );
                let f = failure(FailureKind::Nondeterministic, c, ops.len(), message);
                return Err(FuzzFailure::new(ops, f));
            }
        }
        Ok(report)
    }

    /// The structure's layout and pool options (user code, so guarded).
    fn pool_choice(
        &self,
        ops: &[S::Op],
    ) -> Result<(String, crate::PoolOptions), FuzzFailure<S::Op>> {
        let s = &self.structure;
        guarded("Structure::layout or pool_options", || {
            Ok((s.layout().to_string(), s.pool_options()))
        })
        .map_err(|m| FuzzFailure::new(ops, failure(FailureKind::Setup, no_crash(0), 0, m)))
    }

    /// Replays `case` on `ops`, with what the learning run found (`None` if it failed).
    #[expect(clippy::type_complexity, reason = "a private pair")]
    pub(super) fn replay_learned(
        &self,
        ops: &[S::Op],
        case: &Case,
    ) -> (
        Result<Report, FuzzFailure<S::Op>>,
        Option<Learned<S::Model>>,
    ) {
        match self.learn(ops) {
            Err(f) => (Err(f), None),
            Ok(learned) => {
                let r = self.crash_run(ops, &learned, Some(case), None);
                (r, Some(learned))
            }
        }
    }

    /// Opens the store on a pool; the first pool it is given is the workload's, which hands
    /// back freed shared blocks deterministically (and gets the seeded fault, if one is set).
    fn opener(&self) -> impl Fn(Pool<S::Root>) -> Result<S::Store, String> + Send + Sync {
        let s = Arc::clone(&self.structure);
        let first = AtomicBool::new(true);
        #[cfg(feature = "fault-injection")]
        let fault = self.fault;
        move |pool| {
            if first.swap(false, Ordering::Relaxed) {
                pool.settle_freed_blocks_before_allocations();
                #[cfg(feature = "fault-injection")]
                pool.inject_fault(fault);
            }
            guarded("Structure::open", || s.open(pool))
        }
    }
}
