//! Runs the narrated demo and checks its key lines: the stale file detected, the peer's
//! credentials printed, the file read by the child through a passed descriptor, and no socket
//! file left behind.

use testkit::{DEFAULT_DEADLINE, run_demo};

#[test]
fn demo_narrates_every_part_and_leaves_nothing() {
    let out = run_demo(env!("CARGO_BIN_EXE_unix-sockets-demo"), DEFAULT_DEADLINE);
    for key in [
        "a socket file: true",
        "got \"HELLO\"",
        "nobody listens, the file is stale",
        "removed the file on shutdown",
        "child read from offset 5: \"read by the child through the parent's open file\"",
        "nothing left behind",
    ] {
        assert!(out.contains(key), "the demo's output lacks {key:?}:\n{out}");
    }
    #[cfg(target_os = "linux")]
    assert!(
        out.contains("SO_PEERCRED of our client: pid"),
        "the demo's output lacks the credentials:\n{out}"
    );
    // The demo names its private directory on its last line; it must be gone.
    let last = out.lines().last().unwrap_or_default();
    let dir = last
        .strip_prefix("done: ")
        .and_then(|rest| rest.split(" removed").next())
        .unwrap_or_else(|| panic!("the demo's last line should name its directory, got {last:?}"));
    assert!(
        !std::path::Path::new(dir).exists(),
        "the demo left {dir} behind"
    );
}
