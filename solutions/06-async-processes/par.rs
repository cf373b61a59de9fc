//! Practice: `par`, an async command executor in the spirit of `xargs -P` and GNU parallel.
//!
//! ```text
//! par [-j N] [--timeout SECS] [--keep-order] [-- CMDLINE...]
//! ```
//!
//! The commands are the arguments after `--`, or else the lines of stdin (one command line
//! each). Each runs as `sh -c CMDLINE`, with at most N at once (`-j`, default: the number of
//! cores), stdin from `/dev/null`, in a process group of its own. A line that is only a
//! program's path and plain words (letters, digits, `/._-+,:@%=`; no `=` in the program's
//! name) is executed directly, without a shell in between, since sh would do nothing but split
//! it and run the program; if it cannot be executed directly, it goes to `sh -c` after all.
//!
//! - The output of each command stays together: its stdout is written to par's stdout and its
//!   stderr to par's stderr in one piece, never interleaved with another command's lines. With
//!   `--keep-order` the pieces come in input order, otherwise as each command completes.
//! - `--timeout SECS` (decimals allowed): a command still running then is stopped with its whole
//!   group (SIGTERM, a grace of 2 s, SIGKILL) and reported on stderr:
//!   `par: timed out after SECS s: CMDLINE`.
//! - A command that cannot start is reported on stderr (`par: cannot start CMDLINE: REASON`)
//!   and counts as failed.
//! - At the end, a summary on stderr: `par: S succeeded, F failed, T timed out`.
//! - Exit status: 0 when every command succeeded, else the number of commands that failed or
//!   timed out, capped at 101 (GNU parallel's convention); 2 for a usage error (an unknown
//!   option, a bad or missing value, `-j 0`, an empty command line, a word before `--`),
//!   reported in one line before anything runs that says what is wrong
//!   (`par: unknown option "-x" ...`, `par: unexpected argument "echo" (commands go after --)`).
//! - SIGINT or SIGTERM: no new command starts, every running command's group gets SIGTERM,
//!   then SIGKILL after the grace; nothing is left running; the summary says
//!   `par: stopped by SIGINT: S succeeded, F failed, T timed out, N not started` (or SIGTERM),
//!   and par exits 130 or 143.
//! - `-h` or `--help` prints the usage line on stdout and exits 0.
//!
//! Chapter: `docs/src/06-async-processes.md#par`.
//! Check: `cargo xtask check async-processes/par`.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: par [-j N] [--timeout SECS] [--keep-order] [-- CMDLINE...]";
/// Between SIGTERM and SIGKILL when a command is stopped.
const GRACE: Duration = Duration::from_secs(2);

/// par's entry point: `src/bin/par.rs` calls it.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => return usage_error(&msg),
    };
    let commands = match options.commands.clone() {
        Some(commands) => commands,
        None => match read_commands(io::stdin().lock()) {
            Ok(commands) => commands,
            Err(msg) => return usage_error(&msg),
        },
    };
    if let Some(i) = commands.iter().position(|c| c.trim().is_empty()) {
        return usage_error(&format!("command {} is empty", i + 1));
    }
    // Two worker threads are plenty: spawning is synchronous work in the kernel, waiting is
    // asynchronous. The runtime is built by hand (not #[tokio::main]) so that main can return
    // an ExitCode after it is shut down.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("par: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(options, commands)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("par: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("par: {msg} ({USAGE})");
    ExitCode::from(2)
}

#[derive(Debug, Clone)]
struct Options {
    jobs: usize,
    timeout: Option<Duration>,
    keep_order: bool,
    /// The commands after `--`, or `None` to read them from stdin.
    commands: Option<Vec<String>>,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut options = Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        timeout: None,
        keep_order: false,
        commands: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--" => {
                options.commands = Some(args.cloned().collect());
                break;
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            "--keep-order" => options.keep_order = true,
            "-j" => {
                let v = args.next().ok_or("-j needs a number of jobs")?;
                options.jobs = match v.parse::<usize>() {
                    Ok(0) => return Err("-j must be at least 1".into()),
                    Ok(n) => n,
                    Err(_) => return Err(format!("-j needs a number of jobs, not {v:?}")),
                };
            }
            "--timeout" => {
                let v = args.next().ok_or("--timeout needs a number of seconds")?;
                options.timeout = match v.parse::<f64>() {
                    Ok(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
                    _ => {
                        return Err(format!(
                            "--timeout needs a positive number of seconds, not {v:?}"
                        ));
                    }
                };
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other:?}")),
            other => {
                return Err(format!(
                    "unexpected argument {other:?} (commands go after --)"
                ));
            }
        }
    }
    Ok(Parsed::Run(options))
}

/// One command line per line of `input`; a blank line is an error (it would run nothing).
fn read_commands(mut input: impl Read) -> Result<Vec<String>, String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read commands from stdin: {e}"))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            if line.trim().is_empty() {
                Err(format!("line {} of stdin is an empty command", n + 1))
            } else {
                Ok(line.to_owned())
            }
        })
        .collect()
}

/// How one command ended.
#[derive(Debug)]
enum End {
    Exited(ExitStatus),
    TimedOut,
    /// Stopped because par received a signal.
    Stopped,
    CannotStart(io::Error),
}

/// A finished command: its index, its end, and everything it wrote.
struct Done {
    index: usize,
    end: End,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

async fn run(options: Options, commands: Vec<String>) -> io::Result<u8> {
    // Listen for the signals before the first command starts: from here on SIGINT and SIGTERM
    // no longer kill par (which would leave the commands running), they wake this loop.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = CancellationToken::new();
    let slots = Arc::new(Semaphore::new(options.jobs));
    let commands: Arc<[String]> = commands.into();
    let mut running = JoinSet::new();
    let mut next = 0;
    let mut by_signal = None;
    let mut printer = Printer {
        commands: Arc::clone(&commands),
        timeout: options.timeout,
        keep_order: options.keep_order,
        waiting: BTreeMap::new(),
        next: 0,
    };
    let (mut succeeded, mut failed, mut timed_out) = (0usize, 0usize, 0usize);
    // Until every command started (or a signal came) and every started one is done. The
    // signal streams never end, so `select!` alone would never see all branches disabled.
    while (next < commands.len() && by_signal.is_none()) || !running.is_empty() {
        tokio::select! {
            _ = interrupt.recv(), if by_signal.is_none() => {
                by_signal = Some(130);
                stop.cancel();
            }
            _ = terminate.recv(), if by_signal.is_none() => {
                by_signal = Some(143);
                stop.cancel();
            }
            // A slot is free and a command is waiting: start it. The permit moves into the
            // task and is released when the command and its output are done.
            permit = Arc::clone(&slots).acquire_owned(),
                if next < commands.len() && by_signal.is_none() =>
            {
                let permit = permit.expect("the semaphore is never closed");
                let index = next;
                next += 1;
                let commands = Arc::clone(&commands);
                let stop = stop.clone();
                let timeout = options.timeout;
                running.spawn(async move {
                    let done = run_one(index, &commands[index], timeout, stop).await;
                    drop(permit);
                    done
                });
            }
            Some(joined) = running.join_next() => {
                let done = joined.map_err(io::Error::other)?;
                match &done.end {
                    End::Exited(status) if status.success() => succeeded += 1,
                    End::Exited(_) => failed += 1,
                    End::TimedOut => timed_out += 1,
                    End::Stopped => {}
                    End::CannotStart(_) => failed += 1,
                }
                printer.done(done);
            }
        }
    }
    let not_run = commands.len() - next;
    match by_signal {
        Some(code) => {
            eprintln!(
                "par: stopped by {}: {succeeded} succeeded, {failed} failed, {timed_out} timed \
                 out, {not_run} not started",
                if code == 130 { "SIGINT" } else { "SIGTERM" }
            );
            Ok(code)
        }
        None => {
            eprintln!("par: {succeeded} succeeded, {failed} failed, {timed_out} timed out");
            Ok(u8::try_from((failed + timed_out).min(101)).expect("at most 101"))
        }
    }
}

/// Runs one command line with its output captured, until it ends, times out or `stop` is
/// cancelled; a stopped command's whole group is stopped.
async fn run_one(
    index: usize,
    line: &str,
    timeout: Option<Duration>,
    stop: CancellationToken,
) -> Done {
    let spawn = |mut cmd: Command| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
    };
    // A line executed directly that cannot be (not found, not executable, a script without
    // `#!`) goes to the shell after all: sh reports it, or runs the script, as it would have.
    let spawned = match direct_command(line) {
        Some(cmd) => spawn(cmd).or_else(|_| spawn(shell_command(line))),
        None => spawn(shell_command(line)),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            return Done {
                index,
                end: End::CannotStart(e),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
        }
    };
    let pgid = child.id().expect("a child not yet waited for has a pid");
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // The command is done when it exited AND its pipes reached EOF (everything in its group
    // that could still write has gone): `$(...)` in a shell waits the same way.
    let finished = async {
        let (out, err, status) = tokio::join!(read_all(stdout), read_all(stderr), child.wait());
        (out, err, status)
    };
    tokio::pin!(finished);
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let stopped_because = tokio::select! {
        (out, err, status) = &mut finished => {
            let end = match status {
                Ok(status) => End::Exited(status),
                Err(e) => End::CannotStart(e),
            };
            return Done { index, end, stdout: out, stderr: err };
        }
        () = deadline => End::TimedOut,
        () = stop.cancelled() => End::Stopped,
    };
    // SIGTERM to the whole group, a grace, then SIGKILL to the whole group.
    signal_group(pgid, Signal::SIGTERM);
    let (out, err, _status) = match tokio::time::timeout(GRACE, &mut finished).await {
        Ok(done) => done,
        Err(_elapsed) => {
            signal_group(pgid, Signal::SIGKILL);
            finished.await
        }
    };
    // The leader is reaped; a member that ignored SIGTERM and let go of the pipes may remain.
    signal_group(pgid, Signal::SIGKILL);
    Done {
        index,
        end: stopped_because,
        stdout: out,
        stderr: err,
    }
}

/// The program itself, when the line is a path followed by plain words (no quotes, variables,
/// globs, redirections or other shell syntax): the shell would do nothing but split the words
/// and run the program, so par saves the start of a shell per command (as make does). `None`
/// for any other line.
fn direct_command(line: &str) -> Option<Command> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c);
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let direct = words
        .first()
        .is_some_and(|w| w.contains('/') && !w.contains('='))
        && line.chars().all(|c| c == ' ' || c == '\t' || plain(c));
    direct.then(|| {
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..]);
        cmd
    })
}

/// `sh -c LINE`.
fn shell_command(line: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(line);
    cmd
}

async fn read_all(stream: Option<impl AsyncReadExt + Unpin>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut s) = stream {
        // A read error ends the capture; what was read is kept.
        let _ = s.read_to_end(&mut buf).await;
    }
    buf
}

/// `killpg(pgid, sig)`; a group that is already gone is fine.
fn signal_group(pgid: u32, sig: Signal) {
    if let Ok(pgid) = i32::try_from(pgid) {
        match killpg(Pid::from_raw(pgid), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => eprintln!("par: cannot signal process group {pgid}: {e}"),
        }
    }
}

/// Writes each finished command's output in one piece, in completion or input order.
struct Printer {
    commands: Arc<[String]>,
    timeout: Option<Duration>,
    keep_order: bool,
    /// With `keep_order`: finished commands waiting for an earlier one, by index. Commands
    /// start in input order and every started one is collected, also after a signal, so
    /// nothing is left here at the end.
    waiting: BTreeMap<usize, Done>,
    next: usize,
}

impl Printer {
    fn done(&mut self, done: Done) {
        if !self.keep_order {
            return write_out(&done, &self.commands[done.index], self.timeout);
        }
        self.waiting.insert(done.index, done);
        while let Some(done) = self.waiting.remove(&self.next) {
            write_out(&done, &self.commands[done.index], self.timeout);
            self.next += 1;
        }
    }
}

fn write_out(done: &Done, line: &str, timeout: Option<Duration>) {
    // One write_all per stream, under the stream's lock: the piece is never interleaved with
    // another's. A closed stdout (`par ... | head`) is not an error worth a panic.
    let _ = io::stdout().lock().write_all(&done.stdout);
    let _ = io::stdout().flush();
    let mut err = io::stderr().lock();
    let _ = err.write_all(&done.stderr);
    match &done.end {
        End::TimedOut => {
            let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
            let _ = writeln!(err, "par: timed out after {secs} s: {line}");
        }
        End::CannotStart(e) => {
            let _ = writeln!(err, "par: cannot start {line}: {e}");
        }
        End::Exited(_) | End::Stopped => {}
    }
}
