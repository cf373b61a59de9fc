//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_sessions_groups_the_terminal_and_its_signals() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_job-control-demo"),
        testkit::DEFAULT_DEADLINE,
    );
    for needle in [
        "leads session",
        "gave it the terminal",
        "JOB   read \"hello\"",
        "job stopped by SIGTSTP",
        "job continued",
        "job stopped by SIGTTIN",
        "job terminated by SIGINT",
        "killed by SIGHUP",
        "done:",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
