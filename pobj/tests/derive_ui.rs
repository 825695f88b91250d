//! Compile-time UI tests for `#[derive(Persistent)]`: what it accepts (`tests/ui/pass`) and what
//! it refuses, with the expected compiler output (`tests/ui/fail/*.stderr`).
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p pobj --test derive_ui`, then review every `.stderr`.
//!
//! Because there are `pass` cases, trybuild builds (rather than only checks) every case, which
//! `fail/generic_padding.rs` relies on: padding in a generic struct is a post-monomorphization
//! error, reported when `TYPE_ID` of a concrete instantiation is evaluated during codegen
//! (`cargo check` alone does not report it when the use is in a function body).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
