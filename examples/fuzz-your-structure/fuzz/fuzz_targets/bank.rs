//! The bank's crash recovery under cargo-fuzz: each input is a sequence of operations and a
//! crash; a failure panics with the smallest case found from it and how to replay it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at once; the fuzzer catches panics in the structure's
    // code to report them with their case, so restore the default hook (once).
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let fuzzer = bank_crash_fuzz::fuzzer();
    if let Err(failure) = fuzzer.run(data) {
        panic!("{}", fuzzer.minimize(failure));
    }
});
