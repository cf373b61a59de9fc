//! Runs the narrated demo and checks that it tells each part of the story and leaves nothing
//! in /dev/shm.

#[test]
fn demo_narrates_segment_counter_futex_robust_mutex_and_queue() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_shared-memory-demo"),
        testkit::DEFAULT_DEADLINE,
    );
    for needle in [
        "mode 600, 4096 bytes",
        "the counter is 2000000",
        "the child sleeps in the kernel: state Some('S')",
        "woken, the word is 1",
        "pthread_mutex_lock: EOWNERDEAD",
        "locking again: 0",
        "mq_receive: \"urgent\" (priority 9)",
        "(gone)",
        "exists: false",
        "done:",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
    let pid = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("demo: pid "))
        .expect("the demo's first line names its pid");
    let leftovers: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("pl-demo-{pid}")))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "the demo left {leftovers:?} in /dev/shm"
    );
}
