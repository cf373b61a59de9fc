//! End-to-end tests for `job-control/tsh`, run as a binary, both ways.
//!
//! - Without a terminal: `tsh -p` in a session of its own with pipes for stdin and stdout; the
//!   test sends SIGINT and SIGTSTP to the shell, which must forward them to the foreground job.
//! - On a terminal: `tsh` as the leader of a session whose controlling terminal is a
//!   pseudo-terminal held by the test, which types `\x03` (^C) and `\x1a` (^Z): the line
//!   discipline signals the foreground group, never the test. The terminal echoes what is
//!   typed, so expectations name only what the shell or its jobs print.
//!
//! Jobs are `job-helper` programs that spin, stop themselves, read, or fork a child of their
//! own. The guards kill every process of the shell's session (deepest first) when a test ends.

use std::process::Command;
use std::time::Duration;

use testkit::job_control::{Session, Terminal, group_members, proc_ids, session_members};
use testkit::{DEFAULT_DEADLINE, describe_status, wait_until, zombie_children};

const WAIT: Duration = DEFAULT_DEADLINE;
const HELPER: &str = env!("CARGO_BIN_EXE_job-helper");

fn piped() -> Session {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    cmd.arg("-p");
    Session::spawn(&mut cmd, "tsh -p (no terminal)")
}

fn on_terminal() -> Terminal {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    Terminal::spawn(&mut cmd, "tsh on a terminal")
}

/// The number after `word` in `line` (`(PID)` parentheses removed).
fn number_after(line: &str, word: &str) -> u32 {
    line.split_whitespace()
        .skip_while(|w| *w != word)
        .nth(1)
        .map(|w| w.trim_matches(|c| c == '(' || c == ')'))
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {word:?} in {line:?}"))
}

/// The last line of a terminal excerpt.
fn last(text: &str) -> String {
    text.lines().last().unwrap_or_default().to_string()
}

/// Sends a command that cannot exist and waits for its error: every line the shell printed
/// before it has been read.
fn sync(s: &mut Session, tag: &str) -> Vec<String> {
    sync_within(s, tag, WAIT)
}

/// [`sync`] with a deadline of its own (for a long batch of commands).
fn sync_within(s: &mut Session, tag: &str, deadline: Duration) -> Vec<String> {
    let before = s.out.seen().len();
    s.send_line(&format!("./no-such-program-{tag}"));
    s.out.expect(
        &format!("./no-such-program-{tag}: Command not found"),
        deadline,
    );
    let seen = s.out.seen();
    seen[before..seen.len() - 1].to_vec()
}

fn finish(mut s: Session) {
    s.close_stdin();
    let status = s.wait(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "end of input must end the shell with status 0; it ended with {}; output:\n{}",
        describe_status(status),
        s.out.seen().join("\n")
    );
}

// ---- without a terminal ----

#[test]
fn a_background_job_is_announced_and_listed_as_running() {
    let mut s = piped();
    s.send_line(&format!("{HELPER} spin &"));
    let line = s.out.expect("[1] (", WAIT);
    let pid = number_after(&line, "[1]");
    assert_eq!(
        line,
        format!("[1] ({pid}) {HELPER} spin &"),
        "a background job prints [JID] (PID) CMDLINE"
    );
    s.send_line(&format!("{HELPER} spin &"));
    let second = s.out.expect("[2] (", WAIT);
    let pid2 = number_after(&second, "[2]");
    s.send_line("jobs");
    let l1 = s.out.expect("[1] (", WAIT);
    assert_eq!(l1, format!("[1] ({pid}) Running {HELPER} spin &"));
    let l2 = s.out.expect("[2] (", WAIT);
    assert_eq!(l2, format!("[2] ({pid2}) Running {HELPER} spin &"));
    assert_ne!(pid, pid2);
    for p in [pid, pid2] {
        let (pgid, _, _) = proc_ids(p).expect("the job is alive");
        assert_eq!(
            pgid, p as i32,
            "each job runs in a process group of its own, led by the process the shell started"
        );
    }
}

#[test]
fn the_ampersand_is_not_an_argument_of_the_program() {
    let mut s = piped();
    for (line, what) in [
        ("/bin/echo one two &", "a separate `&`"),
        ("/bin/echo three four&", "an `&` stuck to the last word"),
    ] {
        s.send_line(line);
        let words = &line[line.find(' ').map_or(0, |i| i + 1)..line.len() - 1];
        let words = words.trim_end();
        // The job's own output, not the shell's `[1] (PID) CMDLINE`, which contains it too.
        let out = loop {
            let l = s.out.expect(words, WAIT);
            if !l.starts_with('[') {
                break l;
            }
        };
        assert_eq!(
            out, words,
            "{what} only sends the job to the background: echo must get exactly the words \
             before it (an empty last argument makes echo print a trailing space)"
        );
    }
    finish(s);
}

#[test]
fn a_sigint_that_comes_while_the_job_is_being_started_reaches_it() {
    // The window between fork and exec is short; strace makes it 2 s long by holding every
    // execve of the shell's children at its entry, and the test signals the shell inside it.
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!(
            "a_sigint_that_comes_while_the_job_is_being_started_reaches_it: skipped: no strace"
        );
        return;
    }
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=execve",
        "-e",
        "inject=execve:delay_enter=2000000",
        "-o",
        "/dev/null",
        env!("CARGO_BIN_EXE_tsh"),
        "-p",
    ]);
    let mut s = Session::spawn(
        &mut cmd,
        "tsh -p under strace, whose SIGINT came while its job was being started (a signal that \
         comes before the job's group is known must be kept and passed on once it is)",
    );
    let mut tsh = 0;
    wait_until(WAIT, "strace to start tsh", || {
        tsh = testkit::children_of(s.pid())
            .into_iter()
            .map(|(pid, _)| pid)
            .find(|&pid| comm(pid) == "tsh")
            .unwrap_or(0);
        tsh != 0
    });
    s.send_line(&format!("{HELPER} spin"));
    // Forked, not yet executed: the job still has the shell's name.
    let mut job = 0;
    wait_until(WAIT, "the job to be forked", || {
        job = testkit::children_of(tsh)
            .into_iter()
            .map(|(pid, _)| pid)
            .find(|&pid| comm(pid) == "tsh")
            .unwrap_or(0);
        job != 0
    });
    // SAFETY: kill(2) has no memory-safety requirements; tsh is the test's own process.
    unsafe { libc::kill(tsh as libc::pid_t, libc::SIGINT) };
    let line = s.out.expect("terminated by signal", WAIT);
    assert_eq!(
        line,
        format!("Job [1] ({job}) terminated by signal 2"),
        "the SIGINT that came while the job was being started goes to the job"
    );
}

/// A process's command name (`/proc/PID/comm`), empty once it is gone.
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default()
}

#[test]
fn sigint_sent_to_the_shell_is_forwarded_to_the_foreground_job() {
    let mut s = piped();
    s.send_line(&format!("{HELPER} spin"));
    let ready = s.out.expect("spin ready", WAIT);
    let pid = number_after(&ready, "ready");
    s.signal(libc::SIGINT);
    let line = s.out.expect("terminated by signal", WAIT);
    assert_eq!(
        line,
        format!("Job [1] ({pid}) terminated by signal 2"),
        "SIGINT sent to the shell goes to the foreground job's group"
    );
    // The shell is alive and still reads commands.
    let out = sync(&mut s, "after-sigint");
    assert!(out.is_empty(), "unexpected output: {out:?}");
    finish(s);
}

#[test]
fn sigtstp_stops_the_foreground_job_then_bg_and_fg_continue_it() {
    let mut s = piped();
    s.send_line(&format!("{HELPER} spin"));
    let ready = s.out.expect("spin ready", WAIT);
    let pid = number_after(&ready, "ready");
    s.signal(libc::SIGTSTP);
    let line = s.out.expect("stopped by signal", WAIT);
    assert_eq!(line, format!("Job [1] ({pid}) stopped by signal 20"));
    s.send_line("jobs");
    let listed = s.out.expect("[1] (", WAIT);
    assert_eq!(listed, format!("[1] ({pid}) Stopped {HELPER} spin"));
    s.send_line("bg %1");
    let bg = s.out.expect("[1] (", WAIT);
    assert_eq!(
        bg,
        format!("[1] ({pid}) {HELPER} spin"),
        "bg prints the job"
    );
    wait_until(WAIT, "the job to run again after bg", || {
        testkit::proc_state(pid) != Some('T')
    });
    s.send_line("jobs");
    let listed = s.out.expect("[1] (", WAIT);
    assert_eq!(listed, format!("[1] ({pid}) Running {HELPER} spin"));
    s.send_line(&format!("fg {pid}"));
    // fg waits: a SIGINT now goes to the job again.
    wait_until(WAIT, "fg to make it the foreground job", || {
        s.signal(libc::SIGINT);
        testkit::proc_state(pid).is_none() || testkit::proc_state(pid) == Some('Z')
    });
    let line = s.out.expect("terminated by signal", WAIT);
    assert_eq!(line, format!("Job [1] ({pid}) terminated by signal 2"));
    finish(s);
}

#[test]
fn a_job_that_stops_itself_is_reported_and_fg_finishes_it() {
    let mut s = piped();
    s.send_line(&format!("{HELPER} stop-self"));
    let stopping = s.out.expect("stopping", WAIT);
    let pid = number_after(&stopping, "stopping");
    let line = s.out.expect("stopped by signal", WAIT);
    assert_eq!(
        line,
        format!("Job [1] ({pid}) stopped by signal 20"),
        "a foreground job that stops leaves the foreground: waitpid must ask for stops \
         (WUNTRACED)"
    );
    s.send_line("fg %1");
    s.out.expect(&format!("continued {pid}"), WAIT);
    let after = sync(&mut s, "after-fg");
    assert!(
        after.is_empty(),
        "a job that exits normally prints nothing; got {after:?}"
    );
    s.send_line("jobs");
    let listed = sync(&mut s, "after-jobs");
    assert!(
        listed.is_empty(),
        "the finished job must have left the job list; jobs printed {listed:?}"
    );
    finish(s);
}

#[test]
fn every_process_of_a_job_stops_and_continues_together() {
    let mut s = piped();
    let sid = s.pid();
    s.send_line(&format!("{HELPER} fork-spin"));
    let line = s.out.expect("fork-spin ", WAIT);
    let pid = number_after(&line, "fork-spin");
    let both = |state: fn(char) -> bool| {
        let m = group_members(sid, pid);
        m.len() == 2 && m.iter().all(|p| state(p.state))
    };
    s.signal(libc::SIGTSTP);
    s.out.expect("stopped by signal 20", WAIT);
    wait_until(WAIT, "both processes of the job to be stopped", || {
        both(|c| c == 'T')
    });
    s.send_line("bg %1");
    s.out.expect("[1] (", WAIT);
    if let Err(e) =
        testkit::try_wait_until(WAIT, "both processes to run again", || both(|c| c != 'T'))
    {
        panic!(
            "{e}: bg must continue the whole process group (killpg), not only the process \
             the shell started; the job now: {:?}",
            group_members(sid, pid)
        );
    }
    s.send_line("fg %1");
    wait_until(WAIT, "the job to end", || {
        s.signal(libc::SIGINT);
        group_members(sid, pid).is_empty()
    });
    let line = s.out.expect("terminated by signal", WAIT);
    assert_eq!(line, format!("Job [1] ({pid}) terminated by signal 2"));
    finish(s);
}

#[test]
fn sigint_to_the_shell_spares_the_shell_and_background_jobs() {
    let mut s = piped();
    // Once the shell runs (its handlers are installed before it reads a line)...
    sync(&mut s, "started");
    // ...and with no foreground job, it neither dies nor passes the signal anywhere.
    s.signal(libc::SIGINT);
    s.signal(libc::SIGTSTP);
    let out = sync(&mut s, "no-job");
    assert!(out.is_empty(), "unexpected output: {out:?}");
    // A job that was in the foreground, stopped, and continued in the background.
    s.send_line(&format!("{HELPER} spin"));
    let ready = s.out.expect("spin ready", WAIT);
    let pid = number_after(&ready, "ready");
    s.signal(libc::SIGTSTP);
    s.out.expect("stopped by signal 20", WAIT);
    s.send_line("bg %1");
    s.out.expect("[1] (", WAIT);
    s.signal(libc::SIGINT);
    let out = sync(&mut s, "after-bg");
    assert!(
        out.is_empty(),
        "SIGINT to the shell must reach only a foreground job, and there is none now; got \
         {out:?}"
    );
    s.send_line("jobs");
    assert_eq!(
        s.out.expect("[1] (", WAIT),
        format!("[1] ({pid}) Running {HELPER} spin"),
        "the background job must survive a SIGINT sent to the shell"
    );
    finish(s);
}

#[test]
fn a_job_stopped_and_continued_from_outside_is_tracked() {
    let mut s = piped();
    s.send_line(&format!("{HELPER} spin&"));
    let line = s.out.expect("[1] (", WAIT);
    let pid = number_after(&line, "[1]");
    assert_eq!(
        line,
        format!("[1] ({pid}) {HELPER} spin&"),
        "a `&` stuck to the last word also means background"
    );
    // SAFETY: kill(2) on a job of this test's shell.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    assert_eq!(
        s.out.expect("stopped by signal", WAIT),
        format!("Job [1] ({pid}) stopped by signal 19"),
        "a background job stopped by anyone is reported (SIGCHLD, WUNTRACED)"
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    wait_until(WAIT, "the job to run again", || {
        testkit::proc_state(pid) != Some('T')
    });
    s.send_line("jobs");
    assert_eq!(
        s.out.expect("[1] (", WAIT),
        format!("[1] ({pid}) Running {HELPER} spin&"),
        "a job continued by someone else runs again: waitpid reports it with WCONTINUED"
    );
    finish(s);
}

/// CPU time (user + system) of `pid` so far, in clock ticks (1/100 s), from /proc/PID/stat.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// `voluntary_ctxt_switches` of `pid` so far, from /proc/PID/status: how many times it gave up
/// the CPU to sleep.
fn voluntary_switches(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_shell_sleeps_while_its_foreground_job_runs() {
    let mut s = piped();
    // The job burns a second of CPU; a shell polling for it in a loop would burn about as
    // much, and one that polls with short sleeps wakes up again and again meanwhile.
    s.send_line(&format!("{HELPER} burn 1000"));
    s.out.expect("burning ", WAIT * 3);
    let woken_before = voluntary_switches(s.pid());
    s.out.expect("burnt 1000 ms", WAIT * 6);
    let woken = voluntary_switches(s.pid()) - woken_before;
    sync_within(&mut s, "after-burn", WAIT * 3);
    let shell = cpu_ticks(s.pid());
    assert!(
        shell < 25,
        "the shell used {shell} ticks (1/100 s) of CPU while its job used 100: it must sleep \
         (sigsuspend) until a SIGCHLD, not poll for the job in a loop"
    );
    // Sleeping once until the SIGCHLD is one or two switches; a poll every 10 ms is a hundred.
    assert!(
        woken <= 8,
        "the shell went to sleep {woken} times while its job burnt a second of CPU: it polls \
         with short sleeps. Sleep until the job's SIGCHLD instead (sigsuspend with SIGCHLD \
         unblocked, after a reap with WNOHANG), so that it wakes once, when there is news"
    );
    finish(s);
}

#[test]
fn bg_and_fg_errors_and_an_unknown_command() {
    let mut s = piped();
    for (cmd, want) in [
        ("fg", "fg command requires PID or %jobid argument"),
        ("bg", "bg command requires PID or %jobid argument"),
        ("fg x", "fg: argument must be a PID or %jobid"),
        ("bg %x", "bg: argument must be a PID or %jobid"),
        ("fg %5", "%5: No such job"),
        ("bg %5", "%5: No such job"),
        ("fg 123456789", "(123456789): No such process"),
        ("bg 123456789", "(123456789): No such process"),
        ("./bogus", "./bogus: Command not found"),
    ] {
        s.send_line(cmd);
        let got = s.out.next_line(WAIT).unwrap_or_default();
        assert_eq!(got, want, "after {cmd:?}");
    }
    finish(s);
}

#[test]
fn commands_are_found_on_path_or_by_path_with_argv0_as_typed() {
    let dir = std::path::Path::new(HELPER)
        .parent()
        .expect("a directory")
        .display()
        .to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    cmd.arg("-p").env("PATH", format!("{dir}:/usr/bin:/bin"));
    let mut s = Session::spawn(&mut cmd, "tsh -p");
    s.send_line("job-helper argv0");
    assert_eq!(s.out.expect("argv0 ", WAIT), "argv0 job-helper");
    s.send_line(&format!("{HELPER} argv0"));
    assert_eq!(s.out.expect("argv0 ", WAIT), format!("argv0 {HELPER}"));
    finish(s);
}

#[test]
fn the_prompt_is_printed_before_each_line_unless_p() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    let mut s = Session::spawn(&mut cmd, "tsh");
    s.send_line("jobs");
    s.close_stdin();
    let rest = s.out.rest(WAIT).join("\n");
    assert_eq!(
        rest, "tsh> tsh> ",
        "one prompt before each line read, the last one before end of input"
    );
    let status = s.wait(WAIT);
    assert_eq!(status.code(), Some(0), "{}", describe_status(status));

    let mut s = piped();
    s.send_line("jobs");
    s.close_stdin();
    let rest = s.out.rest(WAIT);
    assert!(rest.is_empty(), "-p prints no prompt; got {rest:?}");
}

#[test]
fn quit_ends_the_shell_and_a_bad_option_is_a_usage_error() {
    let mut s = piped();
    s.send_line("quit");
    let status = s.wait(WAIT);
    assert_eq!(status.code(), Some(0), "quit: {}", describe_status(status));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    cmd.args(["-p", "-v"]);
    let mut s = Session::spawn(&mut cmd, "tsh -p -v");
    s.send_line("quit");
    let status = s.wait(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "-v is an option: {}",
        describe_status(status)
    );

    let out = testkit::run_with_deadline(Command::new(env!("CARGO_BIN_EXE_tsh")).arg("-x"), WAIT);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown option is a usage error"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "usage: tsh [-p] [-v]");
}

#[test]
fn jobs_that_exit_at_once_are_all_reaped_and_never_lost() {
    let mut s = piped();
    let shell = s.pid();
    // Foreground jobs that end before the shell could have recorded them: fg must still see
    // them end (a lost job would keep it waiting forever).
    for i in 0..40 {
        s.send_line(&format!("{HELPER} exit {}", i % 3));
    }
    // Background ones too, reaped while the shell waits for input.
    for _ in 0..20 {
        s.send_line(&format!("{HELPER} exit 0 &"));
    }
    // Sixty processes one after the other: generous on a loaded machine.
    let out = sync_within(&mut s, "after-burst", WAIT * 4);
    assert_eq!(
        out.iter().filter(|l| l.starts_with('[')).count(),
        20,
        "twenty background jobs announced; got {out:?}"
    );
    // Every job has exited once the shell has no child left at all: a zombie is a job that
    // ended but was not reaped. (No zombies alone would also hold while the last background
    // job is still running, and `jobs` would then rightly list it.)
    if let Err(e) = testkit::try_wait_until(WAIT, "every job to end and be reaped", || {
        testkit::children_of(shell).is_empty()
    }) {
        panic!(
            "{e}: the shell still has children {:?}, zombies among them {:?}; reap on SIGCHLD, \
             also while waiting for input",
            testkit::children_of(shell),
            zombie_children(shell)
        );
    }
    s.send_line("jobs");
    let listed = sync(&mut s, "after-jobs");
    assert!(
        listed.is_empty(),
        "every job has ended, yet jobs lists {listed:?}"
    );
    finish(s);
}

/// Runs `tsh ARGS` to its end with `input` as its stdin (a file: end of input after it).
fn run_script(args: &[&str], input: &str) -> std::process::Output {
    let dir = testkit::temp_dir("tsh-script");
    let path = dir.path().join("input");
    std::fs::write(&path, input).expect("write the input");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsh"));
    cmd.args(args)
        .stdin(std::fs::File::open(&path).expect("open the input"));
    let out = testkit::run_with_deadline(&mut cmd, WAIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "tsh {args:?} with input {input:?}: {}; stderr: {}",
        describe_status(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn v_prints_diagnostics_on_stderr_and_only_with_v() {
    let input = format!("{HELPER} exit 3\njobs\n");
    let quiet = run_script(&["-p"], &input);
    let verbose = run_script(&["-p", "-v"], &input);
    assert!(
        quiet.stderr.is_empty(),
        "without -v nothing goes to stderr; got {:?}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert!(
        !verbose.stderr.is_empty(),
        "-v prints diagnostics on stderr (at least a line per job); it printed nothing"
    );
    assert!(
        quiet.stdout.is_empty() && verbose.stdout.is_empty(),
        "a job that exits prints nothing on stdout, with -v or without: {:?} / {:?}",
        String::from_utf8_lossy(&quiet.stdout),
        String::from_utf8_lossy(&verbose.stdout)
    );
}

#[test]
fn a_program_that_exists_but_cannot_run_is_named_with_the_reason() {
    let out = run_script(&["-p"], "/\n./no-such-program\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() == 2
            && lines[0].starts_with("/: ")
            && lines[0].contains("Permission denied")
            && lines[1] == "./no-such-program: Command not found",
        "`Command not found` is for a program that does not exist; a directory exists but \
         cannot be run, and the reason (permission denied) says so; got {lines:?}"
    );
}

// ---- on a terminal ----

#[test]
fn on_a_terminal_ctrl_c_reaches_only_the_foreground_job() {
    let mut t = on_terminal();
    t.expect("tsh> ", WAIT);
    t.send_line(&format!("{HELPER} spin"));
    let ready = last(&t.expect("spin ready", WAIT));
    let pid = number_after(&ready, "ready");
    let (_, _, fg) = proc_ids(pid).expect("the job is alive");
    assert_eq!(
        fg, pid as i32,
        "while it runs, the foreground job's group owns the terminal (tcsetpgrp)"
    );
    t.write(b"\x03");
    let line = last(&t.expect_or(
        "terminated by signal",
        WAIT,
        "^C went to the job's group, and the job did not die: on a terminal the shell ignores \
         SIGINT (and SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU), and an ignored signal stays ignored \
         across exec. Give the job the default actions back before exec (pre_exec: \
         signal(sig, SIG_DFL)), and an empty signal mask.",
    ));
    assert!(
        line.ends_with(&format!("Job [1] ({pid}) terminated by signal 2")),
        "got {line:?}"
    );
    t.expect("tsh> ", WAIT);
    let (_, _, fg) = proc_ids(t.pid()).expect("the shell is alive");
    assert_eq!(
        fg,
        t.pid() as i32,
        "after the job, the shell must own its terminal again"
    );
    t.send_line("quit");
    let status = t.wait(WAIT);
    assert_eq!(status.code(), Some(0), "{}", describe_status(status));
}

#[test]
fn on_a_terminal_ctrl_z_stops_the_job_and_fg_gives_it_the_terminal_again() {
    let mut t = on_terminal();
    t.expect("tsh> ", WAIT);
    t.send_line(&format!("{HELPER} spin"));
    let ready = last(&t.expect("spin ready", WAIT));
    let pid = number_after(&ready, "ready");
    t.write(b"\x1a");
    let line = last(&t.expect("stopped by signal", WAIT));
    assert!(
        line.ends_with(&format!("Job [1] ({pid}) stopped by signal 20")),
        "got {line:?}"
    );
    t.expect("tsh> ", WAIT);
    t.send_line("jobs");
    t.expect(&format!("[1] ({pid}) Stopped {HELPER} spin"), WAIT);
    t.expect("tsh> ", WAIT);
    t.send_line("fg %1");
    wait_until(WAIT, "the job to own the terminal and run again", || {
        proc_ids(t.pid()).map(|i| i.2) == Some(pid as i32) && testkit::proc_state(pid) != Some('T')
    });
    t.write(b"\x03");
    t.expect(&format!("Job [1] ({pid}) terminated by signal 2"), WAIT);
    t.expect("tsh> ", WAIT);
}

#[test]
fn on_a_terminal_a_background_job_that_reads_it_stops_with_sigttin() {
    let mut t = on_terminal();
    t.expect("tsh> ", WAIT);
    t.send_line(&format!("{HELPER} read &"));
    let line = last(&t.expect("[1] (", WAIT));
    let pid = number_after(&line, "[1]");
    t.expect_or(
        &format!("Job [1] ({pid}) stopped by signal 21"),
        WAIT,
        "a background job that reads the terminal is stopped by SIGTTIN, and the shell \
         reports it",
    );
    t.send_line("fg %1");
    wait_until(WAIT, "fg to give the job the terminal", || {
        proc_ids(t.pid()).map(|i| i.2) == Some(pid as i32)
    });
    t.send_line("typed at the keyboard");
    t.expect("read: typed at the keyboard", WAIT);
    t.expect("tsh> ", WAIT);
    t.send_line("jobs");
    t.send_line("quit");
    let status = t.wait(WAIT);
    assert_eq!(status.code(), Some(0), "{}", describe_status(status));
    assert!(
        !t.output().contains("Running") && !t.output().contains("Stopped"),
        "the job ended; jobs should list nothing:\n{}",
        t.output()
    );
}

#[test]
fn on_a_terminal_the_shell_is_not_stopped_or_killed_by_ctrl_c_and_ctrl_z() {
    let mut t = on_terminal();
    t.expect("tsh> ", WAIT);
    t.write(b"\x03");
    t.write(b"\x1a");
    t.send_line(&format!("{HELPER} probe"));
    let probe = last(&t.expect("probe ", WAIT));
    let pid = probe
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .unwrap_or_default()
        .to_string();
    assert!(
        probe.contains(&format!("fg={pid}")),
        "the foreground job must own the terminal: {probe}"
    );
    t.expect("tsh> ", WAIT);
    t.send_line("quit");
    let status = t.wait(WAIT);
    assert_eq!(status.code(), Some(0), "{}", describe_status(status));
}

#[test]
fn closing_the_terminal_hangs_up_the_shell_and_its_jobs() {
    let mut t = on_terminal();
    let sid = t.pid();
    t.expect("tsh> ", WAIT);
    t.send_line(&format!("{HELPER} spin &"));
    let bg = number_after(&last(&t.expect("[1] (", WAIT)), "[1]");
    // A stopped job too: a SIGHUP reaches it only once it is continued.
    t.send_line(&format!("{HELPER} stop-self &"));
    t.expect("Job [2] (", WAIT);
    t.send_line(&format!("{HELPER} spin"));
    // The background spinner may say it is ready only now: skip its line.
    let fg = loop {
        let pid = number_after(&last(&t.expect("spin ready", WAIT)), "ready");
        if pid != bg {
            break pid;
        }
    };
    t.close_master();
    let status = t.wait(WAIT);
    assert_eq!(
        status.code(),
        Some(129),
        "on SIGHUP the shell hangs up its jobs (SIGHUP, then SIGCONT for the stopped one), \
         reaps them and exits with 129; it ended with {}",
        describe_status(status)
    );
    let left = session_members(sid);
    assert!(
        left.is_empty(),
        "the shell's jobs must be gone and reaped (by the shell) when it ends; left: {left:?} \
         (the foreground job was {fg})"
    );
}

#[test]
fn on_a_terminal_a_shell_started_in_the_background_waits_for_the_foreground() {
    // `job-helper bg-exec tsh` runs tsh as `tsh &` would: in a background group of the
    // terminal; the helper stays the foreground group, and gives tsh the terminal (`fg`) each
    // time tsh stops.
    let mut cmd = Command::new(HELPER);
    cmd.args(["bg-exec", env!("CARGO_BIN_EXE_tsh")]);
    let mut t = Terminal::spawn(&mut cmd, "tsh started in the background of its terminal");
    let shown = t.expect("tsh> ", WAIT);
    assert!(
        shown.contains("background program stopped by SIGTTIN"),
        "tsh, started in the background of its terminal, printed its prompt without waiting to \
         be in the foreground: it took the terminal from the foreground group (with SIGTTOU \
         ignored, tcsetpgrp from the background succeeds). Before taking the terminal, loop: \
         while tcgetpgrp(0) is not our group, send our group SIGTTIN (kill(-pgrp, SIGTTIN)), \
         which stops us until someone brings us to the foreground. The terminal showed:\n{}",
        t.output()
    );
    t.send_line("quit");
    t.expect("background program exited 0", WAIT);
}

#[test]
fn a_long_line_costs_time_in_proportion_to_its_length_and_is_refused() {
    let mut s = piped();
    // Two megabytes without a newline arrive a pipe buffer at a time: searching the whole
    // line for a newline after every read costs the square of its length.
    let long = "x".repeat(2 << 20);
    s.send_line(&long);
    let seen = sync_within(&mut s, "after-long-line", WAIT * 3);
    let shell = cpu_ticks(s.pid());
    assert!(
        shell < 40,
        "reading one 2 MiB line took the shell {shell} ticks (1/100 s) of CPU: it searches \
         the whole partial line for a newline after every read. Remember how far it was \
         searched and look only at the new bytes, and cap a line (64 KiB)"
    );
    assert_eq!(
        seen,
        ["tsh: line too long (more than 65536 bytes), ignored"],
        "a line longer than 64 KiB runs nothing; the shell says so once and goes on with the \
         next line"
    );
    s.send_line("jobs");
    let listed = sync(&mut s, "after-jobs");
    assert!(listed.is_empty(), "no job was started: {listed:?}");
    finish(s);
}

#[test]
fn a_line_of_exactly_the_limit_runs_and_one_byte_more_is_refused() {
    // 65,536 bytes before the newline is the longest line; the first one starts the input, so
    // its first 64 KiB fill the shell's reads exactly and its newline comes in the next one.
    let pad = |line: &str, len: usize| format!("{line}{}\n", " ".repeat(len - line.len()));
    let input = [
        pad("echo exact", 65_536),
        pad("echo over", 65_537),
        pad("echo again", 65_536),
        "echo done\n".to_string(),
    ]
    .concat();
    let out = tsh_cmd()
        .write_stdin(input)
        .timeout(WAIT * 3)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = out
        .split("tsh> ")
        .flat_map(str::lines)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "exact",
            "tsh: line too long (more than 65536 bytes), ignored",
            "again",
            "done"
        ],
        "a line of 65,536 bytes (the limit) runs; one of 65,537 is refused once; the next lines \
         run (compare with `>`, not `>=`, both where a complete line is found and where a \
         partial line has grown past the limit)"
    );
}

// ---- the command-line contract, with assert_cmd ----

fn tsh_cmd() -> assert_cmd::Command {
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("tsh"))
}

#[test]
fn a_standard_input_that_cannot_be_read_is_an_error() {
    use assert_cmd::assert::OutputAssertExt;
    use predicates::prelude::*;
    let dir = testkit::temp_dir("tsh-stdin");
    // assert_cmd gives the program an empty stdin of its own unless told otherwise: run it
    // with std, and check the output with assert_cmd's assertions.
    let mut std_cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("tsh"));
    std_cmd
        .arg("-p")
        .stdin(std::fs::File::open(dir.path()).expect("open the directory"));
    let out = testkit::run_with_deadline(&mut std_cmd, WAIT);
    assert_eq!(
        out.status.code(),
        Some(1),
        "with a directory as stdin every read fails (EISDIR): that is not an end of input, \
         and status 0 would tell a script that all went well. Say why on stderr and exit 1; \
         got {} and stderr {:?}",
        describe_status(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    out.assert().stdout(predicate::str::is_empty()).stderr(
        predicate::str::starts_with("tsh: cannot read standard input: ")
            .and(predicate::str::contains("directory"))
            .and(predicate::str::is_match("^[^\n]*\n$").expect("a regex")),
    );
    // A closed stdin: fd 0 not open at all (the shell must not read someone else's file that
    // happens to get fd 0 either).
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("tsh"));
    cmd.arg("-p");
    // SAFETY: the closure only calls close(2), which is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::close(0);
            Ok(())
        });
    }
    let out = testkit::run_with_deadline(&mut cmd, WAIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && err.starts_with("tsh: cannot read standard input: "),
        "with stdin closed the shell cannot read a command: one line on stderr and status 1, \
         not the status 0 of a normal end of input; got {} and stderr {err:?}",
        describe_status(out.status)
    );
}

#[test]
fn the_command_line_contract() {
    use predicates::prelude::*;
    // A usage error: one line on stderr, status 2, nothing read or run.
    for bad in [&["-x"][..], &["-p", "extra"], &["--help"]] {
        tsh_cmd()
            .args(bad)
            .write_stdin("jobs\n")
            .timeout(WAIT)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::eq("usage: tsh [-p] [-v]\n"));
    }
    // A script on stdin: the prompt before each line unless -p, messages on stdout, nothing
    // on stderr without -v, status 0 at the end of input.
    tsh_cmd()
        .write_stdin("./no-such-program\nfg\n")
        .timeout(WAIT)
        .assert()
        .success()
        .stdout(predicate::eq(
            "tsh> ./no-such-program: Command not found\n\
             tsh> fg command requires PID or %jobid argument\ntsh> ",
        ))
        .stderr(predicate::str::is_empty());
    tsh_cmd()
        .args(["-p", "-v"])
        .write_stdin(format!("{HELPER} exit 3\nquit\n{HELPER} exit 4\n"))
        .timeout(WAIT)
        .assert()
        .success()
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::is_empty().not());
}
