//! End-to-end tests of the `logcap` binary (`redirection/logcap`): what it echoes, what it logs,
//! and how it exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use predicates::prelude::*;
use testkit::temp_dir;

const DEADLINE: Duration = Duration::from_secs(10);

/// The `logcap` binary of this package, with the deadline every run gets.
fn logcap() -> Command {
    let mut cmd = cargo_bin_cmd!("logcap");
    cmd.timeout(DEADLINE);
    cmd
}

/// `logcap --log LOG -- sh -c SCRIPT`, run in `dir`.
fn logcap_sh(dir: &Path, log: &Path, script: &str) -> Command {
    let mut cmd = logcap();
    cmd.current_dir(dir)
        .arg("--log")
        .arg(log)
        .args(["--", "sh", "-c", script]);
    cmd
}

/// One parsed log line: time, tag, and the line's bytes.
#[derive(Debug)]
struct Record {
    at: SystemTime,
    tag: String,
    text: Vec<u8>,
}

/// Parses the log: every line must be `<RFC 3339 time> <out|err> <line>`.
fn records(log: &Path) -> Vec<Record> {
    let bytes =
        std::fs::read(log).unwrap_or_else(|e| panic!("cannot read the log {}: {e}", log.display()));
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "every log line must end with \\n"
    );
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let shown = String::from_utf8_lossy(l);
            let mut parts = l.splitn(3, |&b| b == b' ');
            let (Some(time), Some(tag), Some(text)) = (parts.next(), parts.next(), parts.next())
            else {
                panic!("log line {shown:?} is not `<time> <out|err> <line>`");
            };
            let time = std::str::from_utf8(time).unwrap_or_default();
            let at = humantime::parse_rfc3339(time).unwrap_or_else(|e| {
                panic!("log line {shown:?}: {time:?} is not an RFC 3339 time: {e}")
            });
            let tag = String::from_utf8_lossy(tag).into_owned();
            assert!(
                tag == "out" || tag == "err",
                "log line {shown:?}: the tag must be out or err"
            );
            Record {
                at,
                tag,
                text: text.to_vec(),
            }
        })
        .collect()
}

fn texts(records: &[Record], tag: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.tag == tag)
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect()
}

#[test]
fn echoes_both_streams_and_logs_every_line_tagged_and_timed() {
    let dir = temp_dir("logcap-basic");
    let log = dir.path().join("run.log");
    let before = SystemTime::now();
    logcap_sh(dir.path(), &log, "echo one; echo two >&2; echo three")
        .assert()
        .success()
        .stdout("one\nthree\n")
        .stderr("two\n");
    let after = SystemTime::now();
    let recs = records(&log);
    assert_eq!(
        texts(&recs, "out"),
        ["one", "three"],
        "stdout lines in the log"
    );
    assert_eq!(texts(&recs, "err"), ["two"], "stderr lines in the log");
    for r in &recs {
        assert!(
            r.at >= before - Duration::from_secs(1) && r.at <= after + Duration::from_secs(1),
            "log time {:?} is not the time of the run",
            humantime::format_rfc3339_micros(r.at)
        );
    }
}

#[test]
fn keeps_the_order_of_each_stream() {
    let dir = temp_dir("logcap-order");
    let log = dir.path().join("run.log");
    logcap_sh(
        dir.path(),
        &log,
        "i=1; while [ $i -le 300 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done",
    )
    .assert()
    .success();
    let recs = records(&log);
    let want = |p: &str| (1..=300).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert!(
        texts(&recs, "out") == want("o"),
        "stdout lines are missing or out of order in the log"
    );
    assert!(
        texts(&recs, "err") == want("e"),
        "stderr lines are missing or out of order in the log"
    );
}

#[test]
fn keeps_a_last_line_without_newline() {
    let dir = temp_dir("logcap-partial");
    let log = dir.path().join("run.log");
    logcap_sh(dir.path(), &log, "printf 'a\\nlast'")
        .assert()
        .success()
        .stdout("a\nlast");
    assert_eq!(
        texts(&records(&log), "out"),
        ["a", "last"],
        "the final line without a newline must be logged too (and echoed without adding one)"
    );
}

#[test]
fn keeps_bytes_that_are_not_utf8() {
    let dir = temp_dir("logcap-bytes");
    let log = dir.path().join("run.log");
    logcap_sh(
        dir.path(),
        &log,
        "printf 'caf\\351 \\377\\n'; printf '\\376\\n' >&2",
    )
    .assert()
    .success()
    .stdout(&b"caf\xe9 \xff\n"[..])
    .stderr(&b"\xfe\n"[..]);
    let recs = records(&log);
    let raw = |tag: &str| {
        recs.iter()
            .filter(|r| r.tag == tag)
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        raw("out"),
        [b"caf\xe9 \xff".to_vec()],
        "the log must hold the exact bytes, not U+FFFD"
    );
    assert_eq!(
        raw("err"),
        [b"\xfe".to_vec()],
        "the log must hold the exact bytes, not U+FFFD"
    );
}

#[test]
fn exits_with_the_command_exit_code() {
    let dir = temp_dir("logcap-code");
    let log = dir.path().join("run.log");
    logcap_sh(dir.path(), &log, "echo bye; exit 7")
        .assert()
        .code(7)
        .stdout("bye\n");
    logcap_sh(dir.path(), &log, "true").assert().code(0);
}

#[test]
fn exits_128_plus_n_when_the_command_is_killed_by_signal_n() {
    let dir = temp_dir("logcap-signal");
    let log = dir.path().join("run.log");
    logcap_sh(dir.path(), &log, "kill -TERM $$")
        .assert()
        .code(128 + 15);
    logcap_sh(dir.path(), &log, "kill -KILL $$")
        .assert()
        .code(128 + 9);
}

/// One line of text, ending with a newline: what a one-line error on stderr looks like.
fn one_line() -> impl Predicate<str> {
    predicate::str::is_match(r"\A[^\n]+\n\z").expect("a valid regex")
}

#[test]
fn a_command_that_does_not_exist_is_a_one_line_error_and_127() {
    let dir = temp_dir("logcap-127");
    let log = dir.path().join("run.log");
    logcap()
        .arg("--log")
        .arg(&log)
        .args(["--", "/nonexistent/no-such-program"])
        .assert()
        .code(127)
        .stdout(predicate::str::is_empty())
        .stderr(one_line().and(predicate::str::contains("no-such-program")));
}

#[test]
fn a_command_that_is_not_executable_is_a_one_line_error_and_126() {
    let dir = temp_dir("logcap-126");
    let log = dir.path().join("run.log");
    let script = dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho should not run\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    logcap()
        .arg("--log")
        .arg(&log)
        .arg("--")
        .arg(&script)
        .assert()
        .code(126)
        .stdout(predicate::str::is_empty())
        .stderr(one_line().and(predicate::str::contains("not-executable.sh")));
}

#[test]
fn a_log_that_cannot_be_opened_is_a_one_line_error_and_1() {
    let dir = temp_dir("logcap-badlog");
    let ran = dir.path().join("ran");
    let log = dir.path().join("no-such-dir").join("run.log");
    let out = logcap()
        .arg("--log")
        .arg(&log)
        .args(["--", "sh", "-c", r#": > "$1""#, "sh"])
        .arg(&ran)
        .output()
        .expect("run logcap");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "logcap panicked on a log it cannot open ({}): a bad --log is the user's error, not a \
         bug; print one line naming the file and the reason, and exit 1. Its stderr: {stderr:?}",
        log.display()
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a log that cannot be opened must exit 1; stderr: {stderr:?}"
    );
    assert!(
        one_line().eval(&stderr) && stderr.contains("run.log"),
        "expected one line on stderr naming the log, got {stderr:?}"
    );
    assert!(out.stdout.is_empty(), "nothing should be on stdout");
    assert!(
        !ran.exists(),
        "the command ran although its output could not be logged: open the log first"
    );
}

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    let dir = temp_dir("logcap-usage");
    let cases: [&[&str]; 5] = [
        &[],
        &["--log"],
        &["--log", "x.log"],
        &["echo", "hi"],
        &["--"],
    ];
    for args in cases {
        logcap()
            .current_dir(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("usage: logcap").and(one_line()));
    }
    assert!(
        !dir.path().join("logcap.log").exists(),
        "a usage error must not run anything or create the log"
    );
}

#[test]
fn without_log_it_writes_logcap_log_in_the_current_directory() {
    let dir = temp_dir("logcap-default");
    logcap()
        .current_dir(dir.path())
        .args(["--", "echo", "hello"])
        .assert()
        .success()
        .stdout("hello\n");
    assert_eq!(
        texts(&records(&dir.path().join("logcap.log")), "out"),
        ["hello"]
    );
}

#[test]
fn the_log_is_appended_to_not_truncated() {
    let dir = temp_dir("logcap-append");
    let log = dir.path().join("run.log");
    logcap_sh(dir.path(), &log, "echo first").assert().success();
    logcap_sh(dir.path(), &log, "echo second")
        .assert()
        .success();
    assert_eq!(
        texts(&records(&log), "out"),
        ["first", "second"],
        "the second run must keep the first run's lines"
    );
}

#[test]
fn one_mib_on_each_stream_at_once_is_echoed_and_logged_completely() {
    let dir = temp_dir("logcap-mib");
    let log = dir.path().join("run.log");
    // 65536 lines of 16 bytes on each stream, written at the same time.
    let out = logcap_sh(
        dir.path(),
        &log,
        "yes 0123456789abcde | head -n 65536 & yes 0123456789ABCDE | head -n 65536 >&2; wait",
    )
    .output()
    .expect("run logcap");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.signal() != Some(libc::SIGKILL),
        "logcap did not finish within {DEADLINE:?} (killed) while its command wrote 1 MiB on \
         each stream at once; it echoed {} bytes of stdout and {} of stderr. Read both pipes \
         at the same time (a thread each): reading one stream to its end before the other lets \
         the other pipe fill up (64 KiB) and the command blocks for good",
        out.stdout.len(),
        out.stderr.len()
    );
    assert!(out.status.success(), "logcap failed: {:?}", out.status);
    assert_eq!(
        out.stdout.len(),
        1 << 20,
        "1 MiB of stdout should be echoed"
    );
    assert_eq!(
        out.stderr.len(),
        1 << 20,
        "1 MiB of stderr should be echoed"
    );
    let recs = records(&log);
    let count = |tag: &str, text: &[u8]| {
        recs.iter()
            .filter(|r| r.tag == tag && r.text == text)
            .count()
    };
    assert_eq!(
        count("out", b"0123456789abcde"),
        65536,
        "stdout lines in the log"
    );
    assert_eq!(
        count("err", b"0123456789ABCDE"),
        65536,
        "stderr lines in the log"
    );
    assert_eq!(recs.len(), 2 * 65536, "unexpected lines in the log");
}

/// A logcap started in its own process group, killed as a group on drop, so that a stuck run
/// leaves neither logcap nor its command behind.
struct GroupGuard(Child);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = killpg(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

#[test]
fn echoes_each_line_live_while_the_command_runs() {
    let dir = temp_dir("logcap-live");
    let log = dir.path().join("run.log");
    // The command reads logcap's stdin: it prints a line, then waits until the test, having
    // seen that line, answers.
    let child = StdCommand::new(cargo_bin!("logcap"))
        .arg("--log")
        .arg(&log)
        .args([
            "--",
            "sh",
            "-c",
            "echo ready; read answer; echo got $answer",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("cannot spawn logcap");
    let mut guard = GroupGuard(child);
    let stdout = guard.0.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
        panic!(
            "logcap echoed nothing within 5 s although the command printed `ready` and then \
             waited for input: echo each line as soon as it is read (and flush), and give the \
             command logcap's stdin"
        )
    });
    assert_eq!(first.expect("reading logcap's stdout"), "ready");
    let mut stdin = guard.0.stdin.take().expect("piped");
    stdin
        .write_all(b"yes\n")
        .expect("cannot answer the command");
    drop(stdin);
    let second = rx
        .recv_timeout(DEADLINE)
        .expect("no second line from logcap");
    assert_eq!(second.expect("reading logcap's stdout"), "got yes");
    let status = testkit::wait_for_exit(&mut guard.0, DEADLINE);
    assert!(status.success(), "logcap failed: {status}");
}
