//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_narrates_handlers_masks_children_and_sigpipe() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_signals-demo"),
        testkit::DEFAULT_DEADLINE,
    );
    for needle in [
        "flag is now true",
        "handler ran 0 times",
        "handler ran 1 time(s) in all",
        "signal Some(15)",
        "reaped 10 children",
        "killed by signal Some(13)",
        "Broken pipe",
        "done:",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
