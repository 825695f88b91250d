//! Arbitrary transaction sequences and crash choices: the recovered pool must hold the state
//! before or after the interrupted transaction, and pass check().
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(m) = pobj_tests::fuzzing::tx_crash(data) {
        panic!("{m}");
    }
});
