//! The bank template's target with a seeded bug of the fault-injection suite switched on
//! (`POBJ_SEEDED_FAULT=SkipSnapshotFlush|SkipCommitFence|RetireBeforeDataFlush`): proof that
//! cargo-fuzz finds it. Without the variable it is the template's target. Built only with the
//! crate's feature `seeded` (`cargo fuzz run --features seeded bank_seeded`), so that the
//! other targets fuzz pobj as it ships, without fault injection.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pobj::Fault;

fn fault() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| match std::env::var("POBJ_SEEDED_FAULT").as_deref() {
        Ok("SkipSnapshotFlush") => Some(Fault::SkipSnapshotFlush),
        Ok("SkipCommitFence") => Some(Fault::SkipCommitFence),
        Ok("RetireBeforeDataFlush") => Some(Fault::RetireBeforeDataFlush),
        Ok(other) => panic!("unknown POBJ_SEEDED_FAULT {other:?}"),
        Err(_) => None,
    })
}

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at once; the fuzzer catches panics in the structure's
    // code to report them with their case, so restore the default hook (once).
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let mut fuzzer = bank_crash_fuzz::fuzzer();
    if let Some(f) = fault() {
        fuzzer = fuzzer.inject_fault(f);
    }
    if let Err(failure) = fuzzer.run(data) {
        panic!("{}", fuzzer.minimize(failure));
    }
});
