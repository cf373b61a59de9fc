//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_spawn_wait_drop_and_groups() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_async-processes-demo"),
        testkit::DEFAULT_DEADLINE,
    );
    for needle in [
        "spawn() returned after",
        "10 x sleep 0.3 on one thread: 10 succeeded",
        "without kill_on_drop: /proc says state alive",
        "but its grandchild sleep",
        "is alive (",
        "the grandchild",
        "is dead",
        "done:",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
