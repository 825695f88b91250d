//! Compile-time UI tests for `#[derive(Persistent)]`: what it accepts (`tests/ui/pass`) and what
//! it refuses, with the expected compiler output (`tests/ui/fail/*.stderr`).
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p pobj --test derive_ui`, then review every `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
