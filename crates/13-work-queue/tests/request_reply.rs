//! Tests for `work-queue/request_reply`: SCAFFOLD: what they check.

#[test]
fn scaffold_replace_this_test() {
    // SCAFFOLD: tests named as behaviours, driving real processes, each failing on the stub.
    work_queue::request_reply::request_reply().expect("request_reply succeeds");
}
