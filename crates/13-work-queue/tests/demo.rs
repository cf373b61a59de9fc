//! Runs the narrated demo of the work-queue topic and checks its key lines.

use std::time::Duration;

#[test]
fn the_demo_runs_to_completion_and_narrates_each_step() {
    let demo = env!("CARGO_BIN_EXE_work-queue-demo");
    let out = testkit::run_demo(demo, Duration::from_secs(10));
    // SCAFFOLD: the demo's key lines, one assertion each.
    assert!(
        out.contains("== done"),
        "the demo's output lacks its last line:\n{out}"
    );
}
