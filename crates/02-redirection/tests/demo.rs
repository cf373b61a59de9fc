//! Runs the topic's demo (`cargo run -p redirection --bin demo`) and checks what it narrates.

use std::time::Duration;

#[test]
fn demo_runs_and_narrates_fds_append_merge_and_deadlock() {
    let out = testkit::run_demo(
        env!("CARGO_BIN_EXE_redirection-demo"),
        Duration::from_secs(20),
    );
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("the demo printed no line starting with {prefix:?}:\n{out}"))
            .to_owned()
    };
    let null = line("null, null, null");
    assert_eq!(null.matches("/dev/null").count(), 3, "{null}");
    assert_eq!(
        line("piped, piped, piped").matches("pipe:[").count(),
        3,
        "piped fds: {out}"
    );
    assert!(line("piped, from(File), null").contains("out.txt"), "{out}");
    assert!(
        line("after `echo new > report.txt`").contains("\"new\\n\""),
        "{out}"
    );
    assert!(
        line("after `echo more >> report.txt`").contains("\"new\\nmore\\n\""),
        "{out}"
    );
    assert!(
        line("one open file, dup'ed").contains("\"out1\\nerr1\\nout2\\nerr2\\nout3\\nerr3\\n\""),
        "{out}"
    );
    assert!(
        line("sent 4194304 bytes, got 4194304 back").contains("exit status: 0"),
        "{out}"
    );
}
