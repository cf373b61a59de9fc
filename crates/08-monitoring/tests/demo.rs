//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_proc_cpu_rusage_limits_heartbeat_and_sysinfo() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_monitoring-demo"),
        testkit::DEFAULT_DEADLINE * 3,
    );
    for needle in [
        "state S",
        "% of one core",
        "ru_maxrss",
        "Too many open files",
        "hung, not dead",
        "refreshing 1 pid read 1 process(es)",
        "done: every child was reaped",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
