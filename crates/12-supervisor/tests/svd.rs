//! Tests for `supervisor/svd`: SCAFFOLD: what they check.

#[test]
fn scaffold_replace_this_test() {
    // SCAFFOLD: tests named as behaviours, driving real processes, each failing on the stub.
    supervisor::svd::svd().expect("svd succeeds");
}
