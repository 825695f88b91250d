//! The crash fuzzer on the project's structures.
//!
//! First, the store's crash targets (`kv_crash`, `mixed_crash`) on their seeds and seeded random
//! inputs. They live in this test binary, whose other tests use no shared objects: the store's
//! readers pin pobj's epoch collector, which is process-wide, and a pin in another thread of the
//! binary (another test's pools) could delay the reuse of a freed leaf and make an input run
//! otherwise.
//!
//! Then proof that the public crash fuzzer finds bugs: with each seeded bug of the fault-injection
//! suite switched on, proptest driving the fuzzer's input bytes (the twin of the cargo-fuzz
//! targets) finds a failing case of the bank template and of `tx_crash`, and shrinks it. The
//! figures (inputs to the first failure, the shrunk case's operations) are printed; the same
//! searches with no fault find nothing, and each shrunk input passes without its fault.

mod fuzz_common;

use std::sync::atomic::{AtomicUsize, Ordering};

use fuzz_common::{cases, crash_target};

use pobj::crash::fuzz::{Fuzzer, Structure, CHOICE_LEN};
use pobj::Fault;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

#[test]
fn kv_and_mixed_crash_corpus_and_random_inputs() {
    crash_target(
        "kv_crash",
        pobj_tests::fuzzing::kv_crash,
        0x4B_5643,
        cases(150),
        700,
    );
    crash_target(
        "mixed_crash",
        pobj_tests::fuzzing::mixed_crash,
        0x313_1ED,
        cases(150),
        600,
    );
}

const FAULTS: [Fault; 3] = [
    Fault::SkipSnapshotFlush,
    Fault::SkipCommitFence,
    Fault::RetireBeforeDataFlush,
];

/// What a search found.
struct Found {
    /// Inputs run up to and including the first failing one.
    first: usize,
    /// Operations in the first failing input, and in proptest's shrunk one.
    ops: (usize, usize),
    /// Operations left by `Fuzzer::minimize` of the shrunk failure.
    minimized: usize,
    /// The shrunk failure's report.
    message: String,
}

/// Runs proptest over fuzzer inputs in parts (up to `max_ops` byte strings of up to
/// `op_bytes`, one per operation, then the crash choice), at most `cases` of them, from a
/// fixed seed; `None` if nothing failed. The shrunk failure must replay, and pass without the
/// fault. (`max_ops` is the fuzzer's: parts beyond it would slide into the window as earlier
/// ones are removed, moving the crash.)
fn search<S: Structure>(
    fuzzer: &Fuzzer<S>,
    correct: &Fuzzer<S>,
    cases: u32,
    (max_ops, op_bytes): (usize, usize),
) -> Option<Found> {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let runs = AtomicUsize::new(0);
    let first = AtomicUsize::new(0);
    let first_ops = AtomicUsize::new(0);
    // The operations first: proptest shrinks a tuple's first element first, and removing
    // operations matters more than smaller crash-choice bytes.
    let parts = (
        vec(vec(any::<u8>(), 0..op_bytes), 0..=max_ops),
        vec(any::<u8>(), CHOICE_LEN),
    );
    let result = runner.run(&parts, |(ops, choice)| {
        let n = runs.fetch_add(1, Ordering::Relaxed) + 1;
        match fuzzer.run_input(&fuzzer.decode_parts(&choice, &ops)) {
            Ok(_) => Ok(()),
            Err(f) => {
                if first.load(Ordering::Relaxed) == 0 {
                    first.store(n, Ordering::Relaxed);
                    first_ops.store(f.ops.len(), Ordering::Relaxed);
                }
                Err(TestCaseError::fail(f.to_string()))
            }
        }
    });
    let (ops, choice) = match result {
        Ok(()) => return None,
        Err(TestError::Fail(_, value)) => value,
        Err(TestError::Abort(m)) => panic!("proptest aborted: {m}"),
    };
    let shrunk = fuzzer
        .run_input(&fuzzer.decode_parts(&choice, &ops))
        .expect_err("the shrunk input fails");
    // Replayable: the case fails again, the same way; and the correct protocol passes it.
    let again = fuzzer
        .replay(&shrunk.ops, &shrunk.failure.case)
        .expect_err("the shrunk case replays");
    assert_eq!(again.failure.case, shrunk.failure.case);
    assert_eq!(again.failure.message, shrunk.failure.message);
    // The same input passes with the correct protocol (its crash lands in the same
    // operation; the fence count may differ, so the input is rerun, not the case).
    correct
        .run_input(&correct.decode_parts(&choice, &ops))
        .unwrap_or_else(|f| panic!("the correct protocol fails the input: {f}"));
    let minimized = fuzzer.minimize(shrunk.clone());
    fuzzer
        .replay(&minimized.ops, &minimized.failure.case)
        .expect_err("the minimized case replays");
    Some(Found {
        first: first.load(Ordering::Relaxed),
        ops: (first_ops.load(Ordering::Relaxed), shrunk.ops.len()),
        minimized: minimized.ops.len(),
        message: shrunk.to_string(),
    })
}

fn expect_found<S: Structure>(
    name: &str,
    correct: &Fuzzer<S>,
    fault: Fault,
    parts: (usize, usize),
) {
    let fuzzer = correct.clone().inject_fault(fault);
    let found = search(&fuzzer, correct, 20_000, parts)
        .unwrap_or_else(|| panic!("{name}: {fault:?} was not found"));
    eprintln!(
        "{name} with {fault:?}: first failing input after {} inputs ({} operations), shrunk by proptest to {} operations (minimize: {}):\n{}",
        found.first, found.ops.0, found.ops.1, found.minimized, found.message
    );
    assert!(found.ops.1 <= found.ops.0, "shrinking grew the case");
    assert!(
        found.ops.1 <= 3,
        "a seeded bug needs at most 3 operations to show"
    );
}

#[test]
fn bank_template_finds_each_seeded_bug() {
    for fault in FAULTS {
        expect_found("bank", &bank_crash_fuzz::fuzzer(), fault, (24, 12));
    }
}

#[test]
fn tx_crash_finds_each_seeded_bug() {
    for fault in FAULTS {
        expect_found(
            "tx_crash",
            &pobj_tests::fuzzing::tx::fuzzer(),
            fault,
            (12, 48),
        );
    }
}

#[test]
fn no_seeded_bug_no_failure() {
    // The same searches without a fault: the failures above are the faults'.
    let bank = bank_crash_fuzz::fuzzer();
    assert!(search(&bank, &bank, 400, (24, 12)).is_none());
    let tx = pobj_tests::fuzzing::tx::fuzzer();
    assert!(search(&tx, &tx, 150, (12, 48)).is_none());
}

#[test]
fn a_failure_replays() {
    let fuzzer = bank_crash_fuzz::fuzzer().inject_fault(Fault::SkipCommitFence);
    let failure = (0u64..)
        .map(|i| {
            let data: Vec<u8> = (0..300u64)
                .map(|j| (i.wrapping_mul(0x9E37_79B9) ^ j.wrapping_mul(0x85EB_CA6B)) as u8)
                .collect();
            fuzzer.run(&data)
        })
        .take(5_000)
        .find_map(Result::err)
        .expect("a failing input");
    let again = fuzzer
        .replay(&failure.ops, &failure.failure.case)
        .expect_err("the replayed case fails again");
    assert_eq!(again.failure.case, failure.failure.case);
    assert_eq!(again.failure.completed, failure.failure.completed);
    // Without the fault, the same case passes.
    bank_crash_fuzz::fuzzer()
        .replay(&failure.ops, &failure.failure.case)
        .unwrap_or_else(|f| panic!("the correct protocol fails: {f}"));
}
