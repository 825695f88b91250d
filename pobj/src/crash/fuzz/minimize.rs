//! Making a failure smaller: only operations that matter to it, the same kind of failure at
//! the same place.

use super::{FuzzFailure, Fuzzer, Structure};
use crate::crash::{Case, FailureKind};

impl<S: Structure> Fuzzer<S> {
    /// Makes a failure smaller, keeping its kind. For a crash: drops the operations after the
    /// interrupted one (they cannot matter), then each earlier one whose removal still fails
    /// at the same fence of the interrupted operation (the crash point moves back by the
    /// removed operation's fences). For an operation's error or the final image: drops each
    /// operation whose removal still fails the same way. A failure of determinism is returned
    /// as it is. At most two runs per operation; the result replays with
    /// [`Fuzzer::replay_failure`].
    pub fn minimize(&self, failure: FuzzFailure<S::Op>) -> FuzzFailure<S::Op> {
        match failure.failure.kind {
            FailureKind::Crash => self.minimize_crash(failure),
            FailureKind::Operation | FailureKind::FinalImage => self.minimize_other(failure),
            FailureKind::Setup => match self.learn(&[]) {
                // The operations play no part: the setup fails without them.
                Err(f) if f.failure.kind == FailureKind::Setup => f,
                _ => failure,
            },
            FailureKind::Nondeterministic => failure,
        }
    }

    fn minimize_crash(&self, failure: FuzzFailure<S::Op>) -> FuzzFailure<S::Op> {
        let mut best = failure;
        let at = best.failure.completed;
        if at >= best.ops.len() {
            return best;
        }
        // The interrupted operation is the last that matters.
        if at + 1 < best.ops.len() {
            let ops = best.ops[..=at].to_vec();
            if let Err(f) = self.replay(&ops, &best.failure.case) {
                if f.failure.kind == FailureKind::Crash && f.failure.completed == at {
                    best = f;
                }
            }
        }
        let Ok(mut known) = self.learn(&best.ops) else {
            return best;
        };
        let mut i = best.failure.completed;
        while i > 0 {
            i -= 1;
            let at = best.failure.completed;
            let Some(point) = best.failure.case.point.checked_sub(known.fences[i]) else {
                continue;
            };
            let mut ops = best.ops.clone();
            ops.remove(i);
            let case = Case {
                point,
                ..best.failure.case.clone()
            };
            let (result, learned) = self.replay_learned(&ops, &case);
            let (Err(f), Some(learned)) = (result, learned) else {
                continue;
            };
            // The same failure one operation earlier, at the same fence of that operation:
            // the fences before it are those before, less the removed operation's (removing
            // an operation may change what later ones do).
            let before_old: u64 = known.fences[..at].iter().sum::<u64>() - known.fences[i];
            let before_new: u64 = learned.fences[..at - 1].iter().sum();
            if f.failure.kind == FailureKind::Crash
                && f.failure.completed + 1 == at
                && before_old == before_new
            {
                best = f;
                known = learned;
            }
        }
        best
    }

    fn minimize_other(&self, failure: FuzzFailure<S::Op>) -> FuzzFailure<S::Op> {
        let kind = failure.failure.kind;
        let mut best = failure;
        // An operation's error: the operations after it never ran.
        let truncate = |f: FuzzFailure<S::Op>| -> FuzzFailure<S::Op> {
            let at = f.failure.completed;
            if kind != FailureKind::Operation || at + 1 >= f.ops.len() {
                return f;
            }
            match self.learn(&f.ops[..=at]) {
                Err(g) if g.failure.kind == kind && g.failure.completed == at => g,
                _ => f,
            }
        };
        best = truncate(best);
        let mut i = best.ops.len();
        while i > 0 {
            i -= 1;
            let mut ops = best.ops.clone();
            ops.remove(i);
            let Err(f) = self.learn(&ops) else {
                continue;
            };
            // The same failure: the same operation (one earlier if the removed one came
            // before it) failing with the same message but for its index, or the final image
            // failing with the same message.
            let same = f.failure.kind == kind
                && match kind {
                    FailureKind::Operation => {
                        let at = best.failure.completed;
                        let shifted = if i < at { at - 1 } else { at };
                        f.failure.completed == shifted
                            && f.failure.message.split_once(": ").map(|p| p.1)
                                == best.failure.message.split_once(": ").map(|p| p.1)
                    }
                    _ => f.failure.message == best.failure.message,
                };
            if same {
                best = truncate(f);
            }
        }
        best
    }
}
