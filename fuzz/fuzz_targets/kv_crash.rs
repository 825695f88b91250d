//! Arbitrary puts, removes and batches with a crash choice: the recovered store must pass
//! Db::check and hold the contents before or after the interrupted operation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at once; the fuzzer catches panics in the structure's
    // code to report them with their case, so restore the default hook (once).
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let fuzzer = pobj_tests::fuzzing::kv::fuzzer();
    if let Err(failure) = fuzzer.run(data) {
        panic!("{}", fuzzer.minimize(failure));
    }
});
