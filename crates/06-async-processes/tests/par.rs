//! End-to-end tests of `par`, the practice project, run as a binary. No test waits on time:
//! commands meet at FIFOs or wait for the test to open one, the test counts par's live children
//! in `/proc`, and every process a test starts carries a unique tag in its command line so
//! that a guard can kill whatever is left, also when the test fails.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use predicates::prelude::*;
use testkit::async_processes::{KillOnDrop, KillTagged, read_pid_file, wait_dead};
use testkit::{
    ChildGuard, LineReader, call_with_deadline, children_of, describe_status, proc_cmdline,
    run_with_deadline, temp_dir, try_wait_until, unique_name,
};

const WAIT: Duration = testkit::DEFAULT_DEADLINE;

fn par(args: &[&str]) -> StdCommand {
    let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin!("par"));
    cmd.args(args).stdin(Stdio::null()).process_group(0);
    cmd
}

fn run(args: &[&str]) -> Output {
    run_with_deadline(&mut par(args), WAIT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "par {}\n--- stdout ---\n{}--- stderr ---\n{}",
        describe_status(out.status),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn fifo(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let path = dir.path().join(name);
    mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    path
}

/// Opens the FIFO for writing (this waits until a command has opened it for reading) and
/// writes a line: the command goes on.
fn release(path: &Path) {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open the FIFO");
    f.write_all(b"go\n").expect("write to the FIFO");
}

/// par's live children whose command line carries `tag`.
fn live_commands(par_pid: u32, tag: &str) -> Vec<u32> {
    children_of(par_pid)
        .into_iter()
        .filter(|&(pid, state)| state != 'Z' && proc_cmdline(pid).contains(tag))
        .map(|(pid, _)| pid)
        .collect()
}

#[test]
fn each_commands_output_stays_together() {
    let tag = unique_name("par-together");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-together");
    let f = fifo(&dir, "meet");
    let f = f.display();
    // a1 and b1 are both written before the two commands meet at the FIFO, a2 and b2 after:
    // commands that share par's stdout directly always interleave their lines.
    let a = format!("echo a1; read x < {f}; echo a2 # {tag}");
    let b = format!("echo b1; echo go > {f}; echo b2 # {tag}");
    let out = run(&["-j", "2", "--", &a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout == "a1\na2\nb1\nb2\n" || stdout == "b1\nb2\na1\na2\n",
        "the lines of each command must stay together (capture each command's output and \
         write it in one piece when it is done), and both commands must run at once\n{}",
        show(&out)
    );
}

#[test]
fn output_comes_as_each_command_completes() {
    let tag = unique_name("par-completion");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-completion");
    let f = fifo(&dir, "first");
    let first = format!("read x < {}; echo first # {tag}", f.display());
    let second = format!("echo second # {tag}");
    let (out_r, out_w) = std::io::pipe().expect("pipe");
    let mut cmd = par(&["-j", "2", "--", &first, &second]);
    cmd.stdout(out_w).stderr(Stdio::null());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let mut lines = LineReader::new(out_r, "par's stdout");
    // The first command waits for the test; the second's output must come out before.
    let got = lines.next_line(WAIT);
    assert_eq!(
        got.as_deref(),
        Some("second"),
        "without --keep-order each command's output is written when it completes: \"second\" \
         should come while \"first\" still waits"
    );
    release(&f);
    assert_eq!(lines.next_line(WAIT).as_deref(), Some("first"));
    assert!(guard.wait(WAIT).success());
}

#[test]
fn keep_order_prints_in_input_order() {
    let tag = unique_name("par-order");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-order");
    let f = fifo(&dir, "first");
    let first = format!("read x < {}; echo first # {tag}", f.display());
    let second = format!("echo second # {tag}");
    let mut cmd = par(&["-j", "2", "--keep-order", "--", &first, &second]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let par_pid = guard.id();
    // Let the first command go only once the second has finished (and was reaped).
    try_wait_until(WAIT, "the second command to finish", || {
        let live = live_commands(par_pid, &tag);
        live.len() == 1
            && children_of(par_pid)
                .iter()
                .all(|&(pid, _)| !proc_cmdline(pid).contains("second"))
    })
    .unwrap_or_else(|msg| panic!("{msg}: par should run both commands at once with -j 2"));
    release(&f);
    let mut stdout = guard.child().stdout.take().expect("piped");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut got).expect("read par's stdout");
    assert!(guard.wait(WAIT).success());
    assert_eq!(
        got, "first\nsecond\n",
        "with --keep-order the outputs come in input order, whatever the order of completion"
    );
}

#[test]
fn commands_come_from_stdin_one_per_line() {
    let mut cmd = par(&["-j", "1"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    let mut stdin = guard.child().stdin.take().expect("piped");
    stdin
        .write_all(b"echo one\necho 'two  words' | tr a-z A-Z\n")
        .expect("write the commands");
    drop(stdin);
    let out = guard.into_inner().wait_with_output().expect("par's output");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "one\nTWO  WORDS\n",
        "each line of stdin is one command line, run by sh -c\n{}",
        show(&out)
    );
}

#[test]
fn never_more_than_j_commands_run_at_once() {
    const J: usize = 2;
    const N: usize = 5;
    let tag = unique_name("par-limit");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-limit");
    let fifos: Vec<PathBuf> = (0..N).map(|i| fifo(&dir, &format!("f{i}"))).collect();
    let cmds: Vec<String> = fifos
        .iter()
        .enumerate()
        .map(|(i, f)| format!("read x < {}; echo done{i} # {tag} job{i}", f.display()))
        .collect();
    let mut args = vec!["-j", "2", "--"];
    args.extend(cmds.iter().map(String::as_str));
    let mut cmd = par(&args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let par_pid = guard.id();
    let mut released = [false; N];
    for done in 0..N {
        let expected = J.min(N - done);
        // Jobs not released yet that are running; a released job may still be on its way out.
        let mut waiting = Vec::new();
        try_wait_until(WAIT, &format!("{expected} commands running"), || {
            let live = live_commands(par_pid, &tag);
            assert!(
                live.len() <= J,
                "{} commands ran at once with -j {J}",
                live.len()
            );
            let lines: Vec<String> = live.iter().map(|&pid| proc_cmdline(pid)).collect();
            waiting = (0..N)
                .filter(|&i| !released[i] && lines.iter().any(|l| l.contains(&format!("job{i}"))))
                .collect();
            waiting.len() == expected
        })
        .unwrap_or_else(|msg| panic!("{msg}: {} were running", waiting.len()));
        let job = waiting[0];
        released[job] = true;
        release(&fifos[job]);
    }
    let status = guard.wait(WAIT);
    assert!(status.success(), "par {}", describe_status(status));
}

#[test]
fn exit_status_counts_the_failures() {
    let out = run(&["--", "exit 0", "exit 1", "exit 2", "echo bad >&2; exit 3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "3 commands failed: the exit status is their count\n{}",
        show(&out)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad\n"),
        "a command's stderr goes to par's stderr\n{}",
        show(&out)
    );
    assert!(
        stderr.contains("1 succeeded, 3 failed, 0 timed out"),
        "the summary on stderr: `S succeeded, F failed, T timed out`\n{}",
        show(&out)
    );
}

#[test]
fn the_failure_count_is_capped_at_101() {
    let cmds = vec!["exit 1"; 102];
    let mut args = vec!["-j", "4", "--"];
    args.extend(cmds);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(101),
        "102 failures exit 101 (GNU parallel's cap; 8 bits cannot hold every count)\n{}",
        show(&out)
    );
    assert!(
        text(&out.stderr).contains("0 succeeded, 102 failed, 0 timed out"),
        "the summary still counts every failure\n{}",
        show(&out)
    );
}

#[test]
fn a_timeout_kills_the_command_with_its_grandchild_and_is_reported() {
    let tag = unique_name("par-timeout");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-timeout");
    let pid_file = dir.path().join("grandchild");
    let slow = format!(
        "sleep 1000 & echo $! > {}; wait # {tag}",
        pid_file.display()
    );
    let out = run(&["--timeout", "2", "--", &slow, "echo fast"]);
    let grandchild = read_pid_file(&pid_file, WAIT);
    // The grandchild's command line carries no tag: its own guard kills it if par did not.
    let mut guard = KillOnDrop::new();
    guard.pid(grandchild);
    wait_dead(
        grandchild,
        WAIT,
        "par timed the command out, but the process the command started still runs: stop \
         the command's whole process group",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "one command timed out: exit status 1\n{}",
        show(&out)
    );
    assert_eq!(text(&out.stdout), "fast\n", "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("timed out") && stderr.contains("sleep 1000"),
        "the timed-out command is reported on stderr\n{}",
        show(&out)
    );
    assert!(
        stderr.contains("1 succeeded, 0 failed, 1 timed out"),
        "the summary counts it as timed out\n{}",
        show(&out)
    );
}

fn signal_stops_everything(sig: Signal) {
    let tag = unique_name("par-signal");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-signal");
    let files: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("g{i}"))).collect();
    let cmds: Vec<String> = files
        .iter()
        .map(|f| format!("sleep 1000 & echo $! > {}; wait # {tag}", f.display()))
        .collect();
    // Three more commands wait for a slot that never frees up: they never start.
    let never = format!("echo never # {tag}");
    let mut cmd = par(&["-j", "2", "--", &cmds[0], &cmds[1], &never, &never, &never]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let grandchildren: Vec<u32> = files.iter().map(|f| read_pid_file(f, WAIT)).collect();
    // Their command lines carry no tag: a guard of their own kills them if par did not.
    let mut survivors = KillOnDrop::new();
    for &pid in &grandchildren {
        survivors.pid(pid);
    }
    kill(Pid::from_raw(guard.id() as i32), sig).expect("signal par");
    let status = guard.wait(WAIT);
    if status.signal() == Some(sig as i32) {
        // Died of the signal: fine, if it stopped its commands first (checked below).
    } else if status.code() == Some(128 + sig as i32) {
        panic!(
            "after {sig} par exited with status {}: exiting 128 + {} is not dying of {sig}, \
             and a shell loop around par goes on to its next iteration. After stopping the \
             commands and writing the summary, restore {sig}'s default action and raise it \
             again, so that par's parent sees it killed by {sig}",
            128 + sig as i32,
            sig as i32
        );
    } else {
        panic!(
            "after {sig} par must stop its commands, write its summary and then die of {sig}; \
             it {} (a signal's default action kills par before it can stop anything: listen \
             for the signal before the first command starts)",
            describe_status(status)
        );
    }
    for pid in grandchildren {
        wait_dead(
            pid,
            WAIT,
            "par exited, but a process one of its commands started still runs: on a signal, \
             stop every running command's whole process group",
        );
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(
        &mut guard.child().stderr.take().expect("piped"),
        &mut stderr,
    )
    .expect("read par's stderr");
    let name = sig.as_str();
    assert!(
        stderr.contains(&format!(
            "par: stopped by {name}: 0 succeeded, 0 failed, 0 timed out, 3 not started"
        )),
        "the summary after a signal names it and counts the command that never started; \
         stderr was:\n{stderr}"
    );
}

#[test]
fn sigint_stops_every_command_group_and_par_dies_of_sigint() {
    signal_stops_everything(Signal::SIGINT);
}

#[test]
fn sigterm_stops_every_command_group_and_par_dies_of_sigterm() {
    signal_stops_everything(Signal::SIGTERM);
}

#[test]
fn bad_input_gets_one_line_and_status_2() {
    let cases: [(Vec<&str>, &[u8], &str, &str); 13] = [
        (vec!["-j", "0", "--", "true"], b"", "-j 0", "-j"),
        (
            vec!["-j", "18446744073709551615", "--", "true"],
            b"",
            "-j with more jobs than par allows (u64::MAX)",
            "-j",
        ),
        (
            vec!["--timeout", "1e300", "--", "true"],
            b"",
            "--timeout longer than a Duration can hold",
            "--timeout",
        ),
        (
            vec!["-j", "many", "--", "true"],
            b"",
            "-j with a word",
            "-j",
        ),
        (vec!["-j"], b"", "-j without a value", "-j"),
        (
            vec!["--timeout", "soon", "--", "true"],
            b"",
            "--timeout with a word",
            "--timeout",
        ),
        (
            vec!["--timeout", "0", "--", "true"],
            b"",
            "--timeout 0",
            "--timeout",
        ),
        (
            vec!["--timeout"],
            b"",
            "--timeout without a value",
            "--timeout",
        ),
        (
            vec!["--frobnicate"],
            b"",
            "an unknown option",
            "unknown option \"--frobnicate\"",
        ),
        (
            vec!["echo"],
            b"",
            "a command without --",
            "unexpected argument \"echo\" (commands go after --)",
        ),
        (
            vec!["--", "echo ok", ""],
            b"",
            "an empty command",
            "command 2",
        ),
        (
            vec![],
            b"echo ok\n\necho ok\n",
            "an empty line on stdin",
            "line 2",
        ),
        (vec![], b"echo \xff\n", "stdin that is not text", "stdin"),
    ];
    for (args, stdin, what, names) in cases {
        // The command-line contract, in assert_cmd's terms: on failure it shows the command,
        // the status, stdout and stderr, and the name of the predicate that did not hold.
        Command::from_std(par(&args))
            .write_stdin(stdin)
            .timeout(WAIT)
            .assert()
            .append_context("bad input", what)
            .append_context("the message should name", names)
            .code(predicate::eq(2).name("2: a usage error"))
            .stdout(predicate::str::is_empty().name("nothing: after a usage error nothing runs"))
            .stderr(
                predicate::str::starts_with("par: ")
                    .and(predicate::function(|err: &str| err.lines().count() == 1))
                    .and(predicate::str::contains("panicked").not())
                    .and(predicate::str::contains(names))
                    .name(
                        "one line starting with `par: ` that names what is wrong, no panic \
                         (check every value before using it: a semaphore has a maximum of \
                         permits, a Duration a largest value)",
                    ),
            );
    }
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    cargo_bin_cmd!("par")
        .arg("--help")
        .timeout(WAIT)
        .assert()
        .code(predicate::eq(0).name("0: --help is no error"))
        .stdout(predicate::str::starts_with("usage: par ").name("the usage line on stdout"))
        .stderr(predicate::str::is_empty().name("nothing on stderr"));
}

#[test]
fn command_lines_mean_what_they_mean_to_sh() {
    // Quotes, variables and assignments are the shell's: a command line split on spaces and
    // executed directly would print the quotes, or try to run `X=/a/b` as a program.
    // A tab separates words too, and leaves the quotes to the shell.
    // A script without `#!` cannot be executed directly (ENOEXEC): sh runs it itself.
    let dir = temp_dir("par-sh");
    let script = dir.path().join("script");
    // Written by another process: a file this test process had open for writing could be
    // inherited by a child that another test is starting, and executing it would fail with
    // ETXTBSY.
    let made = StdCommand::new("/bin/sh")
        .args([
            "-c",
            "printf '%s\\n' 'echo script ran with $1' > \"$0\" && chmod 755 \"$0\"",
        ])
        .arg(&script)
        .status()
        .expect("run sh");
    assert!(made.success(), "cannot write the script");
    let script = format!("{} arg", script.display());
    let out = run(&[
        "-j",
        "1",
        "--keep-order",
        "--",
        "/bin/echo \"two  spaces\"",
        "X=/a/b /usr/bin/env",
        "/bin/echo\t'tab then quotes'",
        &script,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("two  spaces\n")
            && stdout.lines().any(|l| l == "X=/a/b")
            && stdout.contains("\ntab then quotes\nscript ran with arg\n"),
        "each command line runs as `sh -c LINE`, or means the same when it runs directly\n{}",
        show(&out)
    );
}

#[test]
fn a_plain_command_line_runs_without_a_shell_in_between() {
    // Nothing in this line is for sh to do but split the words and run cat; through `sh -c`,
    // cat would be a child of the shell, in the shell's process group (dash forks it).
    let out = run(&["--", "/bin/cat /proc/self/stat"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let fields: Vec<&str> = stdout[stdout.rfind(')').map_or(0, |i| i + 1)..]
        .split_whitespace()
        .collect();
    let pid: u32 = stdout
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("cat printed no /proc/self/stat\n{}", show(&out)));
    // After the command name: state, ppid, pgrp.
    let pgrp: u32 = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    assert_eq!(
        pgrp,
        pid,
        "a line that is only a path and plain words is executed directly, so the program \
         leads the process group par made for the command; it ran under a shell\n{}",
        show(&out)
    );
}

#[test]
fn a_command_that_cannot_start_is_reported_and_counted() {
    let out = run(&["--", "/nonexistent/program --flag", "echo ok"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one command failed\n{}",
        show(&out)
    );
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked") && stderr.contains("/nonexistent/program"),
        "the command that cannot start is named on stderr, without a panic\n{}",
        show(&out)
    );
    assert!(
        stderr.contains("1 succeeded, 1 failed, 0 timed out"),
        "{}",
        show(&out)
    );
    assert_eq!(text(&out.stdout), "ok\n");
}

#[test]
fn a_plain_command_line_gets_no_shell_environment() {
    // Every POSIX shell sets PWD when it starts (bash adds SHLVL and `_`), whether or not it
    // then forks or execs the program: a program run directly sees exactly par's environment.
    let mut cmd = par(&["--", "/usr/bin/env"]);
    cmd.env_clear().env("PAR_MARK", "1");
    let out = run_with_deadline(&mut cmd, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "PAR_MARK=1\n",
        "par ran with the environment PAR_MARK=1 alone, and `/usr/bin/env` is a line of a path \
         and plain words: executed directly it prints that environment and nothing more; a \
         shell in between adds PWD\n{}",
        show(&out)
    );
}

/// `VmHWM` (the peak resident set) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

#[test]
fn a_large_output_is_not_held_in_memory() {
    const OUTPUT: u64 = 96 << 20;
    const LIMIT_KIB: u64 = 48 << 10;
    let tag = unique_name("par-spill");
    let _cleanup = KillTagged(tag.clone());
    let dir = temp_dir("par-spill");
    let gate = fifo(&dir, &tag);
    // The second command keeps par alive (and its /proc/PID/status readable) until the test
    // has read the first command's whole output.
    let big = format!("/usr/bin/head -c {OUTPUT} /dev/zero");
    let wait = format!("/bin/cat {}", gate.display());
    let mut cmd = par(&["-j", "2", "--", &big, &wait]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let mut stdout = guard.child().stdout.take().expect("piped");
    // Exactly the first command's bytes: par's stdout ends only once the second is released.
    let counted = call_with_deadline(WAIT * 3, move || {
        let n = std::io::copy(&mut (&mut stdout).take(OUTPUT), &mut std::io::sink());
        n.map(|n| (n, stdout))
    })
    .unwrap_or_else(|| {
        panic!(
            "par did not write the {OUTPUT} bytes of output in {:?}",
            WAIT * 3
        )
    });
    let (n, mut stdout) = counted.expect("read par's stdout");
    assert_eq!(n, OUTPUT, "par wrote {n} bytes of the command's {OUTPUT}");
    let peak = peak_rss_kib(guard.id());
    release(&gate);
    call_with_deadline(WAIT, move || stdout.read_to_end(&mut Vec::new()))
        .expect("par's stdout did not end after the last command was released")
        .expect("read par's stdout");
    let status = guard.wait(WAIT);
    assert!(status.success(), "par {}", describe_status(status));
    assert!(
        peak < LIMIT_KIB,
        "a command wrote {} MiB and par's peak resident memory was {} MiB: a command's output \
         must not be held in memory whatever its size (keep a bounded buffer, and past it \
         spill to a temporary file)",
        OUTPUT >> 20,
        peak >> 10
    );
}

#[test]
fn an_output_that_cannot_be_written_is_an_error() {
    let full = OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let mut cmd = par(&["--", "echo lost"]);
    cmd.stdout(full).stderr(Stdio::piped());
    let child = ChildGuard::spawn(&mut cmd).into_inner();
    let out = call_with_deadline(WAIT, move || child.wait_with_output())
        .unwrap_or_else(|| panic!("par did not exit within {WAIT:?} with stdout on /dev/full"))
        .expect("par's output");
    let stderr = text(&out.stderr);
    assert!(
        out.status.code() == Some(1) && stderr.contains("No space left on device"),
        "par's stdout is /dev/full, so the command's output was lost: that is an error, \
         reported on stderr (ENOSPC: \"No space left on device\") and counted as a failure \
         (exit status 1), not ignored\n{}",
        show(&out)
    );
    assert!(
        stderr.contains("0 succeeded, 1 failed"),
        "a command whose output was lost counts as failed in the summary\n{}",
        show(&out)
    );
}
