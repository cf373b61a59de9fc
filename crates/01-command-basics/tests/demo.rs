//! Runs the topic's narrated demo (`cargo run -p command-basics --bin demo`) and checks that it
//! tells the story: exit codes, a signal death, captured output, a cleared environment, spawn
//! failures with their errno, a zombie then reaped, a deadline, and fork + exec by hand.

use std::time::Duration;

#[test]
fn the_demo_runs_to_completion_and_narrates_each_step() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_command-basics-demo"),
        Duration::from_secs(20),
    );
    for line in [
        "exited with code 3",
        "killed by signal 9 (SIGKILL)",
        "invalid UTF-8 after",
        "the child saw exactly: \"GREETING=hello\"",
        "errno 2 (ENOENT",
        "errno 13 (EACCES",
        "state 'Z'",
        "reaped",
        "kill()",
        "hello from the exec'd child",
        "Exited(",
        "done: every child was waited for",
    ] {
        assert!(
            out.contains(line),
            "the demo's output should contain {line:?}; it was:\n{out}"
        );
    }
}
