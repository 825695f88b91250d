//! Regression (soundness issue, defect 2c): the simulated medium copied each flushed 64-byte
//! line with plain loads while other threads' shared transactions stored into the same line
//! with atomic read-modify-writes (bitmap words of a run), a data race reachable from safe code
//! (`Db::create_simulated` used from two threads). The medium now copies lines with atomic
//! 8-byte loads. The race is undefined behaviour that only a checker sees, and only in a
//! schedule where a copy and a bitmap update are unordered: the defect was found by reading the
//! code (our Miri runs of the old code did not hit that schedule). This test is in the Miri
//! subset (README) so that every run gives Miri's race detector that chance on the new copies,
//! and checks what two writers on one simulated medium leave behind.

use std::sync::Arc;

use pobj_kv::Db;

#[test]
fn two_writers_on_a_simulated_medium() {
    let (db, _sim) = Db::create_simulated(4 << 20).unwrap();
    let db = Arc::new(db);
    let per = if cfg!(miri) { 3 } else { 200 };
    let threads: Vec<_> = (0u8..2)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..per {
                    // Values too large to sit inline: each put allocates a buffer, setting a
                    // bit in a run bitmap that the other thread's flushes also cover.
                    let v = vec![t; 200 + i];
                    db.put(format!("{t}-{i:04}"), &v).unwrap();
                }
            })
        })
        .collect();
    for h in threads {
        h.join().unwrap();
    }
    for t in 0..2u8 {
        for i in 0..per {
            let v = db.get(format!("{t}-{i:04}")).unwrap();
            assert_eq!(v, Some(vec![t; 200 + i]));
        }
    }
    assert!(db.check().is_ok());
}
