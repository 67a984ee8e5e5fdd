//! Compile-pass and compile-fail tests of the macros. The expected compiler output of every
//! failing case is checked in beside it (`.stderr`); regenerate with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
