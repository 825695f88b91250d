//! Regression (soundness issue, defect 3): `#[derive(Persistent)]` on a generic struct proved
//! "no padding" only where `TYPE_ID` or `__LAYOUT_CHECK` was evaluated, and `pobj::as_bytes`
//! and the field type of `Tx::update_at` evaluated neither: `Pair<u8, u64>` compiled and 7
//! uninitialised bytes were read and written into the pool. Every entry point that turns a
//! value into bytes now forces the proof, and a struct's proof includes its fields' proofs.
//!
//! Each case must fail to compile (post-monomorphization errors, so the pass case makes
//! trybuild build rather than only check).

#[test]
fn padded_generic_instantiations_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.pass("tests/regression_10_3/pass_unpadded.rs");
    t.compile_fail("tests/regression_10_3/fail_*.rs");
}
