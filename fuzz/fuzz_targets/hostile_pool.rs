//! Structure-aware damage to valid pool and store images (chunk words, run descriptors and
//! bitmaps, object headers, undo-log links and entries with valid checksums, leaf links and
//! slots): open must refuse with a typed error or open a pool whose listing, resolution,
//! allocator and check agree, and nothing may panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(m) = pobj_tests::hostile::check_case(data) {
        panic!("{m}");
    }
});
