//! Proof that the crash harness can fail: each seeded bug in the persistence protocol
//! (feature `fault-injection`) is caught, with a replayable case.

use pobj::crash::CrashTest;
use pobj::{Error, Fault, PPtr, Persistent};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Pair {
    a: [u64; 8],
    b: [u64; 8],
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    left: PPtr<Pair>,
    right: PPtr<Pair>,
    count: u64,
}

/// Operation i sets every word of both objects and the count to i + 1: any mix is a torn
/// transaction.
fn run_with(fault: Option<Fault>) -> Result<pobj::crash::Report, pobj::crash::Failure> {
    run_config(&CrashTest::new(), fault)
}

fn run_config(
    cfg: &CrashTest,
    fault: Option<Fault>,
) -> Result<pobj::crash::Report, pobj::crash::Failure> {
    cfg.run::<Root, _, _, _>(
        "faults",
        pobj::MIN_POOL_SIZE,
        move |pool| {
            pool.transaction(|tx| {
                let l = tx.alloc(Pair {
                    a: [0; 8],
                    b: [0; 8],
                })?;
                let r = tx.alloc(Pair {
                    a: [0; 8],
                    b: [0; 8],
                })?;
                let root = tx.root_mut()?;
                root.left = l;
                root.right = r;
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())?;
            pool.inject_fault(fault);
            Ok(())
        },
        6,
        |pool, i| {
            let v = i as u64 + 1;
            pool.transaction(|tx| {
                let root = *tx.root();
                *tx.get_mut(root.left)? = Pair {
                    a: [v; 8],
                    b: [v; 8],
                };
                *tx.get_mut(root.right)? = Pair {
                    a: [v; 8],
                    b: [v; 8],
                };
                tx.root_mut()?.count = v;
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())
        },
        |pool, done| {
            let root = pool.root().unwrap();
            let l = pool.get(root.left).map_err(|e| e.to_string())?;
            let r = pool.get(root.right).map_err(|e| e.to_string())?;
            let c = root.count;
            let uniform =
                l.a.iter()
                    .chain(&l.b)
                    .chain(&r.a)
                    .chain(&r.b)
                    .all(|&x| x == c);
            if !uniform {
                return Err(format!("torn: count {c}, left {:?}, right {:?}", l.a, r.a));
            }
            if c != done as u64 && c != done as u64 + 1 {
                return Err(format!(
                    "count {c} after {done} operations: a committed transaction was lost"
                ));
            }
            Ok(())
        },
    )
}

#[test]
fn correct_protocol_passes() {
    let report = run_with(None).unwrap_or_else(|f| panic!("{f}"));
    eprintln!("faults: no fault: {report}");
}

fn expect_caught(fault: Fault) {
    match run_with(Some(fault)) {
        Ok(report) => panic!("{fault:?} was not caught: {report}"),
        Err(f) => eprintln!("faults: {fault:?} caught: {f}"),
    }
}

#[test]
fn snapshot_not_flushed_before_the_change_is_caught() {
    expect_caught(Fault::SkipSnapshotFlush);
}

#[test]
fn no_fence_before_retiring_the_log_is_caught() {
    expect_caught(Fault::SkipCommitFence);
}

#[test]
fn log_retired_before_the_data_is_flushed_is_caught() {
    expect_caught(Fault::RetireBeforeDataFlush);
}

#[test]
fn replay_reproduces_a_failure() {
    let f = run_with(Some(Fault::SkipCommitFence)).expect_err("caught");
    // Re-run only the failing case: it fails again, with the same case.
    let replayed = run_config(
        &CrashTest::new().seed(f.seed).replay(f.case.clone()),
        Some(Fault::SkipCommitFence),
    );
    let g = replayed.expect_err("the replayed case fails again");
    assert_eq!(g.case, f.case);
}
