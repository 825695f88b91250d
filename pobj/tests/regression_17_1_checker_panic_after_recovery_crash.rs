//! Regressions found by review of the crash fuzzer, both in `CrashTest`'s crash-tested
//! recovery (`recovery_crash`):
//!
//! 1. After recovery's own crash points, the recovered pool was checked outside any
//!    `catch_unwind`, so a checker that panicked there unwound into the workload's fence hook:
//!    the fence failed, the workload's operation returned an I/O error, and the run was
//!    reported as that operation's failure, with a case (point 0, no subset) that did not
//!    replay. It is now a failure of that crash image, with its case.
//! 2. A replayed case naming a recovery crash point that recovery never reaches kept that
//!    point in the failure's case, as if the second crash had happened. It is now left out.

use pobj::crash::{Case, CrashTest, Failure, FailureKind, Granularity, Report, Subset};
use pobj::{Error, Persistent};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    words: [u64; 8],
}

/// Two transactions that rewrite the root, checked by a checker that panics on a changed root.
fn run(cfg: &CrashTest) -> Result<Report, Failure> {
    cfg.run::<Root, _, _, _>(
        "r17-1",
        pobj::MIN_POOL_SIZE,
        |_| Ok(()),
        2,
        |pool, i| {
            pool.transaction(|tx| {
                tx.root_mut()?.words = [i as u64 + 1; 8];
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())
        },
        |pool, _| {
            let r = pool.root().map_err(|e| e.to_string())?;
            assert!(r.words[0] == 0, "the checker panics on a changed root");
            Ok(())
        },
    )
}

#[test]
fn a_checker_panic_after_crash_tested_recovery_is_a_failure_of_that_image() {
    let lines = CrashTest::new().granularities(&[Granularity::Line]);
    // A case whose recovered root has changed (found without recovery crashes).
    let plain = run(&lines.clone().recovery_every(0)).expect_err("the checker panics");
    assert_eq!(plain.kind, FailureKind::Crash, "{plain}");
    // The same case with a crash during recovery at a fence recovery never reaches: recovery
    // runs on a crash-tested medium, then the recovered pool is checked, and the checker
    // panics there.
    let case = Case {
        recovery: Some((999, Granularity::Line, Subset::None)),
        ..plain.case.clone()
    };
    let f = run(&lines.clone().replay(case)).expect_err("the checker panics");
    assert_eq!(f.kind, FailureKind::Crash, "{f}");
    assert!(f.message.contains("the checker panics"), "{f}");
    assert_eq!(f.case.point, plain.case.point);
    // (2) No second crash happened, so the case names none, and replays as it is.
    assert_eq!(f.case.recovery, None, "{f}");
    let again = run(&lines.replay(f.case.clone())).expect_err("the case replays");
    assert_eq!(again.case, f.case);
}
