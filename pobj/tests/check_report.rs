//! `Pool::check` reports typed problems (`CheckProblem`) with their facts, printed by `Display`.

use pobj::{CheckProblem, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    word: u64,
}

#[test]
fn a_clean_pool_reports_no_problem_and_prints_ok() {
    let (pool, _sim) = Pool::<Root>::create_simulated("check_ok", 2 << 20).expect("create");
    pool.transaction(|tx| tx.alloc(Root { word: 1 }).map(|_| ()))
        .expect("alloc");
    let report = pool.check();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.objects, 2, "the root and one object");
    assert_eq!(report.to_string(), "ok (2 objects)");
}

#[test]
fn check_inside_a_transaction_is_a_typed_problem() {
    let (pool, _sim) = Pool::<Root>::create_simulated("check_in_tx", 2 << 20).expect("create");
    let report = pool
        .transaction(|_tx| Ok::<_, pobj::Error>(pool.check()))
        .expect("transaction");
    assert_eq!(report.problems, vec![CheckProblem::InsideTransaction]);
    assert!(!report.is_ok());
    assert_eq!(report.to_string(), "check called inside a transaction");
}

#[test]
fn problems_print_their_facts() {
    let p = CheckProblem::ObjectTooLarge {
        offset: 0x1040,
        size: 100,
        capacity: 48,
    };
    assert_eq!(
        p.to_string(),
        "object at 0x1040: size 100 larger than its block (48 bytes)"
    );
    let p = CheckProblem::InnerWordNotFree {
        chunk: 7,
        extent: 5,
    };
    assert_eq!(
        p.to_string(),
        "chunk 7: header word inside the extent of chunk 5 is not FREE"
    );
}
