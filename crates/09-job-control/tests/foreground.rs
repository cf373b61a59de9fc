//! Tests for `job-control/foreground`, through a real pseudo-terminal.
//!
//! The `job-fg` driver is a one-command shell: the test starts it as the leader of a new
//! session whose controlling terminal is a pseudo-terminal, and holds the master. Typing `\x03`
//! (^C) or `\x1a` (^Z) there makes the kernel's line discipline signal the terminal's
//! foreground process group: the test never sends those signals itself. The terminal echoes
//! what is typed, so every expectation names output only the driver or its job can print.

use std::process::Command;
use std::time::Duration;

use testkit::DEFAULT_DEADLINE;
use testkit::job_control::{Terminal, group_members};

const WAIT: Duration = DEFAULT_DEADLINE;

fn shell(mode: &[&str]) -> Terminal {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_job-fg"));
    cmd.arg(env!("CARGO_BIN_EXE_job-helper")).args(mode);
    Terminal::spawn(&mut cmd, "the job-fg shell")
}

/// The pid in a line `... WORD PID ...`.
fn pid_after(line: &str, word: &str) -> u32 {
    let mut it = line.split_whitespace().skip_while(|w| *w != word);
    it.nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid after {word:?} in {line:?}"))
}

/// The shell took its terminal back and can still read it (a background reader would be
/// stopped by SIGTTIN), then exits 0.
fn shell_owns_terminal_again(t: &mut Terminal) {
    shell_has_terminal_back(t);
    shell_reads_its_terminal(t);
}

/// The shell says the terminal's foreground group is its own again.
fn shell_has_terminal_back(t: &mut Terminal) {
    let back = t.expect_or(
        "terminal back:",
        WAIT,
        "After the job leaves the foreground, take_terminal must make the shell's group the \
         foreground again. The shell is in the background at that moment: unless SIGTTOU is \
         blocked or ignored, tcsetpgrp then raises SIGTTOU, which stops the shell, or fails \
         with ENOTTY (\"Inappropriate ioctl for device\") when the shell's group is orphaned, \
         as a session leader's is.",
    );
    let line = back.lines().last().unwrap_or_default();
    let fg = line.split("fg=").nth(1).and_then(|s| s.split(' ').next());
    let me = line.split("shell=").nth(1);
    assert_eq!(
        fg, me,
        "the terminal's foreground group must be the shell's again: {line}"
    );
}

/// The shell reads a line from its terminal (only the foreground group may), then exits 0.
fn shell_reads_its_terminal(t: &mut Terminal) {
    t.expect("shell reads", WAIT);
    t.send_line("from the keyboard");
    t.expect_or(
        "shell read: from the keyboard",
        WAIT,
        "the shell must be able to read its terminal again",
    );
    let status = t.wait(WAIT);
    assert_eq!(status.code(), Some(0), "the driver failed:\n{}", t.output());
}

#[test]
fn ctrl_c_interrupts_the_foreground_job_and_not_the_shell() {
    let mut t = shell(&["spin"]);
    t.expect("spin ready", WAIT);
    t.write(b"\x03");
    t.expect_or(
        "terminated by signal 2",
        WAIT,
        "^C makes the terminal send SIGINT to its foreground process group: the job must be \
         in a group of its own and that group must be the terminal's foreground group \
         (give_terminal).",
    );
    shell_owns_terminal_again(&mut t);
}

#[test]
fn ctrl_z_stops_the_job_and_the_wait_returns() {
    let mut t = shell(&["spin"]);
    t.expect("spin ready", WAIT);
    t.write(b"\x1a");
    t.expect_or(
        "stopped by signal 20",
        WAIT,
        "^Z stopped the job with SIGTSTP: waitpid reports a stop only with WUNTRACED; without \
         it the shell waits until the job ends, which a stopped job never does.",
    );
    shell_has_terminal_back(&mut t);
    t.expect("stopped; press enter", WAIT);
    t.send_line("");
    t.expect("continued; press enter", WAIT);
    t.send_line("");
    t.expect("ended", WAIT);
    shell_reads_its_terminal(&mut t);
}

#[test]
fn the_shell_takes_the_terminal_back_after_a_job_that_ends() {
    let mut t = shell(&["exit", "3"]);
    t.expect_or(
        "exited 3",
        WAIT,
        "If run_in_foreground failed with ENOTTY (\"Inappropriate ioctl for device\"), \
         take_terminal called tcsetpgrp from the background without blocking SIGTTOU: the \
         shell's group is orphaned (it leads its session), so the kernel refuses instead of \
         stopping it. Block SIGTTOU around the call.",
    );
    shell_owns_terminal_again(&mut t);
}

#[test]
fn the_foreground_job_reads_the_terminal() {
    let mut t = shell(&["read"]);
    t.expect("reading", WAIT);
    t.send_line("typed by the user");
    t.expect_or(
        "read: typed by the user",
        WAIT,
        "a job reading the terminal while it is not the foreground group is stopped by \
         SIGTTIN: hand it the terminal.",
    );
    t.expect("exited 0", WAIT);
    shell_owns_terminal_again(&mut t);
}

#[test]
fn a_continued_job_runs_again_every_process_of_it() {
    let mut t = shell(&["fork-spin"]);
    let line = t.expect("fork-spin ", WAIT);
    let line = line.lines().last().unwrap_or_default().to_string();
    let leader = pid_after(&line, "fork-spin");
    let sid = t.pid();
    t.write(b"\x1a");
    t.expect("stopped by signal 20", WAIT);
    t.expect("stopped; press enter", WAIT);
    // ^Z stops the whole foreground group: both processes of the job.
    testkit::wait_until(WAIT, "both processes of the job to be stopped", || {
        let m = group_members(sid, leader);
        m.len() == 2 && m.iter().all(|p| p.state == 'T')
    });
    t.send_line("");
    t.expect_or(
        "continued",
        WAIT,
        "continue_job sends SIGCONT and waits until waitpid reports the job continued: that \
         takes WCONTINUED, without it waitpid reports nothing until the job ends.",
    );
    let fg = t.expect("foreground group now", WAIT);
    assert!(
        fg.ends_with(&format!("foreground group now {leader}")),
        "give_terminal must make the job's group the terminal's foreground group: {fg:?}"
    );
    t.expect("continued; press enter", WAIT);
    let members = group_members(sid, leader);
    assert_eq!(
        members.len(),
        2,
        "the job should still have two processes: {members:?}"
    );
    for m in &members {
        assert_ne!(
            m.state, 'T',
            "process {} of the job is still stopped: SIGCONT must go to the whole process \
             group (killpg), not only to the leader; job: {members:?}",
            m.pid
        );
    }
    t.send_line("");
    t.expect("ended", WAIT);
    shell_reads_its_terminal(&mut t);
}

#[test]
fn without_a_terminal_the_call_fails_and_leaves_no_job_behind() {
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_job-fg"))
            .args([env!("CARGO_BIN_EXE_job-helper"), "spin"])
            .stdin(std::process::Stdio::null()),
        WAIT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("run_in_foreground failed:"),
        "stdin is /dev/null, not a terminal: handing it to the job must fail, and \
         run_in_foreground must say so; got:\n{stdout}"
    );
    assert!(
        stdout.contains("children left: 0"),
        "the job started before the terminal could be given to it: kill it and reap it \
         before returning the error; got:\n{stdout}"
    );
}

#[test]
fn continue_job_returns_when_the_job_stops_again_at_once() {
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_job-fg"))
            .args(["--continue-restop", env!("CARGO_BIN_EXE_job-helper")]),
        WAIT * 3,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("continue_job returned: stopped by signal 19"),
        "a job continued by continue_job stopped again at once (SIGSTOP); continue_job must \
         still return, and report the new stop (the continue is no longer reported once the job has stopped again). Got:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
