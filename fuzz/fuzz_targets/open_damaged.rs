//! Arbitrary damage to a valid pool image: open returns Ok or a typed error, never panics;
//! when it opens, check(), reads and a transaction return without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pobj_tests::fuzzing::open_damaged(data);
});
