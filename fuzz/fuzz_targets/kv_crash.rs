//! Arbitrary puts, removes and batches with a crash choice: the recovered store must pass
//! Db::check and hold the contents before or after the interrupted operation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(m) = pobj_tests::fuzzing::kv_crash(data) {
        panic!("{m}");
    }
});
