//! Practice: `par`, an async command executor in the spirit of `xargs -P` and GNU parallel.
//!
//! ```text
//! par [-j N] [--timeout SECS] [--keep-order] [-- CMDLINE...]
//! ```
//!
//! The commands are the arguments after `--`, or else the lines of stdin (one command line
//! each). Each runs as `sh -c CMDLINE`, with at most N at once (`-j`, 1 to [`MAX_JOBS`],
//! default: the number of cores), stdin from `/dev/null`, in a process group of its own. A
//! line that is only a program's path and plain words (letters, digits, `/._-+,:@%=`; no `=`
//! in the program's name) is executed directly, without a shell in between, since sh would do
//! nothing but split it and run the program; if it cannot be executed directly, it goes to
//! `sh -c` after all.
//!
//! - The output of each command stays together: its stdout is written to par's stdout and its
//!   stderr to par's stderr in one piece, never interleaved with another command's lines. With
//!   `--keep-order` the pieces come in input order, otherwise as each command completes.
//!   par's memory does not grow with a command's output: past a small buffer, the output
//!   waits in a temporary file.
//! - An output that cannot be written (a full disk, a closed pipe) is reported on stderr
//!   (`par: cannot write the output of CMDLINE: REASON`) and the command counts as failed.
//! - `--timeout SECS` (decimals allowed): a command still running then is stopped with its whole
//!   group (SIGTERM, a grace of 2 s, SIGKILL) and reported on stderr:
//!   `par: timed out after SECS s: CMDLINE`.
//! - A command that cannot start is reported on stderr (`par: cannot start CMDLINE: REASON`)
//!   and counts as failed.
//! - At the end, a summary on stderr: `par: S succeeded, F failed, T timed out`.
//! - Exit status: 0 when every command succeeded, else the number of commands that failed or
//!   timed out, capped at 101 (GNU parallel's convention); 2 for a usage error (an unknown
//!   option, a bad or missing value, `-j 0` or above [`MAX_JOBS`], a timeout too long for a
//!   `Duration`, an empty command line, a word before `--`),
//!   reported in one line before anything runs that says what is wrong
//!   (`par: unknown option "-x" ...`, `par: unexpected argument "echo" (commands go after --)`).
//! - SIGINT or SIGTERM: no new command starts, every running command's group gets SIGTERM,
//!   then SIGKILL after the grace; nothing is left running; the summary says
//!   `par: stopped by SIGINT: S succeeded, F failed, T timed out, N not started` (or SIGTERM),
//!   and then par dies of that same signal (its default action restored), so that its parent
//!   sees it killed by SIGINT or SIGTERM (a shell shows 130 or 143, and a shell loop around
//!   par stops too).
//! - `-h` or `--help` prints the usage line on stdout and exits 0.
//!
//! Chapter: `docs/src/06-async-processes.md#par`.
//! Check: `cargo xtask check async-processes/par`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, killpg, raise, sigprocmask};
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
/// The most commands par runs at once (`-j`): each needs a process, two pipes and a task.
pub const MAX_JOBS: usize = 65_536;
/// How much of one stream of one command par keeps in memory; the rest waits in a file.
const IN_MEMORY: usize = 64 * 1024;

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
    let outcome = runtime.block_on(run(options, commands));
    // Every command was collected; the runtime's threads go before the signal comes back.
    drop(runtime);
    match outcome {
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::Signalled(sig)) => die_of(sig),
        Err(e) => {
            eprintln!("par: {e}");
            ExitCode::from(1)
        }
    }
}

/// Dies of `sig`, as the signal's default action would have killed par had it not been
/// caught: exiting 130 instead would tell the parent "exited", and a shell loop around par
/// would go on to its next iteration.
fn die_of(sig: Signal) -> ExitCode {
    // SAFETY: restoring the default action installs no handler; nothing in this process
    // relies on tokio's handler any more (the runtime is gone).
    let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) };
    let mut unblock = SigSet::empty();
    unblock.add(sig);
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&unblock), None);
    let _ = raise(sig);
    // Not reached: the default action of SIGINT and SIGTERM ends the process.
    ExitCode::from(128 + sig as u8)
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
                options.jobs = match v.parse::<u64>() {
                    Ok(0) => return Err("-j must be at least 1".into()),
                    Ok(n) if n <= MAX_JOBS as u64 => n as usize,
                    // A semaphore has a maximum of permits: check before it panics.
                    Ok(_) => return Err(format!("-j must be at most {MAX_JOBS}, not {v}")),
                    Err(_) => return Err(format!("-j needs a number of jobs, not {v:?}")),
                };
            }
            "--timeout" => {
                let v = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| {
                        format!("--timeout needs a positive number of seconds, not {v:?}")
                    })?;
                // `try_from_secs_f64`: `from_secs_f64` panics on a value no Duration holds
                // (1e300). Up to that, tokio's timer caps a long sleep by itself.
                let timeout = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--timeout {v} is longer than a Duration can hold"))?;
                options.timeout = Some(timeout);
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
    stdout: Spool,
    stderr: Spool,
}

/// How par ends: an exit status, or the signal that stopped it (to die of once cleaned up).
enum Outcome {
    Exit(u8),
    Signalled(Signal),
}

async fn run(options: Options, commands: Vec<String>) -> io::Result<Outcome> {
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
        tally: Tally::default(),
    };
    // Until every command started (or a signal came) and every started one is done. The
    // signal streams never end, so `select!` alone would never see all branches disabled.
    while (next < commands.len() && by_signal.is_none()) || !running.is_empty() {
        tokio::select! {
            _ = interrupt.recv(), if by_signal.is_none() => {
                by_signal = Some(Signal::SIGINT);
                stop.cancel();
            }
            _ = terminate.recv(), if by_signal.is_none() => {
                by_signal = Some(Signal::SIGTERM);
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
                printer.done(done);
            }
        }
    }
    let not_run = commands.len() - next;
    let Tally {
        succeeded,
        failed,
        timed_out,
    } = printer.tally;
    match by_signal {
        Some(sig) => {
            eprintln!(
                "par: stopped by {sig}: {succeeded} succeeded, {failed} failed, {timed_out} \
                 timed out, {not_run} not started"
            );
            Ok(Outcome::Signalled(sig))
        }
        None => {
            eprintln!("par: {succeeded} succeeded, {failed} failed, {timed_out} timed out");
            let code = u8::try_from((failed + timed_out).min(101)).expect("at most 101");
            Ok(Outcome::Exit(code))
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
                stdout: Spool::default(),
                stderr: Spool::default(),
            };
        }
    };
    let pgid = child.id().expect("a child not yet waited for has a pid");
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // The command is done when it exited AND its pipes reached EOF (everything in its group
    // that could still write has gone): `$(...)` in a shell waits the same way.
    let finished = async {
        let (out, err, status) = tokio::join!(spool(stdout), spool(stderr), child.wait());
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

/// Everything `stream` writes until EOF: the first [`IN_MEMORY`] bytes in memory, the rest in
/// a temporary file, so that par's memory does not grow with the output. A read error ends
/// the capture (what was read is kept); a failure to write the file is kept for the printer.
async fn spool(stream: Option<impl AsyncReadExt + Unpin>) -> Spool {
    let mut spool = Spool::default();
    let Some(mut stream) = stream else {
        return spool;
    };
    let mut buf = vec![0; IN_MEMORY];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Err(e) = spool.push(&buf[..n]) {
            // Keep reading (and dropping) so that the command is not blocked on a full pipe.
            spool.error.get_or_insert(e);
        }
    }
    spool
}

/// One stream of one command's output: a bounded buffer, then an unnamed temporary file.
#[derive(Default)]
struct Spool {
    memory: Vec<u8>,
    file: Option<File>,
    error: Option<io::Error>,
}

impl Spool {
    fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        if self.file.is_none() && self.memory.len() + bytes.len() <= IN_MEMORY {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(temporary_file()?),
        };
        // A blocking write on a runtime thread: short, to a local file, as GNU parallel does.
        file.write_all(bytes)
    }

    /// Writes the whole output to `out`: the buffer, then the file's contents.
    fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot keep the output: {e}"),
            ));
        }
        out.write_all(&self.memory)?;
        if let Some(file) = &mut self.file {
            file.rewind()?;
            io::copy(file, out)?;
        }
        Ok(())
    }
}

/// A file in the temporary directory that has no name (`O_TMPFILE`): it disappears with its
/// last descriptor, whatever happens to par. Where the file system cannot do that, a file
/// with a fresh name, removed at once.
fn temporary_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    let unnamed = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_TMPFILE)
        .open(&dir);
    match unnamed {
        Ok(file) => Ok(file),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EOPNOTSUPP | nix::libc::EISDIR)
            ) =>
        {
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.join(format!(".par-{}-{n}", std::process::id()));
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(file)
        }
        Err(e) => Err(e),
    }
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

/// Writes each finished command's output in one piece, in completion or input order, and
/// counts how each ended.
struct Printer {
    commands: Arc<[String]>,
    timeout: Option<Duration>,
    keep_order: bool,
    /// With `keep_order`: finished commands waiting for an earlier one, by index. Commands
    /// start in input order and every started one is collected, also after a signal, so
    /// nothing is left here at the end.
    waiting: BTreeMap<usize, Done>,
    next: usize,
    tally: Tally,
}

#[derive(Default)]
struct Tally {
    succeeded: usize,
    failed: usize,
    timed_out: usize,
}

impl Printer {
    fn done(&mut self, done: Done) {
        if !self.keep_order {
            return self.write_out(done);
        }
        self.waiting.insert(done.index, done);
        while let Some(done) = self.waiting.remove(&self.next) {
            self.write_out(done);
            self.next += 1;
        }
    }

    fn write_out(&mut self, mut done: Done) {
        let line = &self.commands[done.index];
        // Each stream's piece under the stream's lock: never interleaved with another's.
        let written = done
            .stdout
            .write_to(&mut io::stdout().lock())
            .and_then(|()| io::stdout().flush())
            .and_then(|()| done.stderr.write_to(&mut io::stderr().lock()));
        let mut err = io::stderr().lock();
        // The notes below are best effort: with stderr itself unwritable, the exit status
        // still tells.
        match &done.end {
            End::TimedOut => {
                let secs = self.timeout.map_or(0.0, |t| t.as_secs_f64());
                let _ = writeln!(err, "par: timed out after {secs} s: {line}");
            }
            End::CannotStart(e) => {
                let _ = writeln!(err, "par: cannot start {line}: {e}");
            }
            End::Exited(_) | End::Stopped => {}
        }
        // The output is what the user asked for: losing it (a full disk, a closed pipe) makes
        // the command count as failed, whatever its own status.
        if let Err(e) = written {
            let _ = writeln!(err, "par: cannot write the output of {line}: {e}");
            self.tally.failed += 1;
            return;
        }
        match &done.end {
            End::Exited(status) if status.success() => self.tally.succeeded += 1,
            End::Exited(_) | End::CannotStart(_) => self.tally.failed += 1,
            End::TimedOut => self.tally.timed_out += 1,
            End::Stopped => {}
        }
    }
}
