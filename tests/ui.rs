//! The compile errors of `cnn!`, one case per rule (`tests/ui/fail`), and declarations that must
//! compile (`tests/ui/pass`). The `.stderr` files are the documentation of our error messages.
//! Regenerate them with `TRYBUILD=overwrite cargo test --test ui` and read the diff as a user would.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
