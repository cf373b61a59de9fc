//! Tests of `redirection/wish`, the week-1 command executor, end to end: each test writes a small
//! script into its own temp dir, runs the `wish` binary on it, and checks stdout, stderr and the
//! exit status exactly.
//!
//! Every run of `wish` is in its own process group, so a shell that hangs (for instance on a
//! FIFO, when the commands of an `&` line run one after another) is killed together with its
//! commands when the deadline passes, and the test says why instead of hanging.
//!
//! Run them with `cargo xtask check redirection/wish`.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, mkfifo};
use predicates::prelude::*;
use testkit::{DEFAULT_DEADLINE, describe_status};

/// What the shell prints for every error, and nothing else.
const ERR: &str = "An error has occurred\n";

/// The deadline of the runs where a classic mistake makes wish block forever: the commands of an
/// `&` line run one after another (the first blocks on its FIFO), or a prompt never flushed.
/// Short enough to fail well within the exercise's time limit, long enough for a correct shell
/// on a loaded machine (it needs a few milliseconds).
const SHORT_DEADLINE: Duration = Duration::from_secs(5);

/// A script that writes to stdout, then stderr, then stdout again.
const BOTH_STREAMS: &str = "echo out\necho err >&2\necho out2\n";

/// `sh ../say.sh FILE WORD` writes WORD into FILE (opened by sh, in the child, so a FIFO there
/// blocks only that child).
const SAY: &str = "echo \"$2\" > \"$1\"\n";

/// `sh ../relay.sh FROM TO` copies FROM into TO.
const RELAY: &str = "cat \"$1\" > \"$2\"\n";

/// A temp dir with the layout every test uses:
/// `ROOT/work` is wish's current directory (so `ls` there lists only what the test put there),
/// scripts and helper programs live in `ROOT`, reached from the scripts as `../NAME`.
struct Fixture {
    root: PathBuf,
    work: PathBuf,
    /// The `testkit::temp_dir` guard: dropping it removes the whole tree, also on panic. (Boxed
    /// as `Any` because its type comes from a crate this package does not depend on by name.)
    _cleanup: Box<dyn std::any::Any>,
}

impl Fixture {
    fn new(tag: &str) -> Self {
        let dir = testkit::temp_dir(tag);
        let root = dir.path().to_path_buf();
        let work = root.join("work");
        fs::create_dir(&work).expect("cannot create the work dir");
        Fixture {
            root,
            work,
            _cleanup: Box::new(dir),
        }
    }

    /// A path in `ROOT`.
    fn root_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes a plain (not executable) file at `ROOT/name`.
    fn write_root(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.root_path(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
        path
    }

    /// Creates a directory `ROOT/work/name`.
    fn mkdir(&self, name: &str) -> PathBuf {
        let path = self.work.join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {path:?}: {e}"));
        path
    }

    /// Creates a FIFO `ROOT/work/name`.
    fn fifo(&self, name: &str) {
        let path = self.work.join(name);
        mkfifo(&path, Mode::from_bits_truncate(0o600))
            .unwrap_or_else(|e| panic!("cannot create the FIFO {path:?}: {e}"));
    }

    /// Installs an executable `/bin/sh` script `ROOT/dir/name` that prints `output` and its
    /// arguments.
    fn program(&self, dir: &str, name: &str, output: &str) -> PathBuf {
        let dir = self.root_path(dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
        let path = dir.join(name);
        // The text is written to a side file and copied into place by `cp`, which has exited
        // before wish runs: no process of this multi-threaded test (not even a child forked
        // by another test in the middle of spawning) can then still hold the program open for
        // writing, which would make exec fail with ETXTBSY.
        let draft = self.write_root(
            &format!("{name}.draft"),
            &format!("#!/bin/sh\necho \"{output}$*\"\n"),
        );
        let st = Command::new("/bin/cp")
            .arg(&draft)
            .arg(&path)
            .status()
            .expect("cannot run cp");
        assert!(st.success(), "cp {draft:?} {path:?} failed");
        set_mode(&path, 0o755);
        path
    }

    /// Runs `wish SCRIPT` in `ROOT/work`, where SCRIPT holds `script`.
    fn run(&self, script: &str) -> Finished {
        self.run_within(script, DEFAULT_DEADLINE)
    }

    /// [`Fixture::run`] with a deadline of its own.
    fn run_within(&self, script: &str, deadline: Duration) -> Finished {
        let path = self.write_root("script.wish", script);
        let mut cmd = wish_command(&self.work);
        cmd.arg(&path).stdin(Stdio::null());
        let what = format!(
            "wish {} with the script:\n{}",
            path.display(),
            fence(script)
        );
        Wish::spawn(cmd, what).within(deadline).finish()
    }

    /// Runs `wish` with no argument, `input` on its stdin, in `ROOT/work`.
    fn run_interactive(&self, input: &str) -> Finished {
        let mut cmd = wish_command(&self.work);
        cmd.stdin(Stdio::piped());
        let what = format!("wish (interactive) with this input:\n{}", fence(input));
        let mut wish = Wish::spawn(cmd, what);
        wish.send(input);
        wish.close_stdin();
        wish.finish()
    }

    /// The contents of `ROOT/work/name`, or a panic that says it is missing.
    #[track_caller]
    fn read(&self, name: &str) -> String {
        let path = self.work.join(name);
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("expected the file {name} in wish's directory: {e}"))
    }

    /// Asserts `ROOT/work/name` holds exactly `expected`.
    #[track_caller]
    fn assert_file(&self, name: &str, expected: &str, why: &str) {
        let got = self.read(name);
        assert_eq!(
            got, expected,
            "{why}\nthe file {name}: expected {expected:?}, got {got:?}"
        );
    }

    /// Asserts `ROOT/work/name` does not exist.
    #[track_caller]
    fn assert_absent(&self, name: &str, why: &str) {
        let path = self.work.join(name);
        assert!(
            !path.exists(),
            "{why}\nthe file {name} should not exist, but it does (contents: {:?})",
            fs::read_to_string(&path).unwrap_or_default()
        );
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {path:?}: {e}"));
}

fn fence(text: &str) -> String {
    let mut s = String::from("----\n");
    s.push_str(text);
    if !text.ends_with('\n') {
        s.push_str("⏎ (no final newline)\n");
    }
    s.push_str("----");
    s
}

fn wish_command(cwd: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("wish"));
    // `C` makes `ls` sort plainly, whatever the machine's locale.
    // No backtrace: a panic in wish shows as its one-line message and location.
    cmd.current_dir(cwd)
        .env("LC_ALL", "C")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A running `wish`, leader of its own process group. On drop (a failing test) the whole group,
/// wish and every command it started, is killed and wish is reaped.
struct Wish {
    child: Child,
    what: String,
    stdin: Option<ChildStdin>,
    stdout_rx: Receiver<Vec<u8>>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<Vec<u8>>>,
    stdout: Vec<u8>,
    deadline: Duration,
    reaped: bool,
}

/// What a finished run printed, and how it ended.
struct Finished {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Wish {
    #[track_caller]
    fn spawn(mut cmd: Command, what: String) -> Self {
        // A group of its own: at the deadline the test can kill wish AND the commands it started
        // (a command blocked on a FIFO would otherwise outlive wish and keep the pipes open).
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let mut out = child.stdout.take().expect("stdout is piped");
        let mut err = child.stderr.take().expect("stderr is piped");
        let (tx, stdout_rx) = mpsc::channel();
        let stdout_reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stderr_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        });
        Wish {
            stdin: child.stdin.take(),
            child,
            what,
            stdout_rx,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            stdout: Vec::new(),
            deadline: DEFAULT_DEADLINE,
            reaped: false,
        }
    }

    /// Sets how long wish may take to exit once [`Wish::finish`] waits for it.
    fn within(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped and open");
        // A shell that has already exited closed its end: that shows in its output, which the
        // test checks, so the write error itself is not the failure to report.
        let _ = stdin.write_all(text.as_bytes());
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Reads stdout until it is exactly `expected` (wish then waits for more input), or fails.
    #[track_caller]
    fn expect_stdout_so_far(&mut self, expected: &str, why: &str) {
        let deadline = Instant::now() + self.deadline;
        while self.stdout.len() < expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout_rx.recv_timeout(left) {
                Ok(chunk) => self.stdout.extend(chunk),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}\n{why}\nwaited {:?} for stdout {expected:?}, got only {:?}\n\
                     (the prompt has no newline: stdout is flushed after printing it?)",
                    self.what,
                    self.deadline,
                    String::from_utf8_lossy(&self.stdout)
                ),
            }
        }
        let got = String::from_utf8_lossy(&self.stdout).into_owned();
        if got != expected {
            // Let the shell end, to show its stderr and status with the mismatch.
            self.close_stdin();
            let end = self.wait_for_exit();
            panic!(
                "{}\n{why}\nexpected stdout so far: {expected:?}\n           got stdout: {got:?}\n{}",
                self.what,
                match end {
                    Some((status, stderr)) => format!(
                        "(wish then {}; its stderr:\n{stderr})",
                        describe_status(status)
                    ),
                    None => "(wish did not end after its stdin was closed)".to_string(),
                }
            );
        }
    }

    /// Waits (with the deadline) until wish exits, kills whatever is left of its group, reaps
    /// wish and collects stderr. `None` when the deadline passed (wish was then killed).
    fn wait_for_exit(&mut self) -> Option<(ExitStatus, String)> {
        let pid = self.pid();
        // WNOWAIT: see that wish exited without reaping it, so that its pid (the group's id)
        // cannot be reused by another process before the group is killed below.
        let exited = testkit::try_wait_until(self.deadline, "wish to exit", || {
            !matches!(
                waitid(
                    Id::Pid(pid),
                    WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
                ),
                Ok(WaitStatus::StillAlive)
            )
        })
        .is_ok();
        // A correct wish has reaped every command by now; anything left (a command still
        // blocked on a FIFO, or orphaned) is killed so that it releases the pipes.
        let _ = killpg(pid, Signal::SIGKILL);
        let status = self.child.wait().expect("cannot reap wish");
        self.reaped = true;
        self.stdin = None;
        if let Some(reader) = self.stdout_reader.take() {
            let _ = reader.join();
        }
        while let Ok(chunk) = self.stdout_rx.try_recv() {
            self.stdout.extend(chunk);
        }
        let stderr = self
            .stderr_reader
            .take()
            .and_then(|r| r.join().ok())
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        exited.then_some((status, stderr))
    }

    /// Waits for wish to end and returns what it printed; panics if it does not end in time.
    #[track_caller]
    fn finish(mut self) -> Finished {
        match self.wait_for_exit() {
            Some((status, stderr)) => Finished {
                what: std::mem::take(&mut self.what),
                status,
                stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
                stderr,
            },
            None => panic!(
                "{}\nwish did not finish within {:?}; it and its commands were \
                 killed.\nIf the script has a `&` line with a FIFO, its commands must run at the \
                 same time: run one after another, the first blocks forever opening the FIFO. \
                 Start every command of the line before waiting for any.\n\
                 --- stdout so far ---\n{}\n--- stderr so far ---\n{}",
                self.what,
                self.deadline,
                String::from_utf8_lossy(&self.stdout),
                self.stderr_reader
                    .take()
                    .and_then(|r| r.join().ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            ),
        }
    }
}

impl Drop for Wish {
    fn drop(&mut self) {
        if !self.reaped {
            // wish is not reaped yet, so its pid still names this group and nothing else.
            let _ = killpg(self.pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

impl Finished {
    /// Asserts stdout, stderr and the exit code, all exactly.
    #[track_caller]
    fn expect(&self, stdout: &str, stderr: &str, code: i32, why: &str) {
        let ok_status = self.status.code() == Some(code);
        if self.stdout == stdout && self.stderr == stderr && ok_status {
            return;
        }
        let mut msg = format!("{}\n{why}\n", self.what);
        if self.stdout != stdout {
            msg += &format!(
                "expected stdout: {stdout:?}\n     got stdout: {:?}\n",
                self.stdout
            );
        }
        if self.stderr != stderr {
            msg += &format!(
                "expected stderr: {stderr:?}\n     got stderr: {:?}\n",
                self.stderr
            );
            if self.stderr.lines().count() > 1 {
                msg += &format!("--- wish's stderr as printed ---\n{}\n", self.stderr);
            }
        }
        if !ok_status {
            msg += &format!(
                "expected: exited {code}, got: {}\n",
                describe_status(self.status)
            );
        }
        if self.status.code() == Some(101) {
            msg += "(status 101 is a Rust panic: is there a todo!() left?)\n";
        }
        panic!("{msg}");
    }
}

// ---- built-ins ----

#[test]
fn exit_ends_the_shell_at_once_with_status_0() {
    let fx = Fixture::new("exit_at_once");
    fx.run("echo before\nexit\necho after\n").expect(
        "before\n",
        "",
        0,
        "`exit` ends the shell at once: the line after it must not run",
    );
}

#[test]
fn exit_with_an_argument_is_an_error_and_the_shell_goes_on() {
    let fx = Fixture::new("exit_arg");
    fx.run("exit 3\necho still here\n").expect(
        "still here\n",
        ERR,
        0,
        "`exit` takes no argument: `exit 3` is an error, and the shell goes on",
    );
}

#[test]
fn exit_with_an_argument_is_not_looked_up_in_the_path() {
    let fx = Fixture::new("exit_arg_path");
    // A program named `exit` in the search path must not run: `exit` is a built-in, and with
    // an argument it is a built-in used wrongly.
    fx.program("tools", "exit", "the program named exit ran:");
    fx.run("path ../tools /bin\nexit 3\necho still here\n")
        .expect(
            "still here\n",
            ERR,
            0,
            "`exit 3` is the built-in `exit` used with an argument, an error, even when the path \
         holds a program named `exit`",
        );
}

#[test]
fn exit_after_a_parallel_command_ends_the_shell_once_it_finished() {
    let fx = Fixture::new("exit_parallel");
    fx.run("echo a & exit\necho after\n").expect(
        "a\n",
        "",
        0,
        "`exit` ends the shell wherever it stands, even in an `&` line",
    );
}

#[test]
fn cd_changes_the_directory_of_later_commands_and_files() {
    let fx = Fixture::new("cd_ok");
    let sub = fx.mkdir("sub");
    fs::write(sub.join("inside"), "").unwrap();
    fx.run("cd sub\nls\necho hi > made\n").expect(
        "inside\n",
        "",
        0,
        "after `cd sub`, commands run in sub (the shell's own current directory changed)",
    );
    fx.assert_file(
        "sub/made",
        "hi\n",
        "a relative `> FILE` after `cd sub` is created in sub",
    );
}

#[test]
fn cd_without_an_argument_is_an_error() {
    let fx = Fixture::new("cd_none");
    fx.mkdir("sub");
    fx.run("cd\nls\n").expect(
        "sub\n",
        ERR,
        0,
        "`cd` needs exactly one argument (it does not go home): an error, the directory stays",
    );
}

#[test]
fn cd_with_two_arguments_is_an_error() {
    let fx = Fixture::new("cd_two");
    fx.mkdir("sub");
    fx.run("cd sub sub\nls\n").expect(
        "sub\n",
        ERR,
        0,
        "`cd` needs exactly one argument: `cd sub sub` is an error, the directory stays",
    );
}

#[test]
fn a_failing_cd_is_an_error_and_the_shell_goes_on() {
    let fx = Fixture::new("cd_fail");
    fx.mkdir("sub");
    fx.run("cd no_such_dir\nls\n").expect(
        "sub\n",
        ERR,
        0,
        "chdir to a missing directory fails: an error, and the next line runs where we were",
    );
}

#[test]
fn path_with_no_directory_leaves_only_the_builtins() {
    let fx = Fixture::new("path_none");
    let sub = fx.mkdir("sub");
    fs::write(sub.join("inside"), "").unwrap();
    fx.run("path\nls\ncd sub\npath /bin\nls\n").expect(
        "inside\n",
        ERR,
        0,
        "after `path` alone no command is found (`ls` is an error), built-ins still run, \
         and `path /bin` brings `ls` back",
    );
}

#[test]
fn path_replaces_the_search_path_instead_of_extending_it() {
    let fx = Fixture::new("path_replace");
    fx.program("tools", "hello", "hello from tools:");
    fx.run("path ../tools\nhello a b\nls\n").expect(
        "hello from tools:a b\n",
        ERR,
        0,
        "`path DIR` makes DIR the only directory searched: `hello` runs (with its arguments), \
         `ls` from /bin is no longer found",
    );
}

#[test]
fn a_command_is_found_in_a_later_path_directory() {
    let fx = Fixture::new("path_second");
    fs::create_dir(fx.root_path("empty")).unwrap();
    fx.program("tools", "hello", "second dir:");
    fx.run("path ../empty ../tools\nhello x\n").expect(
        "second dir:x\n",
        "",
        0,
        "`path` takes several directories, searched in order until one has the command",
    );
}

#[test]
fn the_first_path_directory_with_the_command_wins() {
    let fx = Fixture::new("path_first");
    fx.program("one", "which", "one");
    fx.program("two", "which", "two");
    fx.run("path ../one ../two\nwhich\npath ../two ../one\nwhich\n")
        .expect(
            "one\ntwo\n",
            "",
            0,
            "the directories are searched in the order given to `path`",
        );
}

#[test]
fn only_executable_regular_files_are_commands() {
    let fx = Fixture::new("path_exec");
    // `a/hello` is a directory (with x bits), `b/hello` a file without x bits: neither is a
    // command, so `c/hello` is the one that runs.
    let dir = fx.root_path("a/hello");
    fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    fs::create_dir(fx.root_path("b")).unwrap();
    let plain = fx.write_root("b/hello", "#!/bin/sh\necho wrong\n");
    set_mode(&plain, 0o644);
    fx.program("c", "hello", "from c");
    fx.run("path ../a ../b ../c\nhello\npath ../a ../b\nhello\n")
        .expect(
            "from c\n",
            ERR,
            0,
            "a command is a regular file with an execute bit: a directory or a file without x \
             bits is skipped (and when nothing else is left, it is not found)",
        );
}

#[test]
fn path_takes_relative_directories_from_the_current_directory_when_set() {
    let fx = Fixture::new("path_relative");
    fx.program("tools", "hello", "found");
    fx.mkdir("sub");
    fx.run("path ../tools\ncd sub\nhello\n").expect(
        "found\n",
        "",
        0,
        "`path ../tools` means ROOT/tools, taken from the current directory when `path` runs: \
         a later `cd` does not change where commands are searched",
    );
}

// ---- commands ----

#[test]
fn an_unknown_command_is_an_error_and_the_shell_goes_on() {
    let fx = Fixture::new("unknown");
    fx.run("no_such_command_anywhere\necho next\n").expect(
        "next\n",
        ERR,
        0,
        "a command found in no path directory is an error",
    );
}

#[test]
fn a_command_gets_its_name_as_typed_as_argv0() {
    let fx = Fixture::new("argv0");
    // `kitty` is a copy of cat in a path directory of its own. cat prints the file
    // /proc/self/cmdline: the argv the kernel gave it, each word ending in a NUL.
    let tools = fx.root_path("tools");
    fs::create_dir(&tools).unwrap_or_else(|e| panic!("cannot create {tools:?}: {e}"));
    let st = Command::new("/bin/cp")
        .arg("/bin/cat")
        .arg(tools.join("kitty"))
        .status()
        .expect("cannot run cp");
    assert!(st.success(), "cp /bin/cat {tools:?}/kitty failed");
    fx.run("cat /proc/self/cmdline\npath ../tools\nkitty /proc/self/cmdline\n")
        .expect(
            "cat\0/proc/self/cmdline\0kitty\0/proc/self/cmdline\0",
            "",
            0,
            "a shell runs the file it found in the path, but the program's argv[0] is the name as \
             typed (`cat`), not that file's path (`/bin/cat`): programs name themselves by it in \
             their messages (`ls: cannot access ...`). `Command::new(path)` sets argv[0] to \
             `path`; `CommandExt::arg0` sets it apart",
        );
}

#[test]
fn a_command_that_fails_is_not_a_shell_error() {
    let fx = Fixture::new("false");
    fx.run("false\necho after\n").expect(
        "after\n",
        "",
        0,
        "`false` ran fine and exited 1: that is its own business, not a shell error",
    );
}

#[test]
fn a_command_writes_to_the_shell_stdout_and_stderr() {
    let fx = Fixture::new("inherit");
    fx.write_root("both.sh", BOTH_STREAMS);
    fx.run("sh ../both.sh\n").expect(
        "out\nout2\n",
        "err\n",
        0,
        "without `>`, a command inherits the shell's stdout and stderr",
    );
}

#[test]
fn empty_and_blank_lines_do_nothing_and_words_split_on_any_whitespace() {
    let fx = Fixture::new("blank");
    fx.run("\n   \n\t \n  echo \t a   b\t\n\n").expect(
        "a b\n",
        "",
        0,
        "empty and whitespace-only lines do nothing (no error); words are split on spaces and tabs",
    );
}

#[test]
fn the_last_line_needs_no_newline() {
    let fx = Fixture::new("no_newline");
    fx.run("echo one\necho last").expect(
        "one\nlast\n",
        "",
        0,
        "the last line of the input runs even without a final newline",
    );
}

#[test]
fn end_of_input_exits_with_status_0_even_after_errors() {
    let fx = Fixture::new("eof");
    fx.run("")
        .expect("", "", 0, "an empty file: nothing to do, exit 0");
    fx.run("no_such_command_anywhere\n").expect(
        "",
        ERR,
        0,
        "errors do not change the exit status: at end of input the shell exits 0",
    );
}

// ---- redirection ----

#[test]
fn redirection_sends_stdout_and_stderr_to_one_file_in_order() {
    let fx = Fixture::new("redir_both");
    fx.write_root("both.sh", BOTH_STREAMS);
    fx.run("sh ../both.sh > log\n").expect(
        "",
        "",
        0,
        "with `> log` nothing of the command reaches the shell's stdout or stderr",
    );
    fx.assert_file(
        "log",
        "out\nerr\nout2\n",
        "stdout and stderr must share ONE open file (one offset), so writes keep their order; \
         two separate opens write over each other",
    );
}

#[test]
fn redirection_needs_no_spaces() {
    let fx = Fixture::new("redir_tight");
    fx.run("echo a>f1\necho b >f2\necho c> f3\n").expect(
        "",
        "",
        0,
        "`>` works with or without spaces around it",
    );
    fx.assert_file("f1", "a\n", "`echo a>f1` writes a into f1");
    fx.assert_file("f2", "b\n", "`echo b >f2` writes b into f2");
    fx.assert_file("f3", "c\n", "`echo c> f3` writes c into f3");
}

#[test]
fn redirection_truncates_an_existing_file() {
    let fx = Fixture::new("redir_trunc");
    fs::write(fx.work.join("log"), "a much longer previous content\n").unwrap();
    fx.run("echo hi > log\n")
        .expect("", "", 0, "`echo hi > log` prints nothing itself");
    fx.assert_file(
        "log",
        "hi\n",
        "`>` truncates an existing file (File::create), it does not append or overwrite in place",
    );
}

#[test]
fn redirection_without_a_file_is_an_error() {
    let fx = Fixture::new("redir_nofile");
    fx.run("echo a >\necho next\n").expect(
        "next\n",
        ERR,
        0,
        "`echo a >` has no file: an error, and the command does not run",
    );
}

#[test]
fn redirection_to_two_files_is_an_error() {
    let fx = Fixture::new("redir_twofiles");
    fx.run("echo a > f1 f2\necho next\n").expect(
        "next\n",
        ERR,
        0,
        "`echo a > f1 f2` names two files: an error, and the command does not run",
    );
    fx.assert_absent("f1", "a rejected line creates no file");
    fx.assert_absent("f2", "a rejected line creates no file");
}

#[test]
fn two_redirections_are_an_error() {
    let fx = Fixture::new("redir_twice");
    fx.run("echo a > f1 > f2\necho b >>f3\necho next\n").expect(
        "next\n",
        &ERR.repeat(2),
        0,
        "`echo a > f1 > f2` and `echo b >>f3` have two `>`: errors, and the commands do not run",
    );
    for name in ["f1", "f2", "f3", ">f3"] {
        fx.assert_absent(name, "a rejected line creates no file");
    }
}

#[test]
fn redirection_without_a_command_is_an_error() {
    let fx = Fixture::new("redir_nocmd");
    fx.run("> f1\necho next\n")
        .expect("next\n", ERR, 0, "`> f1` has nothing before `>`: an error");
    fx.assert_absent("f1", "a rejected line creates no file");
}

#[test]
fn redirection_to_a_file_that_cannot_be_created_is_an_error() {
    let fx = Fixture::new("redir_cannot");
    fx.run("echo a > no_such_dir/f\necho next\n").expect(
        "next\n",
        ERR,
        0,
        "the file of `>` cannot be created (no such directory): an error, the command does not run",
    );
}

// ---- parallel commands ----

#[test]
fn the_commands_of_an_ampersand_line_run_at_the_same_time() {
    let fx = Fixture::new("par_overlap");
    fx.write_root("say.sh", SAY);
    fx.write_root("relay.sh", RELAY);
    fx.fifo("f1");
    fx.fifo("f2");
    // Each command opens a FIFO, and opening a FIFO blocks until its other end is opened too:
    // only if all three run at once can `ping` travel say -> f1 -> relay -> f2 -> cat.
    fx.run_within(
        "cat f2 & sh ../relay.sh f1 f2 & sh ../say.sh f1 ping\n",
        SHORT_DEADLINE,
    )
    .expect(
        "ping\n",
        "",
        0,
        "every command of an `&` line must be started before the shell waits for any",
    );
}

#[test]
fn a_redirected_command_runs_alongside_the_others_and_is_waited_for() {
    let fx = Fixture::new("par_redir_fifo");
    fx.write_root("say.sh", SAY);
    fx.fifo("f1");
    fx.run_within(
        "cat f1 > got&sh ../say.sh f1 ping\ncat got\n",
        SHORT_DEADLINE,
    )
    .expect(
        "ping\n",
        "",
        0,
        "`cat f1 > got` runs at the same time as the writer (`&` needs no spaces), and the \
         shell waits for both before the next line reads got",
    );
}

#[test]
fn the_ampersand_needs_no_spaces() {
    let fx = Fixture::new("par_tight");
    fx.run("echo a&echo b>fb&echo c >fc\n").expect(
        "a\n",
        "",
        0,
        "`a&b` is two commands, like `a & b`",
    );
    fx.assert_file("fb", "b\n", "`echo b>fb` between two `&`");
    fx.assert_file("fc", "c\n", "`echo c >fc` after `&`");
}

#[test]
fn redirection_applies_to_each_command_of_a_parallel_line() {
    let fx = Fixture::new("par_redir");
    fx.write_root("both.sh", BOTH_STREAMS);
    fx.run("echo one > f1 & echo two>f2&sh ../both.sh >f3\n")
        .expect("", "", 0, "each command of an `&` line has its own `>`");
    fx.assert_file("f1", "one\n", "`echo one > f1` in an `&` line");
    fx.assert_file("f2", "two\n", "`echo two>f2` in an `&` line");
    fx.assert_file(
        "f3",
        "out\nerr\nout2\n",
        "`sh ../both.sh >f3` in an `&` line: stdout and stderr in one file",
    );
}

#[test]
fn empty_commands_between_ampersands_are_ignored() {
    let fx = Fixture::new("par_empty");
    fx.run("&\n & & \n& echo a &&  & echo b > fb &&\n").expect(
        "a\n",
        "",
        0,
        "empty commands around and between `&` are ignored, they are not errors",
    );
    fx.assert_file("fb", "b\n", "`echo b > fb` between empty commands");
}

#[test]
fn a_trailing_ampersand_is_allowed() {
    let fx = Fixture::new("par_trailing");
    fx.run("echo a &\necho b\n").expect(
        "a\nb\n",
        "",
        0,
        "`echo a &` is one command and an empty one: no error; the line is waited for first",
    );
}

#[test]
fn a_syntax_error_rejects_the_whole_ampersand_line() {
    let fx = Fixture::new("par_syntax");
    fx.run("echo a > f1 & echo b > \necho next\n").expect(
        "next\n",
        ERR,
        0,
        "a line with a bad `>` is rejected as a whole: one error, none of its commands runs",
    );
    fx.assert_absent("f1", "a rejected line creates no file");
}

// ---- interactive mode and arguments ----

#[test]
fn interactive_mode_prompts_before_every_line_and_exits_0_at_end_of_input() {
    let fx = Fixture::new("interactive");
    fx.run_interactive("echo hi\n\necho there\n").expect(
        "wish> hi\nwish> wish> there\nwish> ",
        "",
        0,
        "without FILE, wish prints `wish> ` (flushed, no newline) before reading each line, \
         and exits 0 at end of input",
    );
}

#[test]
fn exit_ends_interactive_mode_at_once() {
    let fx = Fixture::new("interactive_exit");
    fx.run_interactive("exit\necho no\n").expect(
        "wish> ",
        "",
        0,
        "`exit` ends the shell at once, with status 0",
    );
}

#[test]
fn every_command_is_reaped_before_the_next_prompt() {
    let fx = Fixture::new("reaped");
    let mut cmd = wish_command(&fx.work);
    cmd.stdin(Stdio::piped());
    let mut wish = Wish::spawn(
        cmd,
        "wish (interactive), fed `true & true & true` then end of input".to_string(),
    )
    .within(SHORT_DEADLINE);
    wish.expect_stdout_so_far("wish> ", "wish prints its prompt first");
    wish.send("true & true & true\n");
    wish.expect_stdout_so_far("wish> wish> ", "after running the line, wish prompts again");
    // The prompt comes only once the line is done: every child must be waited for by then.
    let left = testkit::children_of(wish.child.id());
    assert!(
        left.is_empty(),
        "at the second prompt, wish still has children (pid, state): {left:?}\n\
         state Z is a zombie: a child that exited but was never waited for. Wait for EVERY \
         command of an `&` line before reading the next line",
    );
    wish.close_stdin();
    wish.finish().expect(
        "wish> wish> ",
        "",
        0,
        "at end of input wish exits with status 0",
    );
}

/// `wish` as a command line, run by assert_cmd in `dir` with an empty stdin (end of input at
/// once) and the short deadline: for the contract of its arguments, exit status and streams.
fn wish_cli(dir: &Path) -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("wish");
    cmd.current_dir(dir)
        .env("LC_ALL", "C")
        .env("RUST_BACKTRACE", "0")
        .write_stdin("")
        .timeout(SHORT_DEADLINE);
    cmd
}

/// Exactly the one error message on stderr, named for the failure report.
fn only_the_error_message(why: &'static str) -> impl Predicate<str> {
    predicate::eq(ERR).name(why)
}

#[test]
fn two_arguments_are_an_error_with_status_1() {
    let fx = Fixture::new("args_two");
    let a = fx.write_root("a.wish", "echo a\n");
    let b = fx.write_root("b.wish", "echo b\n");
    wish_cli(&fx.work)
        .arg(&a)
        .arg(&b)
        .assert()
        .code(predicate::eq(1).name("1: `wish FILE1 FILE2` is a usage error, wish exits at once"))
        .stdout(predicate::str::is_empty().name("nothing: no prompt, and no FILE was run"))
        .stderr(only_the_error_message(
            "exactly `An error has occurred`, once",
        ));
}

#[test]
fn a_missing_batch_file_is_an_error_with_status_1() {
    let fx = Fixture::new("args_missing");
    wish_cli(&fx.work)
        .arg(fx.root_path("no_such_file.wish"))
        .assert()
        .code(predicate::eq(1).name("1: a FILE that cannot be opened ends wish with status 1"))
        .stdout(predicate::str::is_empty().name("nothing: no prompt in batch mode"))
        .stderr(only_the_error_message(
            "exactly `An error has occurred`, once",
        ));
}

#[test]
fn a_batch_file_that_cannot_be_read_is_an_error_with_status_1() {
    let fx = Fixture::new("args_dir");
    wish_cli(&fx.work)
        .arg(&fx.work)
        .assert()
        .code(
            predicate::eq(1).name(
                "1: a directory opens, but reading it fails (EISDIR): that FILE cannot be read",
            ),
        )
        .stdout(predicate::str::is_empty().name("nothing: no prompt in batch mode"))
        .stderr(only_the_error_message(
            "exactly `An error has occurred`, once",
        ));
}

#[test]
fn batch_mode_prints_no_prompt_and_exits_0_at_the_end_of_its_file() {
    let fx = Fixture::new("args_batch");
    let script = fx.write_root("ok.wish", "echo one\nno_such_command_here\necho two\n");
    wish_cli(&fx.work)
        .arg(&script)
        .assert()
        .code(
            predicate::eq(0)
                .name("0: the end of the FILE ends wish with status 0, even after an error"),
        )
        .stdout(predicate::eq("one\ntwo\n").name("the commands' output and no `wish> ` prompt"))
        .stderr(only_the_error_message(
            "one error message, for the unknown command",
        ));
}

#[test]
fn interactive_mode_prompts_on_stdout_and_exits_0_at_end_of_input() {
    let fx = Fixture::new("args_interactive");
    wish_cli(&fx.work)
        .write_stdin("echo hi\n")
        .assert()
        .code(predicate::eq(0).name("0: end of input ends wish with status 0"))
        .stdout(
            predicate::eq("wish> hi\nwish> ").name(
                "a `wish> ` prompt before each line read, on stdout, the last one unanswered",
            ),
        )
        .stderr(predicate::str::is_empty().name("nothing: no error happened"));
}
