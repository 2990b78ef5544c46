//! Compile tests for the attribute macros: valid plugin functions must compile (including
//! the generated wrappers), and each misuse must fail with exactly one error that points
//! at the offending token and says what was expected.

#[test]
fn attribute_macros() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
