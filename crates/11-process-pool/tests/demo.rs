//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_prefork_ids_a_killed_worker_and_the_speedup() {
    // The demo starts 200 processes one after the other to time them: on a loaded machine
    // that alone can take longer than the usual deadline.
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_process-pool-demo"),
        std::time::Duration::from_secs(90),
    );
    for needle in [
        "worker 1: pid",
        "answer 6 task-6",
        "sent SIGKILL to pid",
        "EOF on worker 0's stdout",
        "task 7 ran again on worker 2 and answered once",
        "x faster",
        "exit status: 0",
        "done:",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
