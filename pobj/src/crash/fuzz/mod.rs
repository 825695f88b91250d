//! Fuzzing a structure's crash recovery: describe the structure once ([`Structure`]), and a
//! [`Fuzzer`] turns any byte string into a workload, a crash and a check.
//!
//! From the input the fuzzer draws a crash choice (a crash point among the workload's fences,
//! lines or words, a seed for which unpersisted units survive, optionally a crash during
//! recovery) and then operations ([`Structure::Op`], via [`arbitrary`]) until the input runs
//! out or [`Fuzzer::max_ops`] is reached. It runs the operations on a fresh simulated pool
//! twice: once to learn each operation's [`Outcome`] and the number of fences (the model's
//! states follow from the outcomes; the final persisted image is checked), and once more with
//! the chosen crash, whose post-crash image is opened (recovery runs, and crashes where asked),
//! must pass [`Pool::check`], and is given to [`Structure::check`] with the model's states
//! before and after the interrupted operation.
//!
//! One input gives one run: the workload pool hands back freed shared blocks at fixed points
//! (`Pool::settle_freed_blocks_before_allocations`; another thread of the process holding a
//! `ReadPin` can still delay one), and the second run checks that every operation has the
//! outcome and the fences of the first. A failure ([`FuzzFailure`]) carries the
//! operations and the resolved [`Case`], and [`Fuzzer::replay`] reruns exactly that. The same
//! description also runs as the exhaustive sweep of [`CrashTest`] over a given sequence
//! ([`Fuzzer::sweep`]). See "Fuzz your own structure" in `docs/crash-testing.md`.

mod minimize;
mod runs;

use std::fmt;
use std::sync::Arc;

/// The `arbitrary` crate whose `Arbitrary` the operations implement (derive it with the same
/// major version in your crate: `arbitrary = { version = "1", features = ["derive"] }`).
pub use arbitrary;
use arbitrary::{Arbitrary, Unstructured};

use super::{Case, Failure, FailureKind, Granularity, Report, Subset};
#[cfg(feature = "fault-injection")]
use crate::Fault;
use crate::{Persistent, Pool, PoolOptions};

/// Bytes of a crash choice at the start of an input ([`Fuzzer::decode`]), and the length of
/// the choice part of [`Fuzzer::decode_parts`] that every byte of it reaches.
pub const CHOICE_LEN: usize = 21;

/// What an operation did, as the model must follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It took effect: the model applies it.
    Applied,
    /// It was refused or aborted as a whole (a full pool, a transaction that returned `Err`):
    /// the model stays as it was, and a recovered pool must hold the state before it.
    Refused,
}

/// A persistent structure described for crash fuzzing.
///
/// The description is shared by every run and image (checks run inside the workload's fence
/// hook, possibly on another thread), so it is `Send + Sync + 'static`, and so is the model:
/// keep configuration in the description, not state. Errors are messages, and a panic in any
/// method is a failure too: the fuzzer reports either with the case that produced it.
///
/// `check` runs *during* `apply` (at the fence where the crash is simulated), on another
/// pool: it must not wait for a lock that `apply` holds.
pub trait Structure: Send + Sync + 'static {
    /// The pool's root type.
    type Root: Persistent;
    /// What is built on an open pool: `Pool<Self::Root>` itself for a structure that lives in
    /// the root, or a store that owns the pool (a key-value `Db`).
    type Store: 'static;
    /// One operation, drawn from fuzzer bytes.
    type Op: for<'a> Arbitrary<'a> + Clone + fmt::Debug;
    /// The expected state, as plain Rust values.
    type Model: Clone + fmt::Debug + Send + Sync + 'static;

    /// The pool's layout name.
    fn layout(&self) -> &str;

    /// The pool's size: fixed at the minimum by default (small images make fast runs); a
    /// growing pool (`PoolOptions::default().initial_size(..)`) fuzzes growth too.
    fn pool_options(&self) -> PoolOptions {
        PoolOptions::from(crate::MIN_POOL_SIZE)
    }

    /// Builds the store on a pool: the workload's fresh pool, and every recovered one (after
    /// `Pool::check` passed).
    fn open(&self, pool: Pool<Self::Root>) -> Result<Self::Store, String>;

    /// Prepares the fresh store before the operations (not crash-tested).
    fn setup(&self, store: &Self::Store) -> Result<(), String> {
        let _ = store;
        Ok(())
    }

    /// The model of the store after [`Structure::setup`].
    fn model(&self) -> Self::Model;

    /// Applies one operation to the store. `Err` is a failure (a bug); an operation the store
    /// may legitimately refuse returns [`Outcome::Refused`].
    fn apply(&self, store: &Self::Store, op: &Self::Op) -> Result<Outcome, String>;

    /// Applies one operation that took effect to the model.
    fn apply_model(&self, model: &mut Self::Model, op: &Self::Op);

    /// Checks a recovered store: it must hold `before` (the interrupted operation left no
    /// trace) or `after` (it is wholly there). For the final image, and for an operation that
    /// was refused, `before` and `after` are equal.
    fn check(
        &self,
        store: &Self::Store,
        before: &Self::Model,
        after: &Self::Model,
    ) -> Result<(), String>;
}

/// Where the crash comes, as drawn from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashAt {
    /// Among all the operations' fences (taken modulo their number).
    Fence(u64),
    /// Among the fences of the last operation that issues any (taken modulo their number):
    /// removing an earlier operation leaves the crash where it was, which is what makes
    /// shrinking work ([`Fuzzer::decode_parts`]).
    InLastOp(u64),
}

/// The decoded form of a fuzzer input: the operations and the crash choice, before the crash
/// point is resolved against the workload's fences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzInput<Op> {
    /// The operations, in order.
    pub ops: Vec<Op>,
    /// Where the crash comes.
    pub crash: CrashAt,
    /// The unit of the surviving subset.
    pub granularity: Granularity,
    /// The seed of the surviving subset: each differing unit survives with probability 1/2.
    pub subset: u64,
    /// A crash during recovery: recovery's fence (modulo [`Fuzzer::recovery_points`]; when
    /// recovery issues fewer fences there is no second crash) and the seed of its subset.
    pub recovery: Option<(u64, u64)>,
}

/// What one fuzzed run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Operations run.
    pub ops: usize,
    /// Operations that took effect.
    pub applied: usize,
    /// Fences (crash points) of the operations.
    pub points: u64,
    /// The crash that was checked (`None` when the operations issued no fence).
    pub case: Option<Case>,
    /// What the crash run covered.
    pub report: Report,
}

/// A failed fuzz case: the operations and what broke.
#[derive(Clone, Debug)]
pub struct FuzzFailure<Op> {
    /// The operations of the case.
    pub ops: Vec<Op>,
    /// Where and how it failed: its kind, the resolved crash case, the operations that had
    /// returned, the message; boxed to keep `Result`s small.
    pub failure: Box<Failure>,
}

impl<Op> FuzzFailure<Op> {
    fn new(ops: &[Op], failure: Failure) -> Self
    where
        Op: Clone,
    {
        FuzzFailure {
            ops: ops.to_vec(),
            failure: Box::new(failure),
        }
    }
}

impl<Op: fmt::Debug> fmt::Display for FuzzFailure<Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.failure;
        let n = self.ops.len();
        let crash = match c.kind {
            FailureKind::Crash => {
                writeln!(
                    f,
                    "crash fuzzing failed at {} after {} of {n} operations: {}",
                    c.case, c.completed, c.message
                )?;
                true
            }
            FailureKind::Nondeterministic => {
                writeln!(
                    f,
                    "crash fuzzing failed, not deterministic: in the run with {}, operation \
                     {} of {n}: {}",
                    c.case, c.completed, c.message
                )?;
                true
            }
            FailureKind::Operation => {
                writeln!(f, "crash fuzzing failed with no crash: {}", c.message)?;
                false
            }
            FailureKind::FinalImage => {
                writeln!(
                    f,
                    "crash fuzzing failed on the final image, after all {n} operations \
                     returned: {}",
                    c.message
                )?;
                false
            }
            FailureKind::Setup => {
                writeln!(f, "crash fuzzing failed in the setup: {}", c.message)?;
                false
            }
        };
        writeln!(f, "operations: {:?}", self.ops)?;
        if c.kind == FailureKind::Nondeterministic && c.case.subset == Subset::None {
            // Found by a sweep (its cases are not the fuzzer's, which are all `Random`).
            write!(
                f,
                "rerun with fuzzer.sweep(&operations, &cfg), the sweep that found it"
            )
        } else if crash {
            write!(f, "replay with fuzzer.replay(&operations, &{:?})", c.case)
        } else {
            write!(f, "replay with fuzzer.run_without_crash(&operations)")
        }
    }
}

impl<Op: fmt::Debug> std::error::Error for FuzzFailure<Op> {}

/// Turns fuzzer inputs into crash tests of one [`Structure`].
pub struct Fuzzer<S: Structure> {
    structure: Arc<S>,
    max_ops: usize,
    recovery_points: u64,
    #[cfg(feature = "fault-injection")]
    fault: Option<Fault>,
}

impl<S: Structure> Clone for Fuzzer<S> {
    fn clone(&self) -> Self {
        Fuzzer {
            structure: Arc::clone(&self.structure),
            max_ops: self.max_ops,
            recovery_points: self.recovery_points,
            #[cfg(feature = "fault-injection")]
            fault: self.fault,
        }
    }
}

impl<S: Structure> fmt::Debug for Fuzzer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fuzzer")
            .field("max_ops", &self.max_ops)
            .field("recovery_points", &self.recovery_points)
            .finish_non_exhaustive()
    }
}

impl<S: Structure> Fuzzer<S> {
    /// A fuzzer of `structure`: at most 32 operations per input, recovery crashes among its
    /// first 8 fences.
    pub fn new(structure: S) -> Self {
        Fuzzer {
            structure: Arc::new(structure),
            max_ops: 32,
            recovery_points: 8,
            #[cfg(feature = "fault-injection")]
            fault: None,
        }
    }

    /// The most operations drawn from one input (at least 1).
    #[must_use]
    pub fn max_ops(mut self, n: usize) -> Self {
        self.max_ops = n.max(1);
        self
    }

    /// A crash during recovery comes at one of recovery's first `n` fences (at most 256;
    /// taken modulo `n`; when recovery issues fewer, that image recovers without a second
    /// crash, and a failure's case then says `recovery: None`). 0 turns crashes during
    /// recovery off.
    #[must_use]
    pub fn recovery_points(mut self, n: u64) -> Self {
        self.recovery_points = n.min(256);
        self
    }

    /// Breaks the workload pool's persistence protocol with a seeded bug (`Fault`), to show
    /// that the fuzzer finds it. Recovered pools run the correct protocol.
    #[cfg(feature = "fault-injection")]
    #[must_use]
    pub fn inject_fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// The structure being fuzzed.
    pub fn structure(&self) -> &S {
        &self.structure
    }

    /// Decodes an input: the crash choice from its first [`CHOICE_LEN`] bytes (a crash among
    /// all the fences; missing bytes read as zeros), then operations from the rest until the
    /// bytes run out or `max_ops` are drawn. Every byte string is an input, and the operations
    /// always start at the same byte, whatever the choice holds.
    pub fn decode(&self, data: &[u8]) -> FuzzInput<S::Op> {
        let split = data.len().min(CHOICE_LEN);
        let (point, mut input) = self.crash_choice(&data[..split]);
        input.crash = CrashAt::Fence(point);
        let mut u = Unstructured::new(&data[split..]);
        while input.ops.len() < self.max_ops && !u.is_empty() {
            match S::Op::arbitrary(&mut u) {
                Ok(op) => input.ops.push(op),
                Err(_) => break,
            }
        }
        input
    }

    /// Decodes an input given in parts, for property tests: the crash choice from `choice`
    /// (its first [`CHOICE_LEN`] bytes; a crash inside the last operation that fences), and
    /// one operation from each of `ops` (at most `max_ops`: generate no more, or removing one
    /// slides the next into the window). Removing a part removes one operation and leaves the
    /// crash and the other operations as they were, so that shrinking finds small cases.
    pub fn decode_parts<B: AsRef<[u8]>>(&self, choice: &[u8], ops: &[B]) -> FuzzInput<S::Op> {
        let (point, mut input) = self.crash_choice(&choice[..choice.len().min(CHOICE_LEN)]);
        input.crash = CrashAt::InLastOp(point);
        for part in ops.iter().take(self.max_ops) {
            if let Ok(op) = S::Op::arbitrary(&mut Unstructured::new(part.as_ref())) {
                input.ops.push(op);
            }
        }
        input
    }

    /// The most operations drawn from one input ([`Fuzzer::max_ops`]).
    pub fn op_limit(&self) -> usize {
        self.max_ops
    }

    /// The crash choice, from at most [`CHOICE_LEN`] bytes (zeros past the end): 2 bytes of
    /// point, 1 of granularity (its low bit), 8 of subset seed, 1 whose low bit asks for a
    /// crash during recovery, 1 of recovery fence, 8 of recovery seed.
    fn crash_choice(&self, bytes: &[u8]) -> (u64, FuzzInput<S::Op>) {
        let mut b = [0u8; CHOICE_LEN];
        b[..bytes.len()].copy_from_slice(bytes);
        let word = |r: std::ops::Range<usize>| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[r]);
            u64::from_le_bytes(w)
        };
        let point = u64::from(u16::from_le_bytes([b[0], b[1]]));
        let granularity = if b[2] & 1 == 1 {
            Granularity::Word
        } else {
            Granularity::Line
        };
        let subset = word(3..11);
        let recovery = (b[11] & 1 == 1 && self.recovery_points > 0)
            .then(|| (u64::from(b[12]) % self.recovery_points, word(13..21)));
        let input = FuzzInput {
            ops: Vec::new(),
            crash: CrashAt::Fence(point),
            granularity,
            subset,
            recovery,
        };
        (point, input)
    }

    /// The fuzz target: decodes `data` and runs it ([`Fuzzer::run_input`]).
    pub fn run(&self, data: &[u8]) -> Result<Run, FuzzFailure<S::Op>> {
        self.run_input(&self.decode(data))
    }

    /// Runs a decoded input: the operations once to learn their outcomes and fences, then
    /// again with the chosen crash, whose post-crash image is recovered and checked.
    pub fn run_input(&self, input: &FuzzInput<S::Op>) -> Result<Run, FuzzFailure<S::Op>> {
        let learned = self.learn(&input.ops)?;
        let applied = learned.applied();
        let Some(point) = learned.resolve(input.crash) else {
            return Ok(Run {
                ops: input.ops.len(),
                applied,
                points: 0,
                case: None,
                report: Report::default(),
            });
        };
        let case = Case {
            point,
            granularity: input.granularity,
            subset: Subset::Random(input.subset),
            recovery: input
                .recovery
                .map(|(p, s)| (p, input.granularity, Subset::Random(s))),
        };
        let report = self.crash_run(&input.ops, &learned, Some(&case), None)?;
        Ok(Run {
            ops: input.ops.len(),
            applied,
            points: learned.points,
            case: Some(case),
            report,
        })
    }

    /// Reruns one crash case: the operations, then the crash `case` only. A case whose crash
    /// point the operations never reach is a failure ([`FailureKind::Nondeterministic`]); for
    /// a failure without a crash, see [`Fuzzer::replay_failure`].
    pub fn replay(&self, ops: &[S::Op], case: &Case) -> Result<Report, FuzzFailure<S::Op>> {
        self.replay_learned(ops, case).0
    }

    /// Reruns whatever a failure needs: its crash case, or (for a failure that involves no
    /// crash: an operation's error, the final image, the setup) the operations alone.
    pub fn replay_failure(&self, f: &FuzzFailure<S::Op>) -> Result<Run, FuzzFailure<S::Op>> {
        match f.failure.kind {
            FailureKind::Crash | FailureKind::Nondeterministic => {
                let (result, learned) = self.replay_learned(&f.ops, &f.failure.case);
                let report = result?;
                let (applied, points) = learned.map_or((0, 0), |l| (l.applied(), l.points));
                Ok(Run {
                    ops: f.ops.len(),
                    applied,
                    points,
                    case: Some(f.failure.case.clone()),
                    report,
                })
            }
            FailureKind::Operation | FailureKind::FinalImage | FailureKind::Setup => {
                self.run_without_crash(&f.ops)
            }
        }
    }

    /// Runs the operations with no crash: each must return, and the final persisted image
    /// must pass `Pool::check` and [`Structure::check`] against the model.
    pub fn run_without_crash(&self, ops: &[S::Op]) -> Result<Run, FuzzFailure<S::Op>> {
        let learned = self.learn(ops)?;
        Ok(Run {
            ops: ops.len(),
            applied: learned.applied(),
            points: learned.points,
            case: None,
            report: Report::default(),
        })
    }

    /// The exhaustive sweep: `ops` run under `cfg` ([`super::CrashTest::new`] checks every
    /// crash point), each post-crash image checked against the model. The learning run that
    /// comes first runs without `cfg`'s `on_fence` hook: a hook that changes what the
    /// operations do makes their outcomes or fences differ, which is reported as
    /// nondeterminism.
    pub fn sweep(
        &self,
        ops: &[S::Op],
        cfg: &super::CrashTest,
    ) -> Result<Report, FuzzFailure<S::Op>> {
        let learned = self.learn(ops)?;
        self.crash_run(ops, &learned, None, Some(cfg))
    }
}
