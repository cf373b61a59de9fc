//! Tests for `job-control/pty_session`: a program on a pseudo-terminal of its own.
//!
//! The test calls `spawn_on_terminal` and becomes the terminal: it reads what the program
//! writes from the master (with deadlines, on a thread) and types on it. Whether the program
//! really leads a session with that terminal as its controlling tty shows in what the kernel
//! does: ^C signals it, a background group reading is stopped, closing the master hangs
//! it up.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use job_control::pty_session::{OnTerminal, spawn_on_terminal};
use testkit::job_control::Terminal;
use testkit::{DEFAULT_DEADLINE, describe_status};

const WAIT: Duration = DEFAULT_DEADLINE;

fn on_terminal(args: &[&str]) -> (Terminal, Command) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_job-helper"));
    cmd.args(args);
    // As a terminal would start it, whatever this test inherited (`nohup`, a `&`).
    testkit::job_control::with_terminal_signals_at_default(&mut cmd);
    let OnTerminal { master, child } = match spawn_on_terminal(&mut cmd) {
        Ok(t) => t,
        Err(e) => panic!("spawn_on_terminal({cmd:?}) failed: {e}"),
    };
    // `cmd` is handed back so that it lives as long as the test: if it still held a copy of
    // the slave, the terminal would never report end of output.
    (
        Terminal::attach(master, child, "the program on the terminal"),
        cmd,
    )
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .unwrap_or_default()
}

#[test]
fn the_program_leads_a_new_session_with_the_terminal_as_its_own() {
    let (mut t, _cmd) = on_terminal(&["probe"]);
    let out = t.expect("probe ", WAIT);
    let line = out.lines().last().unwrap_or_default().to_string();
    let pid = field(&line, "pid=");
    assert_eq!(
        field(&line, "tty="),
        "0,1,2",
        "stdin, stdout and stderr must all be the terminal: {line}"
    );
    assert_eq!(
        field(&line, "sid="),
        pid,
        "the program must lead a new session (setsid in the child): {line}"
    );
    assert_eq!(
        field(&line, "fg="),
        pid,
        "the terminal must be the program's controlling terminal (TIOCSCTTY), with the \
         program's group in the foreground; fg=-1 means it has no controlling terminal: {line}"
    );
}

#[test]
fn ctrl_c_typed_on_the_terminal_interrupts_the_program() {
    let (mut t, _cmd) = on_terminal(&["spin"]);
    t.expect("spin ready", WAIT);
    t.write(b"\x03");
    let status = t.wait(WAIT);
    assert_eq!(
        status.signal(),
        Some(2),
        "^C on its controlling terminal must kill the program with SIGINT; it ended with {}. \
         A terminal signals only the foreground group of the session it controls.",
        describe_status(status)
    );
}

#[test]
fn closing_the_terminal_hangs_up_the_session_leader() {
    let (mut t, _cmd) = on_terminal(&["spin"]);
    t.expect("spin ready", WAIT);
    t.close_master();
    let status = t.wait(WAIT);
    assert_eq!(
        status.signal(),
        Some(1),
        "when the last master fd closes, the kernel sends SIGHUP to the session leader of the \
         terminal; the program ended with {}",
        describe_status(status)
    );
}

#[test]
fn a_background_group_reading_the_terminal_is_stopped_by_sigttin() {
    let (mut t, _cmd) = on_terminal(&["bg-read"]);
    t.expect("background reader", WAIT);
    t.expect_or(
        "background reader stopped by SIGTTIN",
        WAIT,
        "a process group that is not the foreground group of its controlling terminal is \
         stopped by SIGTTIN when it reads it. On a terminal that is not the controlling one, \
         the read just blocks.",
    );
}

#[test]
fn the_terminal_reports_end_of_output_once_the_program_is_gone() {
    let (mut t, _cmd) = on_terminal(&["exit", "0"]);
    let status = t.wait(WAIT);
    assert_eq!(status.code(), Some(0), "{}", describe_status(status));
    assert!(
        t.wait_closed(WAIT),
        "the program has exited, yet reading the master does not report the end (EIO): \
         another copy of the slave is still open, in this process or in the Command given to \
         spawn_on_terminal. Drop every copy once the child holds its own."
    );
}

#[test]
fn no_other_program_inherits_the_terminal() {
    let (mut t, _cmd) = on_terminal(&["spin"]);
    t.expect("spin ready", WAIT);
    // The program itself holds the slave as its stdin, stdout and stderr, and nothing more:
    // a slave opened without O_CLOEXEC would come along as a fourth descriptor.
    let mut held: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", t.pid()))
        .expect("read /proc/PID/fd")
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|p| {
                let p = p.display().to_string();
                p.starts_with("/dev/pts") || p.starts_with("/dev/ptmx")
            })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    assert_eq!(
        held,
        ["0", "1", "2"],
        "the program on the terminal must hold the pty only as fds 0, 1 and 2: open both sides \
         close-on-exec (O_CLOEXEC)"
    );
    // Any program this process starts from now on must not hold either side of the pty. Its
    // stdin, stdout and stderr are not terminals (the test's own stderr may be one, when the
    // tests run from a terminal): any terminal it holds came from a descriptor left open
    // across exec.
    let mut other = testkit::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_job-helper"))
            .arg("spin")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null()),
    );
    let pid = other.id();
    let mut out = testkit::LineReader::new(
        other.child().stdout.take().expect("piped"),
        "another program",
    );
    out.expect("spin ready", WAIT);
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts") || p.starts_with("/dev/ptmx"))
        .collect();
    assert!(
        fds.is_empty(),
        "another program started by this process holds {fds:?}: open both sides close-on-exec \
         (O_CLOEXEC), or every child inherits them and the terminal never hangs up"
    );
}
