//! Tests for `work-queue/redelivery`: SCAFFOLD: what they check.

#[test]
fn scaffold_replace_this_test() {
    // SCAFFOLD: tests named as behaviours, driving real processes, each failing on the stub.
    work_queue::redelivery::redelivery().expect("redelivery succeeds");
}
