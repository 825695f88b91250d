//! The bank's crash recovery searched from `cargo test` on the stable toolchain: proptest draws
//! the fuzzer's input (the crash choice, and one byte string per operation) and, on a failure,
//! shrinks it to a minimal failing case; and the exhaustive sweep checks every crash point of
//! one given sequence.

use bank_crash_fuzz::{fuzzer, BankOp, MAX_OPS};
use pobj::crash::fuzz::CHOICE_LEN;
use pobj::crash::CrashTest;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

proptest! {
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    /// The proptest twin of `fuzz/fuzz_targets/bank.rs`: the same description and harness.
    /// The input comes in parts (the crash choice, then one byte string per operation, the
    /// crash inside the last operation), so that shrinking removes whole operations and the
    /// failure proptest reports is a small case, printed with how to replay it.
    #[test]
    fn bank_recovers_from_any_crash(
        // The operations first: proptest shrinks them first. At most the fuzzer's
        // `max_ops`, or removing one would slide another into the window.
        ops in vec(vec(any::<u8>(), 0..12), 0..=MAX_OPS),
        choice in vec(any::<u8>(), CHOICE_LEN),
    ) {
        let fuzzer = fuzzer();
        if let Err(failure) = fuzzer.run_input(&fuzzer.decode_parts(&choice, &ops)) {
            return Err(TestCaseError::fail(failure.to_string()));
        }
    }
}

/// Every crash point of a fixed sequence, lines and words, recovery crash-tested.
#[test]
fn bank_sweep_of_a_fixed_sequence() {
    let ops = vec![
        BankOp::Transfer {
            from: 0,
            to: 1,
            amount: 300,
        },
        BankOp::Deposit { to: 2, amount: 50 },
        BankOp::Undo,
        BankOp::Transfer {
            from: 3,
            to: 3,
            amount: 10,
        },
        BankOp::Transfer {
            from: 7,
            to: 0,
            amount: 5000,
        },
        BankOp::Undo,
        BankOp::Undo,
    ];
    let report = fuzzer()
        .sweep(&ops, &CrashTest::new())
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("bank sweep: {report}");
    assert!(report.points_checked > 0 && report.images > report.points_checked);
}
