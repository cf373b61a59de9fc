//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_prefork_ids_a_killed_worker_and_the_speedup() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_process-pool-demo"),
        testkit::DEFAULT_DEADLINE,
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
