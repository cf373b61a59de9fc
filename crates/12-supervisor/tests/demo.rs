//! Runs the narrated demo of the supervisor topic and checks its key lines.

use std::time::Duration;

#[test]
fn the_demo_runs_to_completion_and_narrates_each_step() {
    let demo = env!("CARGO_BIN_EXE_supervisor-demo");
    let out = testkit::run_demo(demo, Duration::from_secs(60));
    let expect = [
        "prctl(PR_SET_CHILD_SUBREAPER, 1)",
        "(in the service's group: counts): READY=1",
        "stdout hello from the service",
        "stderr warning: no cache directory",
        "exit 3",
        "of its own, parent",
        "(us: the subreaper)",
        "killed by SIGTERM; reaped",
        "delays: 100 ms, 200 ms, 400 ms, 800 ms, 1000 ms, 1000 ms",
        "3 death(s) within 10 s: failed: not restarted",
        "-> served",
        "-> error: permission denied",
        "== done: no child left",
    ];
    for line in expect {
        assert!(
            out.contains(line),
            "the demo's output lacks {line:?}:\n{out}"
        );
    }
}
