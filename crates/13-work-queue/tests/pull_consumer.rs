//! Tests for `work-queue/pull_consumer`: SCAFFOLD: what they check.

#[test]
fn scaffold_replace_this_test() {
    // SCAFFOLD: tests named as behaviours, driving real processes, each failing on the stub.
    work_queue::pull_consumer::pull_consumer().expect("pull_consumer succeeds");
}
