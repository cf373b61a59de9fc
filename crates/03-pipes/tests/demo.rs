//! Runs the narrated demo of the pipes topic and checks its key lines.

use std::time::Duration;

#[test]
fn the_demo_runs_to_completion_and_narrates_each_step() {
    let out = testkit::run_demo(env!("CARGO_BIN_EXE_pipes-demo"), Duration::from_secs(10));
    for expected in [
        "\"HELLO PIPES\"",
        "-> pipe:[",
        "F_GETPIPE_SZ says 65536 bytes",
        "every write end is closed, so EOF",
        "Broken pipe",
        "\"through the file system, not to disk\"",
        "== done",
    ] {
        assert!(
            out.contains(expected),
            "the demo's output lacks {expected:?}:\n{out}"
        );
    }
}
