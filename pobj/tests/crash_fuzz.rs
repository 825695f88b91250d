//! The crash fuzzer (`pobj::crash::fuzz`) on a small structure: correct descriptions pass,
//! wrong checks and nondeterministic structures are reported, failures replay and minimize,
//! and every input decodes. Then the settle mode of crash-test pools
//! (`Pool::settle_freed_blocks_before_allocations`), which the fuzzer uses for determinism: a
//! freed shared object's block is reused at the next allocation whatever the epoch collector's
//! history, and never while a reader that was pinned at the free still holds its pin.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use pobj::crash::fuzz::{CrashAt, Fuzzer, Outcome, Structure};
use pobj::crash::{CrashTest, FailureKind};
use pobj::{Error, PPtr, Persistent, Pool, ReadPin};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Counter {
    /// Two lines apart, so that a torn transaction is visible.
    value: [u64; 8],
    ops: u64,
}

/// How the description misbehaves, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    None,
    /// The check accepts only the state before the interrupted operation.
    OnlyBefore,
    /// The check rejects any state with 3 or more operations applied.
    RejectThree,
    /// The check panics on the state after the interrupted operation.
    PanicAfter,
}

/// Operation `n`: add `n` to every word in one transaction; 0 is refused without a change.
struct Adder {
    flaw: Flaw,
    /// Counts `apply` calls, to make the structure nondeterministic on purpose.
    flip: Option<AtomicUsize>,
}

impl Adder {
    fn new(flaw: Flaw) -> Self {
        Adder { flaw, flip: None }
    }
}

type Model = (u64, u64);

impl Structure for Adder {
    type Root = Counter;
    type Store = Pool<Counter>;
    type Op = u8;
    type Model = Model;

    fn layout(&self) -> &str {
        "adder"
    }

    fn open(&self, pool: Pool<Counter>) -> Result<Pool<Counter>, String> {
        Ok(pool)
    }

    fn model(&self) -> Model {
        (0, 0)
    }

    fn apply(&self, pool: &Pool<Counter>, op: &u8) -> Result<Outcome, String> {
        if let Some(calls) = &self.flip {
            if calls.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
                return Ok(Outcome::Refused);
            }
        }
        if *op == 0 {
            return Ok(Outcome::Refused);
        }
        pool.transaction(|tx| {
            let r = tx.root_mut()?;
            for w in &mut r.value {
                *w += u64::from(*op);
            }
            r.ops += 1;
            Ok::<_, Error>(())
        })
        .map_err(|e| e.to_string())?;
        Ok(Outcome::Applied)
    }

    fn apply_model(&self, m: &mut Model, op: &u8) {
        m.0 += u64::from(*op);
        m.1 += 1;
    }

    fn check(&self, pool: &Pool<Counter>, before: &Model, after: &Model) -> Result<(), String> {
        let r = pool.root().map_err(|e| e.to_string())?;
        if r.value.iter().any(|&w| w != r.value[0]) {
            return Err(format!("torn: {:?}", r.value));
        }
        let got = (r.value[0], r.ops);
        if self.flaw == Flaw::RejectThree && got.1 >= 3 {
            return Err("three operations".into());
        }
        assert!(
            !(self.flaw == Flaw::PanicAfter && &got == after && before != after),
            "the check panics"
        );
        let ok = &got == before || (self.flaw != Flaw::OnlyBefore && &got == after);
        if ok {
            Ok(())
        } else {
            Err(format!("{got:?}, not {before:?} or {after:?}"))
        }
    }
}

fn inputs(n: u64) -> impl Iterator<Item = Vec<u8>> {
    (0..n).map(|i| {
        (0..40u64)
            .map(|j| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (j % 57)) as u8 ^ j as u8)
            .collect()
    })
}

#[test]
fn a_correct_description_passes() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::None)).max_ops(8);
    let mut crashed = 0;
    for data in inputs(100) {
        let run = fuzzer.run(&data).unwrap_or_else(|f| panic!("{f}"));
        assert!(run.ops <= 8 && run.applied <= run.ops);
        if run.case.is_some() {
            crashed += 1;
            assert!(run.report.images >= 1);
        }
    }
    assert!(crashed > 50, "{crashed} of 100 inputs crashed");
    let report = fuzzer
        .sweep(&[3, 0, 7], &CrashTest::new())
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(report.points_checked > 0 && report.points_checked == report.points);
}

#[test]
fn a_wrong_check_is_found_replayed_and_minimized() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::OnlyBefore)).max_ops(8);
    let failure = inputs(500)
        .find_map(|d| fuzzer.run(&d).err())
        .expect("a check that rejects committed states fails somewhere");
    let again = fuzzer
        .replay(&failure.ops, &failure.failure.case)
        .expect_err("the case replays");
    assert_eq!(again.failure.case, failure.failure.case);
    assert_eq!(again.failure.message, failure.failure.message);
    assert_eq!(failure.failure.kind, FailureKind::Crash);
    let small = fuzzer.minimize(failure.clone());
    assert!(small.ops.len() <= failure.ops.len());
    assert_eq!(small.failure.kind, FailureKind::Crash);
    assert_eq!(
        small.ops.len(),
        1,
        "one committed operation shows the flaw: {small}"
    );
    fuzzer
        .replay(&small.ops, &small.failure.case)
        .expect_err("the minimized case replays");
    assert!(small.to_string().contains("replay with fuzzer.replay"));
}

#[test]
fn a_failure_of_the_final_state_replays_and_minimizes() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::RejectThree));
    let ops = [1, 2, 3, 4, 5];
    let failure = fuzzer
        .run_without_crash(&ops)
        .expect_err("three operations are rejected");
    assert_eq!(failure.failure.kind, FailureKind::FinalImage);
    let shown = failure.to_string();
    assert!(shown.contains("on the final image"), "{shown}");
    assert!(shown.contains("fuzzer.run_without_crash"), "{shown}");
    let again = fuzzer
        .replay_failure(&failure)
        .expect_err("the failure replays");
    assert_eq!(again.failure.kind, FailureKind::FinalImage);
    assert_eq!(again.failure.message, failure.failure.message);
    let small = fuzzer.minimize(failure);
    assert_eq!(small.ops.len(), 3);
    assert_eq!(small.failure.kind, FailureKind::FinalImage);
    // Once the check is right, the replay passes.
    let run = Fuzzer::new(Adder::new(Flaw::None))
        .replay_failure(&small)
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!((run.ops, run.applied), (3, 3));
}

/// `replay_failure` of a crash replays that crash, and reports what the operations did.
#[test]
fn replay_failure_of_a_crash() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::OnlyBefore)).max_ops(8);
    let failure = inputs(500)
        .find_map(|d| fuzzer.run(&d).err())
        .expect("a failure");
    let again = fuzzer.replay_failure(&failure).expect_err("it replays");
    assert_eq!(again.failure.case, failure.failure.case);
    assert_eq!(again.failure.message, failure.failure.message);
    let run = Fuzzer::new(Adder::new(Flaw::None))
        .replay_failure(&failure)
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(run.case.as_ref(), Some(&failure.failure.case));
    assert_eq!(run.ops, failure.ops.len());
    let applied = failure.ops.iter().filter(|&&op| op != 0).count();
    assert_eq!(run.applied, applied);
    assert!(run.points >= run.report.points);
}

#[test]
fn nondeterminism_is_reported() {
    let adder = Adder {
        flaw: Flaw::None,
        flip: Some(AtomicUsize::new(0)),
    };
    let failure = Fuzzer::new(adder)
        .sweep(&[1, 1, 1], &CrashTest::new())
        .expect_err("outcomes differ between the runs");
    assert_eq!(failure.failure.kind, FailureKind::Nondeterministic);
    assert!(
        failure.to_string().contains("not deterministic"),
        "{failure}"
    );
    // Found by a sweep, it names no single crash case: it says how to rerun it.
    assert!(
        failure.to_string().contains("rerun with fuzzer.sweep"),
        "{failure}"
    );
}

/// A nondeterminism found in a crash run names that run's case, so that it replays.
#[test]
fn nondeterminism_names_its_case() {
    let adder = Adder {
        flaw: Flaw::None,
        flip: Some(AtomicUsize::new(0)),
    };
    let fuzzer = Fuzzer::new(adder);
    // The learning run applies, refuses, applies (the crash comes in the third operation);
    // the crash run's first call refuses.
    let f = fuzzer
        .run_input(&fuzzer.decode_parts(&[0; 21], &[[1u8], [1u8], [1u8]]))
        .expect_err("not deterministic");
    assert_eq!(f.failure.kind, FailureKind::Nondeterministic);
    assert!(f.failure.message.contains("first run"), "{f}");
    assert!(
        matches!(f.failure.case.subset, pobj::crash::Subset::Random(_)),
        "{f}"
    );
    assert!(f.to_string().contains("not deterministic"), "{f}");
}

/// A panic in the check is a failure of that crash case, also after a crash during recovery.
#[test]
fn a_panicking_check_is_a_failure_with_its_case() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::PanicAfter));
    let mut recovery = 0;
    for (i, data) in inputs(400).enumerate() {
        let Err(f) = fuzzer.run(&data) else { continue };
        assert_eq!(f.failure.kind, FailureKind::Crash, "input {i}: {f}");
        assert!(f.failure.message.contains("the check panics"), "{f}");
        fuzzer
            .replay(&f.ops, &f.failure.case)
            .expect_err("the panic replays");
        if f.failure.case.recovery.is_some() {
            recovery += 1;
        }
    }
    assert!(recovery > 0, "no failure after a crash during recovery");
}

/// A case whose crash point the operations never reach fails instead of passing unchecked.
#[test]
fn an_unreached_crash_point_is_a_failure() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::None));
    let case = fuzzer
        .run_input(&fuzzer.decode_parts(&[0; 21], &[[1u8]]))
        .unwrap_or_else(|f| panic!("{f}"))
        .case
        .expect("a crash");
    let far = pobj::crash::Case {
        point: 10_000,
        ..case.clone()
    };
    let f = fuzzer.replay(&[1], &far).expect_err("never reached");
    assert!(f.failure.message.contains("never checked"), "{f}");
    assert_eq!(f.failure.kind, FailureKind::Nondeterministic);
    // The same through a sweep that replays the case.
    let f = fuzzer
        .sweep(&[1], &CrashTest::new().replay(far))
        .expect_err("never reached");
    assert!(f.failure.message.contains("never checked"), "{f}");
    // And a replay of a granularity the sweep does not test: reached, but no image opened.
    let word = pobj::crash::Case {
        granularity: pobj::crash::Granularity::Word,
        ..case.clone()
    };
    let lines = CrashTest::new()
        .granularities(&[pobj::crash::Granularity::Line])
        .replay(word);
    let f = fuzzer.sweep(&[1], &lines).expect_err("nothing checked");
    assert!(f.failure.message.contains("never checked"), "{f}");
    fuzzer.replay(&[1], &case).unwrap_or_else(|f| panic!("{f}"));
}

/// `decode_parts` puts the crash in the last operation that fences, so that removing an
/// earlier operation keeps the crash in the same place of the same operation.
#[test]
fn the_crash_of_parts_is_in_the_last_operation() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::None));
    let one = fuzzer.decode_parts(&[3, 0, 0], &[[5u8]]);
    assert_eq!(one.crash, CrashAt::InLastOp(3));
    let a = fuzzer.run_input(&one).unwrap_or_else(|f| panic!("{f}"));
    let b = fuzzer
        .run_input(&fuzzer.decode_parts(&[3, 0, 0], &[[7u8], [0], [5]]))
        .unwrap_or_else(|f| panic!("{f}"));
    // The second sequence's crash is the first's, shifted by the fences of the first op
    // (the refused `0` issues none).
    let (pa, pb) = (a.case.expect("crash").point, b.case.expect("crash").point);
    assert_eq!(pb - pa, a.points, "{pa} {pb}");
}

#[test]
fn operations_without_fences_need_no_crash() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::None));
    let run = fuzzer
        .run_input(&fuzzer.decode_parts(&[], &[[0u8], [0u8]]))
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!((run.ops, run.applied, run.points), (2, 0, 0));
    assert_eq!(run.case, None);
}

#[test]
fn every_input_decodes() {
    let fuzzer = Fuzzer::new(Adder::new(Flaw::None)).max_ops(5);
    assert!(fuzzer.decode(&[]).ops.is_empty());
    assert_eq!(fuzzer.decode(&[0xff; 1000]).ops.len(), 5);
    let parts: Vec<Vec<u8>> = vec![vec![], vec![9], vec![1, 2, 3]];
    assert_eq!(fuzzer.decode_parts(&[1; 3], &parts).ops, vec![0, 9, 1]);
    assert!(matches!(fuzzer.decode(&[1; 40]).crash, CrashAt::Fence(_)));
    // The operations start after the choice, whatever it holds: flipping the recovery flag
    // changes no operation.
    let mut d: Vec<u8> = (0..=255).collect();
    let a = fuzzer.decode(&d);
    d[11] ^= 1;
    let b = fuzzer.decode(&d);
    assert_eq!(a.ops, b.ops);
    assert_ne!(a.recovery.is_some(), b.recovery.is_some());
    assert_eq!(a.ops[0], 21);
    assert_eq!(
        Fuzzer::new(Adder::new(Flaw::None))
            .recovery_points(0)
            .decode(&[1; 64])
            .recovery,
        None
    );
}

// ---- the settle mode ------------------------------------------------------------------------

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct SharedRoot {
    node: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    words: [u64; 6],
}

fn pool() -> Pool<SharedRoot> {
    let (pool, _sim) = Pool::<SharedRoot>::create_simulated("settle", pobj::MIN_POOL_SIZE).unwrap();
    pool.settle_freed_blocks_before_allocations();
    pool
}

fn alloc(pool: &Pool<SharedRoot>) -> PPtr<Node> {
    pool.transaction(|tx| {
        let p = tx.alloc_shared(Node { words: [7; 6] })?;
        tx.root_mut()?.node = p;
        Ok::<_, Error>(p)
    })
    .unwrap()
}

fn free(pool: &Pool<SharedRoot>, p: PPtr<Node>) {
    pool.transaction(|tx| {
        tx.root_mut()?.node = PPtr::null();
        // SAFETY: the root, cleared in this transaction, was the only way to the object, and
        // nothing in these tests reads it through a pointer found later.
        unsafe { tx.free_shared(p)? };
        Ok::<_, Error>(())
    })
    .unwrap();
}

fn a_freed_block_is_reused_at_the_next_allocation_whatever_the_history() {
    let pool = pool();
    for round in 0..50 {
        // Unrelated pins change the collector's state between rounds.
        for _ in 0..round * 7 {
            drop(ReadPin::new());
        }
        let a = alloc(&pool);
        free(&pool, a);
        let b = alloc(&pool);
        assert_eq!(a, b, "round {round}: the freed block was not reused");
        free(&pool, b);
    }
}

fn a_block_is_not_reused_while_a_reader_pinned_at_the_free_holds_its_pin() {
    let pool = pool();
    let a = alloc(&pool);
    let (pinned, wait_pinned) = mpsc::channel();
    let (release, wait_release) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let pin = ReadPin::new();
        pinned.send(()).unwrap();
        wait_release.recv().unwrap();
        drop(pin);
    });
    wait_pinned.recv().unwrap();
    free(&pool, a);
    let mut held = Vec::new();
    for _ in 0..4 {
        let b = alloc(&pool);
        assert_ne!(
            a, b,
            "reused while a reader pinned at the free holds its pin"
        );
        held.push(b);
    }
    release.send(()).unwrap();
    reader.join().unwrap();
    assert_eq!(alloc(&pool), a, "not reused once the reader unpinned");
    drop(held);
}

/// Both settle checks in one test, one after the other: pobj's epoch collector is
/// process-wide, so a pin held by one would hold back the other's reuse if they ran in
/// parallel (the rest of this file uses no shared objects).
#[test]
fn settle_mode() {
    a_freed_block_is_reused_at_the_next_allocation_whatever_the_history();
    a_block_is_not_reused_while_a_reader_pinned_at_the_free_holds_its_pin();
}
