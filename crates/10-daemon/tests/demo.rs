//! Runs the narrated demo and checks that it tells each part of the story.

#[test]
fn demo_compares_our_daemon_with_the_daemonize_crate() {
    let out = testkit::run_demo(env!("CARGO_BIN_EXE_daemon-demo"), testkit::DEFAULT_DEADLINE);
    for needle in [
        "a child subreaper",
        "once the daemon said READY",
        "not a session leader), tty_nr 0",
        "umask 0027, cwd /, SigBlk 0000000000000000, SigIgn 0000000000000000",
        "exit status: 1, printing the daemon's own error: ours: already running",
        "RUSTSEC-2025-0069",
        "SigIgn 0x1000 is SIGPIPE",
        "launcher exited with exit status: 0: success, as far as a script can tell",
        "unable to lock pid file",
        "done: every daemon was stopped and reaped",
    ] {
        assert!(
            out.contains(needle),
            "the demo should say {needle:?}; it said:\n{out}"
        );
    }
}
